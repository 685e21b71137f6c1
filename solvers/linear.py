"""Exact nodal analysis of a linear crossbar: preconditioned conjugate gradients in numba.

The nodal matrix (2 M N unknowns: every row-wire and column-wire node) is symmetric positive definite.
Conjugate gradients preconditioned by a symmetric block Gauss-Seidel sweep of exact line solves (every row and
column wire is a tridiagonal chain, factorised once per conductance state) converge at every wire-to-device
ratio. Each input vector is solved by one thread until its relative residual -- the norm of the KCL residual
over the norm of the cell currents, ||b - A x|| / ||i|| -- is below ``rtol``, checked on the true residual.
Where wires are so stiff that float64 cannot resolve that around the terminal voltages, the unknowns are
re-centred on each line's mean voltage and solved again; a result is accepted at rtol or at the rounding floor
64 eps ||A||_inf ||x|| (as accurate as double precision allows). Otherwise the solve raises
:class:`NonConvergence` -- never a silent wrong answer.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from xbarsim.circuits import G_MAX_S, G_MIN_S, Crossbar, is_linear
from xbarsim.devices import _validate as V

from . import _linear_kernels as K
from .solution import CrossbarSolution, NonConvergence, Terminals

DEFAULT_RTOL = 1e-10
MAX_CELL_OVER_WIRE = 1e4  # largest G_cell * R_segment: beyond it float64 cannot give the currents to rtol


def check_conductance(xbar: Crossbar, g) -> np.ndarray:
    """``g`` as a (rows, cols) float64 array of conductances in [1e-15, 1e3] S, or a clear ValueError.

    Cells far more conductive than a wire segment (G R_wire > 1e4; real arrays have 1e-6 to 1e-2) make the
    nodal system so ill-conditioned that a small residual no longer means accurate currents: refused.
    """
    g = V.array("conductance", g, xbar.shape, positive_values=True, unit="S", max_abs=G_MAX_S)
    g = V.array("conductance", g, xbar.shape, unit="S", min_value=G_MIN_S)
    r_wire = max(xbar.r_row_ohm, xbar.r_col_ohm)
    if g.max() * r_wire > MAX_CELL_OVER_WIRE:
        raise ValueError(f"conductance up to {g.max():.3g} S with {r_wire:.3g} Ohm wire segments is invalid: a cell "
                         f"{g.max() * r_wire:.3g} times more conductive than a segment is beyond what float64 "
                         f"resolves (allowed: G * R_wire <= {MAX_CELL_OVER_WIRE:g})")
    return g


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
    x, its, res = line_solve(xbar, g[None], t, rtol, maxiter)
    return CrossbarSolution(xbar, t, x, its, res)


def line_solve(xbar: Crossbar, g3: np.ndarray, t: Terminals, rtol: float = DEFAULT_RTOL, maxiter: int | None = None,
               *, x0: np.ndarray | None = None, b_extra: np.ndarray | None = None, by_cells: bool = True):
    """Solve the nodal equations for every input of ``t`` (checked arguments; the solvers' common core).

    g3: (1, M, N) conductances shared by the batch or (B, M, N) one state per input, S. Unknowns are node
    deviations from their line's terminal voltage, (B, 2, M, N); x0 is the start (default 0). b_extra (B, 2, M,
    N) adds current injections (A) at the nodes; by_cells=False measures the residual against ||b|| only (an
    injection solve, e.g. an adjoint). Returns (x, iterations (B,), relative residual (B,)).
    """
    m, n = xbar.shape
    rtol = V.in_range("rtol", rtol, 1e-15, 1e-2)
    maxiter = 20 * (m + n) + 200 if maxiter is None else V.positive_int("maxiter", maxiter)
    nb_ = t.v_rows.shape[0]
    gwr, gwc = 1.0 / xbar.r_row_ohm, 1.0 / xbar.r_col_ohm
    g3 = np.ascontiguousarray(g3, dtype=np.float64)
    piv3 = np.empty((g3.shape[0], 2, m, n))
    K.factor_batch(g3, gwr, gwc, t.g_rows, t.g_cols, piv3)
    norm_inf = nodal_norm_inf(g3.max(), gwr, gwc, t)
    b_extra = np.zeros((0, 2, m, n)) if b_extra is None else np.ascontiguousarray(b_extra, dtype=np.float64)
    x = np.zeros((nb_, 2, m, n)) if x0 is None else np.array(x0, dtype=np.float64)
    vtr, vtc = np.ascontiguousarray(t.v_rows), np.ascontiguousarray(t.v_cols)
    its, res, status = np.zeros(nb_, np.int64), np.zeros(nb_), np.zeros(nb_, np.int64)
    args = (gwr, gwc, t.g_rows, t.g_cols)
    work, tmp = scratch(min(numba.get_num_threads(), nb_), m, n, planes=5, extras=1)
    K.solve_batch(g3, piv3, *args, vtr, vtc, vtr, vtc, b_extra, x, rtol, maxiter, norm_inf, by_cells, work, tmp,
                  its, res, status)
    redo = np.flatnonzero(status == K.FLOOR)
    if redo.size:
        # Float64 could not resolve the residual around the terminal voltages (a line far from its terminal:
        # large driver or sense resistance). Measure the unknowns from each line's mean voltage instead.
        xs = x[redo]
        ref_r = (xs[:, 0] + vtr[redo, :, None]).mean(axis=2)
        ref_c = (xs[:, 1] + vtc[redo, None, :]).mean(axis=1)
        shift_r, shift_c = ref_r - vtr[redo], ref_c - vtc[redo]
        xs[:, 0] -= shift_r[:, :, None]
        xs[:, 1] -= shift_c[:, None, :]
        gs, ps = (g3[redo], piv3[redo]) if g3.shape[0] > 1 else (g3, piv3)
        bs = b_extra[redo] if b_extra.shape[0] else b_extra
        i2, r2, s2 = np.zeros(redo.size, np.int64), np.zeros(redo.size), np.zeros(redo.size, np.int64)
        K.solve_batch(gs, ps, *args, ref_r, ref_c, vtr[redo], vtc[redo], bs, xs, rtol, maxiter, norm_inf, by_cells,
                      work, tmp, i2, r2, s2)
        xs[:, 0] += shift_r[:, :, None]
        xs[:, 1] += shift_c[:, None, :]
        x[redo], its[redo], res[redo] = xs, its[redo] + i2, r2
        status[redo] = np.where(s2 == K.FLOOR, K.OK, s2)
    bad = np.flatnonzero(status != K.OK)
    if bad.size:
        worst = int(bad[np.argmax(res[bad])])
        if status[worst] == K.MAXITER:
            msg = (f"crossbar solve did not converge: relative residual {res[worst]:.3e} > rtol={rtol:.1e} after "
                   f"maxiter={maxiter} iterations (batch column {worst})")
        else:
            msg = (f"crossbar solve lost accuracy: relative residual {res[worst]:.3e} > rtol={rtol:.1e} and above "
                   f"the float64 rounding floor after {K.PASSES} passes (batch column {worst})")
        raise NonConvergence(msg, iterations=int(its[worst]), residual=float(res[worst]), worst_node=worst)
    return x, its, res


def nodal_norm_inf(g_max: float, gwr: float, gwc: float, t: Terminals) -> float:
    """An upper bound of the nodal matrix's max absolute row sum (S): the scale of its rounding floor."""
    return 2.0 * (g_max + 2.0 * max(gwr, gwc) + max(t.g_rows.max(), t.g_cols.max()))


_local = threading.local()
SCRATCH_KEPT = 4  # scratch sets kept per Python thread (one per recently used shape)


def scratch(threads: int, m: int, n: int, planes: int, extras: int):
    """Per-thread scratch of the kernels: (threads, planes, 2, m, n) and ``extras`` arrays of (threads, m, n),
    kept between solves of the same shape in this Python thread: fresh megabyte arrays cost more in page
    faults than a small solve itself."""
    key = (threads, m, n, planes, extras)
    cache = getattr(_local, "scratch", None)
    if cache is None:
        cache = _local.scratch = {}
    if key not in cache:
        if len(cache) >= SCRATCH_KEPT:
            cache.pop(next(iter(cache)))
        cache[key] = (np.empty((threads, planes, 2, m, n)), *(np.empty((threads, m, n)) for _ in range(extras)))
    return cache[key]
