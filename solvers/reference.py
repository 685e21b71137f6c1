"""Independent reference solves with scipy.sparse: the textbook nodal matrix in absolute node voltages,
stamped branch by branch and factorised by SuperLU; for nonlinear cells plain damped Newton on the same matrix.
Slow; for tests and benchmarks. In absolute voltages the float64 matrix itself rounds cells away behind stiff
wires (1e-9 Ohm segments and 1e-4 S cells: 0.4 % per cell), so where wires are many decades stiffer than the
terminals this reference is less accurate than the numba solver (tests check both against 50-digit arithmetic).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim.circuits import Crossbar

from .cellmodel import cell_response, check_word_lines
from .linear import check_conductance
from .solution import CrossbarSolution, NonConvergence, Terminals


def nodal_matrix(xbar: Crossbar, g, g_term_rows, g_term_cols) -> sp.csc_matrix:
    """Nodal conductance matrix, terminal conductances per line (S, scalar or (M,) / (N,)); node index of row
    node (i, j) is i*N + j, of column node M*N + i*N + j."""
    return _matrix(xbar, check_conductance(xbar, g), g_term_rows, g_term_cols)


def _matrix(xbar: Crossbar, g, g_term_rows, g_term_cols) -> sp.csc_matrix:
    m, n = xbar.shape
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
    t = Terminals.build(xbar, v_rows, v_cols, driven, r_rows_ohm, r_cols_ohm)
    a = nodal_matrix(xbar, g, t.g_rows, t.g_cols)
    rhs = _sources(xbar, t)
    v = spla.splu(a).solve(rhs)
    res = np.linalg.norm(a @ v - rhs, axis=0) / np.maximum(np.linalg.norm(rhs, axis=0), 1e-300)
    return CrossbarSolution(xbar, t, _deviations(xbar, t, v), np.ones(v.shape[1], dtype=np.int64), res)


def solve_reference_nonlinear(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", r_rows_ohm=None,
                              r_cols_ohm=None, word_lines=None, rtol: float = 1e-12,
                              max_newton: int = 500, dv_limit_v: float = 0.25) -> CrossbarSolution:
    """The nonlinear solve by textbook Newton in absolute voltages: the Jacobian (the nodal matrix with each
    cell's dI/dV) factorised by SuperLU every step, every cell voltage's change limited to ``dv_limit_v`` and
    the step halved until ||F|| decreases, from the small-signal linear solution; it stops at ||F|| <= rtol
    ||I_cell|| or when a step no longer moves any node by more than 1e-14 of the largest voltage."""
    m, n = xbar.shape
    g = check_conductance(xbar, g)
    t = Terminals.build(xbar, v_rows, v_cols, driven, r_rows_ohm, r_cols_ohm)
    wl = check_word_lines(xbar, word_lines)
    src = _sources(xbar, t)
    wires = _matrix(xbar, np.zeros(xbar.shape), t.g_rows, t.g_cols)  # wires and terminals only

    def kcl(v, k):  # currents leaving every node (2MN, 1) of batch column k, each cell's dI/dV (1, M, N), ||I_cell||
        vcell = (v[: m * n] - v[m * n:]).T.reshape(-1, m, n)
        cur, gd, _ = cell_response(xbar, g, vcell, wl)
        c = cur.reshape(-1, m * n).T
        return wires @ v - src[:, k:k + 1] + np.concatenate([c, -c]), gd, np.linalg.norm(cur)

    v = spla.splu(_matrix(xbar, cell_response(xbar, g, np.zeros((1, m, n)), wl)[1][0], t.g_rows, t.g_cols)).solve(src)
    for k in range(v.shape[1]):
        f, gd, _ = kcl(v[:, k:k + 1], k)
        for _ in range(max_newton):
            jac = _matrix(xbar, gd[0], t.g_rows, t.g_cols)
            dv = spla.spsolve(jac, -f[:, 0])[:, None]
            lam = min(1.0, dv_limit_v / max(np.abs(dv[: m * n] - dv[m * n:]).max(), 1e-300))
            while True:
                f_new, gd_new, cells = kcl(v[:, k:k + 1] + lam * dv, k)
                if np.linalg.norm(f_new) < np.linalg.norm(f) or lam < 1e-12:
                    break
                lam /= 2
            v[:, k:k + 1] += lam * dv
            f, gd = f_new, gd_new
            small_step = np.abs(lam * dv).max() <= 1e-14 * max(1.0, np.abs(v[:, k]).max())
            if np.linalg.norm(f) <= rtol * max(cells, 1e-300) or small_step:
                break
        else:
            raise NonConvergence(f"reference Newton did not converge for batch column {k}", iterations=max_newton,
                                 residual=float(np.linalg.norm(f)), worst_node=k)
    return CrossbarSolution(xbar, t, _deviations(xbar, t, v), np.ones(v.shape[1], dtype=np.int64),
                            np.zeros(v.shape[1]), word_lines=wl)


def _sources(xbar: Crossbar, t: Terminals) -> np.ndarray:
    """Norton current injections (2MN, B) of the terminal sources, A."""
    m, n = xbar.shape
    rhs = np.zeros((2 * m * n, t.v_rows.shape[0]))
    rhs[np.arange(m) * n, :] = t.v_rows.T * t.g_rows[:, None]
    rhs[m * n + (m - 1) * n + np.arange(n), :] = t.v_cols.T * t.g_cols[:, None]
    return rhs


def _deviations(xbar: Crossbar, t: Terminals, v: np.ndarray) -> np.ndarray:
    """Absolute node voltages (2MN, B) as CrossbarSolution's deviations (B, 2, M, N)."""
    m, n = xbar.shape
    vr = v[: m * n].T.reshape(-1, m, n) - t.v_rows[:, :, None]
    vc = v[m * n:].T.reshape(-1, m, n) - t.v_cols[:, None, :]
    return np.stack([vr, vc], axis=1)


def reference_jacobian(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows") -> dict:
    """Dense Jacobians of the column currents of a linear crossbar by sparse LU: {"g": (B, N, M, N) dI_col/dG
    (A/S), "v_rows": (B, N, M) dI_col/dV_row (S)}; du = -A^-1 (dA/dG_ij) u column by column. Small arrays."""
    m, n = xbar.shape
    g = check_conductance(xbar, g)
    t = Terminals.build(xbar, v_rows, v_cols, driven)
    lu = spla.splu(nodal_matrix(xbar, g, t.g_rows, t.g_cols))
    u = lu.solve(_sources(xbar, t))  # (2MN, B)
    out_idx = m * n + (m - 1) * n + np.arange(n)  # column terminal nodes
    cells = np.arange(m * n)
    jac_g, jac_v = [], []
    for k in range(u.shape[1]):
        e = np.zeros((2 * m * n, m * n))
        vcell = u[: m * n, k] - u[m * n:, k]
        e[cells, cells] = -vcell
        e[m * n + cells, cells] = vcell
        jac_g.append((t.g_cols[:, None] * lu.solve(e)[out_idx]).reshape(n, m, n))
        inj = np.zeros((2 * m * n, m))
        inj[np.arange(m) * n, np.arange(m)] = t.g_rows
        jac_v.append(t.g_cols[:, None] * lu.solve(inj)[out_idx])
    return {"g": np.stack(jac_g), "v_rows": np.stack(jac_v)}
