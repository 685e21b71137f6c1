"""Sneak paths in passive arrays: the read margin of one cell against array size, bias scheme and cell type.

    xbarsim sneak --size 8..512 --scheme floating,v2,v3 --cell sinh,1s1r,1t1r [--device reram-hfo2] [--out FILE.nc]

The selected cell is the one farthest from both terminals (row 0, column N-1: the longest wire path), in the
worst case for sneak paths: every other cell ON (G = the device's g_max). The selected cell is read ON
(g_max) and OFF (g_min); its column is sensed at virtual ground through r_sense. Reported per size:
column currents I_on and I_off (A), read margin (I_on - I_off) / I_on (1; 1 - g_min/g_max for an ideal
isolated cell), sneak current (column current not through the selected cell, A) and the power drawn from
all sources (W), both for the ON read. The cells' I-V comes from the device's read I-V (``iv_model``),
alone (passive 0T1R), in series with a selector (1S1R), or behind an access transistor (1T1R: only the
selected row's word line is on).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import xarray as xr

from xbarsim.circuits import Crossbar
from xbarsim.circuits.bias import SCHEMES, read_bias
from xbarsim.circuits.cells import CELLS, SelectorCell, TransistorCell, device_cell
from xbarsim.devices import _validate as V

STUDY_CELLS = ("linear", "sinh", "poly", "1s1r", "1t1r")


def study_cell(name: str, device):
    """The cell of the study named ``name`` with ``device``'s read I-V (``linear``/``sinh``/``poly``
    override the device's own law with the default parameters of that law)."""
    V.choice("cell", name, STUDY_CELLS)
    if name == "1s1r":
        return SelectorCell(device=device_cell(device))
    if name == "1t1r":
        return TransistorCell(device=device_cell(device))
    if name == device.iv_model:
        return device_cell(device)
    return CELLS[name]()


def read_point(xbar: Crossbar, g_on: float, g_off: float, scheme: str, v_read_v: float) -> dict:
    """Read the far cell of a worst-case array (all other cells at g_on) ON and OFF; see the module doc."""
    from xbarsim.solvers import solve_circuit
    from xbarsim.solvers.cellmodel import cell_response

    m, n = xbar.shape
    row, col = 0, n - 1
    bias = read_bias(xbar, [row], [col], scheme, v_read_v)
    kw = bias.solve_args()
    if isinstance(xbar.cell, TransistorCell):
        kw["word_lines"] = np.arange(m) == row  # only the selected row's access transistors conduct
    out = {}
    for state, g_sel in (("on", g_on), ("off", g_off)):
        g = np.full(xbar.shape, g_on)
        g[row, col] = g_sel
        sol = solve_circuit(xbar, g, **kw)
        out[f"i_{state}_a"] = float(sol.i_cols[0, col])
        if state == "on":
            i_cell = float(cell_response(xbar, g, sol.v_cells, sol.word_lines)[0][0, row, col])
            out["sneak_current_a"] = out["i_on_a"] - i_cell
            out["power_w"] = _source_power(sol)
    out["read_margin"] = (out["i_on_a"] - out["i_off_a"]) / out["i_on_a"]
    return out


def _source_power(sol) -> float:
    """Power delivered by all terminal sources of batch column 0, W."""
    t = sol.terminals
    i_from_rows = -sol.dev[0, 0, :, 0] * t.g_rows  # source -> array
    i_from_cols = -sol.dev[0, 1, -1, :] * t.g_cols
    return float(t.v_rows[0] @ i_from_rows + t.v_cols[0] @ i_from_cols)


NAMES = ("i_on_a", "i_off_a", "read_margin", "sneak_current_a", "power_w")
UNITS = {"i_on_a": "A", "i_off_a": "A", "read_margin": "1", "sneak_current_a": "A", "power_w": "W"}


def sneak_study(sizes, schemes, cells, *, device="reram-hfo2", r_wire_ohm: float = 1.0, v_read_v: float = 1.0,
                progress=None) -> xr.Dataset:
    """The read-margin study over (cell, scheme, size) as an xarray Dataset with units."""
    from xbarsim.devices import load_device

    dev = load_device(device)
    sizes = [V.positive_int("size", s, hi=4096) for s in sizes]
    for s in schemes:
        V.choice("scheme", s, SCHEMES)
    cell_objs = [study_cell(c, dev) for c in cells]
    base = Crossbar(2, 2, r_row_ohm=r_wire_ohm, r_col_ohm=r_wire_ohm)
    v_read_v = V.positive("v_read_v", v_read_v, "V", 0.0, 100.0)
    data = {k: np.full((len(cells), len(schemes), len(sizes)), np.nan) for k in NAMES}
    for a, cell in enumerate(cell_objs):
        for b, scheme in enumerate(schemes):
            for c, size in enumerate(sizes):
                t0 = time.perf_counter()
                res = read_point(replace(base, rows=size, cols=size, cell=cell), dev.g_max_s, dev.g_min_s, scheme,
                                 v_read_v)
                for k, v in res.items():
                    data[k][a, b, c] = v
                if progress:
                    progress(f"  {cells[a]:>6} {scheme:>8} {size:>5}: margin {res['read_margin']:.3f} "
                             f"({time.perf_counter() - t0:.1f} s)")
    return xr.Dataset(
        {k: (("cell", "scheme", "size"), v, {"units": UNITS[k]}) for k, v in data.items()},
        coords={"cell": list(cells), "scheme": list(schemes), "size": sizes},
        attrs={"device": dev.name, "g_on_s": dev.g_max_s, "g_off_s": dev.g_min_s, "r_wire_ohm": r_wire_ohm,
               "r_driver_ohm": base.r_driver_ohm, "r_sense_ohm": base.r_sense_ohm, "v_read_v": v_read_v,
               "selected_cell": "row 0, column N-1 (farthest from both terminals); all other cells at g_on",
               "read_margin": "(I_on - I_off) / I_on of the selected column"})


def table_rows(ds: xr.Dataset) -> list:
    rows = []
    for cell in ds["cell"].values:
        for scheme in ds["scheme"].values:
            for size in ds["size"].values:
                d = ds.sel(cell=cell, scheme=scheme, size=size)
                rows.append([cell, scheme, int(size), f"{float(d.i_on_a):.3e}", f"{float(d.i_off_a):.3e}",
                             f"{float(d.read_margin):.4f}", f"{float(d.sneak_current_a):.3e}",
                             f"{float(d.power_w):.3e}"])
    return rows


HEADERS = ("cell", "scheme", "size", "I_on A", "I_off A", "read margin", "sneak A", "power W")


def _sizes(text: str) -> list:
    """'8..512' (the powers of two from LO to HI, both powers of two) or a comma list '8,16,64'."""
    try:
        if ".." in text:
            lo, hi = (int(s) for s in text.split(".."))
            if not (1 <= lo <= hi <= 4096 and lo & (lo - 1) == 0 and hi & (hi - 1) == 0):
                raise ValueError
            out = [lo]
            while out[-1] * 2 <= hi:
                out.append(out[-1] * 2)
            return out
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(f"--size={text!r} is invalid: use LO..HI (powers of two, 1 <= LO <= HI <= 4096) or a comma "
                         "list of sizes") from None


def _unique(name: str, values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={','.join(map(str, values))!r} is invalid: each value may appear once")
    return values


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("sneak", help="read margin vs array size, bias scheme and cell type (sneak paths)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--size", default="8..512", help="LO..HI (powers of two) or a comma list")
    p.add_argument("--scheme", default="floating,v2,v3", help=f"comma list of {', '.join(SCHEMES)}")
    p.add_argument("--cell", default="sinh,1s1r", help=f"comma list of {', '.join(STUDY_CELLS)}")
    p.add_argument("--device", default="reram-hfo2", help="device preset or TOML (g_on = g_max, g_off = g_min)")
    p.add_argument("--r-wire-ohm", type=float, default=1.0, help="wire resistance per segment, Ohm")
    p.add_argument("--v-read", type=float, default=1.0, help="read voltage of the selected row, V")
    p.add_argument("--out", help="write the study as netCDF (FILE.nc)")
    p.set_defaults(func=run)
    return p


def run(a) -> int:
    from xbarsim.export import check_output_path, write_netcdf
    from xbarsim.report import table

    if a.out is not None:
        check_output_path(a.out, "--out")
    ds = sneak_study(_unique("--size", _sizes(a.size)), _unique("--scheme", a.scheme.split(",")),
                     _unique("--cell", a.cell.split(",")), device=a.device,
                     r_wire_ohm=a.r_wire_ohm, v_read_v=a.v_read, progress=print)
    print(table(HEADERS, table_rows(ds)))
    if a.out is not None:
        print(f"wrote {write_netcdf(ds, a.out)}")
    return 0
