"""Pulsed linear-step / soft-bounds device model (aihwkit LinearStepDevice and SoftBounds semantics).

Weights are in device units ``w`` (the preset's nominal range is [w_min, w_max]); conductance in siemens
follows through the linear map of :meth:`LinearStepDevice.to_conductance`. One up pulse changes a device by

    dw_up * (1 - gamma_up * w / b_max) * (1 + c2c * xi)

and one down pulse by ``-dw_dn * (1 - gamma_down * w / b_min) * (1 + c2c * xi)``, xi ~ N(0, 1) per pulse,
then ``w`` is clipped to the device's own bounds [b_min, b_max]. gamma = 1 is soft bounds (the step vanishes
at the bound), gamma = 0 a constant step. ``dw_up = dw_min (1 + up_down)``, ``dw_dn = dw_min (1 - up_down)``.
Per-device values (step, up/down ratio, bounds) are sampled once per array (device-to-device variation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numba as nb
import numpy as np

from . import _validate as V
from ._random import normal


@dataclass(frozen=True)
class LinearStepDevice:
    """Nominal parameters of a linear-step device; frozen and validated.

    Attributes (device units unless stated):
        dw_min: mean step of one pulse at w = 0.
        w_max, w_min: nominal bounds (w_min < 0 < w_max).
        gamma_up, gamma_down: slope of the step with w, in [0, 1] (1 = soft bounds, 0 = constant step).
        up_down: up/down bias, dw_up = dw_min (1 + up_down); in (-1, 1).
        dw_min_dtod, up_down_dtod, w_max_dtod, w_min_dtod: device-to-device spreads (relative std; for
            up_down an absolute std), sampled once per array.
        dw_min_std: cycle-to-cycle noise, relative std of each pulse's step.
        g_min_s, g_max_s: conductance (S) at w_min and w_max; the weight<->conductance map is linear.
        name, citation: for reports.
    """

    dw_min: float = 0.001
    w_max: float = 1.0
    w_min: float = -1.0
    gamma_up: float = 0.0
    gamma_down: float = 0.0
    up_down: float = 0.0
    dw_min_dtod: float = 0.0
    up_down_dtod: float = 0.0
    w_max_dtod: float = 0.0
    w_min_dtod: float = 0.0
    dw_min_std: float = 0.0
    g_min_s: float = 1e-6
    g_max_s: float = 1e-4
    name: str = "custom"
    citation: str = ""

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("dw_min", V.positive("dw_min", self.dw_min))
        put("w_max", V.positive("w_max", self.w_max))
        if not V.finite("w_min", self.w_min) < 0:
            raise ValueError(f"w_min={self.w_min!r} is invalid: must be a finite number < 0")
        put("w_min", float(self.w_min))
        put("gamma_up", V.in_range("gamma_up", self.gamma_up, 0.0, 1.0))
        put("gamma_down", V.in_range("gamma_down", self.gamma_down, 0.0, 1.0))
        put("up_down", V.in_range("up_down", self.up_down, -0.99, 0.99))
        for n in ("dw_min_dtod", "up_down_dtod", "w_max_dtod", "w_min_dtod", "dw_min_std"):
            put(n, V.nonnegative(n, getattr(self, n)))
        put("g_min_s", V.positive("g_min_s", self.g_min_s, "S"))
        put("g_max_s", V.positive("g_max_s", self.g_max_s, "S"))
        for n in ("name", "citation"):
            if not isinstance(getattr(self, n), str):
                raise ValueError(f"{n}={getattr(self, n)!r} is invalid: must be a string")
        if not self.g_max_s > self.g_min_s:
            raise ValueError(f"g_max_s={self.g_max_s!r} is invalid: must exceed g_min_s={self.g_min_s!r} S")

    # -- weight <-> conductance -------------------------------------------------------------------------
    @property
    def siemens_per_unit(self) -> float:
        """Slope of the conductance map, S per device unit of w."""
        return (self.g_max_s - self.g_min_s) / (self.w_max - self.w_min)

    def to_conductance(self, w):
        """Conductance (S) of devices at weight ``w`` (device units)."""
        return self.g_min_s + (np.asarray(w, dtype=np.float64) - self.w_min) * self.siemens_per_unit

    def to_weight(self, g):
        """Weight (device units) of devices with conductance ``g`` (S)."""
        return (np.asarray(g, dtype=np.float64) - self.g_min_s) / self.siemens_per_unit + self.w_min

    @property
    def n_states(self) -> float:
        """Number of mean steps between the nominal bounds."""
        return (self.w_max - self.w_min) / self.dw_min

    def to_dict(self) -> dict:
        return asdict(self)

    # -- device-to-device sampling ----------------------------------------------------------------------
    def sample(self, shape, rng: np.random.Generator) -> "DeviceArray":
        """Draw the per-device parameters of an array of ``shape`` (device-to-device variation)."""
        shape = tuple(V.positive_int("shape", s) for s in np.atleast_1d(np.asarray(shape, dtype=object)))
        n = rng.standard_normal((4,) + shape)
        dw = self.dw_min * np.maximum(1.0 + self.dw_min_dtod * n[0], 0.05)
        ud = np.clip(self.up_down + self.up_down_dtod * n[1], -0.99, 0.99)
        b_max = self.w_max * np.maximum(1.0 + self.w_max_dtod * n[2], 0.1)
        b_min = self.w_min * np.maximum(1.0 + self.w_min_dtod * n[3], 0.1)
        # a device cannot go below a small positive conductance: 5 % of g_min at most below the map's floor
        b_min = np.maximum(b_min, self.w_min - 0.95 * self.g_min_s / self.siemens_per_unit)
        return DeviceArray(
            device=self,
            dw_up=dw * (1.0 + ud),
            dw_dn=dw * (1.0 - ud),
            b_max=b_max,
            b_min=b_min,
        )


@dataclass(frozen=True, eq=False)
class DeviceArray:
    """The sampled per-device parameters of one physical array (all arrays have the array's shape)."""

    device: LinearStepDevice
    dw_up: np.ndarray
    dw_dn: np.ndarray
    b_max: np.ndarray
    b_min: np.ndarray

    @property
    def shape(self):
        return self.dw_up.shape

    def step_up(self, w):
        """Mean change of one up pulse at weight ``w`` (before clipping), per device."""
        return self.dw_up * np.maximum(1.0 - self.device.gamma_up * w / self.b_max, 0.0)

    def step_down(self, w):
        """Mean magnitude of one down pulse at weight ``w`` (before clipping), per device."""
        return self.dw_dn * np.maximum(1.0 - self.device.gamma_down * w / self.b_min, 0.0)

    def symmetry_point(self) -> np.ndarray:
        """Weight where the mean up and down steps are equal, per device (closed form).

        ``w* = (dw_up - dw_dn) / (dw_up gamma_up / b_max - dw_dn gamma_down / b_min)``. Where the steps do not
        depend on w (constant step), every w is a symmetry point if dw_up == dw_dn (returned: 0) and none is
        otherwise: the device drifts to the bound on the side of the larger step (returned: that bound).
        """
        g_up, g_dn = self.device.gamma_up, self.device.gamma_down
        num = self.dw_up - self.dw_dn
        den = self.dw_up * g_up / self.b_max - self.dw_dn * g_dn / self.b_min
        with np.errstate(divide="ignore", invalid="ignore"):
            ws = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        ws = np.where(den > 0, ws, np.where(num > 0, self.b_max, np.where(num < 0, self.b_min, 0.0)))
        return np.clip(ws, self.b_min, self.b_max)

    def initial_weights(self, w0=0.0) -> np.ndarray:
        """Weights set to ``w0`` (scalar or array shape; clipped to each device's bounds)."""
        w0 = V.array("w0", np.broadcast_to(np.asarray(w0), self.shape), self.shape)
        return np.clip(w0, self.b_min, self.b_max)

    def check_weights(self, w) -> np.ndarray:
        """``w`` as a float64 array of the array's shape, finite and inside every device's bounds."""
        w = V.array("w", w, self.shape)
        if np.any(w > self.b_max + 1e-12) or np.any(w < self.b_min - 1e-12):
            raise ValueError("w has entries outside the devices' bounds [b_min, b_max]: a device cannot be "
                             "there; start from initial_weights()")
        return w

    def apply_pulses(self, w, counts, seed: int) -> np.ndarray:
        """Apply signed pulse counts and return the new weights.

        ``counts`` has shape (S,) + array shape (S consecutive updates) or the array shape (one update);
        entry n gives |n| pulses of sign(n), applied one by one with cycle-to-cycle noise. The noise of
        pulse k of cell c in update s is a hash of (seed, s, c, k): the result does not depend on threads.
        """
        w = self.check_weights(w)
        seed = V.seed("seed", seed)
        counts = np.asarray(counts)
        if counts.shape == self.shape:
            counts = counts[None]
        if counts.shape[1:] != self.shape:
            raise ValueError(f"counts has shape {counts.shape}: expected (updates,) + {self.shape}")
        if not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(f"counts has dtype {counts.dtype}: expected integers (signed pulse counts)")
        if counts.size and np.abs(counts.astype(np.int64)).max() >= 2 ** 31:
            raise ValueError(f"counts contains {int(np.abs(counts).max())} pulses: at most 2**31 - 1 per entry")
        out = np.ascontiguousarray(w.copy()).reshape(-1)
        _apply_pulses(
            out,
            np.ascontiguousarray(counts.reshape(counts.shape[0], -1), dtype=np.int32),
            *self._flat_params(),
            np.uint64(seed),
        )
        return out.reshape(self.shape)

    def zero_shift(self, w, n_pairs: int, seed: int):
        """Drive every device toward its symmetry point by ``n_pairs`` alternating up/down pulses.

        Returns (final weights, mean weight over the last half of the pulses). The mean is what a
        write-verify step would program into a reference array: the measured symmetry point of each device,
        without the last pulse's cycle-to-cycle jitter.
        """
        n_pairs = V.positive_int("n_pairs", n_pairs)
        seed = V.seed("seed", seed)
        out = self.check_weights(w).copy().reshape(-1)
        mean = np.empty_like(out)
        _alternating_pulses(out, mean, n_pairs, *self._flat_params(), np.uint64(seed))
        return out.reshape(self.shape), mean.reshape(self.shape)

    def _flat_params(self):
        d = self.device
        return (self.dw_up.reshape(-1), self.dw_dn.reshape(-1), self.b_max.reshape(-1),
                self.b_min.reshape(-1), float(d.gamma_up), float(d.gamma_down), float(d.dw_min_std))


@nb.njit(inline="always", cache=True)
def _pulse(x, up, dw_up, dw_dn, b_max, b_min, g_up, g_dn, xi):
    """One pulse on one device: the step of the model, times the noise factor xi, then clipping."""
    if up:
        q = 1.0 - g_up * x / b_max
        x += dw_up * (q if q > 0.0 else 0.0) * xi
    else:
        q = 1.0 - g_dn * x / b_min
        x -= dw_dn * (q if q > 0.0 else 0.0) * xi
    return min(max(x, b_min), b_max)


@nb.njit(parallel=True, cache=True)
def _apply_pulses(w, counts, dw_up, dw_dn, b_max, b_min, g_up, g_dn, c2c, seed):
    n_upd, n_cells = counts.shape
    for c in nb.prange(n_cells):
        x = w[c]
        for s in range(n_upd):
            n = counts[s, c]
            for k in range(abs(n)):
                xi = 1.0 + c2c * normal(seed, s, c, k) if c2c > 0.0 else 1.0
                x = _pulse(x, n > 0, dw_up[c], dw_dn[c], b_max[c], b_min[c], g_up, g_dn, xi)
        w[c] = x


@nb.njit(parallel=True, cache=True)
def _alternating_pulses(w, mean_out, n_pairs, dw_up, dw_dn, b_max, b_min, g_up, g_dn, c2c, seed):
    """n_pairs of (up, down) pulses per device; mean_out gets the mean weight over the last half."""
    n_cells = w.shape[0]
    start = n_pairs // 2
    for c in nb.prange(n_cells):
        x = w[c]
        acc = 0.0
        for k in range(n_pairs):
            for up in (True, False):
                kk = 2 * k + (0 if up else 1)
                xi = 1.0 + c2c * normal(seed, 0, c, kk) if c2c > 0.0 else 1.0
                x = _pulse(x, up, dw_up[c], dw_dn[c], b_max[c], b_min[c], g_up, g_dn, xi)
            if k >= start:
                acc += x
        w[c] = x
        mean_out[c] = acc / (n_pairs - start)
