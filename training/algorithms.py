"""Layer-level training algorithms: FP (digital), analog SGD, Tiki-Taka and SHD.

Every layer maps (B, inputs) -> (B, outputs) with a bias input appended, and offers ``forward``,
``backward`` (the gradient with respect to its inputs, bias row dropped) and ``update`` (one step for a
mini-batch, applied sample by sample on analog arrays). ``lr`` is per sample: a mini-batch of B samples
changes the weights by -lr * sum_b x_b d_b^T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.circuits import Crossbar
from xbarsim.devices import LinearStepDevice
from xbarsim.devices import _validate as V

from .tile import AnalogArray, Periphery, UpdateConfig

ALGORITHMS = ("fp", "sgd", "tiki-taka", "shd")


@dataclass(frozen=True)
class AlgorithmConfig:
    """Hyper-parameters of the algorithms (per-sample learning rates, device units).

    lr: FP and analog SGD learning rate; for Tiki-Taka and SHD the rate of the gradient into A.
    lr_transfer: rate of each A -> C transfer (C[k, :] += lr_transfer * A[k, :] as read).
    transfer_every: samples between two transfers (one row k of A each, k cycling over the inputs).
    gamma: Tiki-Taka's weight of A in the read W = gamma A + C (SHD reads C only).
    zero_shift_pairs: alternating pulse pairs used to find A's symmetry point.
    """

    name: str = "shd"
    lr: float = 0.01
    lr_transfer: float = 0.01
    transfer_every: int = 2
    gamma: float = 0.1
    zero_shift_pairs: int = 2000

    def __post_init__(self):
        V.choice("algorithm", self.name, ALGORITHMS)
        for n in ("lr", "lr_transfer"):  # per sample; beyond 1e3 every update saturates the devices
            object.__setattr__(self, n, V.positive(n, getattr(self, n), hi=1e3))
        object.__setattr__(self, "gamma", V.in_range("gamma", self.gamma, 0.0, 1e3))
        V.positive_int("transfer_every", self.transfer_every)
        V.positive_int("zero_shift_pairs", self.zero_shift_pairs)

    @classmethod
    def defaults(cls, name: str, **overrides) -> "AlgorithmConfig":
        """Tuned defaults of algorithm ``name`` (MNIST MLP, HfO2 ReRAM, IR-drop arrays), then ``overrides``."""
        V.choice("algorithm", name, ALGORITHMS)
        tuned = {
            "fp": dict(lr=0.2),
            "sgd": dict(lr=0.05),
            "tiki-taka": dict(lr=0.05, lr_transfer=0.5, transfer_every=1, gamma=0.1),
            "shd": dict(lr=0.05, lr_transfer=0.5, transfer_every=1),
        }[name]
        return cls(name=name, **{**tuned, **{k: v for k, v in overrides.items() if v is not None}})


def _with_bias(x):
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


class FPLayer:
    """Digital floating-point reference: exact products, exact updates."""

    def __init__(self, w0, cfg: AlgorithmConfig, **_):
        self.w = w0.copy()
        self.cfg = cfg

    def forward(self, x, rng):
        return _with_bias(x) @ self.w

    def backward(self, d, rng):
        return d @ self.w[:-1].T

    def update(self, x, d, rng):
        self.w -= self.cfg.lr * _with_bias(x).T @ d

    def weights(self):
        return self.w

    def arrays_state(self):
        return {}


class AnalogSGDLayer:
    """Analog SGD: one array per layer, reference at w = 0; the pulsed gradient goes straight into it."""

    def __init__(self, w0, cfg, *, device, circuit, periphery, update_cfg, rng, writes_through_wires=False):
        self.cfg, self.update_cfg = cfg, update_cfg
        self.array = AnalogArray(device, w0.shape, circuit=circuit, periphery=periphery, rng=rng,
                                 writes_through_wires=writes_through_wires)
        self.array.program(w0, 0.0)

    def forward(self, x, rng):
        return self.array.forward(_with_bias(x), rng)

    def backward(self, d, rng):
        return self.array.backward(d, rng)[:, :-1]

    def update(self, x, d, rng):
        self.array.update(_with_bias(x), d, self.cfg.lr, self.update_cfg, rng)

    def weights(self):
        return self.array.weights

    def arrays_state(self):
        return {"w": self.array}


class TikiTakaLayer:
    """Tiki-Taka (Gokmen & Haensch 2020): A (zero-shifted) takes the gradient, C accumulates transfers from
    A; reads use W = gamma A + C. With gamma = 0 this is SHD (Onen, Gokmen et al. 2022): A is the momentum,
    C the position, and A's asymmetry is the friction that makes H = E(C) + k |A|^2 decrease."""

    def __init__(self, w0, cfg, *, device, circuit, periphery, update_cfg, rng, gamma, writes_through_wires=False):
        self.cfg, self.update_cfg, self.gamma = cfg, update_cfg, gamma
        kw = dict(circuit=circuit, periphery=periphery, rng=rng, writes_through_wires=writes_through_wires)
        self.a = AnalogArray(device, w0.shape, **kw)
        self.c = AnalogArray(device, w0.shape, **kw)
        self.a.zero_shift(cfg.zero_shift_pairs, seed=int(rng.integers(2 ** 63)))
        self.c.program(w0, 0.0)
        self.samples = 0
        self.next_row = 0

    def _read(self, method, x, rng):
        y = getattr(self.c, method)(x, rng)
        if self.gamma:
            y = y + self.gamma * getattr(self.a, method)(x, rng)
        return y

    def forward(self, x, rng):
        return self._read("forward", _with_bias(x), rng)

    def backward(self, d, rng):
        return self._read("backward", d, rng)[:, :-1]

    def update(self, x, d, rng):
        self.a.update(_with_bias(x), d, self.cfg.lr, self.update_cfg, rng)
        due = (self.samples + x.shape[0]) // self.cfg.transfer_every - self.samples // self.cfg.transfer_every
        self.samples += x.shape[0]
        if due:
            self.transfer(due, rng)

    def transfer(self, n_rows, rng):
        """Read ``n_rows`` consecutive rows of A through the circuit (one-hot inputs) and pulse each into the
        same row of C: C[k, :] += lr_transfer * A[k, :]."""
        rows = self.a.shape[0]
        ks = (self.next_row + np.arange(n_rows)) % rows
        self.next_row = int((self.next_row + n_rows) % rows)
        onehot = np.zeros((n_rows, rows))
        onehot[np.arange(n_rows), ks] = 1.0
        v = self.a.forward(onehot, rng)
        self.c.update(onehot, -v, self.cfg.lr_transfer, self.update_cfg, rng)

    def weights(self):
        return self.c.weights + self.gamma * self.a.weights

    def hamiltonian_k(self):
        """k of H = E(C) + k |A|^2: eta_C' / (2 eta_A), eta_C' = lr_transfer / (transfer_every * rows)."""
        eta_c = self.cfg.lr_transfer / (self.cfg.transfer_every * self.a.shape[0])
        return eta_c / (2.0 * self.cfg.lr)

    def arrays_state(self):
        return {"a": self.a, "c": self.c}


def make_layer(w0, cfg: AlgorithmConfig, *, device: LinearStepDevice, circuit: Crossbar | None,
               periphery: Periphery, update_cfg: UpdateConfig, rng: np.random.Generator,
               writes_through_wires: bool = False):
    """The layer object of algorithm ``cfg.name`` holding initial weights ``w0`` (inputs + 1, outputs)."""
    kw = dict(device=device, circuit=circuit, periphery=periphery, update_cfg=update_cfg, rng=rng,
              writes_through_wires=writes_through_wires)
    if cfg.name == "fp":
        return FPLayer(w0, cfg)
    if cfg.name == "sgd":
        return AnalogSGDLayer(w0, cfg, **kw)
    return TikiTakaLayer(w0, cfg, gamma=cfg.gamma if cfg.name == "tiki-taka" else 0.0, **kw)
