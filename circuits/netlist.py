"""A crossbar, its conductance state and one set of terminal voltages as a SPICE netlist (ngspice dialect).

The netlist is meant for a person as much as for :mod:`xbarsim.solvers.ngspice`: ``ngspice -b -r out.raw
file.cir`` runs it by hand. Rules (each one learned from measuring ngspice):

- numbers are written with ``repr(float)``, which round-trips every float64 exactly;
- each crosspoint's cell and its row and column wire segments are written together, row by row (ngspice's
  SPARSE 1.3 ordering is about 3x slower when all rows, then all columns, then all cells are grouped);
- every netlist carries ``.options reltol=1e-9 abstol=1e-15 vntol=1e-12 klu`` (ngspice 39 ignores ``klu``;
  builds with KLU use it);
- terminal currents are measured through 0 V sources (ammeters);
- all names are lower case (ngspice lower-cases vector names);
- no resistance is ever zero (ngspice silently replaces R=0 by 1 mOhm): such input is refused.

Names (forward orientation, see :class:`xbarsim.circuits.Crossbar`): row-wire node ``r{i}_{j}``, column-wire
node ``c{i}_{j}``; cell resistor ``rx{i}_{j}``; row segment ``rr{i}_{j}`` (r[i,j]-r[i,j+1]); column segment
``rc{i}_{j}`` (c[i,j]-c[i+1,j]). Row i's terminal: resistor ``rtr{i}`` from r[i,0] to ``ar{i}``, ammeter
``var{i}`` (0 V) from ``ar{i}`` to ``tr{i}``, source ``vtr{i}`` from ``tr{i}`` to ground. Column j likewise
with ``rtc{j}``, ``ac{j}``, ``vac{j}``, ``tc{j}``, ``vtc{j}``, attached at c[M-1,j]. The ammeter current (from
its + node through the source) is the current from the array into the terminal, the sign convention of
:class:`xbarsim.solvers.CrossbarSolution`.
"""

from __future__ import annotations

import math

import numpy as np

from xbarsim.devices import _validate as V

from .crossbar import Crossbar

DRIVEN = ("rows", "cols")
OPTIONS_LINE = ".options reltol=1e-9 abstol=1e-15 vntol=1e-12 klu"


def row_node(i: int, j: int) -> str:
    """Name of the row-wire node at crosspoint (i, j)."""
    return f"r{i}_{j}"


def col_node(i: int, j: int) -> str:
    """Name of the column-wire node at crosspoint (i, j)."""
    return f"c{i}_{j}"


def row_ammeter(i: int) -> str:
    """Name of the 0 V source measuring row i's terminal current (A, array -> terminal)."""
    return f"var{i}"


def col_ammeter(j: int) -> str:
    """Name of the 0 V source measuring column j's terminal current (A, array -> terminal)."""
    return f"vac{j}"


def spice_number(name: str, value) -> str:
    """``value`` as an exact SPICE number (``repr`` of the float64); refuses non-finite values."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r} is invalid: a netlist number must be finite")
    return repr(v)


def spice_resistance(name: str, value_ohm) -> str:
    """A resistance in Ohm as an exact SPICE number; refuses zero, negative and non-finite values.

    ngspice would silently replace R=0 by 1 mOhm, so a zero resistance never reaches a netlist.
    """
    v = float(value_ohm)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}={value_ohm!r} is invalid: a netlist resistance must be a finite number > 0 Ohm "
                         "(ngspice replaces 0 Ohm by 1 mOhm; merge the nodes instead)")
    return repr(v)


def terminal_resistances(xbar: Crossbar, driven: str) -> tuple[float, float]:
    """(row terminal, column terminal) resistance in Ohm: driver on the driven lines, sense on the others."""
    V.choice("driven", driven, DRIVEN)
    if driven == "rows":
        return xbar.r_driver_ohm, xbar.r_sense_ohm
    return xbar.r_sense_ohm, xbar.r_driver_ohm


def crossbar_netlist(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", title: str | None = None) -> str:
    """One operating point of ``xbar`` as an ngspice netlist (text ending in ``.end``).

    Args:
        xbar: the circuit.
        g: (rows, cols) cell conductances, S (finite, > 0).
        v_rows: (rows,) row terminal voltages, V.
        v_cols: (cols,) column terminal voltages, V.
        driven: "rows" (forward read: row drivers behind r_driver_ohm, column sense behind r_sense_ohm) or
            "cols" (transposed read).
        title: first line of the netlist (default names the array); must be one line.
    """
    m, n = xbar.shape
    g = V.array("conductance", g, xbar.shape, positive_values=True, unit="S")
    v_rows = V.array("v_rows", v_rows, (m,), unit="V")
    v_cols = V.array("v_cols", v_cols, (n,), unit="V")
    r_term_rows, r_term_cols = terminal_resistances(xbar, driven)
    if title is None:
        title = f"xbarsim crossbar {m}x{n} driven={driven}"
    if "\n" in title or "\r" in title:
        raise ValueError(f"title={title!r} is invalid: must be a single line")
    with np.errstate(divide="ignore", over="ignore"):
        r_cell = 1.0 / g
    s_row = spice_resistance("r_row_ohm", xbar.r_row_ohm)
    s_col = spice_resistance("r_col_ohm", xbar.r_col_ohm)
    lines = [
        title,
        f"* rows={m} cols={n} r_row_ohm={s_row} r_col_ohm={s_col} r_driver_ohm={xbar.r_driver_ohm!r} "
        f"r_sense_ohm={xbar.r_sense_ohm!r} cell={xbar.cell.name} driven={driven}",
        "* written by xbarsim.circuits.netlist; run by hand with: ngspice -b -r out.raw <this file>",
        OPTIONS_LINE,
    ]
    lines += _terminal_lines("r", m, [row_node(i, 0) for i in range(m)],
                             spice_resistance("row terminal resistance", r_term_rows), v_rows)
    lines += _terminal_lines("c", n, [col_node(m - 1, j) for j in range(n)],
                             spice_resistance("column terminal resistance", r_term_cols), v_cols)
    lines.append("* crosspoints row by row: cell, row segment to the right, column segment downwards")
    for i in range(m):
        for j in range(n):
            lines.append(f"rx{i}_{j} r{i}_{j} c{i}_{j} {_cell_resistance(i, j, g, r_cell)}")
            if j < n - 1:
                lines.append(f"rr{i}_{j} r{i}_{j} r{i}_{j + 1} {s_row}")
            if i < m - 1:
                lines.append(f"rc{i}_{j} c{i}_{j} c{i + 1}_{j} {s_col}")
    lines += [".op", ".end", ""]
    return "\n".join(lines)


def crossbar_netlists(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows") -> list[str]:
    """One netlist per batch vector: ``v_rows`` (B, rows) and ``v_cols`` (B, cols) in V; see
    :func:`crossbar_netlist`."""
    m, n = xbar.shape
    v_rows = V.array("v_rows", np.atleast_2d(np.asarray(v_rows, dtype=np.float64)), (None, m), unit="V")
    v_cols = V.array("v_cols", np.atleast_2d(np.asarray(v_cols, dtype=np.float64)), (None, n), unit="V")
    if v_rows.shape[0] != v_cols.shape[0]:
        raise ValueError(
            f"v_rows has batch {v_rows.shape[0]} but v_cols has batch {v_cols.shape[0]}: they must agree")
    b = v_rows.shape[0]
    return [crossbar_netlist(xbar, g, v_rows[k], v_cols[k], driven=driven,
                             title=f"xbarsim crossbar {m}x{n} driven={driven} vector {k} of {b}")
            for k in range(b)]


def _terminal_lines(kind: str, count: int, attach: list[str], r_term: str, volts: np.ndarray) -> list[str]:
    """Each line's terminal: resistor, 0 V ammeter, voltage source (``kind`` "r" for rows, "c" for columns)."""
    word, param = ("row", "v_rows") if kind == "r" else ("column", "v_cols")
    out = [f"* {word} terminals: resistor, 0 V ammeter (array -> terminal current), source"]
    for k in range(count):
        out += [
            f"rt{kind}{k} {attach[k]} a{kind}{k} {r_term}",
            f"va{kind}{k} a{kind}{k} t{kind}{k} dc 0",
            f"vt{kind}{k} t{kind}{k} 0 dc {spice_number(f'{param}[{k}]', volts[k])}",
        ]
    return out


def _cell_resistance(i: int, j: int, g: np.ndarray, r_cell: np.ndarray) -> str:
    return spice_resistance(f"1/conductance[{i}, {j}] (conductance={float(g[i, j])!r} S)", r_cell[i, j])
