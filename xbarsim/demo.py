"""``make demo``: FP vs analog SGD vs SHD on MNIST, HfO2 ReRAM (Gong 2018) on IR-drop crossbars.

A 196-64-10 sigmoid MLP (MNIST images averaged 2 x 2 to 14 x 14) trained on the first 6000 training
images for 3 epochs and tested on the first 2000 test images; every analog layer is one (inputs + bias) x
outputs crossbar (1 Ohm wire segments, 50 Ohm drivers, 10 Ohm sense) solved exactly at every read.
"""

from __future__ import annotations

from pathlib import Path

from xbarsim.devices import get_preset
from xbarsim.training import AlgorithmConfig, TrainConfig, load_mnist, train

from .export import check_output_path, combine_runs, training_dataset, write_netcdf
from .plot import learning_curves
from .report import RUN_HEADERS, run_row, table

DEMO = dict(device="reram-hfo2", circuit="ir-drop", epochs=3, train_size=6000, test_size=2000, seed=0)
ALGORITHMS = ("fp", "sgd", "shd")


def demo_configs(**overrides) -> dict:
    """The study's configurations by algorithm (same seed, data, device, circuit)."""
    unknown = set(overrides) - set(DEMO)
    if unknown:
        raise ValueError(f"unknown demo option(s) {', '.join(sorted(unknown))}: allowed are {', '.join(DEMO)}")
    p = {**DEMO, **overrides}
    return {
        name: TrainConfig(algorithm=AlgorithmConfig.defaults(name), device=get_preset(p["device"]),
                          circuit=p["circuit"], epochs=p["epochs"], train_size=p["train_size"],
                          test_size=p["test_size"], seed=p["seed"])
        for name in ALGORITHMS
    }


def _label(cfg: TrainConfig) -> str:
    if cfg.algorithm.name == "fp":
        return "FP (digital)"
    return f"{LABELS[cfg.algorithm.name]} ({cfg.device.name}, {cfg.circuit})"


LABELS = {"sgd": "analog SGD", "tiki-taka": "Tiki-Taka", "shd": "SHD"}


def run_demo(out_dir="results", progress: bool = True, **overrides):
    """Run the study, print the table, write ``demo.nc`` and ``demo_learning_curves.png`` in ``out_dir``."""
    cfgs = demo_configs(**overrides)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir={str(out)!r} is invalid: it is a file, expected a folder")
    if str(out_dir) == "":
        raise ValueError("out_dir='' is invalid: must name a folder (it is created if its parent exists)")
    if not out.parent.is_dir():
        raise ValueError(f"out_dir={str(out)!r} is invalid: its parent folder {str(out.parent)!r} does not exist")
    out.mkdir(exist_ok=True)
    for name in ("demo.nc", "demo_learning_curves.png"):
        check_output_path(out / name, "out_dir")
    any_cfg = next(iter(cfgs.values()))
    data = load_mnist(downsample=any_cfg.downsample, train_size=any_cfg.train_size, test_size=any_cfg.test_size)
    results = {name: train(cfg, data, progress=progress) for name, cfg in cfgs.items()}
    print(table(RUN_HEADERS, [run_row(r) for r in results.values()]))
    runs = {name: training_dataset(r) for name, r in results.items()}
    nc = write_netcdf(combine_runs(runs), out / "demo.nc")
    png = learning_curves({_label(r.config): runs[n] for n, r in results.items()},
                          out / "demo_learning_curves.png",
                          title=f"MNIST 196-64-10, {any_cfg.device.name}, {any_cfg.circuit}")
    print(f"wrote {nc} and {png}")
    return results
