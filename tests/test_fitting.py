"""Fitting: synthetic traces of known devices are recovered within 5 %; the three measured data sets fit; the
trace readers, the dataset, PNG and TOML outputs, and the ``xbarsim devices`` subcommand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xbarsim import device_cli
from xbarsim.devices import (ConstantStepDevice, ExpStepDevice, PiecewiseStepDevice, PowStepDevice,
                             SoftBoundsDevice, load_device)
from xbarsim.devices import fit_report as R
from xbarsim.devices import fitting as F
from xbarsim.devices import traces as T
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
    trace = T.simulate_trace(d, T.ramps(cycles, 300), read_noise=read, seed=1)
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
    trace = T.simulate_trace(d, T.ramps(8, 300), read_noise=5e-4 * d.siemens_per_unit, seed=2, unit="S")
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
    trace = T.simulate_trace(d, counts, read_noise=5e-4, seed=3)
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


# ------------------------------------------------------------------------------------------------------------
# bad input: one-line errors that name the file and line (or the parameter), nothing dropped or misread
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def _ramps(tmp_path, set_text=None):
    d = tmp_path / "ramps"
    d.mkdir(parents=True)
    (d / "set.csv").write_text(set_text or "rmp1,rmp2\n1e-4,2e-4\n2e-4,3e-4\n3e-4,4e-4\n3.5e-4,\n")
    (d / "reset.csv").write_text("rmp1\n4e-4\n3e-4\n2e-4\n")
    return d


def test_integer_first_column_is_detected_as_plain_in_any_order(tmp_path):
    p = _write(tmp_path, "t.csv", "3,1e-6\n2,2e-6\n1,3e-6\n5,3e-6\n")
    with pytest.raises(ValueError, match=r"t.csv': pulse numbers decrease at data row 2: they must be non-decr"):
        read_trace(p)
    q = _write(tmp_path, "u.csv", "0,1e-6\n2,2e-6\n3,3e-6\n5,3e-6\n")
    assert read_trace(q).fmt == "plain"
    a = _write(tmp_path, "a.csv", "0,0.9\n0.25,0.5\n0.5,0.25\n1.0,0.0\n")  # an integer or two: still aihwkit
    assert read_trace(a).fmt == "aihwkit"


@pytest.mark.parametrize("text, msg", [
    ("0.1,0.9\nnan,0.5\n0.3,0.4\n0.4,0.3\n", r"line 2, column 1: 'nan' is not a finite number"),
    ("0.1,0.9\nabc,0.5\n0.3,0.4\n0.4,0.3\n", r"line 2, column 1: 'abc' is not a finite number"),
    ("0.1,0.9\n0.2,inf\n0.3,0.4\n0.4,0.3\n", r"line 2, column 2: 'inf' is not a finite number"),
    ("0.1,0.9\n0.2\n0.3,0.4\n0.4,0.3\n", r"line 2 has 1 column: expected 2"),
    ("0.1,0.9\n0.2,0.8,0.7\n0.3,0.4\n0.4,0.3\n", r"line 2 has 3 columns: expected 2"),
    ("0.1,0.9\n0.2,\n0.3,0.4\n0.4,0.3\n", r"line 3, column 2: '0.4' follows the empty cell of line 2"),
])
def test_aihwkit_bad_cells_are_errors_that_name_the_line(tmp_path, text, msg):
    p = _write(tmp_path, "a.csv", text)
    with pytest.raises(ValueError, match=rf"^trace '.*a.csv': {msg}") as e:
        read_trace(p, "aihwkit")
    assert "\n" not in str(e.value)


def test_aihwkit_columns_may_end_early(tmp_path):
    p = _write(tmp_path, "a.csv", "0.1,0.9\n0.2,0.8\n0.3,0.7\n0.4,\n")
    t = read_trace(p, "aihwkit")
    assert [s.g.size for s in t.segments] == [4, 3]


def test_crosssim_bad_cells_and_the_same_file_twice_are_refused(tmp_path):
    d = _ramps(tmp_path)
    t = read_trace(d)
    assert [s.g.size for s in t.segments] == [4, 3, 3]  # set 1, reset 1, set 2 (ramps end at an empty cell)
    (d / "set.csv").write_text("rmp1,rmp2\n1e-4,2e-4\nnan,3e-4\n3e-4,4e-4\n")
    with pytest.raises(ValueError, match=r"set.csv': line 3, column 1: 'nan' is not a finite number"):
        read_trace(d)
    (d / "set.csv").write_text("rmp1\n1e-4\n\n2e-4\n3e-4\n")  # a blank line ends nothing: it is skipped
    assert read_trace(d).segments[0].g.size == 3
    (d / "set.csv").write_text("rmp1,rmp2\n1e-4,2e-4\n,3e-4\n3e-4,4e-4\n")
    with pytest.raises(ValueError, match=r"line 4, column 1: '3e-4' follows the empty cell of line 3"):
        read_trace(d)
    (d / "set.csv").write_text("rmp1\n1e-4\n2e-4\n3e-4,5e-4\n")
    with pytest.raises(ValueError, match=r"line 4 has 2 cells: the header has 1 columns"):
        read_trace(d)
    (d / "set.csv").write_text("rmp1,rmp2\n1e-4,2e-4\n2e-4,\n3e-4,\n")
    with pytest.raises(ValueError, match=r"column 2 \('rmp2'\) has 1 readings: a ramp needs >= 3"):
        read_trace(d)
    s = str(d / "set.csv")
    _ramps(tmp_path / "x")
    for pair in ([s, s], [s, str(tmp_path / "ramps" / "." / "set.csv")]):
        with pytest.raises(ValueError, match="are the same file: give the two files of a pair"):
            read_trace(pair)
    with pytest.raises(ValueError, match="are both set.csv: a crosssim trace needs set.csv and reset.csv"):
        read_trace([s, str(tmp_path / "x" / "ramps" / "set.csv")])
    with pytest.raises(ValueError, match="are the same file"):
        read_trace([f"{ENODE}/dG_increasing.txt", f"{ENODE}/dG_increasing.txt"])


def test_cli_refuses_a_bad_g_window_up_front(tmp_path, capsys, monkeypatch):
    called = []
    monkeypatch.setattr(F, "fit_file", lambda *a, **k: called.append(1))
    for window in (["1e-6", "inf"], ["nan", "1e-5"], ["0", "1e-5"], ["1e-6", "1e4"], ["1e-20", "1e-5"]):
        assert device_cli.main(["devices", "fit", GONG, "--g-window", *window]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "g_window=[" in err and "<= 1000 S" in err
    assert not called
    with pytest.raises(ValueError, match=r"g_window_s=\[1e-06, inf\] is invalid: must be two finite numbers"):
        F.fit_trace(read_trace(GONG), ["constant"], g_window_s=(1e-6, math.inf))


@pytest.mark.parametrize("toml", [False, True])
def test_cli_exits_2_when_no_model_fitted(tmp_path, capsys, monkeypatch, toml):
    monkeypatch.setattr(F, "_fit_one_trace", lambda model, *a: F.ModelFit(model, False, "it did not converge"))
    extra = ["--toml", str(tmp_path / "d.toml")] if toml else []
    assert device_cli.main(["devices", "fit", GONG, "--model", "constant,softbounds", *extra]) == 2
    cap = capsys.readouterr()
    assert "[constant] failed: it did not converge" in cap.out
    assert cap.err.count("\n") == 1 and "no model was fitted successfully (constant: it did not converge" in cap.err
    assert not list(tmp_path.iterdir())


def test_plain_trace_pulse_gaps_are_limited(tmp_path):
    p = _write(tmp_path, "g.csv", "5,1e-6\n1000000000000,2e-6\n1000000000001,3e-6\n1000000000002,1e-6\n")
    with pytest.raises(ValueError, match=r"g.csv': data row 2: 999999999995 pulses since the previous row: at "
                                         r"most 1000000 pulses between two readings"):
        read_trace(p)
    rows = "".join(f"{i * 10 ** 6},{1e-6 * (1 + i % 2)}\n" for i in range(12))
    with pytest.raises(ValueError, match=r"has 11000000 pulses from the first row to the last: at most 10000000"):
        read_trace(_write(tmp_path, "h.csv", rows))
    with pytest.raises(ValueError, match=r"data row 2: pulse number '1e300' is invalid: pulse numbers must be "
                                         r"integers"):
        read_trace(_write(tmp_path, "i.csv", "0,1e-6\n1e300,2e-6\n1e300,3e-6\n"), "plain")
    # traces built in Python are held to the same limits
    from xbarsim.devices.traces import Segment, Trace

    big = Trace((Segment(np.array([1e-6, 2e-6, 3e-6]), np.array([10 ** 9, 1]), "up"),), "S", "plain", "x")
    with pytest.raises(ValueError, match=r"up: 1000000000 pulses between two readings: at most 1000000"):
        F.fit_trace(big, ["constant"])


def test_a_trace_of_one_segment_fits():
    """scipy's sparse trust region fails on one unknown (the start of a single segment)."""
    from xbarsim.devices.traces import Segment, Trace

    rng = np.random.default_rng(0)
    for _ in range(4):
        g = 1e-6 * (1 + rng.random(6))
        rep = F.fit_trace(Trace((Segment(g, np.ones(5, dtype=np.int64), "up"),), "S", "plain", "x"),
                          ["constant", "softbounds"])
        assert len(rep.fits) == 2


@pytest.mark.parametrize("fmt, text", [("plain", "".join(f"{i},1e-6\n" for i in range(1, 7))),
                                       ("aihwkit", "0.5,0.5\n0.5,0.5\n0.5,0.5\n")])
def test_a_constant_trace_is_a_clear_error(tmp_path, fmt, text):
    p = _write(tmp_path, "flat.csv", text)
    with pytest.raises(ValueError, match=r"flat.csv': the trace's conductance never changes \(every sample is "
                                         r"(1e-06 S|0.5)\): nothing to fit"):
        F.fit_file(p, ["constant"])


def test_read_voltage_has_a_sane_range(tmp_path, capsys):
    for v in (1e-300, 0.0, 1e3, math.nan):
        with pytest.raises(ValueError, match=rf"read_voltage_v={v!r} is invalid: must be in \[1e-06, 100\] V"):
            read_trace(CROSSSIM, read_voltage_v=v)
    assert device_cli.main(["devices", "fit", CROSSSIM, "--read-voltage", "1e-300"]) == 2
    assert "--read-voltage=1e-300 is invalid: must be in [1e-06, 100] V" in capsys.readouterr().err
    d = _ramps(tmp_path, "rmp1\n1e-4\n2e-4\n20\n")  # 20 A at 1e-3 V: 2e4 S
    with pytest.raises(ValueError, match=r"column 1: read current 20 A at 0.001 V is 20000 S: at most 1000 S"):
        read_trace(d, read_voltage_v=1e-3)


def test_toml_model_must_be_a_fitted_model(tmp_path, capsys, monkeypatch):
    toml = str(tmp_path / "d.toml")
    assert device_cli.main(["devices", "fit", ENODE, "--model", "constant", "--toml", toml,
                            "--toml-model", "foo"]) == 2
    err = capsys.readouterr().err
    assert "--toml-model='foo' is invalid: allowed values are the models to fit (--model): constant" in err
    assert device_cli.main(["devices", "fit", ENODE, "--model", "constant", "--toml-model", "constant"]) == 2
    assert "--toml-model='constant' is given without --toml" in capsys.readouterr().err
    real = F._fit_one_trace

    def fail_softbounds(model, *a):
        return F.ModelFit(model, False, "no luck") if model == "softbounds" else real(model, *a)

    monkeypatch.setattr(F, "_fit_one_trace", fail_softbounds)
    assert device_cli.main(["devices", "fit", GONG, "--model", "constant,softbounds", "--toml", toml,
                            "--toml-model", "softbounds"]) == 2
    err = capsys.readouterr().err
    assert ("--toml-model='softbounds' is invalid: that model failed to fit (no luck); allowed values are the "
            "fitted models: constant") in err
    assert not list(tmp_path.iterdir())
    rep = F.fit_file(ENODE, ["constant"])
    with pytest.raises(ValueError, match=r"model='foo' is invalid: allowed values are the models of this report "
                                         r"\(constant\)"):
        R.device_toml(rep, "foo")


def test_binary_files_are_not_text(tmp_path, capsys):
    junk = bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))
    (tmp_path / "t.csv").write_bytes(junk)
    with pytest.raises(ValueError, match=r"^trace '.*t.csv' is not a text CSV: byte 0x.. at offset \d+"):
        read_trace(tmp_path / "t.csv")
    (tmp_path / "n.csv").write_bytes(b"0,1e-6\n1,2e-6\x00\n2,3e-6\n")
    with pytest.raises(ValueError, match=r"n.csv' is not a text CSV: it contains NUL bytes"):
        read_trace(tmp_path / "n.csv", "plain")
    d = tmp_path / "lut"
    d.mkdir(parents=True)
    (d / "dG_increasing.txt").write_text(Path(f"{ENODE}/dG_increasing.txt").read_text())
    (d / "dG_decreasing.txt").write_bytes(junk)
    assert device_cli.main(["devices", "fit", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dG_decreasing.txt' is not a text (CrossSim table) file" in err


def test_step_tables_with_different_bins_are_refused(tmp_path):
    lines = Path(f"{ENODE}/dG_decreasing.txt").read_text().splitlines()
    bins = lines[1].split(",")
    bins[-1] = "0.00099"
    (tmp_path / "dG_decreasing.txt").write_text("\n".join([lines[0], ",".join(bins)] + lines[2:]) + "\n")
    with pytest.raises(ValueError, match="its conductance bins differ from those of"):
        read_trace([f"{ENODE}/dG_increasing.txt", str(tmp_path / "dG_decreasing.txt")])
