"""Crossbar solve: xbarsim vs scipy splu (factor + solve) vs badcrossbar vs ngspice vs the ideal product G^T V.

    python -m benchmarks.solver [--sizes 64,128,256,512,1024] [--batches 1,16,64] [--r-wire 0.5,2,10]
                                [--splu-max 512] [--badcrossbar-max 256] [--ngspice-max 64] [--out FILE.nc]

Prints a table and optionally writes an xarray dataset with variables time_xbarsim_s, time_splu_s,
time_badcrossbar_s, time_ngspice_s (NaN where not run), time_ideal_s, rel_error (xbarsim vs splu, column
currents; vs badcrossbar where splu was not run), rel_error_badcrossbar, peak_mem_bytes (numpy allocations
during the xbarsim solve, tracemalloc) over (size, batch, r_wire). Ratios are computed from times measured
in the same run, on the same machine and inputs.

The circuit is badcrossbar's (so all solvers solve the same one): rows driven by ideal sources and columns
held at 0 V, each through one more wire segment (r_driver_ohm = r_row_ohm, r_sense_ohm = r_col_ohm).
badcrossbar (PyPI) depends on pycairo for its plots only; without cairo's headers install it with
``pip install --no-deps badcrossbar pathvalidate sigfig``. Where it is missing its column is NaN.
"""

from __future__ import annotations

import argparse
import logging
import time
import tracemalloc
import warnings

import numpy as np
import xarray as xr

from xbarsim.circuits import Crossbar
from xbarsim.export import write_netcdf
from xbarsim.report import table
from xbarsim.solvers import SpiceError, read_forward, solve_reference, solve_spice


def _best(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _badcrossbar():
    """The badcrossbar module, or None where it is not installed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns that its plotting needs cairo
        try:
            import badcrossbar
        except ImportError:
            return None
    logging.getLogger("badcrossbar").setLevel(logging.WARNING)
    return badcrossbar


def measure(size: int, batch: int, r_wire: float, limits: dict, rng) -> dict:
    xbar = Crossbar(size, size, r_row_ohm=r_wire, r_col_ohm=r_wire, r_driver_ohm=r_wire, r_sense_ohm=r_wire)
    g = rng.uniform(1e-6, 1e-4, xbar.shape)
    v = rng.uniform(0, 0.2, (batch, size))
    zeros = np.zeros((batch, size))
    read_forward(xbar.with_shape(8, 8), g[:8, :8], v[:1, :8])  # compile outside the timing
    t_x, sol = _best(lambda: read_forward(xbar, g, v), repeat=3 if size < 1024 else 1)
    tracemalloc.start()
    read_forward(xbar, g, v)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = dict.fromkeys(("time_splu_s", "time_badcrossbar_s", "time_ngspice_s", "rel_error",
                         "rel_error_badcrossbar"), np.nan)
    ref = None
    if size <= limits["splu"]:
        out["time_splu_s"], ref = _best(lambda: solve_reference(xbar, g, v, zeros).i_cols, repeat=1)
    bc = _badcrossbar()
    if bc is not None and size <= limits["badcrossbar"]:
        out["time_badcrossbar_s"], i_bc = _best(lambda: bc.compute(
            v.T, 1.0 / g, r_i=r_wire, node_voltages=False, all_currents=False).currents.output, repeat=1)
        if ref is None:
            ref = i_bc
        else:
            out["rel_error_badcrossbar"] = _rel(i_bc, ref)
    if ref is not None:
        out["rel_error"] = _rel(sol.i_cols, ref)
    if size <= limits["ngspice"]:
        try:
            out["time_ngspice_s"], _ = _best(lambda: solve_spice(xbar, g, v[:1], zeros[:1]), repeat=1)
        except SpiceError:
            pass
    t_i, _ = _best(lambda: v @ g, repeat=5)
    return {"time_xbarsim_s": t_x, "time_ideal_s": t_i, "peak_mem_bytes": float(peak), **out}


def _rel(a, b) -> float:
    return float(np.abs(np.reshape(a, np.shape(b)) - b).max() / np.abs(b).max())


NAMES = ("time_xbarsim_s", "time_splu_s", "time_badcrossbar_s", "time_ngspice_s", "time_ideal_s", "rel_error",
         "rel_error_badcrossbar", "peak_mem_bytes")


def run(sizes, batches, r_wires, limits, seed=0, progress=print) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    data = {k: np.full((len(sizes), len(batches), len(r_wires)), np.nan) for k in NAMES}
    for a, n in enumerate(sizes):
        for b, nb_ in enumerate(batches):
            for c, r in enumerate(r_wires):
                for k, val in measure(n, nb_, r, limits, rng).items():
                    data[k][a, b, c] = val
                progress(f"  size {n} batch {nb_} r_wire {r}: xbarsim {data['time_xbarsim_s'][a, b, c]:.3g} s")
    units = {"rel_error": "1", "rel_error_badcrossbar": "1", "peak_mem_bytes": "B"}
    return xr.Dataset(
        {k: (("size", "batch", "r_wire"), v, {"units": units.get(k, "s")}) for k, v in data.items()},
        coords={"size": sizes, "batch": batches, "r_wire": ("r_wire", r_wires, {"units": "Ohm"})},
        attrs={"description": "square arrays, G uniform 1e-6..1e-4 S, inputs uniform 0..0.2 V, terminals behind "
                              "one wire segment (badcrossbar's circuit); ngspice times are for one operating point "
                              "(batch 1)", "seed": seed, **{f"{k}_max_size": v for k, v in limits.items()}})


def _ratio(a, b) -> str:
    r = float(a / b)
    return f"{r:.3g}x" if np.isfinite(r) else "-"


def summary_rows(ds: xr.Dataset) -> list:
    """One table row per (size, batch, r_wire): xbarsim's time and every ratio of the same run."""
    rows = []
    for n in ds["size"].values:
        for nb_ in ds["batch"].values:
            for r in ds["r_wire"].values:
                d = ds.sel(size=n, batch=nb_, r_wire=r)
                err = float(d.rel_error)
                rows.append([n, nb_, r, f"{float(d.time_xbarsim_s) * 1e3:.3g}", _ratio(d.time_splu_s, d.time_xbarsim_s),
                             _ratio(d.time_badcrossbar_s, d.time_xbarsim_s), _ratio(d.time_xbarsim_s, d.time_ideal_s),
                             _ratio(d.time_ngspice_s, d.time_xbarsim_s), f"{err:.1e}" if np.isfinite(err) else "-",
                             f"{float(d.peak_mem_bytes) / 2**20:.1f}"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="64,128,256,512,1024")
    p.add_argument("--batches", default="1,16,64")
    p.add_argument("--r-wire", default="0.5,2,10")
    p.add_argument("--splu-max", type=int, default=512, help="largest size to solve with scipy splu")
    p.add_argument("--badcrossbar-max", type=int, default=256, help="largest size to solve with badcrossbar")
    p.add_argument("--ngspice-max", type=int, default=64, help="largest size to run through ngspice")
    p.add_argument("--out")
    a = p.parse_args(argv)
    limits = {"splu": a.splu_max, "badcrossbar": a.badcrossbar_max, "ngspice": a.ngspice_max}
    ds = run([int(s) for s in a.sizes.split(",")], [int(s) for s in a.batches.split(",")],
             [float(s) for s in a.r_wire.split(",")], limits)
    print(table(("size", "batch", "r_wire", "xbarsim ms", "splu/xbarsim", "badcrossbar/xbarsim", "xbarsim/ideal",
                 "ngspice/xbarsim", "rel error", "peak MiB"), summary_rows(ds)))
    if a.out:
        print(f"wrote {write_netcdf(ds, a.out)}")


if __name__ == "__main__":
    main()
