"""Nonlinear pulsed step laws: exponential step, power step, piecewise step, CrossSim lookup table and a
unipolar phase-change cell with reset. The common parameters and the sampled array are described in
:mod:`xbarsim.devices.base`; every model has d2d variation, c2c noise, step functions and a symmetry point.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _kernels as K
from . import _validate as V
from ._files import read_text
from .base import G_RANGE_S, DeviceArray, PulsedDevice
from .linear_step import ConstantStepDevice, LinearStepDevice, SoftBoundsDevice

REPO_ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpStepDevice(PulsedDevice):
    r"""Exponential step (aihwkit ExpStep semantics).

    With ``z = 2 a w / (b_max - b_min) + b``, one up pulse changes w by ``dw_up max(1 - A_up e^{gamma_up z}, 0)``
    and one down pulse by ``-dw_dn max(1 - A_down e^{-gamma_down z}, 0)``; w is then clipped to the (hard)
    bounds. A, gamma, a, b are shared by the array (no device-to-device variation, as in aihwkit).
    Symmetry point: closed form for gamma_up == gamma_down (a quadratic in t = e^{gamma z}), else numerical.
    """

    model = "expstep"
    law = K.EXP

    A_up: float = 0.00081
    A_down: float = 0.36833
    gamma_up: float = 12.44625
    gamma_down: float = 12.78785
    a: float = 0.244
    b: float = 0.2425

    def _validate_law(self):
        for n in ("A_up", "A_down", "a", "b"):
            self._put(n, V.finite(n, getattr(self, n)))
        self._put("gamma_up", V.in_range("gamma_up", self.gamma_up, 0.0, 100.0))
        self._put("gamma_down", V.in_range("gamma_down", self.gamma_down, 0.0, 100.0))

    def _global_params(self) -> np.ndarray:
        return np.array([self.A_up, self.A_down, self.gamma_up, self.gamma_down, self.a, self.b, 0.0, 0.0],
                        dtype=np.float64)

    def _symmetry_closed_form(self, arr: DeviceArray):
        g = self.gamma_up
        if g != self.gamma_down or g == 0.0 or self.a == 0.0 or self.A_up == 0.0:
            return None
        # dw_up (1 - A_up t) = dw_dn (1 - A_down / t)  <=>  dw_up A_up t^2 - (dw_up - dw_dn) t - dw_dn A_down = 0
        qa = arr.dw_up * self.A_up
        qb = -(arr.dw_up - arr.dw_dn)
        qc = -arr.dw_dn * self.A_down
        disc = qb * qb - 4.0 * qa * qc
        rng_ = arr.b_max - arr.b_min
        best = np.full(arr.shape, np.nan)
        for sgn in (1.0, -1.0):
            with np.errstate(invalid="ignore", divide="ignore"):
                t = (-qb + sgn * np.sqrt(disc)) / (2.0 * qa)
                w = (np.log(t) / g - self.b) * rng_ / (2.0 * self.a)
            y_up = 1.0 - self.A_up * t
            y_dn = 1.0 - self.A_down / t
            ok = (t > 0) & (y_up > 0) & (y_dn > 0) & (w >= arr.b_min) & (w <= arr.b_max) & np.isnan(best)
            best = np.where(ok, w, best)
        if np.any(np.isnan(best)):
            best = np.where(np.isnan(best), arr._symmetry_numeric(), best)
        return best


# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowStepDevice(PulsedDevice):
    r"""Power step (aihwkit PowStep semantics, a shifted Fusi & Abbott 2007 synapse).

    With ``omega = (b_max - w) / (b_max - b_min)`` the relative distance to the upper bound, one up pulse
    changes w by ``dw_up omega^{gamma_up}`` and one down pulse by ``-dw_dn (1 - omega)^{gamma_down}``;
    ``gamma_up/down = pow_gamma (1 +/- beta + pow_gamma_dtod xi)``, ``beta = pow_up_down + pow_up_down_dtod xi'``
    per device. gamma = 1 is soft bounds with steps dw (b_max - w)/(b_max - b_min). Note that dw_min is the
    step at omega = 1, not at w = 0. Symmetry point: closed form where gamma_up == gamma_down,
    ``omega* = r / (1 + r)``, ``r = (dw_dn / dw_up)^{1/gamma}``; numerical otherwise.
    """

    model = "powstep"
    law = K.POW

    pow_gamma: float = 1.0
    pow_gamma_dtod: float = 0.0
    pow_up_down: float = 0.0
    pow_up_down_dtod: float = 0.0

    def _validate_law(self):
        self._put("pow_gamma", V.in_range("pow_gamma", self.pow_gamma, 0.0, 100.0))
        self._put("pow_gamma_dtod", V.nonnegative("pow_gamma_dtod", self.pow_gamma_dtod))
        self._put("pow_up_down", V.in_range("pow_up_down", self.pow_up_down, -0.99, 0.99))
        self._put("pow_up_down_dtod", V.nonnegative("pow_up_down_dtod", self.pow_up_down_dtod))

    def _sample_law(self, shape, rng, b_max, b_min) -> np.ndarray:
        if rng is None or (self.pow_gamma_dtod == 0.0 and self.pow_up_down_dtod == 0.0):
            xi = np.zeros((2,) + tuple(shape))
        else:
            xi = rng.standard_normal((2,) + tuple(shape))
        beta = self.pow_up_down + self.pow_up_down_dtod * xi[1]
        g_up = self.pow_gamma * np.maximum(1.0 + beta + self.pow_gamma_dtod * xi[0], 0.0)
        g_dn = self.pow_gamma * np.maximum(1.0 - beta + self.pow_gamma_dtod * xi[0], 0.0)
        return np.stack([g_up, g_dn])

    def _symmetry_closed_form(self, arr: DeviceArray):
        g_up, g_dn = arr.law_params[0], arr.law_params[1]
        equal = (g_up == g_dn) & (g_up > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (arr.dw_dn / arr.dw_up) ** (1.0 / np.where(equal, g_up, 1.0))
        ws = arr.b_max - r / (1.0 + r) * (arr.b_max - arr.b_min)
        if not np.all(equal):
            ws = np.where(equal, ws, arr._symmetry_numeric())
        return ws


# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PiecewiseStepDevice(PulsedDevice):
    r"""Piecewise step (aihwkit PiecewiseStep semantics): measured step sizes on nodes, linearly interpolated.

    The nodes are equally spaced from each device's b_min (first) to b_max (last); one up pulse changes w
    by ``dw_up v_up(w)``, one down pulse by ``-dw_dn v_down(w)``, with v the interpolated node values
    (relative to dw_min, floored at 0); each direction needs at least one node > 0 (else the device never
    moves that way). Symmetry point: numerical.
    """

    model = "piecewise"
    law = K.PIECEWISE

    piecewise_up: tuple = (1.0, 1.0)
    piecewise_down: tuple = (1.0, 1.0)

    def _validate_law(self):
        up = _node_tuple("piecewise_up", self.piecewise_up)
        dn = _node_tuple("piecewise_down", self.piecewise_down)
        if len(up) != len(dn):
            raise ValueError(f"piecewise_down has {len(dn)} nodes: must have as many as piecewise_up ({len(up)})")
        for name, vals in (("piecewise_up", up), ("piecewise_down", dn)):
            if not any(v > 0 for v in vals):
                raise ValueError(f"{name}={vals!r} is invalid: at least one step must be > 0 (with all steps 0 "
                                 "the device never moves in that direction)")
        object.__setattr__(self, "piecewise_up", up)
        object.__setattr__(self, "piecewise_down", dn)

    def _tables(self):
        up = np.array(self.piecewise_up, dtype=np.float64)[None, :]
        dn = np.array(self.piecewise_down, dtype=np.float64)[None, :]
        return np.zeros(2), np.zeros(2), up, dn


def _node_tuple(name, value) -> tuple:
    try:
        vals = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is invalid: must be a list of >= 2 finite numbers >= 0") from None
    if len(vals) < 2 or not all(np.isfinite(v) and v >= 0 for v in vals):
        raise ValueError(f"{name}={value!r} is invalid: must be a list of >= 2 finite numbers >= 0")
    return vals


# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrossSimTable:
    """A step-size lookup table in the Sandia CrossSim format: conductance bins (S), CDF points, and the
    change of conductance (S) caused by one pulse, rows = CDF points, columns = bins."""

    g_bins_s: np.ndarray
    cdf: np.ndarray
    dg_s: np.ndarray

    def median(self) -> np.ndarray:
        """Median step (S) per bin."""
        return np.array([np.interp(0.5, self.cdf, self.dg_s[:, j]) for j in range(self.g_bins_s.size)])

    def mean(self) -> np.ndarray:
        """Mean step (S) per bin: the integral of the (piecewise linear) quantile function over the CDF."""
        return np.trapezoid(self.dg_s, self.cdf, axis=0)

    def std(self) -> np.ndarray:
        """Standard deviation (S) of the step per bin (quantile function integrated numerically)."""
        u = np.linspace(0.0, 1.0, 4001)
        q = np.stack([np.interp(u, self.cdf, self.dg_s[:, j]) for j in range(self.g_bins_s.size)], axis=1)
        return q.std(axis=0)


def resolve_data_path(path: str) -> Path:
    """``path`` as given if it exists, else relative to the repository root (for the shipped data/)."""
    p = Path(os.path.expanduser(path))
    if p.exists() or p.is_absolute():
        return p
    q = REPO_ROOT / p
    return q if q.exists() else p


def _table_numbers(path, n: int, line: str) -> np.ndarray:
    """The comma-separated finite numbers of line ``n`` of a lookup table."""
    vals = []
    for k, x in enumerate(line.split(","), start=1):
        if not x.strip():
            raise ValueError(f"lookup table {path}: line {n}, value {k} is empty (is the file truncated?)")
        try:
            v = float(x)
        except ValueError:
            raise ValueError(f"lookup table {path}: line {n}, value {k}: {x.strip()!r} is not a number") from None
        if not np.isfinite(v):
            raise ValueError(f"lookup table {path}: line {n}, value {k}: {x.strip()!r} is not a finite number")
        vals.append(v)
    return np.array(vals)


def _table_matrix(path, rows, n_cdf: int, n_bins: int) -> np.ndarray:
    """The step matrix (CDF points, bins) from its numbered lines; a short or missing line (a truncated file)
    names the line."""
    shape = f"shape (CDF points, bins) = ({n_cdf}, {n_bins})"
    out = []
    for n, line in rows:
        r = _table_numbers(path, n, line)
        if r.size != n_bins:
            raise ValueError(f"lookup table {path}: line {n} has {r.size} values: expected {n_bins}, one per "
                             f"conductance bin (the matrix has {shape}; is the file truncated?)")
        out.append(r)
    if len(out) != n_cdf:
        raise ValueError(f"lookup table {path}: the matrix has {len(out)} rows: expected {n_cdf}, one per CDF "
                         f"point (the matrix has {shape}; is the file truncated?)")
    return np.array(out)


@functools.lru_cache(maxsize=32)
def _read_crosssim_table(path: str, mtime: float) -> CrossSimTable:
    text = read_text(path, "lookup table", "text (CrossSim table) file")
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if len(lines) < 3:
        raise ValueError(f"lookup table {path}: has {len(lines)} non-empty lines: expected a title line, the "
                         "conductance bins (S), the CDF points and one matrix row per CDF point (is the file "
                         "truncated?)")
    g = _table_numbers(path, *lines[1])
    cdf = _table_numbers(path, *lines[2])
    lo, hi = G_RANGE_S
    if g.size < 2 or not np.all(np.diff(g) > 0) or not (g[0] >= lo and g[-1] <= hi):
        raise ValueError(f"lookup table {path}: conductance bins (line {lines[1][0]}) must be >= 2 increasing "
                         f"values in [{lo:g}, {hi:g}] S")
    if cdf.size < 2 or not np.all(np.diff(cdf) >= 0) or cdf[0] < 0 or cdf[-1] > 1:
        raise ValueError(f"lookup table {path}: CDF points (line {lines[2][0]}) must be >= 2 non-decreasing "
                         "values in [0, 1]")
    dg = _table_matrix(path, lines[3:], cdf.size, g.size)
    if not np.all(np.diff(dg, axis=0) >= -1e-15):
        raise ValueError(f"lookup table {path}: every column must be non-decreasing along the CDF")
    span = float(g[-1] - g[0])
    if np.abs(dg).max() > span:
        raise ValueError(f"lookup table {path}: a step of {float(np.abs(dg).max()):g} S is larger than the table's "
                         f"conductance range ({span:g} S): the steps must be in S, like the bins")
    for a in (g, cdf, dg):
        a.setflags(write=False)
    return CrossSimTable(g, cdf, dg)


def read_crosssim_table(path) -> CrossSimTable:
    """Read a CrossSim step-size table (line 1 title, line 2 bins (S), line 3 CDF points, then the matrix)."""
    p = resolve_data_path(str(path))
    if not p.is_file():
        raise ValueError(f"lookup table {str(path)!r} does not exist")
    return _read_crosssim_table(str(p), p.stat().st_mtime)


@dataclass(frozen=True)
class LookupTableDevice(PulsedDevice):
    r"""Lookup-table device in the Sandia CrossSim format: a step-size distribution per conductance bin.

    One up pulse at conductance G draws u ~ U(0, 1) and adds the step interpolated at u along the CDF and at
    G along the bins of ``table_up`` (a down pulse uses ``table_down``, whose steps are negative), scaled by
    the device's step factor (dw_up / dw_min: up_down and dw_min_dtod act as for every model), then clips.
    The tables carry the cycle-to-cycle noise: ``dw_min_std`` scales the spread of the steps about the mean
    step (1, the default: the table as measured; 0: every pulse gives the mean step).
    The conductance window is the tables' bin range, mapped to [w_min, w_max]; dw_min is derived: the mean
    step magnitude, averaged over bins and directions, in device units. Symmetry point: numerical, on the
    mean steps.
    """

    model = "lookup"
    law = K.LOOKUP

    table_up: str = "data/devices/crosssim_ENODe/dG_increasing.txt"
    table_down: str = "data/devices/crosssim_ENODe/dG_decreasing.txt"
    dw_min_std: float = 1.0
    dw_min: float = field(default=0.0, init=False)
    g_min_s: float = field(default=0.0, init=False)
    g_max_s: float = field(default=0.0, init=False)

    def __post_init__(self):
        for n in ("table_up", "table_down"):
            if isinstance(getattr(self, n), os.PathLike):
                object.__setattr__(self, n, os.fspath(getattr(self, n)))
        if not isinstance(self.table_up, str):
            raise ValueError(f"table_up={self.table_up!r} is invalid: must be a path (string)")
        if not isinstance(self.table_down, str):
            raise ValueError(f"table_down={self.table_down!r} is invalid: must be a path (string)")
        up, dn = read_crosssim_table(self.table_up), read_crosssim_table(self.table_down)
        if up.g_bins_s.shape != dn.g_bins_s.shape or not np.allclose(up.g_bins_s, dn.g_bins_s, rtol=1e-9):
            raise ValueError(f"table_down={self.table_down!r} is invalid: its conductance bins differ from those "
                             f"of table_up={self.table_up!r}")
        object.__setattr__(self, "g_min_s", float(up.g_bins_s[0]))
        object.__setattr__(self, "g_max_s", float(up.g_bins_s[-1]))
        V.positive("w_max", self.w_max)
        if not V.finite("w_min", self.w_min) < 0:
            raise ValueError(f"w_min={self.w_min!r} is invalid: must be a finite number < 0")
        mean = 0.5 * (np.abs(up.mean()) + np.abs(dn.mean())).mean() / self.siemens_per_unit
        object.__setattr__(self, "dw_min", float(mean))
        super().__post_init__()

    def tables(self) -> tuple[CrossSimTable, CrossSimTable]:
        """The (up, down) tables in siemens."""
        return read_crosssim_table(self.table_up), read_crosssim_table(self.table_down)

    def _step_scale(self) -> float:
        return self.dw_min

    def _tables(self):
        """(bins in w, CDF points, up table, down table) in device units; each table has a last row of the
        mean step per bin."""
        up, dn = self.tables()
        s = self.siemens_per_unit
        wb = np.ascontiguousarray(self.to_weight(up.g_bins_s))
        if np.array_equal(up.cdf, dn.cdf):
            cdf, tu, td = np.array(up.cdf, dtype=np.float64), up.dg_s, dn.dg_s
        else:
            cdf, tu, td = _common_cdf(up, dn)
        ta = np.ascontiguousarray(np.vstack([tu, up.mean()[None, :]]) / s)
        tb = np.ascontiguousarray(np.vstack([td, dn.mean()[None, :]]) / s)
        return wb, cdf, ta, tb


def _common_cdf(up: CrossSimTable, dn: CrossSimTable):
    """Both tables resampled on the union of their CDF points (the kernel takes one CDF grid)."""
    cdf = np.union1d(up.cdf, dn.cdf)

    def res(t):
        return np.stack([np.interp(cdf, t.cdf, t.dg_s[:, j]) for j in range(t.g_bins_s.size)], axis=1)

    return cdf, res(up), res(dn)


# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PCMDevice(PulsedDevice):
    r"""Unipolar phase-change cell with reset (e.g. Ge2Sb2Te5).

    Up pulses (partial SET, crystallisation) change w gradually by the exponential step law
    ``dw_up max(1 - A_up e^{gamma_up z}, 0)``, ``z = 2 a w / (b_max - b_min) + b``. The cell cannot be
    depressed gradually: a down pulse is a RESET (melt-quench) that puts the cell back at its reset state
    ``b_min + reset`` (per device: ``reset + reset_dtod xi``, at least b_min) plus ``reset_std xi``
    per reset (aihwkit's reset semantics, in device units). As a differential pair it needs a refresh when a
    device saturates. The "down step" at w is ``w - w_reset``; the symmetry point (numerical) is where the
    mean up step equals it, which is also the stationary mean under random +/- pulses when the up step is
    locally linear.
    """

    model = "pcm"
    law = K.PCM

    A_up: float = -27.235
    gamma_up: float = 2.5
    a: float = -1.0
    b: float = -1.0
    reset: float = 0.01
    reset_dtod: float = 0.0
    reset_std: float = 0.0

    def _validate_law(self):
        for n in ("A_up", "a", "b"):
            self._put(n, V.finite(n, getattr(self, n)))
        self._put("gamma_up", V.in_range("gamma_up", self.gamma_up, 0.0, 100.0))
        self._put("reset", V.in_range("reset", self.reset, 0.0, self.w_max - self.w_min))
        self._put("reset_dtod", V.nonnegative("reset_dtod", self.reset_dtod))
        self._put("reset_std", V.nonnegative("reset_std", self.reset_std))

    @property
    def mean_step(self) -> float:
        """Mean SET step over the nominal range (device units): a RESET is not a step."""
        w = np.linspace(self.w_min, self.w_max, 401)
        return float(self.nominal(w.shape).step_up(w).mean())

    def _global_params(self) -> np.ndarray:
        return np.array([self.A_up, 0.0, self.gamma_up, 0.0, self.a, self.b, self.reset_std, 0.0])

    def _sample_law(self, shape, rng, b_max, b_min) -> np.ndarray:
        if rng is None or self.reset_dtod == 0.0:
            xi = np.zeros(tuple(shape))
        else:
            xi = rng.standard_normal(tuple(shape))
        target = b_min + np.maximum(self.reset + self.reset_dtod * xi, 0.0)
        return np.stack([np.minimum(target, b_max), np.zeros(tuple(shape))])


MODELS = {
    "constant": ConstantStepDevice,
    "linearstep": LinearStepDevice,
    "softbounds": SoftBoundsDevice,
    "expstep": ExpStepDevice,
    "powstep": PowStepDevice,
    "piecewise": PiecewiseStepDevice,
    "lookup": LookupTableDevice,
    "pcm": PCMDevice,
}
