"""What a device fit reports: the text summary, the fitted device as TOML, the xarray dataset and the PNG of
data vs fit. The fitting itself is in :mod:`xbarsim.devices.fitting`."""

from __future__ import annotations

import math

import numpy as np

from .fitting import FIT_MODELS, FitReport
from .traces import device_response
from .io import atomic_write, to_toml
from .traces import Trace


# ------------------------------------------------------------------------------------------------------------
def summary(report: FitReport) -> str:
    """A plain-text report of every model fit."""
    u = report.unit
    d = report.data
    lines = [f"source: {d.source}  (format {d.fmt}, unit {u}"
             + (f", read at {d.read_voltage_v:g} V" if isinstance(d, Trace) and np.isfinite(d.read_voltage_v) else "")
             + ")"]
    if report.kind == "trace":
        units = ("the trace's own (normalised) units" if u == "1" and report.g_center == 0 and report.g_scale == 1
                 else f"w = (g - {report.g_center:.6g} {u}) / {report.g_scale:.6g} {u}")
        lines.append(f"data: {len(d.segments)} segments, {d.n_samples} samples; device units: {units}")
    else:
        lines.append(f"data: mean step per bin of {d.up.g_bins_s.size} conductance bins (up and down); "
                     f"w = (g - {report.g_center:.6g}) / {report.g_scale:.6g} S")
    for f in report.fits:
        lines.append("")
        if f.device is None:
            lines.append(f"[{f.model}] failed: {f.message}")
            continue
        tag = "  <- best (lowest BIC)" if f.model == report.best else ""
        lines.append(f"[{f.model}]{tag}  method: {f.method}")
        if "limit" in f.message:
            lines.append(f"  note: {f.message}")
        for k, v in f.params.items():
            lines.append(f"  {k:<14s} = {v: .6g} +/- {f.stderr[k]:.2g}")
        lines.append(f"  dw_min_std     = {f.dw_min_std: .4g} +/- {f.dw_min_std_se:.2g}  (cycle-to-cycle, relative)")
        if np.isfinite(f.read_noise):
            lines.append(f"  read noise     = {f.read_noise: .4g} +/- {f.read_noise_se:.2g} {u}, lag-1 correlation "
                         f"{f.read_noise_corr:.3g} +/- {f.read_noise_corr_se:.2g}  (not accumulated; not part of "
                         "the device model)")
        what = "trace" if report.kind == "trace" else "mean steps"
        lines.append(f"  RMSE ({what}) = {f.rmse:.4g} {u}   R^2 = {f.r2:.4f}   BIC = {f.bic:.1f}")
        lines.append(f"  symmetry point = {f.symmetry_point_w:.4g} (device units) = {f.symmetry_point_g:.6g} {u}")
        lines.append(f"  states         = {f.n_states:.1f}")
    if report.best:
        lines.append("")
        lines.append(f"best model: {report.best}")
    return "\n".join(lines)


def device_toml(report: FitReport, model: str | None = None) -> str:
    """The fitted device of ``model`` (default: the best) as TOML for ``xbarsim train --device FILE.toml``."""
    model = model or report.best
    if model is None:
        raise ValueError("no model was fitted successfully: nothing to write")
    f = report.fit(model)
    if f.device is None:
        raise ValueError(f"model {model!r} failed to fit: {f.message}")
    extra = {"fit": {
        "source": str(report.data.source), "format": report.data.fmt, "unit": report.unit,
        "rmse": f.rmse, "r2": f.r2, "bic": f.bic, "symmetry_point_w": f.symmetry_point_w,
        "symmetry_point_g": f.symmetry_point_g, "n_states": f.n_states, "dw_min_std_se": f.dw_min_std_se,
        "read_noise": f.read_noise, "read_noise_corr": f.read_noise_corr, "method": f.method,
        "best_model": report.best or "",
        **{f"param_{k}": v for k, v in f.params.items()},
        **{f"stderr_{k}": v for k, v in f.stderr.items()},
    }}
    extra["fit"] = {k: v for k, v in extra["fit"].items() if not (isinstance(v, float) and not math.isfinite(v))}
    return to_toml(f.device, extra, header=f"xbarsim device fitted to {report.data.source} (model {model}).\n"
                   "Load with: xbarsim train --device THIS_FILE.toml; the [fit] table is informational.")


# ------------------------------------------------------------------------------------------------------------
def _binned_steps(report: FitReport, n_bins: int = 20):
    """Measured mean step per pulse (data units) vs conductance, up and down, with standard errors.

    Each segment is cut into windows of K samples (K = 10 % of the median segment, 5..50); a line through
    each window gives its step per pulse (read noise averages out) at the window's mean conductance; the
    window steps are then averaged in conductance bins.
    """
    d = report.data
    lo, hi = np.quantile(d.all_g(), [0.005, 0.995])
    edges = np.linspace(lo, hi, n_bins + 1)
    centers = 0.5 * (edges[1:] + edges[:-1])
    K = int(np.clip(np.median([s.g.size for s in d.segments]) // 10, 5, 50))
    g_at, step, sign_of = [], [], []
    for s in d.segments:
        x = np.r_[0, np.cumsum(np.abs(s.counts))].astype(float)
        for a in range(0, s.g.size - K + 1, K):
            xs, gs = x[a:a + K], s.g[a:a + K]
            if xs[-1] == xs[0]:
                continue
            slope = np.polyfit(xs, gs, 1)[0]
            g_at.append(gs.mean())
            step.append(slope * s.direction)
            sign_of.append(s.direction)
    g_at, step, sign_of = np.array(g_at), np.array(step), np.array(sign_of)
    out = {}
    for sign in (1, -1):
        idx = np.digitize(g_at[sign_of == sign], edges) - 1
        st = step[sign_of == sign]
        m = np.full(n_bins, np.nan)
        e = np.full(n_bins, np.nan)
        for b in range(n_bins):
            x = st[idx == b]
            if x.size >= 2:
                m[b] = x.mean()
                e[b] = x.std(ddof=1) / math.sqrt(x.size)
        out[sign] = (m, e)
    return centers, out


def to_dataset(report: FitReport):
    """The report as an ``xarray.Dataset`` (SI units in attrs; device TOML per model in attrs)."""
    import xarray as xr

    u = report.unit
    ok = [f for f in report.fits if f.device is not None]
    models = [f.model for f in ok]
    ds = xr.Dataset(coords={"model": models})
    scal = {
        "rmse": ("RMSE of the fit", u), "r2": ("coefficient of determination", "1"), "bic": ("BIC", "1"),
        "dw_min_std": ("cycle-to-cycle noise (relative std of a step)", "1"),
        "dw_min_std_se": ("standard error of dw_min_std", "1"),
        "read_noise": ("read noise (std, not accumulated)", u), "read_noise_se": ("standard error", u),
        "read_noise_corr": ("lag-1 correlation of the read noise", "1"),
        "read_noise_corr_se": ("standard error of read_noise_corr", "1"),
        "symmetry_point_w": ("symmetry point", "device units"), "symmetry_point_g": ("symmetry point", u),
        "n_states": ("mean steps between the bounds", "1"),
    }
    for k, (ln, unit) in scal.items():
        ds[k] = ("model", np.array([getattr(f, k) for f in ok], dtype=np.float64), {"long_name": ln, "units": unit})
    for f in ok:
        pn = f"param_{f.model}"
        ds = ds.assign_coords({pn: list(f.params)})
        ds[f"value_{f.model}"] = (pn, np.array(list(f.params.values())),
                                  {"long_name": f"fitted parameters of {f.model}", "units": "device units"})
        ds[f"stderr_{f.model}"] = (pn, np.array([f.stderr[k] for k in f.params]),
                                   {"long_name": f"standard errors of {f.model}", "units": "device units"})
    if ok:
        lo, hi = report.g_center - 1.1 * report.g_scale, report.g_center + 1.1 * report.g_scale
        grid = np.linspace(lo, hi, 200)
        ds = ds.assign_coords(g_grid=("g_grid", grid, {"units": u, "long_name": "conductance"}))
        su = np.stack([f.device.step_up(f.device.to_weight(grid) if u == "S" else grid) for f in ok])
        sdn = np.stack([f.device.step_down(f.device.to_weight(grid) if u == "S" else grid) for f in ok])
        to_u = np.array([f.device.siemens_per_unit if u == "S" else 1.0 for f in ok])[:, None]
        ds["model_step_up"] = (("model", "g_grid"), su * to_u, {"long_name": "mean up step of one pulse", "units": u})
        ds["model_step_down"] = (("model", "g_grid"), sdn * to_u,
                                 {"long_name": "mean magnitude of one down pulse's step", "units": u})
    if report.kind == "trace":
        d = report.data
        seg = np.concatenate([np.full(s.g.size, i) for i, s in enumerate(d.segments)])
        idx = np.concatenate([np.arange(s.g.size) for s in d.segments])
        direction = np.concatenate([np.full(s.g.size, s.direction) for s in d.segments])
        pulse = np.concatenate([np.r_[0, np.cumsum(np.abs(s.counts))] for s in d.segments])
        ds = ds.assign_coords(sample=np.arange(seg.size), segment=("sample", seg), index=("sample", idx),
                              direction=("sample", direction), pulse=("sample", pulse))
        ds["g_measured"] = ("sample", d.all_g(), {"long_name": "measured conductance", "units": u})
        if ok:
            fitted = np.stack([np.concatenate([f.fitted[i, : s.g.size] for i, s in enumerate(d.segments)]) for f in ok])
            ds["g_fit"] = (("model", "sample"), fitted, {"long_name": "fitted noise-free response", "units": u})
        centers, st = _binned_steps(report)
        ds = ds.assign_coords(g_bin=("g_bin", centers, {"units": u}))
        ds["measured_step_up"] = ("g_bin", st[1][0], {"long_name": "measured mean up step per pulse", "units": u})
        ds["measured_step_up_se"] = ("g_bin", st[1][1], {"units": u})
        ds["measured_step_down"] = ("g_bin", st[-1][0], {"long_name": "measured mean down step magnitude", "units": u})
        ds["measured_step_down_se"] = ("g_bin", st[-1][1], {"units": u})
    else:
        t = report.data
        ds = ds.assign_coords(g_bin=("g_bin", t.up.g_bins_s, {"units": "S"}))
        ds["table_mean_up"] = ("g_bin", t.up.mean(), {"long_name": "mean up step (table)", "units": "S"})
        ds["table_mean_down"] = ("g_bin", t.down.mean(), {"long_name": "mean down step (table)", "units": "S"})
        ds["table_std_up"] = ("g_bin", t.up.std(), {"units": "S"})
        ds["table_std_down"] = ("g_bin", t.down.std(), {"units": "S"})
        ds["table_median_up"] = ("g_bin", t.up.median(), {"units": "S"})
        ds["table_median_down"] = ("g_bin", t.down.median(), {"units": "S"})
    ds.attrs.update({
        "title": "xbarsim devices fit", "source": str(report.data.source), "format": report.data.fmt,
        "unit": u, "kind": report.kind, "g_center": report.g_center, "g_scale": report.g_scale,
        "best_model": report.best or "", "xbarsim_version": _version(),
        "method": "see xbarsim.devices.fitting: open-loop least squares, then prediction-error least squares "
                  "and maximum likelihood by an extended Kalman filter (traces); least squares of the mean steps "
                  "(tables)",
    })
    if isinstance(report.data, Trace) and np.isfinite(report.data.read_voltage_v):
        ds.attrs["read_voltage_v"] = report.data.read_voltage_v
    for f in ok:
        ds.attrs[f"device_toml_{f.model}"] = device_toml(report, f.model)
        ds.attrs[f"method_{f.model}"] = f.method
        ds.attrs[f"message_{f.model}"] = f.message
    for f in report.fits:
        if f.device is None:
            ds.attrs[f"failed_{f.model}"] = f.message
    return ds


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("xbarsim")
    except Exception:  # noqa: BLE001 - not installed
        return "unknown"


def write_dataset(ds, path) -> None:
    """Write a dataset to netCDF atomically (temporary file in the same folder, then rename)."""
    atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"))


# ------------------------------------------------------------------------------------------------------------
def plot(report: FitReport, path, max_segments: int = 6) -> None:
    """PNG of data vs fit: (a) up and down branches (the first ``max_segments`` segments of a trace; for
    tables the mean response from each end), (b) step size vs conductance with each model's symmetry point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u = report.unit
    ok = [f for f in report.fits if f.device is not None]
    colors = {m: c for m, c in zip(FIT_MODELS, ("tab:gray", "tab:blue", "tab:red", "tab:green", "tab:purple"))}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    scale = 1e3 if u == "S" else 1.0
    gl = "conductance (mS)" if u == "S" else "normalised conductance"
    if report.kind == "trace":
        d = report.data
        nseg = min(max_segments, len(d.segments))
        x0 = 0
        for i in range(nseg):
            s = d.segments[i]
            x = x0 + np.r_[0, np.cumsum(np.abs(s.counts))]
            ax1.plot(x, s.g * scale, ".", ms=2, color="tab:orange" if s.direction > 0 else "tab:cyan",
                     label=("measured, up" if s.direction > 0 else "measured, down") if i < 2 else None)
            for f in ok:
                ax1.plot(x, f.fitted[i, : s.g.size] * scale, "-", lw=1.2, color=colors[f.model],
                         label=f.model if i == 0 else None)
            x0 = x[-1] + 1
        ax1.set_xlabel("pulse number")
        ttl = f"data vs fit ({nseg} of {len(d.segments)} segments)"
        centers, st = _binned_steps(report)
        for sign, mk, lab in ((1, "^", "measured up"), (-1, "v", "measured down")):
            m, e = st[sign]
            ax2.errorbar(centers * scale, m * scale, yerr=e * scale, fmt=mk, ms=4, color="k", alpha=0.6,
                         label=lab, lw=0.8)
    else:
        t = report.data
        gb = t.up.g_bins_s
        ax2.plot(gb * scale, t.up.mean() * scale, "^k", ms=4, label="table mean up")
        ax2.plot(gb * scale, -t.down.mean() * scale, "vk", ms=4, label="table mean |down|")
        q10, q90 = (np.array([np.interp(q, t.up.cdf, t.up.dg_s[:, j]) for j in range(gb.size)]) for q in (0.1, 0.9))
        ax2.fill_between(gb * scale, q10 * scale, q90 * scale, color="tab:orange", alpha=0.2, label="up 10-90 %")
        n = 300
        x = np.arange(n + 1)
        wb = report.to_w(gb)
        mu, md = t.up.mean() / report.g_scale, t.down.mean() / report.g_scale
        for start, sign in ((-1.0, 1), (1.0, -1)):
            w = [start]
            for _ in range(n):
                w.append(np.clip(w[-1] + np.interp(w[-1], wb, mu if sign > 0 else md), -1, 1))
            ax1.plot(x + (0 if sign > 0 else n + 1), report.to_g(np.array(w)) * scale, "k.", ms=2,
                     label="table mean response" if sign > 0 else None)
            for f in ok:
                out = device_response(f.device, [f.device.to_weight(report.to_g(start))],
                           np.full((1, n), sign, dtype=np.int64), np.array([n + 1]))[0]
                ax1.plot(x + (0 if sign > 0 else n + 1), f.device.to_conductance(out) * scale, "-",
                         color=colors[f.model], label=f.model if sign > 0 else None)
        ax1.set_xlabel("pulse number (up from G_min, then down from G_max)")
        ttl = "mean response: table vs fit"
    for f in ok:
        lo, hi = report.g_center - 1.1 * report.g_scale, report.g_center + 1.1 * report.g_scale
        grid = np.linspace(lo, hi, 200)
        wg = f.device.to_weight(grid) if u == "S" else grid
        k = f.device.siemens_per_unit if u == "S" else 1.0
        ax2.plot(grid * scale, f.device.step_up(wg) * k * scale, "-", color=colors[f.model], label=f.model)
        ax2.plot(grid * scale, f.device.step_down(wg) * k * scale, "--", color=colors[f.model])
        ax2.axvline(f.symmetry_point_g * scale, color=colors[f.model], ls=":", lw=1)
    ax2.axhline(0, color="k", lw=0.5)
    ax1.set_ylabel(gl)
    ax1.set_title(ttl)
    ax1.legend(fontsize=7, loc="best")
    ax2.set_xlabel(gl)
    ax2.set_ylabel("step per pulse" + (" (mS)" if u == "S" else ""))
    ax2.set_title("step size vs conductance (solid up, dashed |down|, dotted: symmetry point)")
    ax2.title.set_fontsize(9)
    ax2.legend(fontsize=7, loc="best")
    fig.suptitle(f"{report.data.source}" + (f" - best: {report.best}" if report.best else ""), fontsize=9)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    finally:
        plt.close(fig)
