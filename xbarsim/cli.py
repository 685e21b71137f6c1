"""The ``xbarsim`` command line: ``train``, ``demo``, ``spice-check``, ``devices list|fit``, ``sneak``."""

from __future__ import annotations

import argparse
import signal
from dataclasses import replace
import sys

from xbarsim import __version__


def _train_args(p: argparse.ArgumentParser):
    from xbarsim.devices import PRESETS
    from xbarsim.training import ALGORITHMS, CIRCUITS
    from xbarsim.circuits.bias import WRITE_SCHEMES
    from xbarsim.training.tile import BACKWARDS

    p.add_argument("--algorithm", default="shd", choices=ALGORITHMS, help="training algorithm")
    p.add_argument("--device", default="reram-hfo2",
                   help=f"device preset ({', '.join(PRESETS)}) or a device TOML file (xbarsim devices fit --toml)")
    p.add_argument("--circuit", default="ir-drop", choices=CIRCUITS,
                   help="ideal wires; ir-drop: exact nodal solve of the reads with wire, driver and sense resistance "
                        "(linear cells); full: the device's read I-V in every read and writes as line voltages "
                        "through the wires (IR-drop-weakened writes, half-select disturb)")
    p.add_argument("--write-scheme", default="v2", choices=WRITE_SCHEMES,
                   help="line biasing of writes with --circuit full")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-size", type=int, default=6000, help="first N MNIST training images")
    p.add_argument("--test-size", type=int, default=2000, help="first N MNIST test images")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--hidden", default="64", help="hidden layer widths, comma-separated")
    p.add_argument("--downsample", type=int, default=2, help="average k x k pixel blocks (1, 2, 4, 7)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, help="per-sample learning rate (into A for SHD / Tiki-Taka)")
    p.add_argument("--lr-transfer", type=float, help="A -> C transfer rate (SHD / Tiki-Taka)")
    p.add_argument("--transfer-every", type=int, help="samples between row transfers (SHD / Tiki-Taka)")
    p.add_argument("--gamma", type=float, help="Tiki-Taka's weight of A in the read")
    p.add_argument("--r-wire-ohm", type=float, help="wire resistance per segment, Ohm (ir-drop, full; 1 if not given)")
    p.add_argument("--r-driver-ohm", type=float,
                   help="output resistance of every line driver (reads and writes), Ohm (ir-drop, full; 50 if not "
                        "given)")
    p.add_argument("--backward", default="read", choices=BACKWARDS,
                   help="backward pass: the physical transposed read, or the exact circuit Jacobian (adjoint)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(a):
    from xbarsim.circuits import Crossbar
    from xbarsim.devices import load_device
    from xbarsim.training import AlgorithmConfig, Periphery, TrainConfig, UpdateConfig

    try:
        hidden = tuple(int(h) for h in a.hidden.split(","))
    except ValueError:
        raise ValueError(f"hidden={a.hidden!r} is invalid: must be comma-separated positive integers") from None
    only = {"gamma": ("tiki-taka",), "lr_transfer": ("tiki-taka", "shd"), "transfer_every": ("tiki-taka", "shd")}
    for opt, algs in only.items():
        if getattr(a, opt) is not None and a.algorithm not in algs:
            raise ValueError(f"--{opt.replace('_', '-')} applies only to --algorithm {' or '.join(algs)}")
    for opt in ("r_wire_ohm", "r_driver_ohm"):
        if getattr(a, opt) is not None and a.circuit == "ideal":
            raise ValueError(f"--{opt.replace('_', '-')} applies only to --circuit ir-drop or full")
    if a.write_scheme != "v2" and a.circuit != "full":
        raise ValueError("--write-scheme applies only to --circuit full")
    if a.backward != "read" and (a.circuit == "ideal" or a.algorithm == "fp"):
        raise ValueError("--backward adjoint applies only to analog algorithms on --circuit ir-drop or full")
    if a.algorithm == "fp" and a.circuit == "full":
        raise ValueError("--circuit full applies only to analog algorithms (fp is digital)")
    r_wire = 1.0 if a.r_wire_ohm is None else a.r_wire_ohm
    try:
        crossbar = Crossbar(1, 1, r_row_ohm=r_wire, r_col_ohm=r_wire)
    except ValueError as e:
        raise ValueError(f"--r-wire-ohm={a.r_wire_ohm!r} is invalid: {str(e).split(': ', 1)[1]}") from None
    if a.r_driver_ohm is not None:
        try:
            crossbar = replace(crossbar, r_driver_ohm=a.r_driver_ohm)
        except ValueError as e:
            raise ValueError(f"--r-driver-ohm={a.r_driver_ohm!r} is invalid: {str(e).split(': ', 1)[1]}") from None
    alg = AlgorithmConfig.defaults(a.algorithm, lr=a.lr, lr_transfer=a.lr_transfer,
                                   transfer_every=a.transfer_every, gamma=a.gamma)
    return TrainConfig(algorithm=alg, device=load_device(a.device), circuit=a.circuit,
                       crossbar=crossbar, periphery=Periphery(backward=a.backward),
                       update=UpdateConfig(write_scheme=a.write_scheme), hidden=hidden,
                       epochs=a.epochs, train_size=a.train_size, test_size=a.test_size, batch_size=a.batch_size,
                       downsample=a.downsample, seed=a.seed)


def cmd_train(a) -> int:
    from xbarsim.export import check_output_path, training_dataset, write_netcdf
    from xbarsim.report import RUN_HEADERS, run_row, table
    from xbarsim.training import train

    cfg = config_from_args(a)
    if a.out is not None:
        check_output_path(a.out, "--out")
    result = train(cfg, progress=not a.quiet)
    print(table(RUN_HEADERS, [run_row(result)]))
    if a.out is not None:
        print(f"wrote {write_netcdf(training_dataset(result), a.out)}")
    return 0


def cmd_demo(a) -> int:
    from xbarsim.demo import run_demo

    run_demo(a.out_dir, progress=not a.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xbarsim", description="Circuit-level simulation of training on "
                                     "analog crossbar arrays.")
    parser.add_argument("--version", action="version", version=f"xbarsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train an MLP on MNIST with analog arrays",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _train_args(p)
    p.add_argument("--out", help="write the run as netCDF (FILE.nc)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("demo", help="FP vs analog SGD vs SHD on HfO2 ReRAM with IR drop")
    p.add_argument("--out-dir", default="results")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    from xbarsim import device_cli, sneak, spice_check

    spice_check.add_parser(sub)
    device_cli.add_parser(sub)
    sneak.add_parser(sub)
    return parser


def main(argv=None) -> int:
    from xbarsim.training import DataFileError
    from xbarsim.solvers import NonConvergence

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # unwind (and remove temporary files) on kill, as on Ctrl-C
    try:
        return args.func(args)
    except (ValueError, DataFileError, NonConvergence) as e:
        print(f"xbarsim: error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("xbarsim: error: out of memory: use smaller arrays, batches or data sizes", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xbarsim: interrupted", file=sys.stderr)
        return 130


def _terminate(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
