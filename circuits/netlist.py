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
- no resistance is ever zero (ngspice silently replaces R=0 by 1 mOhm): such input is refused;
- nonlinear cells are behavioural current sources (``b`` elements) with the cell's I-V written out, a series
  element (1S1R selector, 1T1R transistor) through an internal node ``m{i}_{j}``.

Names (forward orientation, see :class:`xbarsim.circuits.Crossbar`): row-wire node ``r{i}_{j}``, column-wire
node ``c{i}_{j}``; cell resistor ``rx{i}_{j}``; row segment ``rr{i}_{j}`` (r[i,j]-r[i,j+1]); column segment
``rc{i}_{j}`` (c[i,j]-c[i+1,j]). Row i's terminal: resistor ``rtr{i}`` from r[i,0] to ``ar{i}``, ammeter
``var{i}`` (0 V) from ``ar{i}`` to ``tr{i}``, source ``vtr{i}`` from ``tr{i}`` to ground. Column j likewise
with ``rtc{j}``, ``ac{j}``, ``vac{j}``, ``tc{j}``, ``vtc{j}``, attached at c[M-1,j]. A floating line (terminal
resistance inf) has no terminal elements. A nonlinear device is ``bx{i}_{j}``, a selector ``bs{i}_{j}``, an
access transistor ``rs{i}_{j}``. The ammeter current (from
its + node through the source) is the current from the array into the terminal, the sign convention of
:class:`xbarsim.solvers.CrossbarSolution`.
"""

from __future__ import annotations

import math

import numpy as np

from xbarsim.devices import _validate as V

from .cells import ECRAMCell, LinearCell, PolyCell, SelectorCell, SinhCell, TransistorCell
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


def crossbar_netlist(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", title: str | None = None,
                     r_rows_ohm=None, r_cols_ohm=None, word_lines=None) -> str:
    """One operating point of ``xbar`` as an ngspice netlist (text ending in ``.end``).

    Args:
        xbar: the circuit.
        g: (rows, cols) cell conductances, S (finite, > 0).
        v_rows: (rows,) row terminal voltages, V.
        v_cols: (cols,) column terminal voltages, V.
        driven: "rows" (forward read: row drivers behind r_driver_ohm, column sense behind r_sense_ohm) or
            "cols" (transposed read).
        title: first line of the netlist (default names the array); must be one line.
        r_rows_ohm, r_cols_ohm: per-line terminal resistances (M,) / (N,), Ohm, overriding driver and sense
            (bias schemes); inf = a floating line (no terminal).
        word_lines: (rows,) booleans, 1T1R access transistors on (default all on).
    """
    m, n = xbar.shape
    g = V.array("conductance", g, xbar.shape, positive_values=True, unit="S")
    v_rows = V.array("v_rows", v_rows, (m,), unit="V")
    v_cols = V.array("v_cols", v_cols, (n,), unit="V")
    r_term_rows, r_term_cols = terminal_resistances(xbar, driven)
    r_term_rows = np.broadcast_to(r_term_rows if r_rows_ohm is None else np.asarray(r_rows_ohm, float), (m,))
    r_term_cols = np.broadcast_to(r_term_cols if r_cols_ohm is None else np.asarray(r_cols_ohm, float), (n,))
    wl = np.ones(m, dtype=bool) if word_lines is None else np.asarray(word_lines, dtype=bool)
    if title is None:
        title = f"xbarsim crossbar {m}x{n} driven={driven}"
    if "\n" in title or "\r" in title:
        raise ValueError(f"title={title!r} is invalid: must be a single line")
    s_row = spice_resistance("r_row_ohm", xbar.r_row_ohm)
    s_col = spice_resistance("r_col_ohm", xbar.r_col_ohm)
    lines = [
        title,
        f"* rows={m} cols={n} r_row_ohm={s_row} r_col_ohm={s_col} r_driver_ohm={xbar.r_driver_ohm!r} "
        f"r_sense_ohm={xbar.r_sense_ohm!r} cell={xbar.cell.name} driven={driven}",
        "* written by xbarsim.circuits.netlist; run by hand with: ngspice -b -r out.raw <this file>",
        OPTIONS_LINE,
    ]
    lines += _terminal_lines("r", [row_node(i, 0) for i in range(m)], r_term_rows, v_rows)
    lines += _terminal_lines("c", [col_node(m - 1, j) for j in range(n)], r_term_cols, v_cols)
    lines.append("* crosspoints row by row: cell, row segment to the right, column segment downwards")
    for i in range(m):
        for j in range(n):
            lines += _cell_lines(xbar.cell, i, j, g, bool(wl[i]))
            if j < n - 1:
                lines.append(f"rr{i}_{j} r{i}_{j} r{i}_{j + 1} {s_row}")
            if i < m - 1:
                lines.append(f"rc{i}_{j} c{i}_{j} c{i + 1}_{j} {s_col}")
    lines += [".op", ".end", ""]
    return "\n".join(lines)


def crossbar_netlists(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", **kw) -> list[str]:
    """One netlist per batch vector: ``v_rows`` (B, rows) and ``v_cols`` (B, cols) in V; other arguments as
    for :func:`crossbar_netlist`."""
    m, n = xbar.shape
    v_rows = V.array("v_rows", np.atleast_2d(np.asarray(v_rows, dtype=np.float64)), (None, m), unit="V")
    v_cols = V.array("v_cols", np.atleast_2d(np.asarray(v_cols, dtype=np.float64)), (None, n), unit="V")
    if v_rows.shape[0] != v_cols.shape[0]:
        raise ValueError(
            f"v_rows has batch {v_rows.shape[0]} but v_cols has batch {v_cols.shape[0]}: they must agree")
    b = v_rows.shape[0]
    return [crossbar_netlist(xbar, g, v_rows[k], v_cols[k], driven=driven,
                             title=f"xbarsim crossbar {m}x{n} driven={driven} vector {k} of {b}", **kw)
            for k in range(b)]


def _terminal_lines(kind: str, attach: list[str], r_term: np.ndarray, volts: np.ndarray) -> list[str]:
    """Each line's terminal: resistor, 0 V ammeter, voltage source (``kind`` "r" for rows, "c" for columns);
    none for a floating line (r_term inf)."""
    word, param = ("row", "v_rows") if kind == "r" else ("column", "v_cols")
    out = [f"* {word} terminals: resistor, 0 V ammeter (array -> terminal current), source"]
    for k, node in enumerate(attach):
        if np.isinf(r_term[k]) and r_term[k] > 0:
            out.append(f"* {word} {k} floats")
            continue
        out += [
            f"rt{kind}{k} {node} a{kind}{k} {spice_resistance(f'{word} {k} terminal resistance', r_term[k])}",
            f"va{kind}{k} a{kind}{k} t{kind}{k} dc 0",
            f"vt{kind}{k} t{kind}{k} 0 dc {spice_number(f'{param}[{k}]', volts[k])}",
        ]
    return out


def _cell_lines(cell, i: int, j: int, g: np.ndarray, word_line_on: bool) -> list[str]:
    """The elements of cell (i, j) between r{i}_{j} and c{i}_{j}: its device and any series element."""
    gij = float(g[i, j])
    r, c = row_node(i, j), col_node(i, j)
    if isinstance(cell, (SelectorCell, TransistorCell)):
        mid = f"m{i}_{j}"
        if isinstance(cell, SelectorCell):
            series = (f"bs{i}_{j} {mid} {c} i={spice_number('i0_a', cell.i0_a)}"
                      f"*sinh(v({mid},{c})/{spice_number('v_sel_v', cell.v_sel_v)})")
        else:
            r_ser = cell.r_on_ohm if word_line_on else cell.r_off_ohm
            series = f"rs{i}_{j} {mid} {c} {spice_resistance('transistor resistance', r_ser)}"
        return [_device_line(cell.device, i, j, r, mid, gij), series]
    return [_device_line(cell, i, j, r, c, gij)]


def _device_line(dev, i: int, j: int, a: str, b: str, gij: float) -> str:
    """A device of conductance gij (S) from node a to node b: a resistor if linear, else a b-source I(V)."""
    if isinstance(dev, SinhCell):
        v0 = spice_number("v0_v", dev.v0_v)
        return f"bx{i}_{j} {a} {b} i={gij!r}*{v0}*sinh(v({a},{b})/{v0})"
    if isinstance(dev, PolyCell):
        v = f"v({a},{b})"
        return (f"bx{i}_{j} {a} {b} i={gij!r}*({v}+{spice_number('k2_per_v', dev.k2_per_v)}*{v}*{v}"
                f"+{spice_number('k3_per_v2', dev.k3_per_v2)}*{v}*{v}*{v})")
    if not isinstance(dev, (LinearCell, ECRAMCell)):
        raise ValueError(f"cell={dev!r} has no netlist form")
    return f"rx{i}_{j} {a} {b} {spice_resistance(f'1/conductance[{i}, {j}] (conductance={gij!r} S)', 1.0 / gij)}"
