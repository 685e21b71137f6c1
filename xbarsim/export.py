"""Results as xarray datasets (named dims, SI units in attrs, full configuration) and atomic netCDF writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from xbarsim import __version__
from xbarsim.devices._files import atomic_path, check_output_path  # noqa: F401  (the face for writing results)

HISTORY_UNITS = {
    "train_loss": ("1", "mean softmax cross-entropy over the epoch's training samples (nats)"),
    "train_accuracy": ("1", "fraction of training samples classified correctly during the epoch"),
    "test_loss": ("1", "mean softmax cross-entropy on the test set after the epoch (nats)"),
    "test_accuracy": ("1", "fraction of the test set classified correctly after the epoch"),
    "hamiltonian": ("1", "H = E(C) + sum_layers k_l |A_l|^2 (SHD / Tiki-Taka; = train_loss otherwise)"),
    "a_norm2": ("1", "sum over layers of |A|^2, A in device units (SHD / Tiki-Taka)"),
    "write_pulses": ("1", "intended device pulses of the epoch (coincidences of the stochastic pulse trains, "
                          "all arrays and transfers)"),
    "disturb_pulses": ("1", "pulses at cells that were not selected (half-select disturb; circuit full only)"),
    "write_efficiency": ("1", "mean write strength of the intended pulses (1: the nominal write voltage arrived; "
                              "IR drop lowers it; circuit full only)"),
}


def _attr_value(v):
    """netCDF attributes hold numbers and strings only."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, float, str, np.integer, np.floating)):
        return v
    return str(v)


def training_dataset(result) -> xr.Dataset:
    """One training run (a :class:`xbarsim.training.TrainResult`) as a dataset: per-epoch history, final
    logical weights and conductances of every array of every layer, the configuration in attrs."""
    cfg = result.config
    n_epochs = len(result.history["test_accuracy"])
    ds = xr.Dataset(coords={"epoch": ("epoch", np.arange(1, n_epochs + 1), {"long_name": "epoch", "units": "1"})})
    for name, (units, desc) in HISTORY_UNITS.items():
        ds[name] = ("epoch", result.history[name], {"units": units, "long_name": desc})
    for li, layer in enumerate(result.layers):
        dims = (f"layer{li}_row", f"layer{li}_col")
        ds[f"weight_layer{li}"] = (dims, layer.weights(), {
            "units": "1", "long_name": f"layer {li} logical weights as an ideal circuit reads them (device "
                                       f"units); rows = {result.sizes[li]} inputs + bias, cols = outputs"})
        for aname, arr in layer.arrays_state().items():
            g, g_ref = arr.conductance()
            ds[f"g_layer{li}_{aname}"] = (dims, g, {"units": "S", "long_name": f"layer {li} array {aname} "
                                                                                f"device conductance"})
            ds[f"g_ref_layer{li}_{aname}"] = (dims, g_ref, {"units": "S", "long_name": f"layer {li} array "
                                                                                        f"{aname} reference"})
    ds.attrs.update({f"config.{k}": _attr_value(v) for k, v in cfg.to_dict().items()})
    ds.attrs.update({
        "title": f"xbarsim training run: {cfg.algorithm.name} on {cfg.device.name}, circuit {cfg.circuit}",
        "xbarsim_version": __version__,
        "layer_sizes": ",".join(map(str, result.sizes)),
        "hamiltonian_k": np.array(result.hamiltonian_k, dtype=float),
        "hamiltonian_k_definition": "k_l = eta_C' / (2 eta_A), eta_C' = lr_transfer / (transfer_every * rows_l)",
        "final_test_accuracy": float(result.history["test_accuracy"][-1]),
    })
    return ds


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` to ``path`` (netCDF4) atomically; a failed write (disk full, ...) is a ValueError naming the
    path, and leaves nothing behind."""
    with atomic_path(path) as tmp:
        try:
            ds.to_netcdf(tmp, engine="netcdf4")
        except (OSError, RuntimeError) as e:  # the netCDF library reports a full disk as "NetCDF: HDF error"
            raise ValueError(f"cannot write {str(path)!r}: {e}") from None
    return Path(path)


def combine_runs(runs: dict) -> xr.Dataset:
    """Several training datasets in one: the history over (algorithm, epoch); every other variable and
    every config attribute prefixed with its run's label (``shd_g_layer0_c``, ``shd.config.lr``)."""
    labels = list(runs)
    hist = xr.concat([runs[k][list(HISTORY_UNITS)] for k in labels], dim="algorithm", combine_attrs="drop")
    hist = hist.assign_coords(algorithm=("algorithm", labels))
    for name, (units, desc) in HISTORY_UNITS.items():
        hist[name].attrs = {"units": units, "long_name": desc}
    out = [hist]
    for k in labels:
        rest = runs[k].drop_vars(list(HISTORY_UNITS))
        out.append(rest.rename({v: f"{k}_{v}" for v in rest.data_vars}).drop_vars("epoch", errors="ignore"))
    ds = xr.merge(out, combine_attrs="drop")
    for part in out:  # merge drops variable attributes along with the datasets' own: restore units and names
        for v in part.variables:
            ds[v].attrs = dict(part[v].attrs)
    ds.attrs = {"title": "xbarsim study: " + ", ".join(labels), "xbarsim_version": __version__}
    for k in labels:
        ds.attrs.update({f"{k}.{a}": v for a, v in runs[k].attrs.items() if a not in ("xbarsim_version",)})
    ds["final_test_accuracy"] = ("algorithm", hist.test_accuracy.isel(epoch=-1).values,
                                 {"units": "1", "long_name": "test accuracy after the last epoch"})
    return ds
