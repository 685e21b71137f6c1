"""numba kernels of the nonlinear crossbar solve (private; see :mod:`xbarsim.solvers.nonlinear`).

Same layout and conventions as :mod:`._linear_kernels`: one input's unknowns are (2, M, N) node deviations from
their line's terminal voltage. A cell is (law, p, kind, q_rows) as in :func:`xbarsim.circuits.cells.cell_iv`, with
the series element's parameters given per row (q_rows (M, 2): a 1T1R word line on or off).

The cell I-V curves are strictly increasing, so the KCL residual F(x) is the gradient of a strictly convex
potential (the circuit's content). Newton's method with a line search that keeps that potential decreasing --
F(x + lam dx) . dx <= 0 along the Newton direction dx -- converges from any start; each Newton step's linear
system, the nodal matrix with every cell's small-signal conductance dI/dV, is solved by the linear kernels'
preconditioned conjugate gradients.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from xbarsim.circuits.cells import cell_iv, cell_iv_dg

from . import _linear_kernels as L

OK, MAXITER, STALLED = 0, 2, 3  # status of one input's solve


@nb.njit(cache=True)
def residual(g, law, p, kind, q_rows, gwr, gwc, gtr, gtc, vtr, vtc, x, f, gd):
    """F = currents leaving every node at x (A), and gd = each cell's dI/dV (S). Returns (||F||^2, ||I_cell||^2)."""
    m, n = g.shape
    acc_f = np.zeros(n)
    acc_i = np.zeros(n)
    for i in range(m):
        for j in range(n):
            cur, d = cell_iv(law, p, kind, q_rows[i], g[i, j], vtr[i] - vtc[j] + x[0, i, j] - x[1, i, j])
            gd[i, j] = d
            fr, fc = L.wire_currents(x, i, j, gwr, gwc, gtr, gtc)
            fr += cur
            fc -= cur
            f[0, i, j] = fr
            f[1, i, j] = fc
            acc_f[j] += fr * fr + fc * fc
            acc_i[j] += cur * cur
    return L.total(acc_f), L.total(acc_i)


@nb.njit(cache=True)
def newton_one(g, law, p, kind, q_rows, gwr, gwc, gtr, gtc, vtr, vtc, x, rtol, vtol, max_newton, lin_maxiter,
               dv_max, norm_inf, work, tmp, gd):
    """Solve one input to ||F|| <= rtol ||I_cell|| with a last update of at most vtol (V), from the start x.

    Each Newton step is limited so that no cell voltage changes by more than dv_max (V), then halved until the
    potential decreases. work (10, 2, M, N), tmp and gd (M, N) are scratch. Returns (Newton iterations, linear
    iterations, relative residual, status, index of the node with the largest |F| (plane*M*N + i*N + j)).
    """
    m, n = g.shape
    f, dx, xt, ft, piv = work[5], work[6], work[7], work[8], work[9]
    ff, ii = residual(g, law, p, kind, q_rows, gwr, gwc, gtr, gtc, vtr, vtc, x, f, gd)
    floor2 = (64.0 * 2.220446049250313e-16 * norm_inf) ** 2
    lin_its = 0
    step = np.inf
    for it in range(max_newton + 1):
        if not (np.isfinite(ff) and np.isfinite(ii)):
            break  # currents beyond float64: no answer here (the caller limits voltages so this stays rare)
        if ff == 0.0:
            return it, lin_its, 0.0, OK, 0
        if (ff <= rtol * rtol * ii or ff <= floor2 * L.dot(x, x)) and step <= vtol:
            return it, lin_its, np.sqrt(ff / ii) if ii > 0.0 else 0.0, OK, 0
        if it == max_newton:
            break
        L.factor(gd, gwr, gwc, gtr, gtc, piv)
        for q in range(2):
            for i in range(m):
                for j in range(n):
                    work[0, q, i, j] = -f[q, i, j]
                    dx[q, i, j] = 0.0
        tol2 = max(1e-6 * ff, 1e-2 * rtol * rtol * ii)
        done, _ = L.pcg(work[0], dx, gd, piv, gwr, gwc, gtr, gtc, tol2, lin_maxiter, work[1], work[2], work[3],
                        work[4], tmp)
        lin_its += done
        big_v = 0.0
        big_x = 0.0
        for i in range(m):
            for j in range(n):
                big_v = max(big_v, abs(dx[0, i, j] - dx[1, i, j]))
                big_x = max(big_x, abs(dx[0, i, j]), abs(dx[1, i, j]))
        lam = 1.0 if big_v <= dv_max else dv_max / big_v
        accepted = False
        fft, iit = ff, ii
        for _ in range(60):
            for q in range(2):
                for i in range(m):
                    for j in range(n):
                        xt[q, i, j] = x[q, i, j] + lam * dx[q, i, j]
            fft, iit = residual(g, law, p, kind, q_rows, gwr, gwc, gtr, gtc, vtr, vtc, xt, ft, tmp)
            if np.isfinite(fft) and (L.dot(ft, dx) <= 0.0 or fft <= ff):
                accepted = True
                break
            lam *= 0.5
        if not accepted or lam * big_x == 0.0:
            if ff <= rtol * rtol * ii or ff <= floor2 * L.dot(x, x):
                return it, lin_its, np.sqrt(ff / ii) if ii > 0.0 else 0.0, OK, 0  # no step can improve x
            break
        x[...] = xt
        f[...] = ft
        gd[...] = tmp
        ff, ii = fft, iit
        step = lam * big_x
    worst = 0
    big = -1.0
    for q in range(2):
        for i in range(m):
            for j in range(n):
                if abs(f[q, i, j]) > big:
                    big = abs(f[q, i, j])
                    worst = (q * m + i) * n + j
    res = np.sqrt(ff / ii) if ii > 0.0 and np.isfinite(ff) else np.inf
    return it, lin_its, res, MAXITER if it == max_newton else STALLED, worst


@nb.njit(parallel=True, cache=True)
def newton_batch(g, law, p, kind, q_rows, gwr, gwc, gtr, gtc, vtr, vtc, x, rtol, vtol, max_newton, lin_maxiter,
                 dv_max, norm_inf, work, tmp, gd, its, lin_its, res, status, worst):
    """newton_one for every input k of the batch (B, 2, M, N); thread c of the C scratch sets solves the inputs
    c, c + C, ..."""
    nc = work.shape[0]
    for c in nb.prange(nc):
        for k in range(c, x.shape[0], nc):
            its[k], lin_its[k], res[k], status[k], worst[k] = newton_one(
                g, law, p, kind, q_rows, gwr, gwc, gtr, gtc, vtr[k], vtc[k], x[k], rtol, vtol, max_newton,
                lin_maxiter, dv_max, norm_inf, work[c], tmp[c], gd[c])


@nb.njit(parallel=True, cache=True)
def linearise(g, law, p, kind, q_rows, v_cell, cur, gd, didg):
    """Cell current (A), dI/dV (S) and dI/dG (V) of every cell at the cell voltages v_cell (B, M, N)."""
    nb_, m, n = v_cell.shape
    for i in nb.prange(m):
        for k in range(nb_):
            for j in range(n):
                cur[k, i, j], gd[k, i, j], didg[k, i, j] = cell_iv_dg(law, p, kind, q_rows[i], g[i, j],
                                                                     v_cell[k, i, j])
