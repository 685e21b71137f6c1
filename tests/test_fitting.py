"""Fitting: synthetic traces of known devices are recovered within 5 %; the three measured data sets fit; the
trace readers, the dataset, PNG and TOML outputs, and the ``xbarsim devices`` subcommand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from xbarsim import device_cli
from xbarsim.devices import (ConstantStepDevice, ExpStepDevice, PiecewiseStepDevice, PowStepDevice,
                             SoftBoundsDevice, load_device)
from xbarsim.devices import fit_report as R
from xbarsim.devices import fitting as F
from xbarsim.devices.traces import read_trace

GONG = "data/devices/aihwkit_gong2018_HfO2_ReRAM/gong_et_al.csv"
CROSSSIM = "data/devices/crosssim_raw_pulse_example"
ENODE = "data/devices/crosssim_ENODe"

# (device, cycles of 300 up + 300 down pulses, read noise): noise low enough that 5 % is > 3 standard errors
CASES = {
    "constant": (ConstantStepDevice(dw_min=0.01, up_down=0.2, w_max=1.0, w_min=-1.0, dw_min_std=0.1), 10, 5e-4),
    "softbounds": (SoftBoundsDevice(dw_min=0.01, up_down=0.2, w_max=1.2, w_min=-0.9, dw_min_std=0.1), 10, 5e-4),
    "powstep": (PowStepDevice(dw_min=0.02, up_down=0.2, w_max=1.1, w_min=-1.0, pow_gamma=1.8, pow_up_down=0.2,
                              dw_min_std=0.1), 10, 5e-4),
    "expstep": (ExpStepDevice(dw_min=0.01, up_down=0.2, w_max=1.0, w_min=-1.0, A_up=-1.2, A_down=-0.8,
                              gamma_up=5.0, gamma_down=5.0, a=-0.5, b=-0.5, dw_min_std=0.03), 24, 5e-4),
    "piecewise": (PiecewiseStepDevice(dw_min=0.01, w_max=1.0, w_min=-1.0,
                                      piecewise_up=(1.6, 1.3, 1.0, 0.8, 0.5, 0.3),
                                      piecewise_down=(0.4, 0.7, 0.9, 1.0, 1.2, 1.5), dw_min_std=0.1), 10, 5e-4),
}


def _true_value(d, name):
    if name.startswith("step_"):
        i = int(name.rsplit("_", 1)[1])
        nodes = d.piecewise_up if name.startswith("step_up") else d.piecewise_down
        return nodes[i] * d.dw_min
    return getattr(d, name)


@pytest.mark.parametrize("model", list(CASES))
def test_synthetic_trace_parameters_are_recovered_within_5_percent(model):
    d, cycles, read = CASES[model]
    trace = F.simulate_trace(d, F.ramps(cycles, 300), read_noise=read, seed=1)
    f = F.fit_trace(trace, [model]).fits[0]
    assert f.device is not None and f.method.startswith("prediction error")
    for name, value in f.params.items():
        true = _true_value(d, name)
        assert value == pytest.approx(true, rel=0.05), name
    assert f.dw_min_std == pytest.approx(d.dw_min_std, rel=0.05)
    assert f.read_noise == pytest.approx(read, rel=0.05)
    assert abs(f.read_noise_corr) < 0.1
    assert f.symmetry_point_w == pytest.approx(d.symmetry_point(), abs=0.01)
    assert f.r2 > 0.999


def _continuous(trace):
    """The trace as one sequence (a segment starts where the previous ended)."""
    g = [trace.segments[0].g[0]]
    c = []
    for s in trace.segments:
        g.extend(s.g[1:])
        c.extend(s.counts)
    return np.array(g), np.array(c)


@pytest.mark.parametrize("with_direction", [True, False])
def test_plain_csv_in_siemens_is_recovered(tmp_path, with_direction):
    d = SoftBoundsDevice(dw_min=0.01, up_down=-0.15, w_max=1.1, w_min=-0.9, dw_min_std=0.1,
                         g_min_s=1e-5, g_max_s=1e-4)
    trace = F.simulate_trace(d, F.ramps(8, 300), read_noise=5e-4 * d.siemens_per_unit, seed=2, unit="S")
    g, c = _continuous(trace)
    pulse = np.r_[0, np.cumsum(np.abs(c))]
    rows = ["pulse,conductance_s" + (",direction" if with_direction else "")]
    for i in range(g.size):
        extra = "" if not with_direction else ("," + ("up" if i == 0 or c[i - 1] > 0 else "down"))
        rows.append(f"{pulse[i]},{float(g[i])!r}{extra}")
    p = tmp_path / "trace.csv"
    p.write_text("\n".join(rows) + "\n")
    read = read_trace(p)
    assert read.fmt == "plain" and read.unit == "S" and len(read.segments) == 16
    f = F.fit_file(p, ["softbounds"]).fits[0]
    dev = f.device
    assert dev.dw_min * dev.siemens_per_unit == pytest.approx(d.dw_min * d.siemens_per_unit, rel=0.05)
    assert f.symmetry_point_g == pytest.approx(float(d.to_conductance(d.symmetry_point())), rel=0.01)
    assert dev.to_conductance(dev.w_max) == pytest.approx(d.g_max_s, rel=0.02)
    assert dev.to_conductance(dev.w_min) == pytest.approx(d.g_min_s, rel=0.05)
    # inferred directions can misplace a turn by a sample near a soft bound: the noise estimate suffers first
    assert f.dw_min_std == pytest.approx(0.1, rel=0.05 if with_direction else 0.25)


def test_plain_csv_with_sparse_sampling(tmp_path):
    """Every 5th pulse measured: the model applies 5 pulses between samples."""
    d = SoftBoundsDevice(dw_min=0.01, up_down=0.1, w_max=1.0, w_min=-1.0, dw_min_std=0.1)
    counts = []
    for _ in range(8):
        counts += [np.full(60, 5), np.full(60, -5)]
    trace = F.simulate_trace(d, counts, read_noise=5e-4, seed=3)
    g, c = _continuous(trace)
    g = d.to_conductance(g)
    pulse = np.r_[0, np.cumsum(np.abs(c))]
    lines = ["pulse,conductance_s,direction"] + [f"{pulse[i]},{float(g[i])!r},{1 if i == 0 or c[i - 1] > 0 else -1}"
                                                 for i in range(g.size)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    f = F.fit_file(tmp_path / "t.csv", ["softbounds"]).fits[0]
    assert f.device.dw_min * f.device.siemens_per_unit == pytest.approx(d.dw_min * d.siemens_per_unit, rel=0.05)
    assert f.dw_min_std == pytest.approx(0.1, rel=0.1)


# ------------------------------------------------------------------------------------------------------------
# the measured data
def test_fit_gong_hfo2_trace(tmp_path):
    rep = F.fit_file(GONG, ["constant", "softbounds"])
    assert rep.kind == "trace" and rep.unit == "1" and len(rep.data.segments) == 2
    for f in rep.fits:
        assert f.device is not None
        assert 0.85 < f.r2 < 0.95 and 0.15 < f.rmse < 0.25          # noisy data: R^2 ~0.89-0.90
        assert 0.10 < f.read_noise < 0.17                            # read noise ~0.12-0.15 (normalised)
        assert f.dw_min_std > 3                                       # large cycle-to-cycle noise
        assert -1.3 < f.symmetry_point_w < 1.1
    assert rep.best in ("constant", "softbounds")
    # outputs: dataset, TOML that loads, PNG
    R.write_dataset(R.to_dataset(rep), tmp_path / "gong.nc")
    with xr.open_dataset(tmp_path / "gong.nc") as ds:
        assert list(ds["model"].values) == ["constant", "softbounds"]
        assert ds["g_measured"].size == 2000 and ds["g_fit"].shape == (2, 2000)
        assert ds.attrs["best_model"] == rep.best and ds["rmse"].attrs["units"] == "1"
    (tmp_path / "gong.toml").write_text(R.device_toml(rep))
    dev = load_device(str(tmp_path / "gong.toml"))
    assert dev.model == rep.best and dev.dw_min_std == pytest.approx(rep.fit(rep.best).dw_min_std)
    assert (dev.g_min_s, dev.g_max_s) == F.DEFAULT_G_WINDOW_S
    R.plot(rep, tmp_path / "gong.png")
    assert (tmp_path / "gong.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_fit_crosssim_raw_ramps():
    rep = F.fit_file(CROSSSIM, ["softbounds"], read_voltage_v=0.1)
    assert rep.unit == "S" and len(rep.data.segments) == 79 and rep.data.n_samples == 13417
    f = rep.fits[0]
    assert f.r2 > 0.97 and f.rmse < 5e-5                   # 1.6-2.5 mS ramps, RMSE ~34 uS
    assert 1.6e-3 < f.symmetry_point_g < 2.45e-3
    assert 0.2 < f.dw_min_std < 0.5
    assert f.device.g_min_s > 0 and f.device.siemens_per_unit == pytest.approx(rep.g_scale)


def test_fit_enode_lookup_tables():
    rep = F.fit_file(ENODE)
    assert rep.kind == "steps" and rep.best == "piecewise"
    pw = rep.fit("piecewise")
    assert pw.r2 > 0.99 and pw.rmse < 2e-7
    assert 7.5e-4 < pw.symmetry_point_g < 8.3e-4            # ~0.78 mS, like the table's own (0.79 mS)
    sb = rep.fit("softbounds")
    assert 0.85 < sb.r2 < 0.95
    assert rep.fit("constant").r2 < 0.5                       # a constant step does not describe it
    assert pw.dw_min_std == pytest.approx(0.203, abs=0.002)


@pytest.mark.slow
@pytest.mark.parametrize("path", [GONG, CROSSSIM])
def test_fit_all_models_on_measured_traces(path, tmp_path):
    rep = F.fit_file(path)
    assert all(f.device is not None for f in rep.fits)
    if path == CROSSSIM:
        assert rep.best == "piecewise" and rep.fit("piecewise").r2 > 0.999 and rep.fit("expstep").r2 > 0.998
    R.write_dataset(R.to_dataset(rep), tmp_path / "fit.nc")
    R.plot(rep, tmp_path / "fit.png")


# ------------------------------------------------------------------------------------------------------------
# readers and CLI
def test_format_detection_and_reader_errors(tmp_path):
    assert read_trace(GONG).fmt == "aihwkit"
    assert read_trace(f"{CROSSSIM}/reset.csv").fmt == "crosssim"
    assert read_trace([f"{CROSSSIM}/reset.csv", f"{CROSSSIM}/set.csv"]).segments[0].label == "set ramp 1"
    assert read_trace(f"{ENODE}/dG_increasing.txt").fmt == "lut"
    with pytest.raises(ValueError, match="format='xml' is invalid: allowed values are auto"):
        read_trace(GONG, "xml")
    bad = tmp_path / "bad.csv"
    bad.write_text("pulse,conductance_s\n0,1e-5\n1,2e-5\n0,3e-5\n")
    with pytest.raises(ValueError, match="pulse numbers decrease at data row 3"):
        read_trace(bad)
    neg = tmp_path / "neg.csv"
    neg.write_text("0,1e-5\n1,-2e-5\n2,3e-5\n")
    with pytest.raises(ValueError, match="conductances must be finite and > 0 S"):
        read_trace(neg, "plain")
    with pytest.raises(ValueError, match="read_voltage_v=-1.0 is invalid"):
        read_trace(CROSSSIM, read_voltage_v=-1.0)
    with pytest.raises(ValueError, match="model='foo' is invalid"):
        F.fit_file(ENODE, "foo")


def test_cli_list(capsys):
    assert device_cli.main(["devices", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("reram-hfo2", "reram-hfo2-expstep", "reram-array-om", "ecram-li-ion", "ecram-metal-oxide",
                 "ecram-enode", "pcm-gst", "ideal"):
        assert name in out
    assert "states" in out and "asym" in out and "w*" in out


def test_cli_fit_writes_outputs_and_the_device_trains(tmp_path, capsys):
    out, toml, png = tmp_path / "e.nc", tmp_path / "e.toml", tmp_path / "e.png"
    rc = device_cli.main(["devices", "fit", f"{ENODE}/dG_increasing.txt", "--model", "softbounds,piecewise",
                          "--out", str(out), "--toml", str(toml), "--png", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "best model: piecewise" in text and "R^2" in text and "symmetry point" in text
    dev = load_device(str(toml))
    assert dev.model == "piecewise" and dev.g_min_s == pytest.approx(2.9772e-4)
    # the fitted device runs through what a training tile does: sample, program, zero-shift, pulse
    arr = dev.sample((8, 4), np.random.default_rng(0))
    w, ref = arr.zero_shift(arr.initial_weights(0.0), 200, seed=1)
    w = arr.apply_pulses(w, np.random.default_rng(2).integers(-3, 4, (10, 8, 4)), seed=3)
    assert np.all(np.isfinite(w)) and math.isfinite(dev.n_states)
    with xr.open_dataset(out) as ds:
        assert "table_mean_up" in ds and "device_toml_piecewise" in ds.attrs
    # and it trains (demo size): SHD on an MLP, the device given as its TOML file
    from xbarsim.training import AlgorithmConfig, TrainConfig, train

    cfg = TrainConfig(algorithm=AlgorithmConfig.defaults("shd"), device=str(toml), circuit="ideal", hidden=(32,),
                      epochs=2, train_size=2000, test_size=500, downsample=4, seed=0)
    assert cfg.device == dev
    hist = train(cfg, progress=False).history
    assert hist["test_accuracy"][-1] > 0.5  # chance: 0.1; FP reaches ~0.77 at this size


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert device_cli.main(["devices", "fit", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert device_cli.main(["devices", "fit", GONG, "--model", "spline"]) == 2
    assert "model='spline' is invalid" in capsys.readouterr().err
    assert device_cli.main(["devices", "fit", GONG, "--g-window", "1e-4", "1e-5"]) == 2
    assert "g_window=" in capsys.readouterr().err
    assert device_cli.main(["devices", "fit", GONG, "--out", str(tmp_path / "no" / "x.nc")]) == 2
    assert "--out" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
