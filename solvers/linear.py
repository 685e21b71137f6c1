"""Exact nodal analysis of a linear crossbar: preconditioned conjugate gradients in numba.

The nodal matrix (2 M N unknowns: every row-wire and column-wire node) is symmetric positive definite.
Conjugate gradients preconditioned by exact line solves (every row and column wire is a tridiagonal chain,
factorised once per conductance state) converge at every wire-to-device ratio; the iteration stops when the
relative residual of every batch column is below ``rtol``: the norm of the KCL residual over the norm of
the cell currents, b - A x over i. The true residual is checked at the end; it must be below rtol ||i|| or,
where wires are so stiff that float64 cannot resolve that, below the rounding floor 64 eps ||A||_inf ||x||
(the answer is then as accurate as double precision allows).
Otherwise the solve raises :class:`NonConvergence` -- never a silent wrong answer.
"""

from __future__ import annotations

import threading

import numpy as np

from xbarsim.circuits import G_MAX_S, G_MIN_S, Crossbar, is_linear
from xbarsim.devices import _validate as V

from . import _linear_kernels as K
from .solution import CrossbarSolution, NonConvergence, Terminals

DEFAULT_RTOL = 1e-10
SERIAL_BELOW = 300_000  # unknowns x batch below which threads cost more than they save


def check_conductance(xbar: Crossbar, g) -> np.ndarray:
    """``g`` as a (rows, cols) float64 array of conductances in [1e-15, 1e3] S, or a clear ValueError."""
    g = V.array("conductance", g, xbar.shape, positive_values=True, unit="S", max_abs=G_MAX_S)
    return V.array("conductance", g, xbar.shape, unit="S", min_value=G_MIN_S)


def solve(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", rtol: float = DEFAULT_RTOL,
          maxiter: int | None = None, r_rows_ohm=None, r_cols_ohm=None) -> CrossbarSolution:
    """Solve the crossbar for a batch of terminal voltages.

    Args:
        xbar: the circuit.
        g: (rows, cols) cell conductances, S.
        v_rows: (B, rows) or (rows,) voltages of the row terminals, V (drivers if ``driven="rows"``, else
            the sense amplifiers' virtual-ground level).
        v_cols: (B, cols) or (cols,) voltages of the column terminals, V.
        driven: "rows" (forward read) or "cols" (transposed read); sets which terminals have r_driver_ohm.
        rtol: relative residual target, in (0, 1e-2].
        maxiter: iteration limit (default 20 (M + N) + 200).
        r_rows_ohm, r_cols_ohm: per-line terminal resistances (M,) / (N,), Ohm, overriding the driver and
            sense resistances (bias schemes); ``np.inf`` leaves a line floating.
    """
    if not is_linear(xbar.cell):
        raise ValueError(f"xbar.cell={xbar.cell!r} is nonlinear: the linear solver needs cell='linear' or "
                         "'ecram3t'; use the nonlinear solver for it")
    g = check_conductance(xbar, g)
    t = Terminals.build(xbar, v_rows, v_cols, driven, r_rows_ohm, r_cols_ohm)
    rtol = V.in_range("rtol", rtol, 1e-15, 1e-2)
    m, n = xbar.shape
    maxiter = 20 * (m + n) + 200 if maxiter is None else V.positive_int("maxiter", maxiter)
    nb_ = t.v_rows.shape[0]
    kernels = K.SERIAL if 2 * m * n * nb_ < SERIAL_BELOW else K.PARALLEL
    op = _Operator(kernels, g, 1.0 / xbar.r_row_ohm, 1.0 / xbar.r_col_ohm, t.g_rows, t.g_cols)
    vtr, vtc = np.ascontiguousarray(t.v_rows.T), np.ascontiguousarray(t.v_cols.T)
    b = _workspace((2, m, n, nb_))[4]
    kernels.rhs(g, vtr, vtc, vtr, vtc, t.g_rows, t.g_cols, b)
    x, its, res, limited = _pcg(op, b, rtol, maxiter, vtr, vtc)
    if limited.any():
        # Float64 could not resolve the residual around the terminal voltages (a line far from its terminal:
        # large driver or sense resistance). Measure the unknowns from each line's mean voltage instead.
        v_r, v_c = x[0] + vtr[:, None, :], x[1] + vtc[None, :, :]
        ref_r, ref_c = v_r.mean(axis=1), v_c.mean(axis=0)
        kernels.rhs(g, ref_r, ref_c, vtr, vtc, t.g_rows, t.g_cols, b)
        x0 = np.stack([v_r - ref_r[:, None, :], v_c - ref_c[None, :, :]])
        x, its2, res, _ = _pcg(op, b, rtol, maxiter, ref_r, ref_c, x0)
        its += its2
        x = np.stack([x[0] + (ref_r - vtr)[:, None, :], x[1] + (ref_c - vtc)[None, :, :]])
    return CrossbarSolution(xbar, t, x, its, res)


def read_forward(xbar: Crossbar, g, v_in, **kw) -> CrossbarSolution:
    """Forward read: drive the rows with ``v_in`` (B, rows) V, sense the columns at 0 V; outputs ``i_cols``."""
    v_in = np.atleast_2d(np.asarray(v_in))
    return solve(xbar, g, v_in, np.zeros((v_in.shape[0], xbar.cols)), driven="rows", **kw)


def read_backward(xbar: Crossbar, g, v_in, **kw) -> CrossbarSolution:
    """Transposed read: drive the columns with ``v_in`` (B, cols) V, sense the rows at 0 V; outputs ``i_rows``."""
    v_in = np.atleast_2d(np.asarray(v_in))
    return solve(xbar, g, np.zeros((v_in.shape[0], xbar.rows)), v_in, driven="cols", **kw)


class _Operator:
    """The nodal matrix of one conductance state and its line-factorised preconditioner."""

    def __init__(self, kernels, g, gwr, gwc, gtr, gtc):
        self.k = kernels
        self.args = (g, gwr, gwc, gtr, gtc)
        self.gwr, self.gwc = gwr, gwc
        self.norm_inf = 2.0 * (g.max() + 2.0 * max(gwr, gwc) + max(gtr.max(), gtc.max()))  # max absolute row sum
        self.piv = np.empty((2,) + g.shape)
        kernels.factor_lines(g, gwr, gwc, gtr, gtc, self.piv)

    def apply(self, x, out, xout):
        """out = A x and xout = x . A x per batch column."""
        self.k.matvec_dot(x, *self.args, out, xout)

    def precondition(self, r, out, rz):
        """out = P^-1 r and rz = r . P^-1 r per batch column."""
        self.k.precondition_dot(r, self.piv, self.gwr, self.gwc, out, rz)


_local = threading.local()


def _workspace(shape):
    """Five scratch arrays of ``shape``, reused across solves of the same shape in this thread: fresh
    multi-megabyte arrays per solve cost more in page faults than the solve itself."""
    cache = getattr(_local, "arrays", None)
    if cache is None or cache[0] != shape:
        cache = (shape, [np.empty(shape) for _ in range(5)])
        _local.arrays = cache
    return cache[1]


def _pcg(op: _Operator, b: np.ndarray, rtol: float, maxiter: int, ref_r, ref_c, x0=None):
    """PCG on all batch columns. The target is ||b - A x|| <= rtol * ||i||, i the actual cell currents: the
    first pass aims at rtol ||b|| (b = the ideal cell currents, known before the solve); where the circuit
    carries much less current than ideal (large driver or wire resistance) the iteration restarts from the
    true residual with the tighter target. The true residual is verified at the end of every pass.

    Unknowns are node voltages minus ref_r (M, B) / ref_c (N, B) of their line; x0 is the start (default 0).
    Returns (x, iterations, relative residual, floor-limited flag per column): a column is floor-limited when
    it was accepted at the float64 rounding floor 64 eps ||A|| ||x|| rather than at rtol.
    """
    nb_ = b.shape[-1]
    g = op.args[0]
    r, z, p, ap = _workspace(b.shape)[:4]
    bb, rr, rz, pap, xx = (np.empty(nb_) for _ in range(5))
    cells = ref_r[:, None, :] - ref_c[None, :, :]
    op.k.dot(b, b, bb)
    if x0 is None:
        x = np.zeros_like(b)
        r[...] = b
        scale2 = bb.copy()
    else:
        x = x0
        op.apply(x, ap, pap)
        np.subtract(b, ap, out=r)
        scale2 = ((g[:, :, None] * (cells + x[0] - x[1])) ** 2).sum(axis=(0, 1))
    its = np.zeros(nb_, dtype=np.int64)
    total = 0
    floor2 = (64 * np.finfo(float).eps * op.norm_inf) ** 2
    for _restart in range(4):
        tol2 = rtol * rtol * scale2
        op.k.dot(r, r, rr)
        active = rr > tol2
        op.precondition(r, z, rz)
        p[...] = z
        while active.any():
            if total >= maxiter:
                worst = int(np.argmax(rr / np.where(scale2 > 0, scale2, 1.0)))
                res = float(np.sqrt(rr[worst] / scale2[worst]))
                raise NonConvergence(
                    f"crossbar solve did not converge: relative residual {res:.3e} > rtol={rtol:.1e} after "
                    f"maxiter={maxiter} iterations (batch column {worst})",
                    iterations=total, residual=res, worst_node=worst)
            op.apply(p, ap, pap)
            alpha = np.where(active, rz / np.where(active, pap, 1.0), 0.0)
            op.k.axpy_pair_dot(x, p, r, ap, alpha, rr)
            its += active
            total += 1
            active &= rr > tol2
            rz_old = rz.copy()
            op.precondition(r, z, rz)
            beta = np.where(active, rz / np.where(active, rz_old, 1.0), 0.0)
            op.k.xpby(z, beta, p)
        op.apply(x, ap, pap)
        np.subtract(b, ap, out=r)
        op.k.dot(r, r, rr)
        op.k.dot(x, x, xx)
        cc = ((g[:, :, None] * (cells + x[0] - x[1])) ** 2).sum(axis=(0, 1))  # actual cell currents
        scale2 = np.where(cc > 0, np.minimum(scale2, cc), scale2)
        ok = rr <= np.maximum(rtol * rtol * scale2, floor2 * xx)
        if np.all(ok):
            break
    res = np.sqrt(rr / np.where(scale2 > 0, scale2, 1.0))
    if not np.all(ok):
        worst = int(np.argmax(res))
        raise NonConvergence(
            f"crossbar solve lost accuracy: relative residual {res[worst]:.3e} > rtol={rtol:.1e} and above the "
            f"float64 rounding floor after 4 passes (batch column {worst})",
            iterations=total, residual=float(res[worst]), worst_node=worst)
    return x, its, res, rr > rtol * rtol * scale2
