"""The training loop: configuration in, per-epoch history and final array states out."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from tqdm.auto import tqdm

from xbarsim.circuits import Crossbar
from xbarsim.circuits.cells import device_cell
from xbarsim.devices import PulsedDevice, get_preset, load_device
from xbarsim.devices import _validate as V

from .algorithms import AlgorithmConfig, TikiTakaLayer, make_layer
from .datasets import Dataset, load_mnist
from .network import ACTIVATIONS, MLP, softmax_xent
from .tile import Periphery, UpdateConfig

CIRCUITS = ("ideal", "ir-drop", "full")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; a run is a pure function of this (and the data)."""

    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    device: PulsedDevice = field(default_factory=lambda: get_preset("reram-hfo2"))
    circuit: str = "ir-drop"
    crossbar: Crossbar = field(default_factory=lambda: Crossbar(1, 1))  # wires/periphery; size set per layer
    periphery: Periphery = field(default_factory=Periphery)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    hidden: tuple = (64,)
    activation: str = "sigmoid"
    epochs: int = 3
    train_size: int = 6000
    test_size: int = 2000
    batch_size: int = 10
    downsample: int = 2
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.device, str):  # a preset name or a .toml device file
            object.__setattr__(self, "device", load_device(self.device))
        if isinstance(self.algorithm, str):
            object.__setattr__(self, "algorithm", AlgorithmConfig.defaults(self.algorithm))
        if not isinstance(self.device, PulsedDevice):
            raise ValueError(f"device={self.device!r} is invalid: must be a device model (PulsedDevice), a preset "
                             "name or a .toml device file")
        for name, kind in (("algorithm", AlgorithmConfig), ("crossbar", Crossbar),
                           ("periphery", Periphery), ("update", UpdateConfig)):
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: must be a {kind.__name__}")
        V.choice("circuit", self.circuit, CIRCUITS)
        V.choice("activation", self.activation, ACTIVATIONS)
        for n in ("epochs", "train_size", "test_size", "batch_size"):
            V.positive_int(n, getattr(self, n))
        if not isinstance(self.hidden, tuple) or not all(
                isinstance(h, int) and not isinstance(h, bool) and 0 < h <= 100_000 for h in self.hidden):
            raise ValueError(f"hidden={self.hidden!r} is invalid: must be a tuple of layer widths in [1, 100000]")
        if isinstance(self.downsample, bool) or self.downsample not in (1, 2, 4, 7):
            raise ValueError(f"downsample={self.downsample!r} is invalid: allowed values are 1, 2, 4, 7")
        object.__setattr__(self, "seed", V.seed("seed", self.seed))

    def to_dict(self) -> dict:
        """Flat {name: scalar or string} view, for xarray attrs and reports."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, dict):
                out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
            else:
                out[k] = v
        if self.circuit == "ideal":
            out = {k: v for k, v in out.items() if not k.startswith("crossbar.")}
        else:  # the cell the arrays were built with (ir-drop: linear; full: the device's)
            out.update({f"crossbar.{k}": v for k, v in layer_circuit(self).to_dict().items() if k.startswith("cell")})
        out.pop("crossbar.rows", None), out.pop("crossbar.cols", None)
        out["hidden"] = ",".join(map(str, self.hidden))
        return out


@dataclass
class TrainResult:
    """Per-epoch history, the final layers, the config and the wall time (s)."""

    config: TrainConfig
    history: dict
    layers: list
    sizes: list
    wall_time_s: float
    hamiltonian_k: list


def layer_circuit(cfg: TrainConfig) -> Crossbar | None:
    """The arrays' circuit: None (ideal wires); "ir-drop": cfg.crossbar with linear cells (each device at its
    conductance); "full": the device's own read I-V in the cells (a gate-written ECRAM: the 3-terminal cell),
    and writes through the wires."""
    if cfg.circuit == "ideal":
        return None
    if cfg.circuit == "ir-drop":
        return replace(cfg.crossbar, cell="linear")
    return replace(cfg.crossbar, cell="ecram3t" if cfg.device.write_path == "gate" else device_cell(cfg.device))


def build_network(cfg: TrainConfig, n_in: int, n_out: int, rng: np.random.Generator) -> MLP:
    sizes = [n_in, *cfg.hidden, n_out]
    circuit = layer_circuit(cfg)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w0 = rng.uniform(-bound, bound, (fan_in + 1, fan_out))
        layers.append(make_layer(w0, cfg.algorithm, device=cfg.device, circuit=circuit, periphery=cfg.periphery,
                                 update_cfg=cfg.update, rng=rng, writes_through_wires=cfg.circuit == "full"))
    return MLP(layers, cfg.activation)


def check_data(data: Dataset, cfg: TrainConfig) -> Dataset:
    """The first train_size / test_size samples of ``data``, after checking that they are what ``cfg`` says:
    enough samples, (28 / downsample)^2 features in [0, 1], integer labels 0..9."""
    features = (28 // cfg.downsample) ** 2
    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__} is invalid: must be an xbarsim.training.Dataset")
    out = {}
    for split, size in (("train", cfg.train_size), ("test", cfg.test_size)):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x is None or y is None or np.ndim(x) == 0 or np.ndim(y) == 0:
            raise ValueError(f"data.x_{split} and data.y_{split} must be arrays of samples and labels")
        x, y = np.asarray(x), np.asarray(y)
        if len(x) < size or len(y) < size:
            raise ValueError(f"{split}_size={size} is invalid: the data hold {min(len(x), len(y))} {split} samples")
        x = V.array(f"x_{split}", x[:size], (size, features), max_abs=1.0, min_value=0.0)
        y = y[:size]
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (size,) or y.min() < 0 or y.max() > 9:
            raise ValueError(f"y_{split} is invalid: must be {size} integer labels in 0..9")
        out[f"x_{split}"], out[f"y_{split}"] = x, y.astype(np.int64)
    return Dataset(**out, image_shape=data.image_shape)


def evaluate(net: MLP, x, y, rng, batch=100):
    """Mean cross-entropy and accuracy of ``net`` on (x, y)."""
    losses, correct = [], 0
    for i in range(0, len(x), batch):
        logits, _ = net.forward(x[i:i + batch], rng)
        losses.append(softmax_xent(logits, y[i:i + batch])[0])
        correct += int((logits.argmax(axis=1) == y[i:i + batch]).sum())
    return float(np.concatenate(losses).mean()), correct / len(x)


def train(cfg: TrainConfig, data: Dataset | None = None, *, progress: bool = True) -> TrainResult:
    """Train the MLP of ``cfg`` on MNIST (or ``data``); reproducible bit for bit from ``cfg.seed``."""
    t0 = time.perf_counter()
    data = load_mnist(downsample=cfg.downsample, train_size=cfg.train_size, test_size=cfg.test_size) \
        if data is None else check_data(data, cfg)
    rng = np.random.default_rng(cfg.seed)
    net = build_network(cfg, data.x_train.shape[1], 10, rng)
    n = cfg.train_size
    keys = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "hamiltonian", "a_norm2", "write_pulses",
            "disturb_pulses", "write_efficiency")
    hist = {k: [] for k in keys}
    ks = [layer.hamiltonian_k() if isinstance(layer, TikiTakaLayer) else 0.0 for layer in net.layers]
    steps = cfg.epochs * ((n + cfg.batch_size - 1) // cfg.batch_size)
    bar = tqdm(total=steps, disable=None if progress else True,  # None: only on a terminal
               desc=f"{cfg.algorithm.name}", unit="batch", leave=False)
    arrays = [arr for layer in net.layers for arr in layer.arrays_state().values()]
    for _epoch in range(cfg.epochs):
        before = [(a.write_stats.coincidences, a.write_stats.strength_sum, a.write_stats.disturbs) for a in arrays]
        order = rng.permutation(n)
        losses, correct = [], 0
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss, pred = net.train_step(data.x_train[idx], data.y_train[idx], rng)
            losses.append(loss)
            correct += int((pred == data.y_train[idx]).sum())
            bar.update(1)
        train_loss = float(np.concatenate(losses).mean())
        test_loss, test_acc = evaluate(net, data.x_test, data.y_test, rng)
        a2 = [float(np.sum(layer.a.weights ** 2)) if isinstance(layer, TikiTakaLayer) else 0.0
              for layer in net.layers]
        pulses, strength, disturbs = (sum(getattr(a.write_stats, f) for a in arrays) - sum(b[i] for b in before)
                                      for i, f in enumerate(("coincidences", "strength_sum", "disturbs")))
        for k, v in zip(keys, (train_loss, correct / n, test_loss, test_acc,
                               train_loss + sum(k_ * a for k_, a in zip(ks, a2)), sum(a2), pulses, disturbs,
                               strength / pulses if pulses else 1.0)):
            hist[k].append(v)
        bar.set_postfix(test_acc=f"{test_acc:.3f}")
    bar.close()
    sizes = [data.x_train.shape[1], *cfg.hidden, 10]
    return TrainResult(cfg, {k: np.array(v) for k, v in hist.items()}, net.layers, sizes,
                       time.perf_counter() - t0, ks)
