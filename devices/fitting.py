"""Fitting pulsed device models to measured traces (and to CrossSim step tables).

Trace fit (aihwkit, crosssim and plain traces). The data are mapped to device units
``w = (g - g_center) / g_scale`` (normalised traces are used as they are; traces in siemens are centred on the
middle of their 0.5-99.5 % range and scaled by its half width). Each segment (a branch or ramp of one pulse
sign) starts from its own first sample. The noise model is the device model's: multiplicative
cycle-to-cycle noise on every pulse (``dw_min_std``, a random walk that accumulates), plus read noise on
every sample that does not accumulate (std ``read_noise``, lag-1 correlation ``read_noise_corr`` in
[-0.5, 0.9], an AR(1) process; white when 0). The steps:

1. open-loop least squares: the noise-free response from each segment's first sample, fitted to all samples
   (scipy ``least_squares``, trust region with bounds; several start vectors for the nonlinear laws);
2. maximum likelihood of the noise (dw_min_std, read noise, its correlation) for those parameters, the
   likelihood computed by an extended Kalman filter over the pulses (state: the device and the read noise);
3. prediction-error least squares of the model parameters: the filter's one-step prediction errors,
   each divided by its predicted std (the write noise held fixed per pulse in device units, so that larger
   steps cannot buy larger predicted variances), then maximum likelihood of all terms from there, then the
   noise again. With write noise, this is what keeps the estimate unbiased: open-loop least squares
   treats the accumulated random walk as independent errors.
4. guard: if the response of the step-3 parameters fits the trace much worse than the open-loop one
   (sum of squares more than 4 times larger), the noise model does not describe the data and the
   open-loop estimate (refined with fitted segment starts) is reported; ``method`` says which.

Standard errors come from the Jacobian of the final least squares (``cov = s^2 (J^T J)^-1``) and, for the
noise, from the curvature of the likelihood. RMSE and R^2 are those of the noise-free response (each
segment's start fitted by least squares) to the trace; BIC = 2 NLL + k ln n from the Kalman likelihood
(k = model parameters + 3 noise parameters) selects the best model.

Step fit (CrossSim lookup tables): the model's mean up and down steps are fitted to the tables' mean step
per conductance bin; the cycle-to-cycle noise is the tables' pooled standard deviation relative to the rms
mean step.

Reported per model: parameters with standard errors, dw_min_std and read noise with standard errors, RMSE
and R^2 (on the conductance trace, or on the steps for tables), BIC, the symmetry point and the number of
states; the best model is the one with the lowest BIC.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from . import _kernels as K
from .base import G_RANGE_S, PulsedDevice
from .linear_step import ConstantStepDevice, SoftBoundsDevice
from .models import ExpStepDevice, PiecewiseStepDevice, PowStepDevice
from .traces import StepTables, Trace, check_pulse_counts, device_response, read_trace

FIT_MODELS = ("constant", "softbounds", "expstep", "powstep", "piecewise")
DEFAULT_G_WINDOW_S = (2e-6, 2e-5)
PHI_MAX = 0.9  # largest lag-1 correlation of the read noise (nearer 1 it mimics the write random walk)
_DUMMY_G = dict(g_min_s=1e-6, g_max_s=1e-4)


# ------------------------------------------------------------------------------------------------------------
# model specifications: parameter names, start values, limits, and the device they build (in fit units)
@dataclass(frozen=True)
class _Ctx:
    lo: float            # 0.5 % quantile of the data (device units)
    hi: float            # 99.5 % quantile
    dw0: float           # typical step
    ud0: float           # typical up/down bias
    n_nodes: int
    node_up: np.ndarray  # binned mean steps (start values of the piecewise nodes)
    node_dn: np.ndarray
    w_floor: float = -math.inf  # lowest allowed lower bound (conductance 0.1 % of the data centre)


def _bounds_init(c: _Ctx):
    span = c.hi - c.lo
    return c.hi + 0.25 * span, c.lo - 0.25 * span


def _spec(model: str, c: _Ctx, fixed_bounds: bool = False):
    """(names, x0 list of start vectors, lower, upper, build(theta) -> device).

    ``fixed_bounds``: the hard bounds of constant, expstep and piecewise are [c.lo, c.hi], not fitted (a step
    table covers the device's range, and steps alone do not locate a hard bound)."""
    if fixed_bounds and model in ("constant", "expstep", "piecewise"):
        return _fix_bounds(_spec(model, c), c)
    span = c.hi - c.lo
    big = 50.0 * span
    wmin_lo = max(-big, c.w_floor)
    bmax0, bmin0 = _bounds_init(c)
    if model in ("constant", "softbounds"):
        cls = ConstantStepDevice if model == "constant" else SoftBoundsDevice
        names = ("dw_min", "up_down", "w_max", "w_min")
        b0 = (c.hi, c.lo) if model == "constant" else (bmax0, bmin0)
        x0 = [np.array([c.dw0, c.ud0, *b0])]
        lower = [1e-9 * span, -0.99, max(1e-6, 0.02 * span), wmin_lo]
        upper = [span, 0.99, big, -max(1e-6, 0.02 * span)]

        def build(t):
            return cls(dw_min=t[0], up_down=t[1], w_max=t[2], w_min=t[3], **_DUMMY_G)
    elif model == "powstep":
        names = ("dw_min", "up_down", "w_max", "w_min", "pow_gamma", "pow_up_down")
        x0 = [np.array([2.0 * c.dw0, c.ud0, bmax0, bmin0, g, 0.0]) for g in (1.0, 0.5, 2.0)]
        lower = [1e-9 * span, -0.99, max(1e-6, 0.02 * span), wmin_lo, 0.0, -0.99]
        upper = [span, 0.99, big, -max(1e-6, 0.02 * span), 20.0, 0.99]

        def build(t):
            return PowStepDevice(dw_min=t[0], up_down=t[1], w_max=t[2], w_min=t[3], pow_gamma=t[4],
                                 pow_up_down=t[5], **_DUMMY_G)
    elif model == "expstep":
        names = ("dw_min", "up_down", "w_max", "w_min", "A_up", "A_down", "gamma_up", "gamma_down")
        x0 = [np.array([c.dw0, c.ud0, c.hi, c.lo, a, a, g, g]) for a, g in ((-0.5, 3.0), (0.3, 3.0), (-0.1, 8.0))]
        lower = [1e-9 * span, -0.99, max(1e-6, 0.02 * span), wmin_lo, -1e3, -1e3, 0.0, 0.0]
        upper = [span, 0.99, big, -max(1e-6, 0.02 * span), 1e3, 1e3, 50.0, 50.0]

        def build(t):
            return ExpStepDevice(dw_min=t[0], up_down=t[1], w_max=t[2], w_min=t[3], A_up=t[4], A_down=t[5],
                                 gamma_up=t[6], gamma_down=t[7], a=-0.5, b=-0.5, **_DUMMY_G)
    elif model == "piecewise":
        n = c.n_nodes
        names = ("w_max", "w_min") + tuple(f"step_up_{i}" for i in range(n)) + \
            tuple(f"step_down_{i}" for i in range(n))
        x0 = [np.r_[c.hi, c.lo, c.node_up, c.node_dn]]
        lower = [max(1e-6, 0.02 * span), wmin_lo] + [0.0] * (2 * n)
        upper = [big, -max(1e-6, 0.02 * span)] + [span] * (2 * n)

        def build(t):
            return PiecewiseStepDevice(dw_min=1.0, w_max=t[0], w_min=t[1], piecewise_up=tuple(t[2:2 + n]),
                                       piecewise_down=tuple(t[2 + n:]), **_DUMMY_G)
    else:
        raise ValueError(f"model={model!r} is invalid: allowed values are {', '.join(FIT_MODELS)}")
    lower, upper = np.array(lower, float), np.array(upper, float)
    inset = 1e-6 * (upper - lower)
    x0 = [np.clip(x, lower + inset, upper - inset) for x in x0]
    return names, x0, lower, upper, build


# ------------------------------------------------------------------------------------------------------------
def _fix_bounds(spec, c: _Ctx):
    names, x0s, lower, upper, build = spec
    keep = [i for i, n in enumerate(names) if n not in ("w_max", "w_min")]
    i_max, i_min = names.index("w_max"), names.index("w_min")

    def build_fixed(t):
        full = np.empty(len(names))
        full[keep] = t
        full[i_max], full[i_min] = c.hi, c.lo
        return build(full)

    return (tuple(names[i] for i in keep), [x[keep] for x in x0s], lower[keep], upper[keep], build_fixed)


@dataclass(frozen=True, eq=False)
class ModelFit:
    """The fit of one model. ``device`` is in physical units (its conductance map reproduces the data);
    ``params``/``stderr`` are the fitted parameters in device units (fit coordinates)."""

    model: str
    ok: bool
    message: str
    method: str = ""
    device: PulsedDevice | None = None
    params: dict = field(default_factory=dict)
    stderr: dict = field(default_factory=dict)
    dw_min_std: float = math.nan
    dw_min_std_se: float = math.nan
    read_noise: float = math.nan      # data units (S, or device units for normalised data)
    read_noise_se: float = math.nan
    read_noise_corr: float = math.nan  # lag-1 correlation of the read noise (AR(1))
    read_noise_corr_se: float = math.nan
    rmse: float = math.nan            # data units
    r2: float = math.nan
    bic: float = math.nan
    n_data: int = 0
    n_params: int = 0
    symmetry_point_w: float = math.nan
    symmetry_point_g: float = math.nan  # data units
    n_states: float = math.nan
    fitted: np.ndarray | None = None  # trace fits: fitted samples (data units), aligned with the data


@dataclass(frozen=True, eq=False)
class FitReport:
    """All model fits of one trace (kind "trace") or one pair of step tables (kind "steps")."""

    kind: str
    data: Trace | StepTables
    g_center: float
    g_scale: float
    fits: tuple
    best: str | None

    @property
    def unit(self) -> str:
        return self.data.unit

    def fit(self, model: str) -> ModelFit:
        for f in self.fits:
            if f.model == model:
                return f
        raise ValueError(f"model={model!r} is invalid: allowed values are the models of this report "
                         f"({', '.join(f.model for f in self.fits)})")

    def to_w(self, g):
        return (np.asarray(g, dtype=np.float64) - self.g_center) / self.g_scale

    def to_g(self, w):
        return self.g_center + self.g_scale * np.asarray(w, dtype=np.float64)


# ------------------------------------------------------------------------------------------------------------
def _stderr(J, s2, p=None):
    """Standard errors ``sqrt(diag(s2 (J^T J)^-1))`` of the first ``p`` parameters by SVD; a parameter that
    loads on a direction the data do not determine (singular value < 1e-8 of the largest) gets inf."""
    J = np.asarray(J, dtype=np.float64)
    p = J.shape[1] if p is None else p
    if J.size == 0:
        return np.full(p, np.nan)
    _, sv, vt = np.linalg.svd(J, full_matrices=False)
    ok = sv > sv[0] * 1e-8 if sv.size and sv[0] > 0 else np.zeros(sv.size, bool)
    var = ((vt[ok] / sv[ok, None]) ** 2).sum(axis=0) * s2
    undetermined = (vt[~ok] ** 2).sum(axis=0) > 1e-6
    return np.where(undetermined, np.inf, np.sqrt(var))[:p]


def _pack(segments, to_w):
    n_seg = len(segments)
    L = max(s.g.size for s in segments)
    counts = np.zeros((n_seg, L - 1), dtype=np.int64)
    w = np.full((n_seg, L), np.nan)
    lengths = np.zeros(n_seg, dtype=np.int64)
    for i, s in enumerate(segments):
        n = s.g.size
        w[i, :n] = to_w(s.g)
        counts[i, : n - 1] = s.counts
        lengths[i] = n
    mask = np.isfinite(w)
    return w, counts, lengths, mask


# ------------------------------------------------------------------------------------------------------------
def _context(wsegs, counts_segs, n_nodes, w_floor=-math.inf) -> _Ctx:
    allw = np.concatenate(wsegs)
    lo, hi = np.quantile(allw, [0.005, 0.995])
    if not hi > lo:
        raise ValueError(_constant_message(allw, lo, ""))
    if not (lo < 0 < hi):  # keep 0 inside the range (device bounds must straddle 0)
        mid = 0.5 * (lo + hi)
        lo, hi = lo - mid, hi - mid
    nodes = np.linspace(lo, hi, n_nodes)
    up, dn = [[] for _ in nodes], [[] for _ in nodes]  # step magnitudes per node
    for w, c in zip(wsegs, counts_segs):
        k = min(5, max(1, w.size // 10))
        sm = np.convolve(np.pad(w, k // 2, mode="edge"), np.ones(k) / k, mode="valid")[: w.size]
        for i in np.flatnonzero(c):
            j = int(np.clip(np.round((sm[i] - lo) / (hi - lo) * (n_nodes - 1)), 0, n_nodes - 1))
            change = (sm[i + 1] - sm[i]) / abs(c[i])
            (up[j] if c[i] > 0 else dn[j]).append(change if c[i] > 0 else -change)
    net = []
    for w, c in zip(wsegs, counts_segs):
        n = np.abs(c).sum()
        if n:
            net.append(abs(w[-min(3, w.size):].mean() - w[: min(3, w.size)].mean()) / n)
    dw_net = float(np.median(net)) if net else (hi - lo) / 100
    mu = np.array([np.mean(x) if x else np.nan for x in up])
    md = np.array([np.mean(x) if x else np.nan for x in dn])
    mu = np.where(np.isfinite(mu) & (mu > 0), mu, dw_net)
    md = np.where(np.isfinite(md) & (md > 0), md, dw_net)
    up_all = [s for x in up for s in x]
    dn_all = [s for x in dn for s in x]
    su = max(np.mean(up_all), 1e-3 * dw_net) if up_all else dw_net
    sd = max(np.mean(dn_all), 1e-3 * dw_net) if dn_all else dw_net
    dw0 = max(0.5 * (su + sd), dw_net, 1e-6 * (hi - lo))
    ud0 = float(np.clip((su - sd) / (su + sd), -0.5, 0.5))
    return _Ctx(float(lo), float(hi), float(dw0), ud0, n_nodes, mu, md, float(w_floor))


def _sparsity(n_params, lengths, mask):
    rows_per_seg = mask.sum(axis=1)
    n_rows = int(rows_per_seg.sum())
    n_seg = len(lengths)
    S = sparse.lil_matrix((n_rows, n_params + n_seg), dtype=np.int8)
    S[:, :n_params] = 1
    r = 0
    for s in range(n_seg):
        S[r:r + rows_per_seg[s], n_params + s] = 1
        r += rows_per_seg[s]
    return S.tocsr()


def _finish_device(dev: PulsedDevice, model, unit, g_center, g_scale, c2c, g_window_s, name, citation):
    """The fitted device in physical units: conductance map from the data (or ``g_window_s`` for normalised
    data), cycle-to-cycle noise, name and citation; piecewise nodes normalised to a mean of 1."""
    kw = dict(dw_min_std=float(c2c), name=name, citation=citation)
    if model == "piecewise":
        up = np.array(dev.piecewise_up)
        dn = np.array(dev.piecewise_down)
        scale = float(0.5 * (up.mean() + dn.mean()))
        if not scale > 0:
            raise ValueError("all fitted piecewise steps are zero")
        kw.update(dw_min=scale, piecewise_up=tuple(up / scale), piecewise_down=tuple(dn / scale))
    if unit == "S":
        g_lo = g_center + g_scale * dev.w_min
        g_hi = g_center + g_scale * dev.w_max
        if not g_lo > 0:
            raise ValueError(f"the fitted lower bound w_min={dev.w_min:.4g} lies at {g_lo:.4g} S <= 0")
        kw.update(g_min_s=float(g_lo), g_max_s=float(g_hi))
    else:
        kw.update(g_min_s=float(g_window_s[0]), g_max_s=float(g_window_s[1]))
    return replace(dev, **kw)


class _Filter:
    """The extended Kalman filter of a model over a packed trace (see :func:`_kernels.ekf_nll`)."""

    def __init__(self, w, counts, lengths, mask, build):
        self.y = np.ascontiguousarray(np.nan_to_num(w))
        self.counts, self.lengths, self.mask, self.build = counts, lengths, mask, build
        self.pred = np.zeros_like(self.y)
        self.svar = np.ones_like(self.y)
        self.obs = mask.copy()
        self.obs[:, 0] = False  # the first sample of a segment starts its filter
        self.n = int(self.obs.sum())

    def run(self, theta, c2c, read, phi, absolute=False):
        """NLL, and fills pred/svar; inf where theta is not a valid device. ``absolute``: c2c is the write
        noise std per pulse in device units (not relative to the step)."""
        try:
            dev = self.build(theta)
        except ValueError:
            return math.inf
        p = dev.nominal((1,))._kernel_params()
        return K.ekf_nll(dev.law, self.y, self.counts, self.lengths, *p[:10], float(c2c), absolute,
                         float(read) ** 2, float(phi), self.pred, self.svar)

    def innovations(self, theta, c2c, read, phi, absolute=False):
        """Normalised one-step prediction errors (y - prediction) / sqrt(variance)."""
        if not math.isfinite(self.run(theta, c2c, read, phi, absolute)):
            return None
        return ((self.y - self.pred) / np.sqrt(self.svar))[self.obs]


def _noise_start(w, counts, lengths, mask, dw0):
    """Start values of (c2c, read noise) from the first differences: read variance = -lag-1 covariance,
    the rest of their variance is write noise."""
    d1, d2 = [], []
    for s in range(w.shape[0]):
        n = int(mask[s].sum())
        if n >= 3:
            d = np.diff(w[s, :n])
            d1.append(d[:-1] - d[:-1].mean())
            d2.append(d[1:] - d[1:].mean())
    if not d1:
        return 0.3, 1e-3 * dw0
    a, b = np.concatenate(d1), np.concatenate(d2)
    var = float(np.mean(np.r_[a, b] ** 2))
    r2 = max(-float(np.mean(a * b)), 0.01 * var)
    w2 = max(var - 2.0 * r2, 0.01 * var)
    return float(np.clip(math.sqrt(w2) / dw0, 0.02, 20.0)), math.sqrt(r2)


def _fit_noise(filt, theta, c2c, read, phi, span):
    """Maximum likelihood of the noise (c2c, read noise std, read-noise correlation phi) for fixed model
    parameters, in (log, log, atanh) space; returns (c2c, read, phi, nll, se_c2c, se_read, se_phi) with
    standard errors from the curvature."""
    lo = np.array([math.log(1e-4), math.log(1e-7 * span), math.atanh(-0.5)])
    hi = np.array([math.log(50.0), math.log(span), math.atanh(PHI_MAX)])

    def tr(v):
        return math.exp(v[0]), math.exp(v[1]), math.tanh(v[2])

    def f(v):
        return filt.run(theta, *tr(v))

    v0 = np.clip([math.log(max(c2c, 1e-4)), math.log(max(read, 1e-7 * span)),
                  math.atanh(np.clip(phi, -0.4, 0.8 * PHI_MAX))], lo + 1e-9, hi - 1e-9)
    ref = f(v0)
    res = optimize.minimize(lambda v: f(v) - ref, v0, method="L-BFGS-B", bounds=list(zip(lo, hi)),
                            options=dict(ftol=1e-13, gtol=1e-7, eps=1e-6, maxiter=200))
    v = res.x
    nll = f(v)
    h = 0.01
    H = np.zeros((3, 3))
    E = np.eye(3) * h
    for i in range(3):
        for j in range(i, 3):
            H[i, j] = H[j, i] = (f(v + E[i] + E[j]) - f(v + E[i] - E[j]) - f(v - E[i] + E[j])
                                 + f(v - E[i] - E[j])) / (4 * h * h)
    try:
        d = np.diag(np.linalg.inv(H))
        se = np.where(d > 0, np.sqrt(np.abs(d)), np.nan)
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    se = np.where((v <= lo + 1e-6) | (v >= hi - 1e-6), np.nan, se)
    c, r, ph = tr(v)
    return c, r, ph, nll, c * se[0], r * se[1], (1.0 - ph * ph) * se[2]


def _ml_theta(filt, pem, lower, upper, noise):
    """Maximum likelihood of the model parameters (relative write noise, all terms of the likelihood) from
    the prediction-error estimate, in coordinates scaled by its standard errors (L-BFGS-B)."""
    J, r = pem.jac, pem.fun
    cov = np.linalg.pinv(J.T @ J) * float(r @ r) / max(r.size - J.shape[1], 1)
    scale = np.sqrt(np.clip(np.diag(cov), 0, None))
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1e-3 * (upper - lower))
    t0 = pem.x
    ref = filt.run(t0, *noise)
    if not math.isfinite(ref):
        return t0

    def f(u):
        v = filt.run(t0 + u * scale, *noise)
        return v - ref if math.isfinite(v) else 1e12

    lo, hi = (lower - t0) / scale, (upper - t0) / scale
    res = optimize.minimize(f, np.zeros_like(t0), method="L-BFGS-B", bounds=list(zip(lo, hi)),
                            options=dict(ftol=1e-14, gtol=1e-6, eps=1e-4, maxiter=300))
    return t0 + res.x * scale if res.fun <= 0 else t0


def _rms_step(dev, w, counts, lengths, mask, x0):
    """Root mean square of the mean step per pulse along the open-loop response (device units)."""
    out = device_response(dev, x0, counts, lengths)
    d = np.diff(out, axis=1)
    c = np.abs(counts).astype(float)
    valid = mask[:, 1:] & (c > 0)
    return float(np.sqrt(np.sum(d[valid] ** 2 / c[valid]) / max(np.sum(c[valid]), 1.0)))


def _fit_starts(dev, w, counts, lengths, mask, x0=None):
    """Open-loop response of ``dev`` with each segment's start fitted by least squares; returns (response,
    sum of squared residuals, starts)."""
    n_seg = w.shape[0]
    if x0 is None:
        x0 = np.array([np.nanmean(w[s, : min(3, lengths[s])]) for s in range(n_seg)])
    data = w[mask]

    def resid(x):
        return device_response(dev, x, counts, lengths)[mask] - data

    if n_seg == 1:  # scipy's sparse (lsmr) trust region needs >= 2 unknowns
        sparsity = dict(tr_solver="exact")
    else:
        sparsity = dict(jac_sparsity=_sparsity(0, lengths, mask), tr_solver="lsmr")
    res = optimize.least_squares(resid, x0, method="trf", max_nfev=50, xtol=1e-10, ftol=1e-10, **sparsity)
    out = np.full_like(w, np.nan)
    out[mask] = device_response(dev, res.x, counts, lengths)[mask]
    return out, float(res.fun @ res.fun), res.x


def _open_loop_start(x0s, lower, upper, build, w, counts, lengths, mask, ctx):
    """Least squares of the noise-free response to all samples, every segment started at its first sample;
    the best over the start vectors ``x0s``. Returns (model parameters, message)."""
    starts = np.array([w[s, 0] for s in range(w.shape[0])])
    obs = mask.copy()
    obs[:, 0] = False
    data = w[obs]
    span = ctx.hi - ctx.lo

    def resid(theta):
        try:
            dev = build(theta)
        except ValueError:
            return np.full(data.size, 1e3 * span)
        return device_response(dev, starts, counts, lengths)[obs] - data

    best, msg = None, ""
    for x0 in x0s:
        try:
            res = optimize.least_squares(resid, x0, bounds=(lower, upper), method="trf", x_scale="jac",
                                         max_nfev=60 * (lower.size + 1), xtol=1e-8, ftol=1e-8, gtol=1e-8)
        except (ValueError, np.linalg.LinAlgError) as e:
            msg = str(e)
            continue
        if best is None or res.cost < best.cost:
            best = res
    return (None, msg) if best is None else (best.x, "")


def _fit_one_trace(model, trace, w, counts, lengths, mask, ctx, g_center, g_scale, g_window_s, name):
    """Fit one model to a packed trace; see the module docstring for the steps."""
    names, x0s, lower, upper, build = _spec(model, ctx)
    p = len(names)
    span = ctx.hi - ctx.lo
    filt = _Filter(w, counts, lengths, mask, build)
    theta_ol, msg = _open_loop_start(x0s, lower, upper, build, w, counts, lengths, mask, ctx)
    if theta_ol is None:
        return ModelFit(model, False, f"least squares failed: {msg}")
    starts = np.array([w[s, 0] for s in range(w.shape[0])])
    c2c, read = _noise_start(w, counts, lengths, mask, ctx.dw0)
    noise_ol = _fit_noise(filt, theta_ol, c2c, read, 0.0, span)
    # the prediction-error step holds the write noise per pulse fixed in device units: with the relative
    # noise, larger steps would buy larger predicted variances and smaller normalised errors
    rms_step = _rms_step(build(theta_ol), w, counts, lengths, mask, starts)
    sigma_w = noise_ol[0] * rms_step

    def resid(t):
        r = filt.innovations(t, sigma_w, noise_ol[1], noise_ol[2], True)
        return np.full(filt.n, 1e3) if r is None else r

    pem = optimize.least_squares(resid, theta_ol, bounds=(lower, upper), method="trf", x_scale="jac",
                                 max_nfev=50 * (p + 1), xtol=1e-9, ftol=1e-9, gtol=1e-9)
    theta_p = _ml_theta(filt, pem, lower, upper, noise_ol[:3])
    noise_p = _fit_noise(filt, theta_p, *noise_ol[:3], span)
    try:
        dev_ol, dev_p = build(theta_ol), build(theta_p)
    except ValueError as e:
        return ModelFit(model, False, str(e))
    what_ol, ssr_ol, starts_ol = _fit_starts(dev_ol, w, counts, lengths, mask, starts)
    what_p, ssr_p, _ = _fit_starts(dev_p, w, counts, lengths, mask, starts)
    span_b = upper - lower
    if ssr_p <= 4.0 * ssr_ol:
        method = "prediction error (Kalman filter)"
        theta, dev, what, ssr, noise = theta_p, dev_p, what_p, ssr_p, noise_p
        J, r = pem.jac, pem.fun
        status = str(pem.message)
    else:
        method = ("open-loop least squares (the prediction-error estimate did not reproduce the mean response: "
                  "the noise model does not describe these data)")
        theta, dev, what, ssr, noise = theta_ol, dev_ol, what_ol, ssr_ol, noise_ol
        data_ol = w[mask]

        def resid_ol(t):
            try:
                return device_response(build(t), starts_ol, counts, lengths)[mask] - data_ol
            except ValueError:
                return np.full(data_ol.size, 1e3 * span)

        ol = optimize.least_squares(resid_ol, theta_ol, bounds=(lower, upper), method="trf", x_scale="jac",
                                    max_nfev=20 * (p + 1), xtol=1e-8, ftol=1e-8)
        J, r, status = ol.jac, ol.fun, str(ol.message)
        theta, dev = ol.x, build(ol.x)
        what, ssr, _ = _fit_starts(dev, w, counts, lengths, mask, starts_ol)
        noise = _fit_noise(filt, theta, *noise_ol[:3], span)
    c2c, read, phi, nll, c2c_se, read_se, phi_se = noise
    n = r.size
    se = _stderr(J, float(r @ r) / max(n - J.shape[1], 1), p)
    at_limit = (theta <= lower + 1e-6 * span_b) | (theta >= upper - 1e-6 * span_b)
    se = np.where((np.abs(J[:, :p]).max(axis=0) > 0) & ~at_limit, se, np.nan)
    data = w[mask]
    g = data * g_scale + g_center
    k = p + 3
    try:
        phys = _finish_device(dev, model, trace.unit, g_center, g_scale, c2c, g_window_s, name,
                              f"fit of {trace.source} ({trace.fmt}) by xbarsim devices fit, model {model}")
    except ValueError as e:
        return ModelFit(model, False, str(e))
    ws = phys.symmetry_point()
    limits = [nm for nm, a in zip(names, at_limit) if a]
    message = status + (f"; at a limit of the search range: {', '.join(limits)}" if limits else "")
    return ModelFit(
        model=model, ok=True, message=message, method=method, device=phys,
        params=dict(zip(names, map(float, theta))), stderr=dict(zip(names, map(float, se))),
        dw_min_std=c2c, dw_min_std_se=c2c_se, read_noise=read * g_scale, read_noise_se=read_se * g_scale,
        read_noise_corr=phi, read_noise_corr_se=phi_se, rmse=math.sqrt(ssr / data.size) * g_scale,
        r2=1.0 - ssr * g_scale**2 / float(((g - g.mean()) ** 2).sum()),
        bic=2.0 * nll + k * math.log(filt.n) + 2.0 * filt.n * math.log(g_scale), n_data=filt.n, n_params=k,
        symmetry_point_w=ws, symmetry_point_g=float(g_center + g_scale * ws), n_states=phys.n_states,
        fitted=what * g_scale + g_center,
    )


def _constant_message(g, lo, unit) -> str:
    u = f" {unit}" if unit not in ("", "1") else ""
    if np.all(g == g[0]):
        return f"the trace's conductance never changes (every sample is {g[0]:.6g}{u}): nothing to fit"
    return (f"the trace's conductance never changes in 99 % of its samples (0.5 % and 99.5 % quantiles both "
            f"{lo:.6g}{u}): nothing to fit")


def _coords(trace: Trace):
    allg = trace.all_g()
    lo, hi = np.quantile(allg, [0.005, 0.995])
    if not hi > lo:
        raise ValueError(f"trace {trace.source!r}: {_constant_message(allg, lo, trace.unit)}")
    if trace.unit == "1":
        return 0.0, 1.0
    return float(0.5 * (lo + hi)), float(0.5 * (hi - lo))


def check_g_window(value, name: str = "g_window_s") -> tuple[float, float]:
    """The conductance window (G_MIN_S, G_MAX_S) of a device fitted to a normalised trace: two finite
    numbers with G_RANGE_S[0] <= G_MIN_S < G_MAX_S <= G_RANGE_S[1] (S)."""
    lo, hi = G_RANGE_S
    allowed = f"two finite numbers {lo:g} S <= G_MIN_S < G_MAX_S <= {hi:g} S"
    shown = list(value) if isinstance(value, tuple) else value
    try:
        ok = (not isinstance(value, (str, bytes)) and len(value) == 2
              and not any(isinstance(x, (bool, str, bytes)) for x in value))
        g = tuple(float(x) for x in value) if ok else ()
    except (TypeError, ValueError):
        ok = False
    if not (ok and all(math.isfinite(x) for x in g) and lo <= g[0] < g[1] <= hi):
        raise ValueError(f"{name}={shown!r} is invalid: must be {allowed}")
    return g


def _check_nodes(n_nodes) -> int:
    if not isinstance(n_nodes, int) or isinstance(n_nodes, bool) or not 2 <= n_nodes <= 64:
        raise ValueError(f"n_nodes={n_nodes!r} is invalid: must be an integer in [2, 64]")
    return n_nodes


def fit_trace(trace: Trace, models=FIT_MODELS, *, n_nodes: int = 6, g_window_s=DEFAULT_G_WINDOW_S,
              name: str = "fitted") -> FitReport:
    """Fit each of ``models`` to a measured trace; see the module docstring."""
    models = check_models(models)
    n_nodes = _check_nodes(n_nodes)
    g_window_s = check_g_window(g_window_s)
    check_pulse_counts(trace)
    g_center, g_scale = _coords(trace)
    w, counts, lengths, mask = _pack(trace.segments, lambda g: (g - g_center) / g_scale)
    w_floor = (0.001 * g_center - g_center) / g_scale if trace.unit == "S" else -math.inf
    ctx = _context([w[s, mask[s]] for s in range(w.shape[0])],
                   [counts[s, : lengths[s] - 1] for s in range(w.shape[0])], n_nodes, w_floor)
    fits = tuple(_fit_one_trace(m, trace, w, counts, lengths, mask, ctx, g_center, g_scale, g_window_s, name)
                 for m in models)
    return FitReport("trace", trace, g_center, g_scale, fits, _best(fits))


def check_models(models) -> list:
    """The models to fit: "all", a comma-separated string or a list of names from FIT_MODELS."""
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",")] if models != "all" else list(FIT_MODELS)
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise ValueError(f"model={models!r} is invalid: must be a comma-separated string or a list of "
                         f"{', '.join(FIT_MODELS)}, or all")
    models = list(dict.fromkeys(models))
    for m in models:
        if m not in FIT_MODELS:
            raise ValueError(f"model={m!r} is invalid: allowed values are {', '.join(FIT_MODELS)}, all")
    if not models:
        raise ValueError(f"model=[] is invalid: allowed values are {', '.join(FIT_MODELS)}, all")
    return models


def _best(fits):
    ok = [f for f in fits if f.device is not None and np.isfinite(f.bic)]
    return min(ok, key=lambda f: f.bic).model if ok else None


# ------------------------------------------------------------------------------------------------------------
def fit_tables(tables: StepTables, models=FIT_MODELS, *, n_nodes: int = 6, name: str = "fitted") -> FitReport:
    """Fit each of ``models`` to the mean steps per bin of a pair of CrossSim step tables."""
    models = check_models(models)
    n_nodes = _check_nodes(n_nodes)
    gb = tables.up.g_bins_s
    g_center, g_scale = float(0.5 * (gb[0] + gb[-1])), float(0.5 * (gb[-1] - gb[0]))
    wb = (gb - g_center) / g_scale
    mu = tables.up.mean() / g_scale
    md = -tables.down.mean() / g_scale
    y = np.r_[mu, md]
    if not np.any(y != 0):
        raise ValueError(f"lookup tables {tables.source}: every mean step is 0 S: nothing to fit")
    sd = np.r_[tables.up.std(), tables.down.std()] / g_scale
    c2c = math.sqrt(float(np.mean(sd**2)) / float(np.mean(y**2)))
    c2c_se = c2c / math.sqrt(2.0 * y.size)
    nodes = np.linspace(-1, 1, n_nodes)
    ctx = _Ctx(-1.0, 1.0, float(np.mean(np.abs(y))), float(np.clip((mu.mean() - md.mean()) /
                                                                   (np.abs(mu).mean() + np.abs(md).mean()),
                                                                   -0.5, 0.5)),
               n_nodes, np.clip(np.interp(nodes, wb, mu), 1e-9, None), np.clip(np.interp(nodes, wb, md), 1e-9, None),
               (0.001 * g_center - g_center) / g_scale)
    fits = []
    for model in models:
        names, x0s, lower, upper, build = _spec(model, ctx, fixed_bounds=True)

        def resid(theta, build=build):
            try:
                dev = build(theta)
            except ValueError:
                return np.full(y.size, 1e3)
            return np.r_[dev.step_up(wb), dev.step_down(wb)] - y

        best = None
        for x0 in x0s:
            res = optimize.least_squares(resid, x0, bounds=(lower, upper), method="trf", x_scale="jac",
                                         max_nfev=400 * (len(x0) + 1), xtol=1e-12, ftol=1e-12, gtol=1e-12)
            if best is None or res.cost < best.cost:
                best = res
        theta = best.x
        try:
            dev = build(theta)
        except ValueError as e:
            fits.append(ModelFit(model, False, str(e)))
            continue
        r = best.fun
        n, k = r.size, len(names)
        ssr = float(r @ r)
        se = _stderr(best.jac, ssr / max(n - k, 1))
        try:
            phys = _finish_device(dev, model, "S", g_center, g_scale, c2c, None, name,
                                  f"fit of {tables.source} (CrossSim step tables) by xbarsim devices fit, "
                                  f"model {model}")
        except ValueError as e:
            fits.append(ModelFit(model, False, str(e)))
            continue
        ws = phys.symmetry_point()
        span_b = upper - lower
        at_limit = (theta <= lower + 1e-6 * span_b) | (theta >= upper - 1e-6 * span_b)
        se = np.where((np.abs(best.jac).max(axis=0) > 0) & ~at_limit, se, np.nan)
        limits = [nm for nm, a in zip(names, at_limit) if a]
        fits.append(ModelFit(
            model=model, ok=bool(best.success),
            message=str(best.message) + (f"; at a limit of the search range: {', '.join(limits)}" if limits else ""),
            method="least squares of the mean step per bin", device=phys,
            params=dict(zip(names, map(float, theta))), stderr=dict(zip(names, map(float, se))),
            dw_min_std=c2c, dw_min_std_se=c2c_se, read_noise=math.nan, read_noise_se=math.nan,
            rmse=math.sqrt(ssr / n) * g_scale, r2=1.0 - ssr / float(((y - y.mean()) ** 2).sum()),
            bic=n * math.log(max(ssr, 1e-300) / n) + k * math.log(n), n_data=n, n_params=k,
            symmetry_point_w=ws, symmetry_point_g=float(g_center + g_scale * ws), n_states=phys.n_states,
            fitted=np.r_[dev.step_up(wb), -dev.step_down(wb)] * g_scale,
        ))
    fits = tuple(fits)
    return FitReport("steps", tables, g_center, g_scale, fits, _best(fits))


def fit_file(paths, models=FIT_MODELS, *, fmt: str = "auto", read_voltage_v: float = 0.1, n_nodes: int = 6,
             g_window_s=DEFAULT_G_WINDOW_S, name: str | None = None) -> FitReport:
    """Read a trace (or step tables) and fit ``models``; see :func:`xbarsim.devices.traces.read_trace`."""
    g_window_s = check_g_window(g_window_s)
    data = read_trace(paths, fmt, read_voltage_v)
    if name is None:
        first = Path(paths if isinstance(paths, (str, os.PathLike)) else paths[0])
        name = f"fit-{first.stem if first.is_file() else first.name}"
    if isinstance(data, StepTables):
        return fit_tables(data, models, n_nodes=n_nodes, name=name)
    return fit_trace(data, models, n_nodes=n_nodes, g_window_s=g_window_s, name=name)
