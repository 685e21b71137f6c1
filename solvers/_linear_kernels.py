"""numba kernels of the linear crossbar solve (private; see :mod:`xbarsim.solvers.linear`).

State layout: (2, M, N, B) float64 -- plane 0 holds the row-wire nodes, plane 1 the column-wire nodes, the
batch is innermost and contiguous. Unknowns are deviations of each node from its own line's terminal voltage.
Row terminals attach at column 0, column terminals at row M-1, each through its own conductance gtr[i] /
gtc[j] (S; 0 = a floating line, no terminal). Every kernel parallelises over lines and
reduces in a fixed order, so results do not depend on the number of threads.

Each kernel is compiled twice: ``PARALLEL`` (numba threads over lines) and ``SERIAL`` (the same code, no
threads). Launching threads costs about 0.1 ms per kernel, more than small solves take in total, so the
solver picks ``SERIAL`` for small problems.
"""

from __future__ import annotations

import types

import numba as nb
import numpy as np

_PY = {}


def _kernel(f):
    """Register a kernel's Python source; compiled below as a parallel and a serial twin."""
    _PY[f.__name__] = f
    return f


@_kernel
def factor_lines(g, gwr, gwc, gtr, gtc, piv):
    """Inverse pivots of the Thomas factorisation of every row chain (piv[0]) and column chain (piv[1]).

    Each chain's matrix is the wire Laplacian plus the cell conductances on the diagonal plus the terminal
    conductance at the terminal node: the block-diagonal part of the nodal matrix.
    """
    m, n = g.shape
    for i in nb.prange(m):
        prev = 0.0
        for j in range(n):
            d = g[i, j] + gwr * ((j > 0) + (j < n - 1)) + (gtr[i] if j == 0 else 0.0)
            if j > 0:
                d -= gwr * gwr * prev
            prev = 1.0 / d
            piv[0, i, j] = prev
    for j in nb.prange(n):
        prev = 0.0
        for i in range(m):
            d = g[i, j] + gwc * ((i > 0) + (i < m - 1)) + (gtc[j] if i == m - 1 else 0.0)
            if i > 0:
                d -= gwc * gwc * prev
            prev = 1.0 / d
            piv[1, i, j] = prev


@_kernel
def rhs(g, ref_r, ref_c, vtr, vtc, gtr, gtc, b):
    """Right-hand side for unknowns measured from per-line reference voltages ref_r (M, B), ref_c (N, B):
    the cell currents at the references, G (ref_r - ref_c), injected at column nodes and drawn at rows, plus
    the terminal currents at the references. With the references at the terminal voltages (the first
    pass) the terminal terms vanish and b is the ideal cell currents."""
    m, n = g.shape
    nb_ = vtr.shape[1]
    for i in nb.prange(m):
        for j in range(n):
            for k in range(nb_):
                cur = g[i, j] * (ref_r[i, k] - ref_c[j, k])
                b[0, i, j, k] = -cur
                b[1, i, j, k] = cur
        for k in range(nb_):
            b[0, i, 0, k] -= gtr[i] * (ref_r[i, k] - vtr[i, k])
    for j in range(n):
        for k in range(nb_):
            b[1, m - 1, j, k] -= gtc[j] * (ref_c[j, k] - vtc[j, k])


@_kernel
def matvec_dot(x, g, gwr, gwc, gtr, gtc, out, xout):
    """out = A x for the nodal matrix A (wires, cells, terminals); xout[k] = x[..., k] . out[..., k]."""
    _, m, n, nb_ = x.shape
    part = np.zeros((m, nb_))
    for i in nb.prange(m):
        for j in range(n):
            gij = g[i, j]
            for k in range(nb_):
                xr = x[0, i, j, k]
                xc = x[1, i, j, k]
                ar = gij * (xr - xc)
                ac = -ar
                if j > 0:
                    ar += gwr * (xr - x[0, i, j - 1, k])
                else:
                    ar += gtr[i] * xr
                if j < n - 1:
                    ar += gwr * (xr - x[0, i, j + 1, k])
                if i > 0:
                    ac += gwc * (xc - x[1, i - 1, j, k])
                if i < m - 1:
                    ac += gwc * (xc - x[1, i + 1, j, k])
                else:
                    ac += gtc[j] * xc
                out[0, i, j, k] = ar
                out[1, i, j, k] = ac
                part[i, k] += xr * ar + xc * ac
    _reduce(part, xout)


@_kernel
def precondition_dot(r, piv, gwr, gwc, z, rz):
    """z = P^-1 r with P the block diagonal of A (one tridiagonal solve per row chain and per column
    chain); rz[k] = r[..., k] . z[..., k]."""
    _, m, n, nb_ = r.shape
    part = np.zeros((m + n, nb_))
    for i in nb.prange(m):
        for k in range(nb_):
            z[0, i, 0, k] = r[0, i, 0, k] * piv[0, i, 0]
        for j in range(1, n):
            for k in range(nb_):
                z[0, i, j, k] = (r[0, i, j, k] + gwr * z[0, i, j - 1, k]) * piv[0, i, j]
        for j in range(n - 2, -1, -1):
            c = gwr * piv[0, i, j]
            for k in range(nb_):
                z[0, i, j, k] += c * z[0, i, j + 1, k]
        for j in range(n):
            for k in range(nb_):
                part[i, k] += r[0, i, j, k] * z[0, i, j, k]
    for j in nb.prange(n):
        for k in range(nb_):
            z[1, 0, j, k] = r[1, 0, j, k] * piv[1, 0, j]
        for i in range(1, m):
            for k in range(nb_):
                z[1, i, j, k] = (r[1, i, j, k] + gwc * z[1, i - 1, j, k]) * piv[1, i, j]
        for i in range(m - 2, -1, -1):
            c = gwc * piv[1, i, j]
            for k in range(nb_):
                z[1, i, j, k] += c * z[1, i + 1, j, k]
        for i in range(m):
            for k in range(nb_):
                part[m + j, k] += r[1, i, j, k] * z[1, i, j, k]
    _reduce(part, rz)


@_kernel
def dot(a, b, out):
    """out[k] = sum over nodes of a[..., k] * b[..., k], summed in a fixed order."""
    _, m, n, nb_ = a.shape
    part = np.zeros((m, nb_))
    for i in nb.prange(m):
        for p in range(2):
            for j in range(n):
                for k in range(nb_):
                    part[i, k] += a[p, i, j, k] * b[p, i, j, k]
    _reduce(part, out)


@_kernel
def axpy_pair_dot(x, p, r, ap, alpha, rr):
    """x += alpha p and r -= alpha Ap, per batch column; rr[k] = r[..., k] . r[..., k] afterwards."""
    _, m, n, nb_ = x.shape
    part = np.zeros((m, nb_))
    for i in nb.prange(m):
        for q in range(2):
            for j in range(n):
                for k in range(nb_):
                    x[q, i, j, k] += alpha[k] * p[q, i, j, k]
                    rv = r[q, i, j, k] - alpha[k] * ap[q, i, j, k]
                    r[q, i, j, k] = rv
                    part[i, k] += rv * rv
    _reduce(part, rr)


@_kernel
def xpby(z, beta, p):
    """p = z + beta p, per batch column."""
    _, m, n, nb_ = z.shape
    for i in nb.prange(m):
        for q in range(2):
            for j in range(n):
                for k in range(nb_):
                    p[q, i, j, k] = z[q, i, j, k] + beta[k] * p[q, i, j, k]


@nb.njit(cache=True)
def _reduce(part, out):
    """out[k] = sum_i part[i, k] in index order (deterministic whatever the thread count)."""
    for k in range(part.shape[1]):
        s = 0.0
        for i in range(part.shape[0]):
            s += part[i, k]
        out[k] = s


def _jit(f, parallel: bool):
    if not parallel:  # a distinct name gives the serial twin its own numba cache files
        f = types.FunctionType(f.__code__, f.__globals__, f.__name__ + "_serial", f.__defaults__, f.__closure__)
        f.__qualname__ = f.__name__
    return nb.njit(parallel=parallel, cache=True)(f)


PARALLEL = types.SimpleNamespace(**{name: _jit(f, True) for name, f in _PY.items()})
SERIAL = types.SimpleNamespace(**{name: _jit(f, False) for name, f in _PY.items()})
