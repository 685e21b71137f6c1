"""A circuit's cells as the numba kernels see them, and their response at given cell voltages."""

from __future__ import annotations

import numpy as np

from xbarsim.circuits import Crossbar, is_linear
from xbarsim.circuits.cells import PolyCell, SelectorCell, SinhCell, TransistorCell

from . import _newton_kernels as NK


def check_word_lines(xbar: Crossbar, word_lines) -> np.ndarray | None:
    """(M,) booleans, True where a row's access transistors are on (1T1R); None = all on."""
    if word_lines is None:
        return None
    a = np.asarray(word_lines)
    if a.dtype != bool or a.shape != (xbar.rows,):
        raise ValueError(f"word_lines has shape {a.shape} and dtype {a.dtype}: expected ({xbar.rows},) booleans "
                         "(True = the row's access transistors are on)")
    return a.copy()


def cell_codes(xbar: Crossbar, word_lines=None):
    """(law, p, kind, q_rows) of the crossbar's cell for the kernels; q_rows (M, 2) per row (word lines)."""
    cell = xbar.cell
    if isinstance(cell, TransistorCell):
        on, off = cell.codes(True), cell.codes(False)
        wl = np.ones(xbar.rows, dtype=bool) if word_lines is None else word_lines
        q_rows = np.where(wl[:, None], on[3][None, :], off[3][None, :])
        return on[0], on[1], on[2], np.ascontiguousarray(q_rows)
    law, p, kind, q = cell.codes()
    return law, p, kind, np.ascontiguousarray(np.broadcast_to(q, (xbar.rows, 2)))


def voltage_scale(xbar: Crossbar) -> float:
    """The voltage over which the cell's I-V bends appreciably, V (inf for linear cells): Newton limits each
    step's change of any cell voltage to a few of these."""
    cell = xbar.cell
    dev = getattr(cell, "device", cell)
    scale = np.inf
    if isinstance(dev, SinhCell):
        scale = dev.v0_v
    elif isinstance(dev, PolyCell) and (dev.k2_per_v or dev.k3_per_v2):
        scale = 1.0 / (abs(dev.k2_per_v) + np.sqrt(dev.k3_per_v2))
    if isinstance(cell, SelectorCell):
        scale = min(scale, cell.v_sel_v)
    return float(scale)


def cell_response(xbar: Crossbar, g: np.ndarray, v_cell: np.ndarray, word_lines=None):
    """Cell currents (A), dI/dV (S) and dI/dG (V) at cell voltages v_cell (B, M, N) (row node - column node)."""
    if is_linear(xbar.cell):
        gd = np.broadcast_to(g, v_cell.shape)
        return gd * v_cell, gd, v_cell
    law, p, kind, q_rows = cell_codes(xbar, word_lines)
    v_cell = np.ascontiguousarray(v_cell, dtype=np.float64)
    cur, gd, didg = (np.empty_like(v_cell) for _ in range(3))
    NK.linearise(np.ascontiguousarray(g), law, p, kind, q_rows, v_cell, cur, gd, didg)
    return cur, gd, didg
