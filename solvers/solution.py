"""The result of a crossbar solve, and the checks any solver's result must pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.circuits import R_MAX_OHM, R_MIN_OHM, V_MAX_V, Crossbar
from xbarsim.devices import _validate as V

from .cellmodel import cell_response

DRIVEN = ("rows", "cols")


class NonConvergence(RuntimeError):
    """A solver did not reach its tolerance. Carries the diagnostics; never a silent wrong answer."""

    def __init__(self, message: str, *, iterations: int, residual: float, worst_node=None):
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual
        self.worst_node = worst_node


@dataclass(frozen=True, eq=False)
class Terminals:
    """Terminal voltages (V) and conductances (S) of one solve; rows at column 0, columns at row M-1.

    ``driven="rows"`` is the forward read (row drivers behind r_driver, column sense amplifiers behind
    r_sense); ``driven="cols"`` the transposed read. ``r_rows_ohm`` (M,) / ``r_cols_ohm`` (N,) override the
    terminal resistance line by line (bias schemes): ``np.inf`` leaves that line floating (no terminal; its
    voltage entry is then only the reference its node voltages are measured from).
    """

    v_rows: np.ndarray  # (B, M)
    v_cols: np.ndarray  # (B, N)
    g_rows: np.ndarray  # (M,) terminal conductance of each row line, S (0 = floating)
    g_cols: np.ndarray  # (N,)
    driven: str

    @classmethod
    def build(cls, xbar: Crossbar, v_rows, v_cols, driven: str, r_rows_ohm=None, r_cols_ohm=None) -> "Terminals":
        V.choice("driven", driven, DRIVEN)
        m, n = xbar.shape
        v_rows = _batch("v_rows", v_rows, m)
        v_cols = _batch("v_cols", v_cols, n)
        if v_rows.shape[0] != v_cols.shape[0]:
            raise ValueError(
                f"v_rows has batch {v_rows.shape[0]} but v_cols has batch {v_cols.shape[0]}: they must agree")
        if v_rows.shape[0] == 0:
            raise ValueError("v_rows and v_cols have batch 0: at least one input vector is needed")
        r_rows, r_cols = ((xbar.r_driver_ohm, xbar.r_sense_ohm) if driven == "rows"
                          else (xbar.r_sense_ohm, xbar.r_driver_ohm))
        g_rows = _line_conductance("r_rows_ohm", r_rows if r_rows_ohm is None else r_rows_ohm, m)
        g_cols = _line_conductance("r_cols_ohm", r_cols if r_cols_ohm is None else r_cols_ohm, n)
        if not (g_rows.any() or g_cols.any()):
            raise ValueError("r_rows_ohm and r_cols_ohm are all inf: every line floats; at least one line "
                             "needs a terminal (a finite resistance) for the node voltages to be defined")
        return cls(v_rows, v_cols, g_rows, g_cols, driven)

    @property
    def floating_rows(self) -> np.ndarray:
        return self.g_rows == 0

    @property
    def floating_cols(self) -> np.ndarray:
        return self.g_cols == 0


def _line_conductance(name, r, size) -> np.ndarray:
    """Per-line terminal resistance (scalar or (size,), Ohm, in [1e-9, 1e12] or inf) as conductances (S)."""
    r = np.broadcast_to(np.asarray(r, dtype=float), (size,)) if np.ndim(r) == 0 else r
    r = V.array(name, r, (size,), unit="Ohm", allow_inf=True)
    bad = ~np.isinf(r) & ((r < R_MIN_OHM) | (r > R_MAX_OHM)) | (r < 0)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{name}[{k}]={float(r[k])!r} Ohm is invalid: each terminal resistance must be in "
                         f"[{R_MIN_OHM:g}, {R_MAX_OHM:g}] Ohm, or inf for a floating line")
    return np.where(np.isinf(r), 0.0, 1.0 / r)


def _batch(name, v, size):
    a = np.asarray(v)
    if a.ndim == 1:
        a = a[None, :]
    return V.array(name, a, (None, size), unit="V", max_abs=V_MAX_V)


@dataclass(frozen=True, eq=False)
class CrossbarSolution:
    """Node voltages and terminal currents of a batch of solves (SI units).

    ``dev`` holds each node's deviation from its own line's terminal voltage, shape (B, 2, M, N): plane 0 the
    row-wire nodes, plane 1 the column-wire nodes. Deviations stay accurate when wires are nearly ideal.
    """

    xbar: Crossbar
    terminals: Terminals
    dev: np.ndarray
    iterations: np.ndarray  # (B,) conjugate-gradient iterations (linear cells) or Newton iterations
    rel_residual: np.ndarray  # (B,) final ||KCL residual|| / ||cell currents|| (above rtol only where the solve was
    #                           accepted at the float64 rounding floor: almost no current flows, e.g. all rows float)
    word_lines: np.ndarray | None = None  # (M,) 1T1R word lines (None: all on)
    linear_iterations: np.ndarray | None = None  # (B,) conjugate-gradient iterations of all Newton steps

    @property
    def v_cells(self) -> np.ndarray:
        """(B, M, N) voltage across each cell, row node minus column node, V."""
        t = self.terminals
        return self.dev[:, 0] - self.dev[:, 1] + (t.v_rows[:, :, None] - t.v_cols[:, None, :])

    @property
    def i_cols(self) -> np.ndarray:
        """(B, N) current from the array into each column terminal, A (forward read: the outputs)."""
        return self.dev[:, 1, -1, :] * self.terminals.g_cols

    @property
    def i_rows(self) -> np.ndarray:
        """(B, M) current from the array into each row terminal, A (transposed read: the outputs)."""
        return self.dev[:, 0, :, 0] * self.terminals.g_rows

    @property
    def v_row_nodes(self) -> np.ndarray:
        """(B, M, N) voltage of the row-wire node at each crosspoint, V."""
        return self.dev[:, 0] + self.terminals.v_rows[:, :, None]

    @property
    def v_col_nodes(self) -> np.ndarray:
        """(B, M, N) voltage of the column-wire node at each crosspoint, V."""
        return self.dev[:, 1] + self.terminals.v_cols[:, None, :]


def branch_currents(xbar: Crossbar, g: np.ndarray, sol: CrossbarSolution) -> dict:
    """Every branch current (A) from the absolute node voltages: cells, wire segments, terminals."""
    vr, vc = sol.v_row_nodes, sol.v_col_nodes
    t = sol.terminals
    return {
        "cell": cell_response(xbar, g, vr - vc, getattr(sol, "word_lines", None))[0],  # row node -> column node
        "row_wire": (vr[:, :, :-1] - vr[:, :, 1:]) / xbar.r_row_ohm,  # node j -> j+1
        "col_wire": (vc[:, :-1, :] - vc[:, 1:, :]) / xbar.r_col_ohm,  # node i -> i+1
        "row_terminal": (vr[:, :, 0] - t.v_rows) * t.g_rows,  # node -> terminal
        "col_terminal": (vc[:, -1, :] - t.v_cols) * t.g_cols,
    }


def kcl_residual(xbar: Crossbar, g: np.ndarray, sol: CrossbarSolution) -> np.ndarray:
    """Kirchhoff's current law at every node, relative to the largest branch current of the solve.

    Returns (B,) max over nodes of |sum of currents leaving the node| / max |branch current|.
    """
    br = branch_currents(xbar, g, sol)
    out_r = br["cell"].copy()
    out_r[:, :, :-1] += br["row_wire"]
    out_r[:, :, 1:] -= br["row_wire"]
    out_r[:, :, 0] += br["row_terminal"]
    out_c = -br["cell"]
    out_c[:, :-1, :] += br["col_wire"]
    out_c[:, 1:, :] -= br["col_wire"]
    out_c[:, -1, :] += br["col_terminal"]
    worst = np.maximum(np.abs(out_r).max(axis=(1, 2)), np.abs(out_c).max(axis=(1, 2)))
    scale = np.max([np.abs(v).reshape(v.shape[0], -1).max(axis=1) for v in br.values() if v.size], axis=0)
    return worst / np.where(scale > 0, scale, 1.0)
