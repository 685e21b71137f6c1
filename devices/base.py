"""What every pulsed device model shares: nominal parameters, device-to-device sampling, the weight <->
conductance map, the static read I-V, and the sampled array with its pulse, step and symmetry-point methods.

Weights are in device units ``w`` (the nominal range is [w_min, w_max], w_min < 0 < w_max); conductance in
siemens follows from the linear map of :meth:`PulsedDevice.to_conductance`. One up pulse changes a device by
``+dw_up q_up(w)`` and one down pulse by ``-dw_dn q_dn(w)`` (q >= 0, the model's step law), times the
cycle-to-cycle noise factor ``(1 + dw_min_std xi)``, xi ~ N(0, 1) per pulse (``noise="mult"``; with
``noise="add"`` the noise ``dw_min_std dw xi`` is added instead), then ``w`` is clipped to the device's own
bounds [b_min, b_max]. ``dw_up = dw (1 + up_down)``, ``dw_dn = dw (1 - up_down)``; the per-device step ``dw``,
up/down bias and bounds are drawn once per array (device-to-device variation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from . import _kernels as K
from . import _validate as V

NOISE_MODES = ("mult", "add")
DTOD_DISTS = ("normal", "lognormal")
IV_MODELS = ("linear", "sinh", "poly")
WRITE_PATHS = ("crosspoint", "gate")
G_RANGE_S = (1e-15, 1e3)  # the conductances (S) a device may have: from below any measurable cell to 1 mOhm
MAX_PULSES = 2 ** 31 - 1  # the most pulses of one entry of apply_pulses' counts (the kernels count in int32)


@dataclass(frozen=True)
class PulsedDevice:
    """Nominal parameters shared by all pulsed device models; frozen and validated.

    Attributes (device units unless stated):
        dw_min: nominal step of one pulse (the step at w = 0 for linear laws); the mean-step scale.
        w_max, w_min: nominal bounds (w_min < 0 < w_max).
        up_down: up/down bias, dw_up = dw (1 + up_down), dw_dn = dw (1 - up_down); in [-0.99, 0.99].
        dw_min_dtod: device-to-device spread of the step: relative std ("normal") or std of log ("lognormal").
        dw_min_dtod_dist: "normal" (dw (1 + s xi), floored at 5 %) or "lognormal" (dw exp(s xi)).
        up_down_dtod: device-to-device std of up_down (absolute).
        w_max_dtod, w_min_dtod: device-to-device relative std of the bounds.
        dw_min_std: cycle-to-cycle noise: relative std of each pulse's step ("mult") or std of an added term
            in units of the device's step ("add").
        noise: "mult" or "add", see dw_min_std.
        g_min_s, g_max_s: conductance (S) at w_min and w_max; the weight <-> conductance map is linear.
        iv_model: static read I-V: "linear" I = G V; "sinh" I = G v0 sinh(V / v0);
            "poly" I = G (V + k2 V^2 + k3 V^3) (the Milo et al. polynomial with NL2 = G k2, NL3 = G k3).
        iv_v0_v (V), iv_k2_per_v (1/V), iv_k3_per_v2 (1/V^2): parameters of the I-V.
        write_path: "crosspoint" (two-terminal: a write is the voltage across the cell, through the array's
            wires, so IR drop weakens it and half-selected cells may be disturbed) or "gate" (three-terminal
            ECRAM: a separate gate path, no IR drop, no disturb).
        v_write_v, v_th_v, v_kin_v: write kinetics of a crosspoint device (V). A pulse that puts |V| across the
            cell changes it by the law's step times ``write_strength(|V|)`` = (exp((|V| - v_th)/v_kin) - 1) /
            (exp((v_write - v_th)/v_kin) - 1) above the threshold v_th and not at all below it: the step at the
            nominal write voltage v_write is the law's step; the sign of V is the direction (V > 0: up).
        name, citation: for reports.
    """

    model: ClassVar[str] = "base"
    law: ClassVar[int] = -1

    dw_min: float = 0.001
    w_max: float = 1.0
    w_min: float = -1.0
    up_down: float = 0.0
    dw_min_dtod: float = 0.0
    dw_min_dtod_dist: str = "normal"
    up_down_dtod: float = 0.0
    w_max_dtod: float = 0.0
    w_min_dtod: float = 0.0
    dw_min_std: float = 0.0
    noise: str = "mult"
    g_min_s: float = 1e-6
    g_max_s: float = 1e-4
    iv_model: str = "linear"
    iv_v0_v: float = 0.25
    iv_k2_per_v: float = 0.0
    iv_k3_per_v2: float = 0.0
    write_path: str = "crosspoint"
    v_write_v: float = 1.2
    v_th_v: float = 0.55
    v_kin_v: float = 0.1
    name: str = "custom"
    citation: str = ""

    def __post_init__(self):
        self._validate_common()
        self._validate_law()

    def _put(self, name, value):
        """Store a validated (coerced) value on the frozen instance."""
        object.__setattr__(self, name, value)

    def _validate_common(self):
        put = self._put
        put("dw_min", V.positive("dw_min", self.dw_min))
        put("w_max", V.positive("w_max", self.w_max))
        if not V.finite("w_min", self.w_min) < 0:
            raise ValueError(f"w_min={self.w_min!r} is invalid: must be a finite number < 0")
        put("w_min", float(self.w_min))
        put("up_down", V.in_range("up_down", self.up_down, -0.99, 0.99))
        for n in ("dw_min_dtod", "up_down_dtod", "w_max_dtod", "w_min_dtod", "dw_min_std"):
            put(n, V.nonnegative(n, getattr(self, n)))
        V.choice("dw_min_dtod_dist", self.dw_min_dtod_dist, DTOD_DISTS)
        V.choice("noise", self.noise, NOISE_MODES)
        put("g_min_s", V.positive("g_min_s", self.g_min_s, "S", *G_RANGE_S))
        put("g_max_s", V.positive("g_max_s", self.g_max_s, "S", *G_RANGE_S))
        if not self.g_max_s > self.g_min_s:
            raise ValueError(f"g_max_s={self.g_max_s!r} is invalid: must exceed g_min_s={self.g_min_s!r} S")
        V.choice("iv_model", self.iv_model, IV_MODELS)
        # the ranges of the circuit's cells (xbarsim.circuits.cells), checked here where the value enters
        put("iv_v0_v", V.positive("iv_v0_v", self.iv_v0_v, "V", 1e-3, 10.0))
        put("iv_k2_per_v", V.in_range("iv_k2_per_v", self.iv_k2_per_v, -1e3, 1e3, "1/V"))
        put("iv_k3_per_v2", V.in_range("iv_k3_per_v2", self.iv_k3_per_v2, 0.0, 1e3, "1/V^2"))
        if self.iv_k2_per_v != 0 and not self.iv_k2_per_v ** 2 < 3 * self.iv_k3_per_v2:
            raise ValueError(f"iv_k2_per_v={self.iv_k2_per_v!r} with iv_k3_per_v2={self.iv_k3_per_v2!r} is invalid: "
                             "the read I-V must increase at every voltage, which needs iv_k2_per_v**2 < 3 * "
                             "iv_k3_per_v2")
        V.choice("write_path", self.write_path, WRITE_PATHS)
        put("v_write_v", V.positive("v_write_v", self.v_write_v, "V", 0.0, 10.0))
        put("v_th_v", V.positive("v_th_v", self.v_th_v, "V", 0.0, 10.0))
        if not self.v_th_v < self.v_write_v:
            raise ValueError(f"v_th_v={self.v_th_v!r} is invalid: the write threshold must be below "
                             f"v_write_v={self.v_write_v!r} V")
        put("v_kin_v", V.positive("v_kin_v", self.v_kin_v, "V", 1e-3, 10.0))
        if (self.v_write_v - self.v_th_v) / self.v_kin_v > 100:
            raise ValueError(f"v_kin_v={self.v_kin_v!r} is invalid: (v_write_v - v_th_v) / v_kin_v = "
                             f"{(self.v_write_v - self.v_th_v) / self.v_kin_v:.4g} must be <= 100 (a strength ratio "
                             "of e^100 between v_th and v_write already covers any device)")
        for n in ("name", "citation"):
            if not isinstance(getattr(self, n), str):
                raise ValueError(f"{n}={getattr(self, n)!r} is invalid: must be a string")

    def _validate_law(self):
        """Checks of the law's own parameters (subclasses)."""

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

    # -- static read I-V ----------------------------------------------------------------------------------
    def read_current(self, g, v):
        """Read current (A) of devices of conductance ``g`` (S) at applied voltage ``v`` (V)."""
        g = np.asarray(g, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        if self.iv_model == "linear":
            return g * v
        if self.iv_model == "sinh":
            v0 = self.iv_v0_v
            return g * v0 * np.sinh(v / v0)
        return g * (v + self.iv_k2_per_v * v**2 + self.iv_k3_per_v2 * v**3)

    def read_current_dv(self, g, v):
        """dI/dV (S) of :meth:`read_current`, for Newton solvers."""
        g = np.asarray(g, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        if self.iv_model == "linear":
            return g * np.ones_like(v)
        if self.iv_model == "sinh":
            return g * np.cosh(v / self.iv_v0_v)
        return g * (1.0 + 2.0 * self.iv_k2_per_v * v + 3.0 * self.iv_k3_per_v2 * v**2)

    def write_strength(self, v_abs):
        """Step of a pulse at |V| = ``v_abs`` (V) across the cell relative to the step at v_write_v (see
        write_kinetics in the class docstring): 0 at and below v_th_v, 1 at v_write_v."""
        v = np.asarray(v_abs, dtype=np.float64)
        num = np.expm1((np.maximum(v, self.v_th_v) - self.v_th_v) / self.v_kin_v)
        return num / np.expm1((self.v_write_v - self.v_th_v) / self.v_kin_v)

    # -- summaries ----------------------------------------------------------------------------------------
    @property
    def mean_step(self) -> float:
        """Mean step of one pulse (device units): the average of the mean up and down steps over the nominal
        range (= dw_min for a symmetric constant step; for nonlinear laws dw_min is only the law's scale)."""
        w = np.linspace(self.w_min, self.w_max, 401)
        arr = self.nominal()
        return float(0.5 * (arr.step_up(w) + arr.step_down(w)).mean())

    @property
    def n_states(self) -> float:
        """Number of mean steps between the nominal bounds: (w_max - w_min) / mean_step."""
        mean = self.mean_step
        return float((self.w_max - self.w_min) / mean) if mean > 0 else math.inf

    def to_dict(self) -> dict:
        """{"model": ..., field: value}; every value a number or a string (or a tuple of numbers)."""
        return {"model": self.model, **{f.name: getattr(self, f.name) for f in fields(self)}}

    # -- law hooks (subclasses) ---------------------------------------------------------------------------
    def _global_params(self) -> np.ndarray:
        return np.zeros(8)

    def _tables(self):
        """(tx, ty, ta, tb) for the kernels."""
        return _NO_TABLES

    def _sample_law(self, shape, rng, b_max, b_min) -> np.ndarray:
        """Per-device law parameters, shape (2,) + shape. Draws nothing from rng unless the law needs it."""
        return np.zeros((2,) + shape)

    def _nominal_law(self, b_max, b_min) -> np.ndarray:
        return self._sample_law(np.shape(b_max), None, b_max, b_min)

    def _step_scale(self) -> float:
        """Divisor applied to dw_up/dw_dn before they reach the kernels (LOOKUP: steps are table-relative)."""
        return 1.0

    def _symmetry_closed_form(self, arr: "DeviceArray"):
        """Closed-form symmetry point per device, or None (then it is found numerically)."""
        return None

    # -- device-to-device sampling ----------------------------------------------------------------------
    def sample(self, shape, rng: np.random.Generator) -> "DeviceArray":
        """Draw the per-device parameters of an array of ``shape`` (device-to-device variation)."""
        shape = _shape(shape)
        rng = V.generator("rng", rng)
        n = rng.standard_normal((4,) + shape)
        if self.dw_min_dtod_dist == "lognormal":
            dw = self.dw_min * np.exp(self.dw_min_dtod * n[0])
        else:
            dw = self.dw_min * np.maximum(1.0 + self.dw_min_dtod * n[0], 0.05)
        ud = np.clip(self.up_down + self.up_down_dtod * n[1], -0.99, 0.99)
        b_max = self.w_max * np.maximum(1.0 + self.w_max_dtod * n[2], 0.1)
        b_min = self.w_min * np.maximum(1.0 + self.w_min_dtod * n[3], 0.1)
        # a device cannot go below a small positive conductance: 5 % of g_min at most below the map's floor
        b_min = np.maximum(b_min, self.w_min - 0.95 * self.g_min_s / self.siemens_per_unit)
        pd = self._sample_law(shape, rng, b_max, b_min)
        return DeviceArray(device=self, dw_up=dw * (1.0 + ud), dw_dn=dw * (1.0 - ud), b_max=b_max, b_min=b_min,
                           law_params=pd)

    def nominal(self, shape=(1,)) -> "DeviceArray":
        """An array of ``shape`` of nominal devices (no device-to-device variation)."""
        shape = tuple(int(s) for s in shape)
        b_max = np.full(shape, float(self.w_max))
        b_min = np.full(shape, float(self.w_min))
        return DeviceArray(device=self, dw_up=np.full(shape, self.dw_min * (1.0 + self.up_down)),
                           dw_dn=np.full(shape, self.dw_min * (1.0 - self.up_down)), b_max=b_max, b_min=b_min,
                           law_params=self._nominal_law(b_max, b_min))

    def step_up(self, w):
        """Mean change of one up pulse of the nominal device at ``w``."""
        w = np.asarray(w, dtype=np.float64)
        return self.nominal(w.shape).step_up(w)

    def step_down(self, w):
        """Mean magnitude of one down pulse of the nominal device at ``w``."""
        w = np.asarray(w, dtype=np.float64)
        return self.nominal(w.shape).step_down(w)

    def symmetry_point(self) -> float:
        """Symmetry point of the nominal device (device units)."""
        return float(self.nominal((1,)).symmetry_point()[0])


_NO_TABLES = (np.zeros(2), np.zeros(2), np.zeros((1, 2)), np.zeros((1, 2)))


def _shape(shape) -> tuple:
    """An array shape: a tuple of integers >= 1 (one-line error otherwise)."""
    return tuple(V.positive_int("shape", s) for s in np.atleast_1d(np.asarray(shape, dtype=object)))


def _check_pulse_range(counts: np.ndarray) -> None:
    """Every entry of the integer array ``counts`` within +/-MAX_PULSES, compared as Python integers (no
    np.abs: it overflows at the most negative value of a signed type, and casts can wrap unsigned ones)."""
    if not counts.size:
        return
    lo, hi = int(counts.min()), int(counts.max())
    if hi > MAX_PULSES or lo < -MAX_PULSES:
        bad = hi if hi > MAX_PULSES else lo
        raise ValueError(f"counts contains {bad} pulses: at most 2**31 - 1 per entry (either sign)")


@dataclass(frozen=True, eq=False)
class DeviceArray:
    """The sampled per-device parameters of one physical array (all arrays have the array's shape).

    ``law_params`` has shape (2,) + shape: the per-device parameters of the step law (PowStep: the up and
    down exponents; PCM: the reset state; unused otherwise).
    """

    device: PulsedDevice
    dw_up: np.ndarray
    dw_dn: np.ndarray
    b_max: np.ndarray
    b_min: np.ndarray
    law_params: np.ndarray = None

    def __post_init__(self):
        if self.law_params is None:
            object.__setattr__(self, "law_params", np.zeros((2,) + np.shape(self.dw_up)))

    @property
    def shape(self):
        return self.dw_up.shape

    # -- mean response ----------------------------------------------------------------------------------
    def _mean_step(self, w, up: bool):
        w = np.asarray(w, dtype=np.float64)
        out_shape = np.broadcast_shapes(w.shape, self.shape)
        flat = [np.array(np.broadcast_to(a, out_shape), dtype=np.float64).reshape(-1)
                for a in (w, self.dw_up, self.dw_dn, self.b_max, self.b_min)]
        pd = np.stack([np.broadcast_to(self.law_params[i], out_shape).reshape(-1) for i in range(2)], axis=1)
        out = np.empty(flat[0].shape[0])
        d = self.device
        tx, _ty, ta, tb = d._tables()
        scale = d._step_scale()
        K.mean_steps(d.law, up, flat[0], out, flat[1] / scale, flat[2] / scale, flat[3], flat[4],
                     np.ascontiguousarray(pd), d._global_params(), tx, ta, tb)
        return out.reshape(out_shape)

    def step_up(self, w):
        """Mean change of one up pulse at weight ``w`` (before clipping), per device."""
        return self._mean_step(w, True)

    def step_down(self, w):
        """Mean magnitude of one down pulse at weight ``w`` (before clipping), per device."""
        return self._mean_step(w, False)

    def symmetry_point(self) -> np.ndarray:
        """Weight where the mean up and down steps are equal, per device.

        Closed form where the law has one, otherwise by bisection on step_up - step_down over [b_min, b_max].
        Where the up step exceeds the down step everywhere, the device drifts to b_max under a zero-mean
        pulse train (returned: b_max); where it is smaller everywhere, to b_min; where both are equal
        everywhere (a symmetric constant step), every w is a symmetry point (returned: 0 clipped to the
        bounds).
        """
        ws = self.device._symmetry_closed_form(self)
        if ws is None:
            ws = self._symmetry_numeric()
        return np.clip(ws, self.b_min, self.b_max)

    def _symmetry_numeric(self, iters: int = 60) -> np.ndarray:
        lo = np.array(self.b_min, dtype=np.float64)
        hi = np.array(self.b_max, dtype=np.float64)
        f_lo = self.step_up(lo) - self.step_down(lo)
        f_hi = self.step_up(hi) - self.step_down(hi)
        tol = 1e-12 * np.maximum(self.dw_up, self.dw_dn)
        all_up = (f_lo > tol) & (f_hi > tol)
        all_dn = (f_lo < -tol) & (f_hi < -tol)
        flat = (np.abs(f_lo) <= tol) & (np.abs(f_hi) <= tol)
        rising = f_hi > f_lo  # a crossing from - to + (unstable); search it anyway, the ends are fixed below
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            f = self.step_up(mid) - self.step_down(mid)
            go_right = np.where(rising, f < 0, f > 0)
            lo = np.where(go_right, mid, lo)
            hi = np.where(go_right, hi, mid)
        ws = 0.5 * (lo + hi)
        ws = np.where(all_up, self.b_max, np.where(all_dn, self.b_min, ws))
        return np.where(flat, 0.0, ws)

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

    # -- pulses -------------------------------------------------------------------------------------------
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
        _check_pulse_range(counts)
        out = np.ascontiguousarray(w.copy()).reshape(-1)
        if counts.shape[0] == 0:  # no updates
            return out.reshape(self.shape)
        K.apply_pulses(self.device.law, out,
                       np.ascontiguousarray(counts.reshape(counts.shape[0], out.size), dtype=np.int32),
                       *self._kernel_params(), np.uint64(seed))
        return out.reshape(self.shape)

    def apply_weighted_pulses(self, w, signs, strength, seed: int) -> np.ndarray:
        """Apply time slots of at most one pulse per device and return the new weights.

        ``signs`` (slots,) + array shape in {-1, 0, 1}: the pulse's direction; ``strength`` (same shape, >= 0):
        its step relative to the law's step (the device's write strength at the pulse's cell voltage). Slots
        are applied in order; noise of the pulse of cell c in slot s is a hash of (seed, s, c).
        """
        w = self.check_weights(w)
        seed = V.seed("seed", seed)
        signs = np.asarray(signs)
        if signs.ndim != len(self.shape) + 1 or signs.shape[1:] != self.shape:
            raise ValueError(f"signs has shape {signs.shape}: expected (slots,) + {self.shape}")
        strength = V.array("strength", strength, signs.shape, min_value=0.0)
        out = np.ascontiguousarray(w.copy()).reshape(-1)
        if signs.shape[0] == 0:  # no slots
            return out.reshape(self.shape)
        n_slots = signs.shape[0]
        K.apply_weighted_pulses(self.device.law, out,
                                np.ascontiguousarray(np.sign(signs).reshape(n_slots, out.size), dtype=np.int8),
                                np.ascontiguousarray(strength.reshape(n_slots, out.size)), *self._kernel_params(),
                                np.uint64(seed))
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
        K.alternating_pulses(self.device.law, out, mean, n_pairs, *self._kernel_params(), np.uint64(seed))
        return out.reshape(self.shape), mean.reshape(self.shape)

    def _kernel_params(self):
        d = self.device
        scale = d._step_scale()
        pd = np.ascontiguousarray(self.law_params.reshape(2, -1).T)
        tx, ty, ta, tb = d._tables()
        return (np.ascontiguousarray(self.dw_up.reshape(-1) / scale),
                np.ascontiguousarray(self.dw_dn.reshape(-1) / scale),
                np.ascontiguousarray(self.b_max.reshape(-1), dtype=np.float64),
                np.ascontiguousarray(self.b_min.reshape(-1), dtype=np.float64),
                pd, d._global_params(), tx, ty, ta, tb, float(d.dw_min_std), d.noise == "add")
