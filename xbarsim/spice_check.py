"""SPICE cross-validation: solve crossbars with xbarsim and with ngspice and compare.

- :func:`spice_check`: the check on a user's own circuit, returning both solutions and the errors.
- :func:`spice_study`: random realistic circuits of several sizes (the ``xbarsim spice-check`` command).
- :func:`add_parser` / :func:`run`: the ``spice-check`` subcommand for ``xbarsim.cli``.

Relative errors are normwise per batch vector: max |xbarsim - ngspice| over a group of values divided by
max |ngspice| over the same group. Node voltages are two groups, the row-wire and the column-wire nodes (the
column nodes of a forward read sit millivolts above the virtual ground; normalising them by the drive
voltage would hide their errors); the reported node-voltage error is the larger of the two.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numba

import numpy as np
import xarray as xr

from xbarsim import __version__
from xbarsim.circuits import Crossbar
from xbarsim.devices import _validate as V
from xbarsim.export import check_output_path, write_netcdf
from xbarsim.solvers import DEFAULT_RTOL as SOLVER_RTOL
from xbarsim.solvers import SpiceError, ngspice_info, solve, solve_spice
from xbarsim.solvers.ngspice import BACKENDS

DEFAULT_RTOL = 1e-8
ERROR_DEFINITION = ("normwise per batch vector: max |xbarsim - ngspice| / max |ngspice| over the column currents, "
                    "the row currents, the row-wire node voltages and the column-wire node voltages; the node "
                    "voltage error is the larger of the last two")
SPARSE_SIZES = (8, 16, 32, 64)  # ngspice without KLU (Debian 12's 39): 64x64 ~5 s, 128x128 ~3 min per op
KLU_SIZES = (8, 16, 32, 64, 128, 256)  # ngspice with KLU (bookworm-backports 46): 256x256 ~5 s per op

# ranges of the random realistic circuits (log-uniform), SI units
WIRE_OHM = (0.1, 10.0)
CONDUCTANCE_S = (1e-7, 1e-4)
DRIVER_OHM = (10.0, 1000.0)
SENSE_OHM = (1.0, 100.0)
V_READ_V = 0.2


def default_sizes(info: dict) -> tuple[int, ...]:
    """Array sizes the installed ngspice solves in seconds: up to 256 with KLU, up to 64 with SPARSE only."""
    return KLU_SIZES if info.get("klu") else SPARSE_SIZES


def relative_errors(ref, sol) -> dict:
    """(B,) normwise relative errors of ``sol`` against ``ref`` (both with i_cols, i_rows, node voltages)."""
    vr = _rel(sol.v_row_nodes, ref.v_row_nodes, axes=(1, 2))
    vc = _rel(sol.v_col_nodes, ref.v_col_nodes, axes=(1, 2))
    return {"i_cols": _rel(sol.i_cols, ref.i_cols, axes=(1,)), "i_rows": _rel(sol.i_rows, ref.i_rows, axes=(1,)),
            "v_nodes": np.maximum(vr, vc)}


def _rel(a: np.ndarray, ref: np.ndarray, axes: tuple) -> np.ndarray:
    scale = np.abs(ref).max(axis=axes)
    return np.abs(a - ref).max(axis=axes) / np.where(scale > 0, scale, 1.0)


def _timed_solve(xbar, g, v_rows, v_cols, driven, solver_rtol, repeats=5):
    """xbarsim's solution and its best wall time of ``repeats`` calls, s (JIT compiled beforehand)."""
    best, sol = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        sol = solve(xbar, g, v_rows, v_cols, driven=driven, rtol=solver_rtol)
        best = min(best, time.perf_counter() - t0)
    return sol, best


@contextlib.contextmanager
def solver_threads(threads: int | None):
    """Run xbarsim's numba kernels on ``threads`` threads inside the block (None = leave as is).

    ngspice solves on one thread, so the speed ratio compares like with like at ``threads=1``; one thread
    also keeps xbarsim's times meaningful on a busy machine, where OpenMP barriers of a parallel kernel
    can wait milliseconds for a descheduled thread.
    """
    if threads is None:
        yield
        return
    most = numba.config.NUMBA_NUM_THREADS
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= most:
        raise ValueError(f"threads={threads!r} is invalid: must be an integer in [1, {most}] or None")
    before = numba.get_num_threads()
    numba.set_num_threads(int(threads))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _warm_up():
    """Compile xbarsim's numba kernels once, so that no timing includes compilation."""
    x = Crossbar(2, 2)
    solve(x, np.full((2, 2), 1e-5), np.ones(2), np.zeros(2))


# ---------------------------------------------------------------------------------------------- user's circuit


def spice_check(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", backend: str = "shared",
                rtol: float = DEFAULT_RTOL, solver_rtol: float = SOLVER_RTOL, workers: int = 1,
                threads: int | None = 1) -> xr.Dataset:
    """Solve one crossbar batch with xbarsim and with ngspice and compare.

    Args:
        xbar, g, v_rows, v_cols, driven: as for :func:`xbarsim.solvers.solve` (S, V; v_* (B, lines) or (lines,)).
        backend: ngspice backend, "shared" or "subprocess".
        rtol: pass threshold of every relative error, in (0, 1).
        solver_rtol: xbarsim's residual tolerance.
        workers: parallel ngspice processes (subprocess backend).
        threads: numba threads for xbarsim's solve (None = numba's setting); see :func:`solver_threads`.
    Returns:
        Dataset with both solutions (dim ``solver`` = xbarsim, ngspice), the per-vector relative errors
        ``rel_err_*`` (dim ``batch``), wall times in s, and attrs ``passed`` (1/0), ``rtol``, the crossbar
        and the ngspice version. Raises SpiceError when ngspice fails.
    """
    rtol = V.in_range("rtol", rtol, 0.0, 1.0)
    with solver_threads(threads):
        _warm_up()
        ours, t_ours = _timed_solve(xbar, g, v_rows, v_cols, driven, solver_rtol)
    ref = solve_spice(xbar, g, v_rows, v_cols, driven=driven, backend=backend, workers=workers,
                      timeout_s=_timeout(backend))
    err = relative_errors(ref, ours)
    passed = all(float(e.max()) <= rtol for e in err.values())
    pair = lambda name: np.stack([getattr(ours, name), getattr(ref, name)])  # noqa: E731
    ds = xr.Dataset(
        {
            "conductance": (("row", "col"), np.asarray(g, dtype=np.float64), {"units": "S"}),
            "v_row_terminals": (("batch", "row"), ref.terminals.v_rows, {"units": "V"}),
            "v_col_terminals": (("batch", "col"), ref.terminals.v_cols, {"units": "V"}),
            "i_cols": (("solver", "batch", "col"), pair("i_cols"),
                       {"units": "A", "long_name": "current array -> column terminal"}),
            "i_rows": (("solver", "batch", "row"), pair("i_rows"),
                       {"units": "A", "long_name": "current array -> row terminal"}),
            "v_row_nodes": (("solver", "batch", "row", "col"), pair("v_row_nodes"), {"units": "V"}),
            "v_col_nodes": (("solver", "batch", "row", "col"), pair("v_col_nodes"), {"units": "V"}),
            **{f"rel_err_{k}": (("batch",), v, {"units": "1", "long_name": _ERR_NAMES[k]}) for k, v in err.items()},
            "t_xbarsim_s": ((), t_ours, {"units": "s", "long_name": "xbarsim solve wall time (batch, best of 5)"}),
            "t_ngspice_s": ((), float(ref.seconds.sum()),
                            {"units": "s", "long_name": "ngspice wall time (batch: load, solve, read back)"}),
        },
        coords={"solver": ["xbarsim", "ngspice"]},
        attrs={**_common_attrs(backend, ref.version, rtol, solver_rtol, threads), "driven": driven,
               "passed": int(passed),
               **{f"crossbar_{k}": v for k, v in xbar.to_dict().items()}},
    )
    return ds


_ERR_NAMES = {
    "i_cols": "max |xbarsim - ngspice| / max |ngspice| of the column terminal currents",
    "i_rows": "max |xbarsim - ngspice| / max |ngspice| of the row terminal currents",
    "v_nodes": "max over row-wire and column-wire nodes of max |xbarsim - ngspice| / max |ngspice|",
}


SUBPROCESS_TIMEOUT_S = 1800.0  # per operating point; ngspice 39 needs about 3 minutes for 128x128


def _timeout(backend: str) -> float | None:
    """A hung ngspice process is stopped after SUBPROCESS_TIMEOUT_S (the in-process library cannot be)."""
    return SUBPROCESS_TIMEOUT_S if backend == "subprocess" else None


def _common_attrs(backend: str, version: str, rtol: float, solver_rtol: float, threads) -> dict:
    return {"xbarsim_version": __version__, "ngspice_version": version, "ngspice_backend": backend,
            "xbarsim_threads": int(numba.get_num_threads() if threads is None else threads),
            "rtol": rtol, "solver_rtol": solver_rtol, "error_definition": ERROR_DEFINITION}


# ---------------------------------------------------------------------------------------------- random study


def random_circuit(size: int, rng: np.random.Generator, *, driven: str = "rows", batch: int = 1):
    """A random realistic ``size`` x ``size`` crossbar: (xbar, g (S), v_rows (V), v_cols (V)).

    Wire segments 0.1-10 Ohm, driver 10-1000 Ohm, sense 1-100 Ohm, cells 1e-7-1e-4 S (all log-uniform);
    the driven lines get uniform inputs in [-0.2, 0.2] V, the sensed lines sit at 0 V (virtual ground).
    """
    def logu(lo, hi, shape=None):
        return 10.0 ** rng.uniform(np.log10(lo), np.log10(hi), shape)

    xbar = Crossbar(size, size, r_row_ohm=float(logu(*WIRE_OHM)), r_col_ohm=float(logu(*WIRE_OHM)),
                    r_driver_ohm=float(logu(*DRIVER_OHM)), r_sense_ohm=float(logu(*SENSE_OHM)), v_read_v=V_READ_V)
    g = logu(*CONDUCTANCE_S, (size, size))
    v_in = rng.uniform(-V_READ_V, V_READ_V, (batch, size))
    zero = np.zeros((batch, size))
    return (xbar, g, v_in, zero) if driven == "rows" else (xbar, g, zero, v_in)


def spice_study(sizes=None, *, trials: int = 3, seed: int = 0, backend: str = "shared", rtol: float = DEFAULT_RTOL,
                batch: int = 1, workers: int = 1, solver_rtol: float = SOLVER_RTOL, threads: int | None = 1,
                report=None) -> xr.Dataset:
    """xbarsim against ngspice on ``trials`` random circuits per size (see :func:`random_circuit`).

    Trial t of size n draws from ``numpy.random.default_rng([seed, n, t])``, so a size's numbers do not
    depend on which other sizes run; even trials drive the rows, odd trials the columns.

    Args:
        sizes: array sizes (n x n); None = :func:`default_sizes` of the installed ngspice.
        trials: circuits per size; seed: integer >= 0; backend: "shared" or "subprocess".
        rtol: pass threshold; batch: input vectors per circuit; workers: ngspice processes (subprocess).
        threads: numba threads for xbarsim (1: like ngspice; None: numba's setting).
        report: optional callable receiving each finished size's table row (str).
    Returns:
        Dataset with dims (size, trial): ``rel_err_i_cols``, ``rel_err_i_rows``, ``rel_err_v_nodes`` (max over
        the batch), ``t_xbarsim_s``, ``t_ngspice_s``, ``speed_ratio`` and the drawn circuit parameters;
        attrs ``passed`` (1/0), ``rtol``, seed, ngspice version and backend.
    """
    V.choice("backend", backend, BACKENDS)
    info = ngspice_info(backend)
    sizes = tuple(default_sizes(info) if sizes is None else [V.positive_int("sizes", s) for s in sizes])
    trials = V.positive_int("trials", trials)
    batch = V.positive_int("batch", batch)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} is invalid: must be an integer >= 0")
    rtol = V.in_range("rtol", rtol, 0.0, 1.0)
    with solver_threads(threads):
        _warm_up()
    shape = (len(sizes), trials)
    out = {k: np.zeros(shape) for k in ("rel_err_i_cols", "rel_err_i_rows", "rel_err_v_nodes", "t_xbarsim_s",
                                        "t_ngspice_s", "r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm")}
    driven_of = np.array([("rows", "cols")[t % 2] for t in range(trials)])
    for a, n in enumerate(sizes):
        for t in range(trials):
            rng = np.random.default_rng([int(seed), n, t])
            xbar, g, v_rows, v_cols = random_circuit(n, rng, driven=driven_of[t], batch=batch)
            with solver_threads(threads):
                ours, t_ours = _timed_solve(xbar, g, v_rows, v_cols, driven_of[t], solver_rtol)
            ref = solve_spice(xbar, g, v_rows, v_cols, driven=driven_of[t], backend=backend, workers=workers,
                              timeout_s=_timeout(backend))
            for k, e in relative_errors(ref, ours).items():
                out[f"rel_err_{k}"][a, t] = e.max()
            out["t_xbarsim_s"][a, t], out["t_ngspice_s"][a, t] = t_ours, ref.seconds.sum()
            for k in ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm"):
                out[k][a, t] = getattr(xbar, k)
        if report is not None:
            report(_table_row(n, {k: v[a] for k, v in out.items()}, rtol))
    ds = _study_dataset(out, sizes, trials, driven_of)
    passed = all(float(ds[f"rel_err_{k}"].max()) <= rtol for k in ("i_cols", "i_rows", "v_nodes"))
    ds.attrs.update({**_common_attrs(backend, info["version"], rtol, solver_rtol, threads),
                     "ngspice_klu": int(info["klu"]),
                     "seed": int(seed), "trials": trials, "batch": batch, "passed": int(passed),
                     "circuits": (f"square n x n; wire {WIRE_OHM} Ohm, driver {DRIVER_OHM} Ohm, sense {SENSE_OHM} "
                                  f"Ohm, G {CONDUCTANCE_S} S, log-uniform; inputs uniform in +-{V_READ_V} V")})
    return ds


def _study_dataset(out: dict, sizes, trials, driven_of) -> xr.Dataset:
    dims = ("size", "trial")
    units = {"rel_err_i_cols": "1", "rel_err_i_rows": "1", "rel_err_v_nodes": "1", "t_xbarsim_s": "s",
             "t_ngspice_s": "s", "r_row_ohm": "Ohm", "r_col_ohm": "Ohm", "r_driver_ohm": "Ohm", "r_sense_ohm": "Ohm"}
    data = {k: (dims, v, {"units": units[k], **({"long_name": _ERR_NAMES[k[8:]]} if k.startswith("rel_err") else {})})
            for k, v in out.items()}
    data["speed_ratio"] = (dims, out["t_ngspice_s"] / out["t_xbarsim_s"],
                           {"units": "1", "long_name": "ngspice wall time / xbarsim wall time"})
    data["driven"] = (("trial",), driven_of.astype(str))
    return xr.Dataset(data, coords={"size": np.array(sizes), "trial": np.arange(trials)})


# ---------------------------------------------------------------------------------------------- table, file


TABLE_HEADER = (f"{'size':>9} {'trials':>6} {'err I_col':>10} {'err I_row':>10} {'err V_node':>10} "
                f"{'xbarsim ms':>11} {'ngspice ms':>11} {'ratio':>8}  ok")


def _table_row(n: int, row: dict, rtol: float) -> str:
    errs = [float(np.max(row[f"rel_err_{k}"])) for k in ("i_cols", "i_rows", "v_nodes")]
    tx, ts = float(np.median(row["t_xbarsim_s"])), float(np.median(row["t_ngspice_s"]))
    ok = "yes" if max(errs) <= rtol else "NO"
    return (f"{f'{n}x{n}':>9} {len(row['t_xbarsim_s']):>6} {errs[0]:>10.2e} {errs[1]:>10.2e} {errs[2]:>10.2e} "
            f"{tx * 1e3:>11.3f} {ts * 1e3:>11.1f} {ts / tx:>8.0f}  {ok}")


def format_table(ds: xr.Dataset) -> str:
    """The study as a text table: max errors over trials, median times (ms) and their ratio per size."""
    rows = [_table_row(int(n), {k: ds[k].sel(size=n).values for k in ds.data_vars if "size" in ds[k].dims},
                       float(ds.attrs["rtol"])) for n in ds["size"].values]
    return "\n".join([TABLE_HEADER, *rows])


# ---------------------------------------------------------------------------------------------- CLI


def _sizes_arg(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"--sizes={text!r} is invalid: must be comma-separated integers >= 1, "
                                         "e.g. 8,16,32,64")
    return sizes


def _positive_int_arg(name):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = 0
        if v < 1:
            raise argparse.ArgumentTypeError(f"{name}={text!r} is invalid: must be an integer >= 1")
        return v
    return parse


def _rtol_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"--rtol={text!r} is invalid: must be a number in (0, 1)")
    return v


def _seed_arg(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"--seed={text!r} is invalid: must be an integer >= 0")
    return v


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the spice-check options to ``p``."""
    p.add_argument("--sizes", type=_sizes_arg, default=None,
                   help="array sizes n (n x n), comma-separated; default 8,16,32,64, and 128,256 when the "
                        "installed ngspice has KLU")
    p.add_argument("--trials", type=_positive_int_arg("--trials"), default=3, help="random circuits per size (3)")
    p.add_argument("--seed", type=_seed_arg, default=0, help="random seed, integer >= 0 (0)")
    p.add_argument("--backend", choices=BACKENDS, default="shared",
                   help="ngspice in-process (shared, via PySpice) or one ngspice process per run (subprocess)")
    p.add_argument("--rtol", type=_rtol_arg, default=DEFAULT_RTOL,
                   help=f"fail (exit 1) when a relative error exceeds this ({DEFAULT_RTOL:g})")
    p.add_argument("--out", default=None, help="write the results as netCDF to this file")
    p.add_argument("--batch", type=_positive_int_arg("--batch"), default=1, help="input vectors per circuit (1)")
    p.add_argument("--workers", type=_positive_int_arg("--workers"), default=1,
                   help="parallel ngspice processes, subprocess backend only (1)")
    p.add_argument("--threads", type=_positive_int_arg("--threads"), default=1,
                   help="numba threads for xbarsim's solve (1, like single-threaded ngspice)")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``spice-check`` on an argparse subparsers object; its ``func`` default is :func:`run`."""
    p = subparsers.add_parser(
        "spice-check", help="check xbarsim's crossbar solver against ngspice on random circuits",
        description="Solve random realistic crossbars with xbarsim and ngspice, print the errors and times, "
                    "exit 1 when an error exceeds --rtol (2 when ngspice cannot run).")
    configure_parser(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the check from parsed arguments; print the table. Returns 0 (pass), 1 (error > rtol), 2 (no ngspice)."""
    try:
        if args.out is not None:
            check_output_path(args.out, "--out")
        if args.threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"--threads={args.threads} is invalid: must be in [1, {numba.config.NUMBA_NUM_THREADS}]"
                             " (NUMBA_NUM_THREADS)")
        if args.workers > 1 and args.backend != "subprocess":
            raise ValueError(f"--workers={args.workers} is invalid with --backend={args.backend}: "
                             "parallel runs need --backend subprocess")
        info = ngspice_info(args.backend)
        print(f"xbarsim {__version__} ({args.threads} thread{'s' if args.threads > 1 else ''}) vs ngspice "
              f"{info['version']} ({args.backend}, {'KLU' if info['klu'] else 'SPARSE 1.3'}); relative errors "
              f"normwise, median times per circuit (batch {args.batch}); rtol {args.rtol:g}")
        print(TABLE_HEADER, flush=True)
        ds = spice_study(args.sizes, trials=args.trials, seed=args.seed, backend=args.backend, rtol=args.rtol,
                         batch=args.batch, workers=args.workers, threads=args.threads,
                         report=lambda row: print(row, flush=True))
    except (SpiceError, ValueError) as e:
        print(f"xbarsim spice-check: error: {e}", file=sys.stderr)
        return 2
    if args.out is not None:
        print(f"wrote {write_netcdf(ds, args.out)}")
    if not ds.attrs["passed"]:
        print(f"FAIL: a relative error exceeds rtol={args.rtol:g}", file=sys.stderr)
        return 1
    print(f"PASS: every relative error <= {args.rtol:g}")
    return 0


def main(argv=None) -> int:
    """``python -m xbarsim.spice_check``: the subcommand on its own."""
    p = configure_parser(argparse.ArgumentParser(prog="xbarsim spice-check"))
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
