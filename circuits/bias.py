"""Line bias schemes for reads and writes: which lines are driven, at which voltage, and which float.

A scheme selects rows and columns (the selected cell's row and column in a read; the fired lines of a time
slot in a write) and sets every line's terminal voltage and terminal resistance. Unselected lines are

- ``floating``: no terminal at all (r = inf): the passive array's sneak paths are free;
- ``grounded``: held at 0 V through the driver (the usual choice with access transistors);
- ``v2``: held at V/2 (half-select: every unselected cell on a selected line sees V/2, the rest 0 V);
- ``v3``: unselected rows at V/3 and unselected columns at 2V/3 (every unselected cell sees +-V/3).

Selected rows are driven at ``v`` and selected columns at 0 V (a read senses the selected columns at
virtual ground through r_sense). Writes (:func:`write_voltages`) put +-v_write across the cells where fired rows
and fired columns cross, by the V/2 or the V/3 scheme, every line driven through r_driver. Voltages in V,
resistances in Ohm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.devices import _validate as V

from .crossbar import V_MAX_V, Crossbar

SCHEMES = ("floating", "grounded", "v2", "v3")
WRITE_SCHEMES = ("v2", "v3")


@dataclass(frozen=True, eq=False)
class LineBias:
    """Terminal voltages (V) and resistances (Ohm, inf = floating) of every line for one solve."""

    v_rows: np.ndarray  # (M,)
    v_cols: np.ndarray  # (N,)
    r_rows_ohm: np.ndarray  # (M,)
    r_cols_ohm: np.ndarray  # (N,)

    def solve_args(self) -> dict:
        """Keyword arguments of :func:`xbarsim.solvers.solve_circuit` for this bias."""
        return {"v_rows": self.v_rows, "v_cols": self.v_cols, "r_rows_ohm": self.r_rows_ohm,
                "r_cols_ohm": self.r_cols_ohm}


def _mask(name, sel, size) -> np.ndarray:
    """A boolean line mask from indices or a boolean array."""
    a = np.asarray(sel)
    if a.dtype == bool:
        if a.shape != (size,):
            raise ValueError(f"{name} has shape {a.shape}: expected ({size},) booleans or line indices")
        return a.copy()
    a = np.atleast_1d(a)
    if not np.issubdtype(a.dtype, np.integer) or a.ndim != 1 or (a.size and (a.min() < 0 or a.max() >= size)):
        raise ValueError(f"{name}={sel!r} is invalid: must be line indices in [0, {size - 1}] or ({size},) booleans")
    m = np.zeros(size, dtype=bool)
    m[a] = True
    return m


def read_bias(xbar: Crossbar, rows, cols, scheme: str, v_read_v: float | None = None) -> LineBias:
    """Bias for reading the cells at the crossings of ``rows`` and ``cols`` (indices or masks).

    Selected rows are driven at v_read (default xbar.v_read_v) behind r_driver; selected columns sensed at
    0 V behind r_sense; unselected lines as ``scheme`` says (driven behind r_driver).
    """
    V.choice("scheme", scheme, SCHEMES)
    v = xbar.v_read_v if v_read_v is None else V.in_range("v_read_v", v_read_v, -V_MAX_V, V_MAX_V, "V")
    sr, sc = _mask("rows", rows, xbar.rows), _mask("cols", cols, xbar.cols)
    if not (sr.any() and sc.any()):
        raise ValueError("rows and cols must each select at least one line")
    un_r, un_c = {"floating": (0.0, 0.0), "grounded": (0.0, 0.0), "v2": (v / 2, v / 2),
                  "v3": (v / 3, 2 * v / 3)}[scheme]
    r_un = np.inf if scheme == "floating" else xbar.r_driver_ohm
    return LineBias(
        v_rows=np.where(sr, v, un_r), v_cols=np.where(sc, 0.0, un_c),
        r_rows_ohm=np.where(sr, xbar.r_driver_ohm, r_un), r_cols_ohm=np.where(sc, xbar.r_sense_ohm, r_un))


def write_voltages(rows, cols, polarity, scheme: str, v_write_v: float):
    """Terminal voltages (B, M), (B, N) of B write slots.

    rows (B, M), cols (B, N): booleans, the lines that fire in each slot; polarity (B,): +1 puts +v_write on
    the cells at their crossings (an up pulse), -1 puts -v_write (down).
    ``v2``: fired rows at +p V/2, fired columns at -p V/2, all other lines at 0 V: a cell on one fired line
    sees p V/2 (half-selected), the rest 0 V.
    ``v3``: fired rows at p V, fired columns at 0 V, other rows at p V/3, other columns at p 2V/3: every cell
    that is not selected sees +-V/3.
    """
    V.choice("scheme", scheme, WRITE_SCHEMES)
    v = V.positive("v_write_v", v_write_v, "V", 0.0, V_MAX_V)
    rows, cols, p = np.asarray(rows), np.asarray(cols), np.asarray(polarity)
    for name, a in (("rows", rows), ("cols", cols)):
        if a.dtype != bool or a.ndim != 2:
            raise ValueError(f"{name} has shape {a.shape} and dtype {a.dtype}: expected (slots, lines) booleans")
    if not (p.shape == (rows.shape[0],) == (cols.shape[0],)) or not np.all(np.isin(p, (-1, 1))):
        raise ValueError(f"polarity must be one +1 or -1 per slot: got shape {p.shape} for {rows.shape[0]} row and "
                         f"{cols.shape[0]} column slots")
    p = p.astype(np.float64)[:, None]
    if scheme == "v2":
        return np.where(rows, p * v / 2, 0.0), np.where(cols, -p * v / 2, 0.0)
    return np.where(rows, p * v, p * v / 3), np.where(cols, 0.0, p * 2 * v / 3)
