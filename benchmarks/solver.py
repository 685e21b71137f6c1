"""Crossbar solve: xbarsim vs scipy splu (factor + solve) vs ngspice vs the ideal product G^T V.

    python -m benchmarks.solver [--sizes 64,128,256] [--batches 1,64] [--r-wire 0.5,2,10] [--out FILE.nc]

Prints a table and optionally writes an xarray dataset with variables time_xbarsim_s, time_splu_s,
time_ngspice_s, time_badcrossbar_s (NaN where not run), time_ideal_s, rel_error (xbarsim vs splu, column
currents), peak_mem_bytes (numpy allocations during the xbarsim solve, tracemalloc) over (size, batch,
r_wire). Ratios are computed from times measured in the same run, on the same machine and inputs.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

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


def measure(size: int, batch: int, r_wire: float, ngspice_max: int, rng) -> dict:
    xbar = Crossbar(size, size, r_row_ohm=r_wire, r_col_ohm=r_wire)
    g = rng.uniform(1e-6, 1e-4, xbar.shape)
    v = rng.uniform(0, 0.2, (batch, size))
    zeros = np.zeros((batch, size))
    read_forward(xbar.with_shape(8, 8), g[:8, :8], v[:1, :8])  # compile outside the timing
    t_x, sol = _best(lambda: read_forward(xbar, g, v))
    tracemalloc.start()
    read_forward(xbar, g, v)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t_s, ref = _best(lambda: solve_reference(xbar, g, v, zeros), repeat=1)
    t_i, _ = _best(lambda: v @ g, repeat=5)
    t_n = np.nan
    if size <= ngspice_max:
        try:
            t_n, _ = _best(lambda: solve_spice(xbar, g, v[:1], zeros[:1]), repeat=1)
        except SpiceError:
            pass
    err = np.abs(sol.i_cols - ref.i_cols).max() / np.abs(ref.i_cols).max()
    return dict(time_xbarsim_s=t_x, time_splu_s=t_s, time_ngspice_s=t_n, time_badcrossbar_s=np.nan,
                time_ideal_s=t_i, rel_error=err, peak_mem_bytes=float(peak))


def run(sizes, batches, r_wires, ngspice_max=64, seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    names = ("time_xbarsim_s", "time_splu_s", "time_ngspice_s", "time_badcrossbar_s", "time_ideal_s",
             "rel_error", "peak_mem_bytes")
    data = {k: np.full((len(sizes), len(batches), len(r_wires)), np.nan) for k in names}
    for a, n in enumerate(sizes):
        for b, nb_ in enumerate(batches):
            for c, r in enumerate(r_wires):
                for k, val in measure(n, nb_, r, ngspice_max, rng).items():
                    data[k][a, b, c] = val
    units = {"rel_error": "1", "peak_mem_bytes": "B"}
    return xr.Dataset(
        {k: (("size", "batch", "r_wire"), v, {"units": units.get(k, "s")}) for k, v in data.items()},
        coords={"size": sizes, "batch": batches, "r_wire": ("r_wire", r_wires, {"units": "Ohm"})},
        attrs={"description": "square arrays, G uniform 1e-6..1e-4 S, inputs uniform 0..0.2 V; ngspice "
                              "times are for one operating point (batch 1)", "seed": seed})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="64,128,256")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--r-wire", default="0.5,2,10")
    p.add_argument("--ngspice-max", type=int, default=64, help="largest size to run through ngspice")
    p.add_argument("--out")
    a = p.parse_args(argv)
    ds = run([int(s) for s in a.sizes.split(",")], [int(s) for s in a.batches.split(",")],
             [float(s) for s in a.r_wire.split(",")], a.ngspice_max)
    rows = []
    for n in ds["size"].values:
        for nb_ in ds["batch"].values:
            for r in ds["r_wire"].values:
                d = ds.sel(size=n, batch=nb_, r_wire=r)
                rows.append([n, nb_, r, f"{float(d.time_xbarsim_s) * 1e3:.2f}",
                             f"{float(d.time_splu_s / d.time_xbarsim_s):.1f}x",
                             f"{float(d.time_xbarsim_s / d.time_ideal_s):.0f}x",
                             f"{float(d.time_ngspice_s / d.time_xbarsim_s):.0f}x" if np.isfinite(d.time_ngspice_s)
                             else "-", f"{float(d.rel_error):.1e}", f"{float(d.peak_mem_bytes) / 2**20:.1f}"])
    print(table(("size", "batch", "r_wire", "xbarsim ms", "splu/xbarsim", "xbarsim/ideal", "ngspice/xbarsim",
                 "rel error", "peak MiB"), rows))
    if a.out:
        print(f"wrote {write_netcdf(ds, a.out)}")


if __name__ == "__main__":
    main()
