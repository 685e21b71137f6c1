"""The solver entry points for any cell type: the linear solver for linear cells, Newton otherwise."""

from __future__ import annotations

import numpy as np

from xbarsim.circuits import Crossbar, is_linear

from .linear import solve
from .nonlinear import solve_nonlinear
from .solution import CrossbarSolution

NONLINEAR_ONLY = ("vtol_v", "max_newton", "dv_max_v", "word_lines", "x0")


def solve_circuit(xbar: Crossbar, g, v_rows, v_cols, **kw) -> CrossbarSolution:
    """The crossbar's exact solve whatever its cell: :func:`xbarsim.solvers.solve` for linear cells,
    :func:`solve_nonlinear` otherwise (same arguments; the nonlinear-only ones are refused for linear cells
    unless left at their defaults)."""
    if is_linear(xbar.cell):
        extra = {k: v for k, v in kw.items() if k in NONLINEAR_ONLY}
        if any(v is not None for v in extra.values()):
            raise ValueError(f"{', '.join(extra)} apply to nonlinear cells only; xbar.cell={xbar.cell.name!r}")
        return solve(xbar, g, v_rows, v_cols, **{k: v for k, v in kw.items() if k not in extra})
    return solve_nonlinear(xbar, g, v_rows, v_cols, **kw)


def read_forward(xbar: Crossbar, g, v_in, **kw) -> CrossbarSolution:
    """Forward read: drive the rows with ``v_in`` (B, rows) V, sense the columns at 0 V; outputs ``i_cols``."""
    v_in = np.atleast_2d(np.asarray(v_in))
    return solve_circuit(xbar, g, v_in, np.zeros((v_in.shape[0], xbar.cols)), driven="rows", **kw)


def read_backward(xbar: Crossbar, g, v_in, **kw) -> CrossbarSolution:
    """Transposed read: drive the columns with ``v_in`` (B, cols) V, sense the rows at 0 V; outputs ``i_rows``."""
    v_in = np.atleast_2d(np.asarray(v_in))
    return solve_circuit(xbar, g, np.zeros((v_in.shape[0], xbar.rows)), v_in, driven="cols", **kw)
