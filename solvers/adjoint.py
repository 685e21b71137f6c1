"""Exact derivatives of a crossbar solve's terminal currents: adjoint (vector-Jacobian) and tangent
(Jacobian-vector) products, each by one more solve with the circuit's Jacobian.

At a solution u (node voltages), KCL reads F(u, theta) = 0 with Jacobian J = dF/du: the nodal matrix with each
cell at its small-signal conductance dI/dV (the conductance itself for linear cells). J is symmetric, so

- ``vjp``: for cotangents y_bar on the terminal currents, lambda = J^-1 C^T y_bar is the solution of the same
  circuit with terminal voltages y_bar (a physical solve: the adjoint network of a resistive circuit is the
  circuit itself); then dL/dtheta = y_bar . dy/dtheta|_u - lambda . dF/dtheta;
- ``jvp``: du = -J^-1 dF/dtheta dtheta, a solve with current injections; then dy = C du + dy/dtheta|_u dtheta.

Parameters: the cell states G (S), the terminal voltages (V), the wire resistance per segment on rows and on
columns (Ohm) and every line's terminal resistance (Ohm). Works for linear and nonlinear solutions alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.circuits import is_linear
from xbarsim.devices import _validate as V

from .cellmodel import cell_response
from .linear import check_conductance, line_solve
from .solution import CrossbarSolution, Terminals

ADJOINT_RTOL = 1e-12


@dataclass(frozen=True, eq=False)
class CircuitGradient:
    """dL/dparameter of L = sum(y_bar_cols * i_cols) + sum(y_bar_rows * i_rows) (units: L's per parameter unit).

    g (M, N) is summed over the batch (one conductance state serves every input); the voltages are per input.
    Floating lines have no terminal resistance: their entries are 0.
    """

    g: np.ndarray  # (M, N), per S
    v_rows: np.ndarray  # (B, M), per V
    v_cols: np.ndarray  # (B, N), per V
    r_row_ohm: float  # per Ohm of every row segment
    r_col_ohm: float
    r_rows_ohm: np.ndarray  # (M,) per Ohm of each row's terminal resistance
    r_cols_ohm: np.ndarray  # (N,)


def _linearisation(sol: CrossbarSolution, g: np.ndarray):
    """(g3 for the Jacobian: (1, M, N) or (B, M, N), dI/dG (B, M, N)) at the solution."""
    _, gd, didg = cell_response(sol.xbar, g, sol.v_cells, sol.word_lines)
    return (g[None] if is_linear(sol.xbar.cell) else gd), didg


def _check(sol, g):
    if not isinstance(sol, CrossbarSolution):
        raise ValueError(f"sol={type(sol).__name__} is invalid: must be a CrossbarSolution of the circuit")
    return check_conductance(sol.xbar, g)


def vjp(sol: CrossbarSolution, g, y_bar_cols=None, y_bar_rows=None, *, rtol: float = ADJOINT_RTOL) -> CircuitGradient:
    """Gradient of sum(y_bar_cols * i_cols) + sum(y_bar_rows * i_rows) at the solution ``sol`` of conductances
    ``g`` (S). y_bar_cols (B, N), y_bar_rows (B, M): cotangents of the terminal currents (default 0)."""
    g = _check(sol, g)
    xb, t = sol.xbar, sol.terminals
    nb_, m, n = sol.dev.shape[0], *xb.shape
    yc = np.zeros((nb_, n)) if y_bar_cols is None else V.array("y_bar_cols", y_bar_cols, (nb_, n))
    yr = np.zeros((nb_, m)) if y_bar_rows is None else V.array("y_bar_rows", y_bar_rows, (nb_, m))
    scale = max(np.abs(yc).max(initial=0.0), np.abs(yr).max(initial=0.0))
    if scale == 0:
        z = np.zeros
        return CircuitGradient(z((m, n)), z((nb_, m)), z((nb_, n)), 0.0, 0.0, z(m), z(n))
    g3, didg = _linearisation(sol, g)
    adj = Terminals(yr / scale, yc / scale, t.g_rows, t.g_cols, t.driven)
    lam = line_solve(xb, g3, adj, rtol)[0] * scale
    lam_r = lam[:, 0] + yr[:, :, None]  # absolute adjoint "voltages"
    lam_c = lam[:, 1] + yc[:, None, :]
    dev_r, dev_c = sol.dev[:, 0], sol.dev[:, 1]
    u_r, u_c = sol.v_row_nodes, sol.v_col_nodes
    d_gtr = (dev_r[:, :, 0] * (yr - lam_r[:, :, 0])).sum(axis=0)
    d_gtc = (dev_c[:, -1, :] * (yc - lam_c[:, -1, :])).sum(axis=0)
    d_gwr = -(np.diff(lam_r, axis=2) * np.diff(u_r, axis=2)).sum()
    d_gwc = -(np.diff(lam_c, axis=1) * np.diff(u_c, axis=1)).sum()
    return CircuitGradient(
        g=-((lam_r - lam_c) * didg).sum(axis=0),
        v_rows=t.g_rows * (lam_r[:, :, 0] - yr),
        v_cols=t.g_cols * (lam_c[:, -1, :] - yc),
        r_row_ohm=float(-d_gwr / xb.r_row_ohm ** 2), r_col_ohm=float(-d_gwc / xb.r_col_ohm ** 2),
        r_rows_ohm=-d_gtr * t.g_rows ** 2, r_cols_ohm=-d_gtc * t.g_cols ** 2)


def jvp(sol: CrossbarSolution, g, *, dg=None, dv_rows=None, dv_cols=None, dr_row_ohm: float = 0.0,
        dr_col_ohm: float = 0.0, dr_rows_ohm=None, dr_cols_ohm=None, rtol: float = ADJOINT_RTOL):
    """Directional derivative (di_cols (B, N), di_rows (B, M)) of the terminal currents at ``sol`` along the
    tangents dg (M, N) S, dv_rows (B, M) / dv_cols (B, N) V, dr_row_ohm / dr_col_ohm (wire segments) and
    dr_rows_ohm (M,) / dr_cols_ohm (N,) (terminal resistances of non-floating lines), Ohm."""
    g = _check(sol, g)
    xb, t = sol.xbar, sol.terminals
    nb_, m, n = sol.dev.shape[0], *xb.shape
    dg = np.zeros((m, n)) if dg is None else V.array("dg", dg, (m, n), unit="S")
    dvr = np.zeros((nb_, m)) if dv_rows is None else V.array("dv_rows", dv_rows, (nb_, m), unit="V")
    dvc = np.zeros((nb_, n)) if dv_cols is None else V.array("dv_cols", dv_cols, (nb_, n), unit="V")
    d_gtr = np.zeros(m) if dr_rows_ohm is None else -V.array("dr_rows_ohm", dr_rows_ohm, (m,)) * t.g_rows ** 2
    d_gtc = np.zeros(n) if dr_cols_ohm is None else -V.array("dr_cols_ohm", dr_cols_ohm, (n,)) * t.g_cols ** 2
    d_gwr = -V.finite("dr_row_ohm", dr_row_ohm, "Ohm") / xb.r_row_ohm ** 2
    d_gwc = -V.finite("dr_col_ohm", dr_col_ohm, "Ohm") / xb.r_col_ohm ** 2
    g3, didg = _linearisation(sol, g)
    dev_r, dev_c = sol.dev[:, 0], sol.dev[:, 1]
    b = np.zeros((nb_, 2, m, n))  # -dF/dtheta dtheta: current injections at every node
    di_cell = dg * didg
    b[:, 0] -= di_cell + d_gwr * _laplacian(dev_r, axis=2)
    b[:, 1] += di_cell
    b[:, 1] -= d_gwc * _laplacian(dev_c, axis=1)
    b[:, 0, :, 0] += t.g_rows * dvr - d_gtr * dev_r[:, :, 0]
    b[:, 1, -1, :] += t.g_cols * dvc - d_gtc * dev_c[:, -1, :]
    zero = Terminals(np.zeros((nb_, m)), np.zeros((nb_, n)), t.g_rows, t.g_cols, t.driven)
    scale = np.abs(b).max()
    du = line_solve(xb, g3, zero, rtol, b_extra=b / scale, by_cells=False)[0] * scale if scale > 0 else b
    di_cols = d_gtc * dev_c[:, -1, :] + t.g_cols * (du[:, 1, -1, :] - dvc)
    di_rows = d_gtr * dev_r[:, :, 0] + t.g_rows * (du[:, 0, :, 0] - dvr)
    return di_cols, di_rows


def _laplacian(x: np.ndarray, axis: int) -> np.ndarray:
    """sum over a node's wire neighbours along ``axis`` of (x_node - x_neighbour): the wire Laplacian per
    unit segment conductance."""
    d = np.diff(x, axis=axis)
    out = np.zeros_like(x)
    lo = [slice(None)] * x.ndim
    hi = [slice(None)] * x.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    out[tuple(lo)] -= d
    out[tuple(hi)] += d
    return out
