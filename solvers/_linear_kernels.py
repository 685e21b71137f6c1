"""numba kernels of the linear crossbar solve (private; see :mod:`xbarsim.solvers.linear`).

State layout: one input vector's unknowns are a (2, M, N) float64 array -- plane 0 the row-wire nodes, plane 1
the column-wire nodes -- and a batch is (B, 2, M, N). Each unknown is a node's deviation from a reference
voltage of its own line (ref_r[i] for row i, ref_c[j] for column j). Row terminals attach at column 0, column
terminals at row M-1, each through its own conductance gtr[i] / gtc[j] (S; 0 = a floating line).

Cell conductances are (Bg, M, N) with Bg = 1 (one state for the whole batch: a linear read) or Bg = B (a state
per input: the Jacobians of a nonlinear solve). Every input vector is solved start to finish by one thread
(conjugate gradients preconditioned by a symmetric block Gauss-Seidel sweep of exact line solves: rows, columns,
rows), so one input's working set stays in cache, there is one thread launch per batch, and results do not
depend on the number of threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

OK, FLOOR, MAXITER, LOST = 0, 1, 2, 3  # status of one input's solve
PASSES = 4  # PCG passes, each ended by a check of the true residual


@nb.njit(cache=True)
def factor(g, gwr, gwc, gtr, gtc, piv):
    """Inverse pivots of the Thomas factorisation of every row chain (piv[0], along j) and column chain
    (piv[1], along i): the wire Laplacian plus the cell conductances plus the terminal conductance, i.e. the
    block diagonal of the nodal matrix. g (M, N), piv (2, M, N)."""
    m, n = g.shape
    for i in range(m):
        prev = 0.0
        for j in range(n):
            d = g[i, j] + gwr * ((j > 0) + (j < n - 1)) + (gtr[i] if j == 0 else 0.0)
            if j > 0:
                d -= gwr * gwr * prev
            prev = 1.0 / d
            piv[0, i, j] = prev
    for i in range(m):  # all columns at once: the loop over j vectorises
        for j in range(n):
            d = g[i, j] + gwc * ((i > 0) + (i < m - 1)) + (gtc[j] if i == m - 1 else 0.0)
            if i > 0:
                d -= gwc * gwc * piv[1, i - 1, j]
            piv[1, i, j] = 1.0 / d


@nb.njit(parallel=True, cache=True)
def factor_batch(g3, gwr, gwc, gtr, gtc, piv3):
    for k in nb.prange(g3.shape[0]):
        factor(g3[k], gwr, gwc, gtr, gtc, piv3[k])


@nb.njit(cache=True, inline="always")
def wire_currents(x, i, j, gwr, gwc, gtr, gtc):
    """Currents leaving row node (i, j) and column node (i, j) through their wire segments and terminals."""
    m, n = x.shape[1], x.shape[2]
    xr = x[0, i, j]
    xc = x[1, i, j]
    ar = gtr[i] * xr if j == 0 else gwr * (xr - x[0, i, j - 1])
    if j < n - 1:
        ar += gwr * (xr - x[0, i, j + 1])
    ac = gtc[j] * xc if i == m - 1 else gwc * (xc - x[1, i + 1, j])
    if i > 0:
        ac += gwc * (xc - x[1, i - 1, j])
    return ar, ac


@nb.njit(cache=True)
def matvec(x, g, gwr, gwc, gtr, gtc, out):
    """out = A x for the nodal matrix A (wires, cells, terminals); returns x . out. The stencil of
    :func:`wire_currents` is written out here so that the loop over j vectorises."""
    m, n = g.shape
    acc = np.zeros(n)
    for i in range(m):
        for j in range(n):
            xr = x[0, i, j]
            xc = x[1, i, j]
            ar = g[i, j] * (xr - xc)
            ac = -ar
            if j > 0:
                ar += gwr * (xr - x[0, i, j - 1])
            else:
                ar += gtr[i] * xr
            if j < n - 1:
                ar += gwr * (xr - x[0, i, j + 1])
            if i > 0:
                ac += gwc * (xc - x[1, i - 1, j])
            if i < m - 1:
                ac += gwc * (xc - x[1, i + 1, j])
            else:
                ac += gtc[j] * xc
            out[0, i, j] = ar
            out[1, i, j] = ac
            acc[j] += xr * ar + xc * ac
    return total(acc)


@nb.njit(cache=True)
def _row_chain(rhs, piv, gwr, z, i):
    z[i, 0] = rhs[i, 0] * piv[i, 0]
    for j in range(1, rhs.shape[1]):
        z[i, j] = (rhs[i, j] + gwr * z[i, j - 1]) * piv[i, j]
    for j in range(rhs.shape[1] - 2, -1, -1):
        z[i, j] += gwr * piv[i, j] * z[i, j + 1]


@nb.njit(cache=True)
def row_solve(rhs, piv, gwr, z):
    """z = T^-1 rhs for every row chain. Four rows advance together: their recurrences are independent, so
    the processor overlaps them (one chain alone is bound by the latency of its multiply-add sequence)."""
    m, n = rhs.shape
    i = 0
    while i + 4 <= m:
        a0 = rhs[i, 0] * piv[i, 0]
        a1 = rhs[i + 1, 0] * piv[i + 1, 0]
        a2 = rhs[i + 2, 0] * piv[i + 2, 0]
        a3 = rhs[i + 3, 0] * piv[i + 3, 0]
        z[i, 0], z[i + 1, 0], z[i + 2, 0], z[i + 3, 0] = a0, a1, a2, a3
        for j in range(1, n):
            a0 = (rhs[i, j] + gwr * a0) * piv[i, j]
            a1 = (rhs[i + 1, j] + gwr * a1) * piv[i + 1, j]
            a2 = (rhs[i + 2, j] + gwr * a2) * piv[i + 2, j]
            a3 = (rhs[i + 3, j] + gwr * a3) * piv[i + 3, j]
            z[i, j], z[i + 1, j], z[i + 2, j], z[i + 3, j] = a0, a1, a2, a3
        for j in range(n - 2, -1, -1):
            a0 = z[i, j] + gwr * piv[i, j] * a0
            a1 = z[i + 1, j] + gwr * piv[i + 1, j] * a1
            a2 = z[i + 2, j] + gwr * piv[i + 2, j] * a2
            a3 = z[i + 3, j] + gwr * piv[i + 3, j] * a3
            z[i, j], z[i + 1, j], z[i + 2, j], z[i + 3, j] = a0, a1, a2, a3
        i += 4
    for k in range(i, m):
        _row_chain(rhs, piv, gwr, z, k)


@nb.njit(cache=True)
def col_solve(rhs, piv, gwc, z):
    """z = T^-1 rhs for every column chain, all columns at once (the loops over j vectorise)."""
    m, n = rhs.shape
    for j in range(n):
        z[0, j] = rhs[0, j] * piv[0, j]
    for i in range(1, m):
        for j in range(n):
            z[i, j] = (rhs[i, j] + gwc * z[i - 1, j]) * piv[i, j]
    for i in range(m - 2, -1, -1):
        for j in range(n):
            z[i, j] += gwc * piv[i, j] * z[i + 1, j]


@nb.njit(cache=True)
def precondition(r, g, piv, gwr, gwc, z, tmp):
    """z = P^-1 r, P the symmetric block Gauss-Seidel splitting (D + L) D^-1 (D + U) of the nodal matrix with
    the row chains and column chains as blocks: rows, then columns given the rows, then rows given the
    columns. P is symmetric positive definite, as PCG needs. Returns r . z."""
    m, n = g.shape
    row_solve(r[0], piv[0], gwr, z[0])
    for i in range(m):
        for j in range(n):
            tmp[i, j] = r[1, i, j] + g[i, j] * z[0, i, j]
    col_solve(tmp, piv[1], gwc, z[1])
    for i in range(m):
        for j in range(n):
            tmp[i, j] = r[0, i, j] + g[i, j] * z[1, i, j]
    row_solve(tmp, piv[0], gwr, z[0])
    return dot(r, z)


@nb.njit(cache=True)
def total(acc):
    """Sum of the partial sums ``acc`` in index order. Reductions keep one partial sum per column j, so that
    their inner loops vectorise and the result does not depend on anything but the data."""
    s = 0.0
    for j in range(acc.shape[0]):
        s += acc[j]
    return s


@nb.njit(cache=True)
def dot(a, b):
    acc = np.zeros(a.shape[2])
    for q in range(2):
        for i in range(a.shape[1]):
            for j in range(a.shape[2]):
                acc[j] += a[q, i, j] * b[q, i, j]
    return total(acc)


@nb.njit(cache=True)
def reference_rhs(g, ref_r, ref_c, vtr, vtc, gtr, gtc, b):
    """Right-hand side of one input for unknowns measured from the line references ref_r (M,), ref_c (N,):
    the cell currents at the references, G (ref_r - ref_c), injected at column nodes and drawn at row nodes,
    plus the terminal currents at the references. With the references at the terminal voltages the terminal
    terms vanish and b is the ideal cell currents."""
    m, n = g.shape
    for i in range(m):
        for j in range(n):
            cur = g[i, j] * (ref_r[i] - ref_c[j])
            b[0, i, j] = -cur
            b[1, i, j] = cur
        b[0, i, 0] -= gtr[i] * (ref_r[i] - vtr[i])
    for j in range(n):
        b[1, m - 1, j] -= gtc[j] * (ref_c[j] - vtc[j])


@nb.njit(cache=True)
def cell_norm2(g, ref_r, ref_c, x):
    """Squared norm of the cell currents G (v_row - v_col) at the state x."""
    acc = np.zeros(g.shape[1])
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            c = g[i, j] * (ref_r[i] - ref_c[j] + x[0, i, j] - x[1, i, j])
            acc[j] += c * c
    return total(acc)


@nb.njit(cache=True)
def pcg(b, x, g, piv, gwr, gwc, gtr, gtc, tol2, maxiter, r, z, p, ap, tmp):
    """Conjugate gradients on A x = b from the given x until ||b - A x||^2 <= tol2 (the recursive residual)
    or maxiter iterations. On return r holds the recursive residual. Returns (iterations, ||r||^2)."""
    rr = residual(b, x, g, gwr, gwc, gtr, gtc, ap, r)
    acc = np.zeros(g.shape[1])
    if rr <= tol2:
        return 0, rr
    rz = precondition(r, g, piv, gwr, gwc, z, tmp)
    p[...] = z
    for it in range(maxiter):
        alpha = rz / matvec(p, g, gwr, gwc, gtr, gtc, ap)
        acc[:] = 0.0
        for q in range(2):
            for i in range(g.shape[0]):
                for j in range(g.shape[1]):
                    x[q, i, j] += alpha * p[q, i, j]
                    rv = r[q, i, j] - alpha * ap[q, i, j]
                    r[q, i, j] = rv
                    acc[j] += rv * rv
        rr = total(acc)
        if rr <= tol2:
            return it + 1, rr
        rz_new = precondition(r, g, piv, gwr, gwc, z, tmp)
        beta = rz_new / rz
        rz = rz_new
        for q in range(2):
            for i in range(g.shape[0]):
                for j in range(g.shape[1]):
                    p[q, i, j] = z[q, i, j] + beta * p[q, i, j]
    return maxiter, rr


@nb.njit(cache=True)
def solve_one(g, piv, gwr, gwc, gtr, gtc, ref_r, ref_c, vtr, vtc, b_extra, k, x, rtol, maxiter, norm_inf,
              by_cells, work, tmp):
    """Solve one input vector (index k of the batch) to a relative residual ``rtol``.

    The target is ||b - A x|| <= rtol ||i||, i the actual cell currents. The first pass aims at rtol ||b|| from
    the given start x (b = the ideal cell currents, known before the solve; plus b_extra[k], current
    injections, when b_extra is not empty); where the circuit carries much less current than ideal (large
    driver or wire resistance) the next pass restarts from the true residual with the tighter target. Each
    pass ends with the true residual. A pass accepted at the float64 rounding floor 64 eps ||A||_inf ||x||
    (wires too stiff for rtol to be resolvable around the references) returns FLOOR.
    With ``by_cells`` False (a pure injection solve, e.g. an adjoint) the target is rtol ||b|| throughout.
    work (5, 2, M, N) and tmp (M, N) are scratch. Returns (iterations, relative residual, status).
    """
    b, r, z, p, ap = work[0], work[1], work[2], work[3], work[4]
    reference_rhs(g, ref_r, ref_c, vtr, vtc, gtr, gtc, b)
    if b_extra.shape[0] > 0:
        b += b_extra[k]
    bb = dot(b, b)
    scale2 = bb
    cc = cell_norm2(g, ref_r, ref_c, x) if by_cells else 0.0
    if cc > 0.0:
        scale2 = min(bb, cc) if bb > 0.0 else cc
    floor2 = (64.0 * 2.220446049250313e-16 * norm_inf) ** 2
    its = 0
    rr = 0.0
    for _ in range(PASSES):
        done, rr = pcg(b, x, g, piv, gwr, gwc, gtr, gtc, rtol * rtol * scale2, maxiter - its, r, z, p, ap, tmp)
        its += done
        rr = residual(b, x, g, gwr, gwc, gtr, gtc, ap, r)
        cc = cell_norm2(g, ref_r, ref_c, x) if by_cells else 0.0
        if cc > 0.0:
            scale2 = min(scale2, cc) if scale2 > 0.0 else cc
        if rr <= rtol * rtol * scale2:
            return its, np.sqrt(rr / scale2) if scale2 > 0.0 else 0.0, OK
        if rr <= floor2 * dot(x, x):
            return its, np.sqrt(rr / scale2), FLOOR
        if its >= maxiter:
            return its, np.sqrt(rr / scale2), MAXITER
    return its, np.sqrt(rr / scale2), LOST


@nb.njit(cache=True)
def residual(b, x, g, gwr, gwc, gtr, gtc, ap, r):
    """r = b - A x (ap is scratch); returns ||r||^2."""
    matvec(x, g, gwr, gwc, gtr, gtc, ap)
    acc = np.zeros(g.shape[1])
    for q in range(2):
        for i in range(g.shape[0]):
            for j in range(g.shape[1]):
                d = b[q, i, j] - ap[q, i, j]
                r[q, i, j] = d
                acc[j] += d * d
    return total(acc)


@nb.njit(parallel=True, cache=True)
def solve_batch(g3, piv3, gwr, gwc, gtr, gtc, ref_r, ref_c, vtr, vtc, b_extra, x, rtol, maxiter, norm_inf,
                by_cells, work, tmp, its, res, status):
    """solve_one for every input k of the batch. g3/piv3 hold one state (Bg = 1) or one per input; ref_r,
    ref_c, vtr, vtc are (B, M) / (B, N); x (B, 2, M, N) is the start and the result. Thread c of the C scratch
    sets work (C, 5, 2, M, N), tmp (C, M, N) solves the inputs c, c + C, c + 2C, ..."""
    per_input = np.int64(1 if g3.shape[0] > 1 else 0)
    nc = work.shape[0]
    for c in nb.prange(nc):
        for k in range(c, x.shape[0], nc):
            kg = k * per_input
            its[k], res[k], status[k] = solve_one(g3[kg], piv3[kg], gwr, gwc, gtr, gtc, ref_r[k], ref_c[k], vtr[k],
                                                  vtc[k], b_extra, k, x[k], rtol, maxiter, norm_inf, by_cells,
                                                  work[c], tmp[c])
