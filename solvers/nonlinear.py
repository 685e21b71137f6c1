"""Exact nodal analysis of crossbars with nonlinear cells (sinh, polynomial, 1S1R, 1T1R): Newton-Raphson in numba.

Unknowns are the 2 M N wire-node voltages, as in the linear solver. The start is the linear solution with every
cell at its small-signal conductance at 0 V (or a given warm start); each Newton step solves the nodal matrix
with every cell's dI/dV by preconditioned conjugate gradients, limits the change of any cell voltage to a few
times the cell's nonlinearity voltage, and is shortened until the circuit's content (a strictly convex potential
whose gradient is the KCL residual) decreases. A solve has converged when both the KCL residual is below
``rtol`` relative to the cell currents and the last update moved no node by more than ``vtol_v``; otherwise it
raises :class:`NonConvergence` with the iterations, the residual and the worst node -- never a silent wrong
answer.
"""

from __future__ import annotations

import numba
import numpy as np

from xbarsim.circuits import Crossbar
from xbarsim.circuits.cells import TransistorCell
from xbarsim.devices import _validate as V

from . import _newton_kernels as NK
from .cellmodel import cell_codes, cell_response, check_word_lines, voltage_scale
from .linear import DEFAULT_RTOL, check_conductance, line_solve, nodal_norm_inf, scratch
from .solution import CrossbarSolution, NonConvergence, Terminals

DEFAULT_MAX_NEWTON = 200
SPAN_PER_SCALE = 40.0  # largest terminal-voltage span in units of the cell's nonlinearity voltage


def solve_nonlinear(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", rtol: float = DEFAULT_RTOL,
                    vtol_v: float | None = None, max_newton: int = DEFAULT_MAX_NEWTON, maxiter: int | None = None,
                    dv_max_v: float | None = None, r_rows_ohm=None, r_cols_ohm=None, word_lines=None,
                    x0: CrossbarSolution | None = None) -> CrossbarSolution:
    """Solve a crossbar with nonlinear cells for a batch of terminal voltages.

    Args are those of :func:`xbarsim.solvers.solve`, plus:
        vtol_v: largest last Newton update of any node voltage, V (default sqrt(rtol) x the terminal voltage
            span, or x 1 V when all terminals are at one voltage).
        max_newton: Newton iteration limit per input vector.
        maxiter: conjugate-gradient iteration limit of each Newton step's linear solve.
        dv_max_v: largest change of any cell voltage in one Newton step, V (default 4 x the cell's nonlinearity
            voltage: v0 of a sinh device, v_sel of a selector).
        word_lines: (rows,) booleans, the 1T1R access transistors of each row on (True, default) or off.
        x0: a previous solution of the same circuit and batch size to start from (a warm start).
    """
    g = check_conductance(xbar, g)
    t = Terminals.build(xbar, v_rows, v_cols, driven, r_rows_ohm, r_cols_ohm)
    if word_lines is not None and not isinstance(xbar.cell, TransistorCell):
        raise ValueError(f"word_lines apply to 1T1R cells only; xbar.cell={xbar.cell.name!r}")
    wl = check_word_lines(xbar, word_lines)
    rtol = V.in_range("rtol", rtol, 1e-15, 1e-2)
    max_newton = V.positive_int("max_newton", max_newton)
    m, n = xbar.shape
    maxiter = 20 * (m + n) + 200 if maxiter is None else V.positive_int("maxiter", maxiter)
    nb_ = t.v_rows.shape[0]
    span = float(np.ptp(np.concatenate([t.v_rows, t.v_cols], axis=1))) or 1.0
    scale = voltage_scale(xbar)
    if span > SPAN_PER_SCALE * scale:
        raise ValueError(f"terminal voltages spanning {span:.4g} V are invalid for xbar.cell={xbar.cell!r}: its I-V "
                         f"bends over {scale:g} V, and beyond {SPAN_PER_SCALE * scale:.4g} V "
                         f"({SPAN_PER_SCALE:g} x that) its currents leave any device's range (and float64's)")
    vtol_v = np.sqrt(rtol) * span if vtol_v is None else V.positive("vtol_v", vtol_v, "V")
    dv_max_v = 4.0 * scale if dv_max_v is None else V.positive("dv_max_v", dv_max_v, "V")
    law, p, kind, q_rows = cell_codes(xbar, wl)
    if x0 is not None:
        if not isinstance(x0, CrossbarSolution) or x0.dev.shape != (nb_, 2, m, n) or not np.isfinite(x0.dev).all():
            raise ValueError(f"x0 must be a finite CrossbarSolution of this circuit with batch {nb_}")
        x = x0.dev + 0.0
    else:
        _, g0, _ = cell_response(xbar, g, np.zeros((1, m, n)), wl)
        x = line_solve(xbar, g0, t, min(1e-6, 1e3 * rtol), maxiter)[0]
    gwr, gwc = 1.0 / xbar.r_row_ohm, 1.0 / xbar.r_col_ohm
    norm_inf = nodal_norm_inf(g.max(), gwr, gwc, t)
    work, tmp, gd = scratch(min(numba.get_num_threads(), nb_), m, n, planes=10, extras=2)
    its, lin_its, worst = (np.zeros(nb_, np.int64) for _ in range(3))
    res, status = np.zeros(nb_), np.zeros(nb_, np.int64)
    NK.newton_batch(g, law, p, kind, q_rows, gwr, gwc, t.g_rows, t.g_cols, np.ascontiguousarray(t.v_rows),
                    np.ascontiguousarray(t.v_cols), x, rtol, vtol_v, max_newton, maxiter,
                    dv_max_v if np.isfinite(dv_max_v) else 1e300, norm_inf, work, tmp, gd, its, lin_its, res,
                    status, worst)
    bad = np.flatnonzero(status != NK.OK)
    if bad.size:
        k = int(bad[np.argmax(res[bad])])
        plane, rest = divmod(int(worst[k]), m * n)
        node = (k, "row" if plane == 0 else "col", *divmod(rest, n))
        why = (f"after max_newton={max_newton} Newton iterations (a larger max_newton may get there)"
               if status[k] == NK.MAXITER else
               f"after {its[k]} Newton iterations: no step decreases the residual")
        raise NonConvergence(
            f"nonlinear crossbar solve did not converge: relative KCL residual {res[k]:.3e} > rtol={rtol:.1e} "
            f"{why} (batch column {k}, worst node: {node[1]}-wire node ({node[2]}, {node[3]}))",
            iterations=int(its[k]), residual=float(res[k]), worst_node=node)
    return CrossbarSolution(xbar, t, x, its, res, word_lines=wl, linear_iterations=lin_its)

