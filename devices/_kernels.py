"""Numba kernels of the pulsed device models (private; wrapped by :class:`xbarsim.devices.DeviceArray`).

Every step law shares one pulse loop. A law is an integer code; its parameters travel as

    dwu, dwd, bmax, bmin   per-device step sizes (up, down) and bounds, shape (cells,)
    pd                     per-device law parameters, shape (cells, 2)
    gp                     law parameters shared by the array, shape (k,)
    tx, ty, ta, tb         tables: node/bin positions (tx), CDF points (ty), up (ta) and down (tb) tables

so that numba compiles (and caches) each kernel once for all laws. The law code is constant inside a kernel
call, so the dispatch costs one predictable branch per pulse.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ._random import normal, uniform

LINEAR, EXP, POW, PIECEWISE, LOOKUP, PCM = 0, 1, 2, 3, 4, 5


@nb.njit(inline="always", cache=True)
def _interp_nodes(x, bmin, bmax, v):
    """Linear interpolation of node values ``v``, equally spaced from bmin (first) to bmax (last)."""
    n = v.shape[0]
    if n == 1:
        return v[0]
    pos = (x - bmin) / (bmax - bmin) * (n - 1)
    if pos <= 0.0:
        return v[0]
    if pos >= n - 1:
        return v[n - 1]
    i = int(pos)
    q = pos - i
    return (1.0 - q) * v[i] + q * v[i + 1]


@nb.njit(cache=True)
def _interp_bins(x, xp, fp):
    """Linear interpolation in increasing xp, constant beyond the ends."""
    n = xp.shape[0]
    if x <= xp[0]:
        return fp[0]
    if x >= xp[n - 1]:
        return fp[n - 1]
    j = np.searchsorted(xp, x, side="right") - 1
    t = (x - xp[j]) / (xp[j + 1] - xp[j])
    return (1.0 - t) * fp[j] + t * fp[j + 1]


@nb.njit(cache=True)
def _lut_sample(x, u, wb, cdf, tab):
    """Step from a CrossSim table: quantile ``u`` interpolated along the CDF, state ``x`` along the bins."""
    nb_ = wb.shape[0]
    if x <= wb[0]:
        j, t = 0, 0.0
    elif x >= wb[nb_ - 1]:
        j, t = nb_ - 2, 1.0
    else:
        j = np.searchsorted(wb, x, side="right") - 1
        t = (x - wb[j]) / (wb[j + 1] - wb[j])
    nc = cdf.shape[0]
    i = np.searchsorted(cdf, u, side="right") - 1
    if i < 0:
        i = 0
    if i > nc - 2:
        i = nc - 2
    d = cdf[i + 1] - cdf[i]
    s = (u - cdf[i]) / d if d > 0.0 else 0.0
    s = min(max(s, 0.0), 1.0)
    v0 = tab[i, j] + s * (tab[i + 1, j] - tab[i, j])
    v1 = tab[i, j + 1] + s * (tab[i + 1, j + 1] - tab[i, j + 1])
    return (1.0 - t) * v0 + t * v1


@nb.njit(inline="always", cache=True)
def _magnitude(law, up, x, dwu, dwd, bmax, bmin, p0, p1, gp, tx, ta, tb):
    """Mean magnitude of one pulse's change at state x (before noise and clipping).

    For LOOKUP, the last rows of ``ta``/``tb`` hold the per-bin mean steps (signed) at the bins ``tx``.
    p0, p1: the device's law parameters (POW: exponents up, down; PCM: reset state).
    For PCM, a down pulse is a reset to ``p0``: its "magnitude" is ``x - p0``.
    """
    if law == LINEAR:
        if up:
            q = 1.0 - gp[0] * x / bmax
            return dwu * (q if q > 0.0 else 0.0)
        q = 1.0 - gp[1] * x / bmin
        return dwd * (q if q > 0.0 else 0.0)
    if law == EXP or law == PCM:
        if law == PCM and not up:
            return x - p0
        z = 2.0 * gp[4] * x / (bmax - bmin) + gp[5]
        if up:
            y = 1.0 - gp[0] * math.exp(gp[2] * z)
            return dwu * (y if y > 0.0 else 0.0)
        y = 1.0 - gp[1] * math.exp(-gp[3] * z)
        return dwd * (y if y > 0.0 else 0.0)
    if law == POW:
        om = (bmax - x) / (bmax - bmin)
        om = min(max(om, 0.0), 1.0)
        if up:
            return dwu * om ** p0
        return dwd * (1.0 - om) ** p1
    if law == PIECEWISE:
        if up:
            v = _interp_nodes(x, bmin, bmax, ta[0])
            return dwu * (v if v > 0.0 else 0.0)
        v = _interp_nodes(x, bmin, bmax, tb[0])
        return dwd * (v if v > 0.0 else 0.0)
    # LOOKUP: mean step rows (signed); the magnitude of a down step is minus its mean change
    if up:
        return dwu * _interp_bins(x, tx, ta[ta.shape[0] - 1])
    return -dwd * _interp_bins(x, tx, tb[tb.shape[0] - 1])


@nb.njit(cache=True)
def _magnitude_call(law, up, x, dwu, dwd, bmax, bmin, p0, p1, gp, tx, ta, tb):
    """:func:`_magnitude` as a called (not inlined) function, for kernels that are not pulse loops: one
    compiled copy of the law dispatch instead of one per call site."""
    return _magnitude(law, up, x, dwu, dwd, bmax, bmin, p0, p1, gp, tx, ta, tb)


@nb.njit(inline="always", cache=True)
def _pulse(law, up, x, dwu, dwd, bmax, bmin, p0, p1, gp, tx, ty, ta, tb, c2c, additive, z, u, scale):
    """One pulse on one device: the law's step with cycle-to-cycle noise (z ~ N(0,1), u ~ U(0,1)), times
    ``scale`` (the write strength of the pulse's voltage, 1 at the nominal write voltage), clipped. A PCM
    down pulse resets the cell whatever its strength."""
    if law == LOOKUP:
        # the table's step at quantile u; c2c scales its spread about the mean step (1: the table, 0: the mean)
        tab = ta if up else tb
        mean = _interp_bins(x, tx, tab[tab.shape[0] - 1])
        st = mean
        if c2c > 0.0:
            st = mean + c2c * (_lut_sample(x, u, tx, ty, tab) - mean)
        x = x + (dwu if up else dwd) * st * scale
        return min(max(x, bmin), bmax)
    if law == PCM and not up:
        x = p0 + gp[6] * z
        return min(max(x, bmin), bmax)
    st = _magnitude(law, up, x, dwu, dwd, bmax, bmin, p0, p1, gp, tx, ta, tb)
    if additive:
        st = st + c2c * (dwu if up else dwd) * z
    else:
        st = st * (1.0 + c2c * z)
    st *= scale
    if up:
        x += st
    else:
        x -= st
    return min(max(x, bmin), bmax)


@nb.njit(inline="always", cache=True)
def _draws(law, c2c, seed, s, c, k):
    z = normal(seed, s, c, k) if (c2c > 0.0 or law == PCM) and law != LOOKUP else 0.0
    u = uniform(seed, s, c, k) if (law == LOOKUP and c2c > 0.0) else 0.5
    return z, u


@nb.njit(parallel=True, cache=True)
def apply_pulses(law, w, counts, dwu, dwd, bmax, bmin, pd, gp, tx, ty, ta, tb, c2c, additive, seed):
    """counts (updates, cells): |n| pulses of sign(n) per update; noise of pulse k of cell c in update s
    is a hash of (seed, s, c, k)."""
    n_upd, n_cells = counts.shape
    for c in nb.prange(n_cells):
        x = w[c]
        for s in range(n_upd):
            n = counts[s, c]
            for k in range(abs(n)):
                z, u = _draws(law, c2c, seed, s, c, k)
                x = _pulse(law, n > 0, x, dwu[c], dwd[c], bmax[c], bmin[c], pd[c, 0], pd[c, 1], gp, tx, ty, ta, tb,
                           c2c, additive, z, u, 1.0)
        w[c] = x


@nb.njit(parallel=True, cache=True)
def apply_weighted_pulses(law, w, signs, strength, dwu, dwd, bmax, bmin, pd, gp, tx, ty, ta, tb, c2c, additive,
                          seed):
    """signs (slots, cells) in {-1, 0, 1}: at most one pulse per cell and slot, its step times strength
    (slots, cells) >= 0; noise of the pulse of cell c in slot s is a hash of (seed, s, c, 0)."""
    n_slots, n_cells = signs.shape
    for c in nb.prange(n_cells):
        x = w[c]
        for s in range(n_slots):
            if signs[s, c] != 0 and strength[s, c] > 0.0:
                z, u = _draws(law, c2c, seed, s, c, 0)
                x = _pulse(law, signs[s, c] > 0, x, dwu[c], dwd[c], bmax[c], bmin[c], pd[c, 0], pd[c, 1], gp, tx, ty,
                           ta, tb, c2c, additive, z, u, strength[s, c])
        w[c] = x


@nb.njit(parallel=True, cache=True)
def alternating_pulses(law, w, mean_out, n_pairs, dwu, dwd, bmax, bmin, pd, gp, tx, ty, ta, tb, c2c, additive,
                       seed):
    """n_pairs of (up, down) pulses per device; mean_out gets the mean weight over the last half."""
    n_cells = w.shape[0]
    start = n_pairs // 2
    for c in nb.prange(n_cells):
        x = w[c]
        acc = 0.0
        for k in range(n_pairs):
            for up in (True, False):
                kk = 2 * k + (0 if up else 1)
                z, u = _draws(law, c2c, seed, 0, c, kk)
                x = _pulse(law, up, x, dwu[c], dwd[c], bmax[c], bmin[c], pd[c, 0], pd[c, 1], gp, tx, ty, ta, tb,
                           c2c, additive, z, u, 1.0)
            if k >= start:
                acc += x
        w[c] = x
        mean_out[c] = acc / (n_pairs - start)


@nb.njit(cache=True)
def mean_steps(law, up, x, out, dwu, dwd, bmax, bmin, pd, gp, tx, ta, tb):
    """Mean magnitude of one up (or down) pulse at states x, per device (all arrays flat, same length).
    Serial: it is cheap per device, and thread start-up would dominate."""
    for c in range(x.shape[0]):
        out[c] = _magnitude_call(law, up, x[c], dwu[c], dwd[c], bmax[c], bmin[c], pd[c, 0], pd[c, 1], gp, tx, ta, tb)


@nb.njit(cache=True)
def trajectory(law, x0, counts, lengths, dwu, dwd, bmax, bmin, pd, gp, tx, ty, ta, tb, c2c, additive, noisy,
               seed, out):
    """Response of one device (parameters at index 0) to segments of signed pulse counts, sample by sample.

    x0 (segments,): start states; counts (segments, L-1): pulses between consecutive samples; lengths: valid
    samples per segment. out (segments, L): out[s, 0] = x0[s], out[s, k + 1] after counts[s, k] pulses.
    ``noisy`` False: the noise-free response (z = 0, median table step); True: cycle-to-cycle noise from
    (seed, segment, 0, pulse index in the segment).
    """
    for s in range(x0.shape[0]):
        x = x0[s]
        out[s, 0] = x
        j = 0
        for k in range(lengths[s] - 1):
            n = counts[s, k]
            for _ in range(abs(n)):
                if noisy:
                    z, u = _draws(law, c2c, seed, s, 0, j)
                else:
                    z, u = 0.0, 0.5
                x = _pulse(law, n > 0, x, dwu[0], dwd[0], bmax[0], bmin[0], pd[0, 0], pd[0, 1], gp, tx, ty, ta, tb,
                           c2c if noisy else 0.0, additive, z, u, 1.0)
                j += 1
            out[s, k + 1] = x


@nb.njit(cache=True)
def ekf_nll(law, y, counts, lengths, dwu, dwd, bmax, bmin, pd, gp, tx, ty, ta, tb, c2c, absolute, r2, phi, pred,
            svar):
    """Negative log-likelihood of measured samples y (segments, L) under the device model, by an extended
    Kalman filter over the pulses, one filter per segment.

    State (x, e): the device's w, with multiplicative cycle-to-cycle noise c2c per pulse (``absolute``: c2c is
    the std of every pulse's write noise in device units instead), and the read noise
    e, an AR(1) process per sample with stationary variance r2 and correlation phi (phi = 0: white); the
    sample is y = x + e. pred/svar (segments, L) receive the one-step predictions of y and their variances.
    """
    nll = 0.0
    h = 1e-7 * (bmax[0] - bmin[0])
    tiny = 1e-18 * (bmax[0] - bmin[0]) ** 2
    q_e = (1.0 - phi * phi) * r2
    for s in range(y.shape[0]):
        # x + e = y0 exactly, e ~ N(0, r2)
        x = y[s, 0]
        e = 0.0
        pxx = r2
        pee = r2
        pxe = -r2
        pred[s, 0] = x
        svar[s, 0] = r2
        for k in range(lengths[s] - 1):
            n = counts[s, k]
            up = n > 0
            for _ in range(abs(n)):
                m = _magnitude_call(law, up, x, dwu[0], dwd[0], bmax[0], bmin[0], pd[0, 0], pd[0, 1], gp, tx, ta, tb)
                mp = _magnitude_call(law, up, x + h, dwu[0], dwd[0], bmax[0], bmin[0], pd[0, 0], pd[0, 1], gp, tx, ta,
                                tb)
                mm = _magnitude_call(law, up, x - h, dwu[0], dwd[0], bmax[0], bmin[0], pd[0, 0], pd[0, 1], gp, tx, ta,
                                tb)
                dm = (mp - mm) / (2.0 * h)
                if up:
                    xn = x + m
                    F = 1.0 + dm
                else:
                    xn = x - m
                    F = 1.0 - dm
                Q = c2c * c2c if absolute else (c2c * m) ** 2
                if xn > bmax[0]:
                    xn = bmax[0]
                    F = 0.0
                    Q = 0.0
                elif xn < bmin[0]:
                    xn = bmin[0]
                    F = 0.0
                    Q = 0.0
                pxx = F * F * pxx + Q
                pxe = F * pxe
                x = xn
            e = phi * e
            pee = phi * phi * pee + q_e
            pxe = phi * pxe
            S = pxx + 2.0 * pxe + pee + tiny
            nu = y[s, k + 1] - x - e
            pred[s, k + 1] = x + e
            svar[s, k + 1] = S
            nll += 0.5 * (math.log(2.0 * math.pi * S) + nu * nu / S)
            kx = (pxx + pxe) / S
            ke = (pxe + pee) / S
            x += kx * nu
            e += ke * nu
            pxx_n = pxx - kx * kx * S
            pee_n = pee - ke * ke * S
            pxe_n = pxe - kx * ke * S
            pxx, pee, pxe = max(pxx_n, 0.0), max(pee_n, 0.0), pxe_n
    return nll
