"""Independent reference solve with scipy.sparse: the textbook nodal matrix in absolute node voltages,
stamped branch by branch and factorised by SuperLU. Slow; for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim.circuits import Crossbar

from .linear import check_conductance
from .solution import CrossbarSolution, Terminals


def nodal_matrix(xbar: Crossbar, g, g_term_rows, g_term_cols) -> sp.csc_matrix:
    """Nodal conductance matrix, terminal conductances per line (S, scalar or (M,) / (N,)); node index of row
    node (i, j) is i*N + j, of column node M*N + i*N + j."""
    m, n = xbar.shape
    g = check_conductance(xbar, g)
    rows, cols, vals = [], [], []

    def stamp(a, b, cond):  # a conductance between node arrays a and b (b = None: to a fixed voltage)
        rows.append(a), cols.append(a), vals.append(cond)
        if b is not None:
            rows.extend([b, a, b]), cols.extend([b, b, a]), vals.extend([cond, -cond, -cond])

    idx_r = np.arange(m * n).reshape(m, n)
    idx_c = idx_r + m * n
    stamp(idx_r.ravel(), idx_c.ravel(), g.ravel())
    one = np.ones(m * (n - 1))
    stamp(idx_r[:, :-1].ravel(), idx_r[:, 1:].ravel(), one / xbar.r_row_ohm)
    one = np.ones((m - 1) * n)
    stamp(idx_c[:-1, :].ravel(), idx_c[1:, :].ravel(), one / xbar.r_col_ohm)
    stamp(idx_r[:, 0], None, np.broadcast_to(g_term_rows, (m,)))
    stamp(idx_c[-1, :], None, np.broadcast_to(g_term_cols, (n,)))
    a = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(2 * m * n,) * 2)
    return a.tocsc()


def solve_reference(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", r_rows_ohm=None,
                    r_cols_ohm=None) -> CrossbarSolution:
    """The same solve as :func:`xbarsim.solvers.solve`, by sparse LU (scipy SuperLU)."""
    m, n = xbar.shape
    t = Terminals.build(xbar, v_rows, v_cols, driven, r_rows_ohm, r_cols_ohm)
    a = nodal_matrix(xbar, g, t.g_rows, t.g_cols)
    nb_ = t.v_rows.shape[0]
    rhs = np.zeros((2 * m * n, nb_))
    rhs[np.arange(m) * n, :] = t.v_rows.T * t.g_rows[:, None]
    rhs[m * n + (m - 1) * n + np.arange(n), :] = t.v_cols.T * t.g_cols[:, None]
    v = spla.splu(a).solve(rhs)
    vr = v[: m * n].reshape(m, n, nb_) - t.v_rows.T[:, None, :]
    vc = v[m * n:].reshape(m, n, nb_) - t.v_cols.T[None, :, :]
    res = np.linalg.norm(a @ v - rhs, axis=0) / np.maximum(np.linalg.norm(rhs, axis=0), 1e-300)
    return CrossbarSolution(xbar, t, np.stack([vr, vc]).transpose(3, 0, 1, 2), np.ones(nb_, dtype=np.int64), res)
