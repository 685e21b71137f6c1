"""``xbarsim devices``: list the device presets, fit models to a measured pulse trace.

The main CLI registers this module with ``device_cli.add_parser(subparsers)`` and dispatches to
``device_cli.run(args)``; ``python -m xbarsim.device_cli devices ...`` runs it alone.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from xbarsim.devices import PRESETS, get_preset
from xbarsim.devices.traces import FORMATS

FIT_MODEL_HELP = "softbounds, expstep, powstep, piecewise, constant; a comma-separated list; or all (default)"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``devices`` subcommand (with ``list`` and ``fit``) to an argparse subparsers object."""
    p = subparsers.add_parser("devices", help="device presets and fitting of models to measured traces",
                              description="Device presets, and fitting of pulsed device models to measured "
                                          "conductance traces.")
    sub = p.add_subparsers(dest="devices_command", metavar="{list,fit}")
    sub.required = True
    sub.add_parser("list", help="list the presets with their states, asymmetry and symmetry point",
                   description="List the device presets: model, number of states, asymmetry of the mean steps, "
                               "symmetry point, source.")
    f = sub.add_parser(
        "fit", help="fit models to a measured pulse trace",
        description="Fit pulsed device models to a measured trace: the aihwkit two-column CSV, the CrossSim "
                    "set.csv/reset.csv ramps of read currents, a plain pulse,conductance_s[,direction] CSV, or "
                    "a pair of CrossSim step tables. Reports parameters with standard errors, cycle-to-cycle and "
                    "read noise, RMSE, R^2, BIC, symmetry point and number of states.")
    f.add_argument("trace", nargs="+", metavar="TRACE",
                   help="trace file, or a folder / pair of files for the CrossSim formats")
    f.add_argument("--model", default="all", help=FIT_MODEL_HELP)
    f.add_argument("--format", default="auto", choices=FORMATS, help="trace format (default: detected)")
    f.add_argument("--read-voltage", type=float, default=0.1, metavar="V",
                   help="read voltage of CrossSim current ramps (default 0.1 V)")
    f.add_argument("--nodes", type=int, default=6, help="nodes of the piecewise model (default 6)")
    f.add_argument("--g-window", type=float, nargs=2, metavar=("G_MIN_S", "G_MAX_S"), default=None,
                   help="conductance window (S) of a device fitted to a normalised trace (default 2e-6 2e-5)")
    f.add_argument("--name", default=None, help="name of the fitted device (default: from the file name)")
    f.add_argument("--out", metavar="FILE.nc", help="write the fit as an xarray dataset (netCDF)")
    f.add_argument("--toml", metavar="FILE.toml", help="write the fitted device (best model) for --device")
    f.add_argument("--toml-model", default=None, help="model to write to --toml (default: the best)")
    f.add_argument("--png", metavar="FILE.png", help="plot data vs fit")
    p.set_defaults(func=run)
    return p


def asymmetry(device) -> float:
    """Mean over the nominal range of (up - down) / (up + down) of the mean steps: 0 for a symmetric device,
    +1 (-1) where only up (down) pulses move it."""
    w = np.linspace(device.w_min, device.w_max, 401)
    up, dn = device.step_up(w), device.step_down(w)
    tot = up + dn
    return float(np.mean(np.where(tot > 0, (up - dn) / np.where(tot > 0, tot, 1.0), 0.0)))


def list_presets(out=None) -> None:
    out = sys.stdout if out is None else out
    rows = []
    for name in PRESETS:
        try:
            d = get_preset(name)
        except ValueError as e:  # e.g. a lookup table not shipped with a non-editable install
            rows.append((name, "-", "-", "-", "-", "-", f"unavailable: {str(e).splitlines()[0]}"))
            continue
        ws = d.symmetry_point()
        rows.append((name, d.model, f"{d.n_states:.0f}", f"{asymmetry(d):+.3f}", f"{ws:+.3f}",
                     f"{float(d.to_conductance(ws)) * 1e6:.3g}", d.citation))
    head = ("name", "model", "states", "asym", "w*", "G* (uS)", "source")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head) - 1)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*head), file=out)
    for r in rows:
        print(fmt.format(*r), file=out)
    print("states: (w_max - w_min) / mean step; asym: mean over [w_min, w_max] of (up - down) / (up + down) "
          "of the mean steps; w*, G*: symmetry point", file=out)


def _check_toml_model(args, models) -> None:
    """--toml-model, before the fit: one of the models to fit, and only with --toml."""
    if args.toml_model is None:
        return
    if args.toml is None:
        raise ValueError(f"--toml-model={args.toml_model!r} is given without --toml: nothing would be written")
    if args.toml_model not in models:
        raise ValueError(f"--toml-model={args.toml_model!r} is invalid: allowed values are the models to fit "
                         f"(--model): {', '.join(models)}")


def _check_fitted(report, toml_model) -> None:
    """After the fit: at least one model fitted, and --toml-model among those that did."""
    ok = [f.model for f in report.fits if f.device is not None]
    if not ok:
        failed = "; ".join(f"{f.model}: {f.message}" for f in report.fits)
        raise ValueError(f"no model was fitted successfully ({failed})")
    if toml_model is not None and toml_model not in ok:
        msg = report.fit(toml_model).message
        raise ValueError(f"--toml-model={toml_model!r} is invalid: that model failed to fit ({msg}); allowed "
                         f"values are the fitted models: {', '.join(ok)}")


def fit_command(args, out=None) -> None:
    out = sys.stdout if out is None else out
    from xbarsim.devices import fit_report, fitting
    from xbarsim.devices.traces import check_read_voltage

    g_window = fitting.check_g_window(args.g_window if args.g_window else fitting.DEFAULT_G_WINDOW_S, "g_window")
    check_read_voltage(args.read_voltage, "--read-voltage")
    models = fitting.check_models(args.model)
    _check_toml_model(args, models)
    from xbarsim.export import check_output_path

    for opt in ("out", "toml", "png"):
        if getattr(args, opt) is not None:
            check_output_path(getattr(args, opt), f"--{opt}")
    paths = args.trace[0] if len(args.trace) == 1 else args.trace
    report = fitting.fit_file(paths, models, fmt=args.format, read_voltage_v=args.read_voltage,
                              n_nodes=args.nodes, g_window_s=g_window, name=args.name)
    print(fit_report.summary(report), file=out)
    _check_fitted(report, args.toml_model)
    if args.toml:
        from xbarsim.devices.io import write_text_atomic

        write_text_atomic(args.toml, fit_report.device_toml(report, args.toml_model))
        print(f"wrote {args.toml}", file=out)
    if args.out:
        fit_report.write_dataset(fit_report.to_dataset(report), args.out)
        print(f"wrote {args.out}", file=out)
    if args.png:
        fit_report.plot(report, args.png)
        print(f"wrote {args.png}", file=out)


def run(args) -> int:
    """Run ``xbarsim devices ...``; returns the exit status (errors: one line on stderr, status 2)."""
    try:
        if args.devices_command == "list":
            list_presets()
        else:
            fit_command(args)
    except (ValueError, KeyError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"xbarsim devices {args.devices_command}: error: {msg}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="xbarsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
