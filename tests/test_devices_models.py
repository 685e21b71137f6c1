"""Device models: closed forms of the pulse response and the symmetry point, settling under random pulses,
the lookup table's step statistics, the interface the training code uses, presets, TOML, validation."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

from xbarsim.devices import (MODELS, PRESETS, ConstantStepDevice, ExpStepDevice, LinearStepDevice,
                             LookupTableDevice, PCMDevice, PiecewiseStepDevice, PowStepDevice, SoftBoundsDevice,
                             from_dict, get_preset, load_device, read_crosssim_table, save_device)

ENODE_UP = "data/devices/crosssim_ENODe/dG_increasing.txt"
ENODE_DN = "data/devices/crosssim_ENODe/dG_decreasing.txt"


def up_pulses(arr, w, n, seed=0):
    """n single up pulses (one update each) from w."""
    return arr.apply_pulses(w, np.ones((n,) + arr.shape, dtype=np.int64), seed)


# ------------------------------------------------------------------------------------------------------------
# closed forms of the pulse response
def test_constant_step_is_exact_and_clips_at_the_bound():
    d = ConstantStepDevice(dw_min=0.01, up_down=0.2, w_max=1.0, w_min=-1.0)
    arr = d.nominal((1,))
    w = up_pulses(arr, np.array([0.0]), 50)
    assert w[0] == pytest.approx(50 * 0.012, abs=1e-12)
    assert up_pulses(arr, np.array([0.0]), 200)[0] == 1.0  # 200 * 0.012 > 1: clipped at w_max
    down = arr.apply_pulses(np.array([0.0]), np.array([-30]), 0)
    assert down[0] == pytest.approx(-30 * 0.008, abs=1e-12)


@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_linear_step_n_pulses_closed_form(gamma):
    # w_{k+1} = w_k + dw (1 - g w_k / b)  =>  w_n = b/g - (b/g - w_0) (1 - g dw / b)^n
    d = LinearStepDevice(dw_min=0.01, w_max=1.2, w_min=-0.8, gamma_up=gamma, gamma_down=gamma)
    arr = d.nominal((1,))
    w0, n, b = -0.3, 150, 1.2
    wn = up_pulses(arr, np.array([w0]), n)[0]
    assert wn == pytest.approx(b / gamma - (b / gamma - w0) * (1 - gamma * 0.01 / b) ** n, rel=1e-12)
    # the mirror for down pulses with b_min (40 pulses: not yet clipped at b_min)
    n, bm = 40, -0.8
    wd = arr.apply_pulses(np.array([w0]), np.array([-n]), 0)[0]
    assert wd > bm
    assert wd == pytest.approx(bm / gamma - (bm / gamma - w0) * (1 - gamma * 0.01 / -bm) ** n, rel=1e-12)


def test_softbounds_symmetry_point_closed_form():
    d = SoftBoundsDevice(dw_min=0.01, up_down=0.3, w_max=1.25, w_min=-0.75)
    a_up, a_dn = 0.013, 0.007
    expect = (a_up - a_dn) / (a_up / 1.25 - a_dn / -0.75)
    assert d.symmetry_point() == pytest.approx(expect, rel=1e-12)
    ws = np.array([d.symmetry_point()])
    assert d.step_up(ws)[0] == pytest.approx(d.step_down(ws)[0], rel=1e-12)


def test_one_exp_step_is_the_aihwkit_formula():
    d = ExpStepDevice(dw_min=0.002, up_down=0.25, w_max=1.0, w_min=-1.0, A_up=-1.2, A_down=0.3, gamma_up=4.0,
                      gamma_down=2.0, a=-0.5, b=-0.5)
    arr = d.nominal((1,))
    for w in (-0.7, 0.0, 0.6):
        z = 2 * -0.5 * w / 2.0 - 0.5
        up = 0.0025 * max(1 + 1.2 * math.exp(4 * z), 0)
        dn = 0.0015 * max(1 - 0.3 * math.exp(-2 * z), 0)
        assert arr.apply_pulses(np.array([w]), np.array([1]), 0)[0] == pytest.approx(w + up, rel=1e-13)
        assert arr.apply_pulses(np.array([w]), np.array([-1]), 0)[0] == pytest.approx(w - dn, rel=1e-13)


def test_exp_step_many_small_pulses_follow_the_ode_closed_form():
    # dw/dn = dw_up (1 - A e^{g z}), z = k w + b  =>  n(w) = [w - ln|1 - A e^{g z}| / (g k)] / dw_up
    A, g, a, b, R, dw = -0.8, 3.0, -0.5, -0.5, 2.0, 1e-4
    d = ExpStepDevice(dw_min=dw, w_max=1.0, w_min=-1.0, A_up=A, A_down=0.0, gamma_up=g, gamma_down=g, a=a, b=b)
    k = 2 * a / R

    def n_of(w):
        return (w - math.log(abs(1 - A * math.exp(g * (k * w + b)))) / (g * k)) / dw

    w0, n = -0.9, 8000
    wn = up_pulses(d.nominal((1,)), np.array([w0]), n)[0]
    assert n_of(wn) - n_of(w0) == pytest.approx(n, rel=2e-3)


def test_exp_step_symmetry_point_closed_form_matches_bisection_and_equal_steps():
    d = get_preset("reram-hfo2-expstep")
    arr = d.sample((50,), np.random.default_rng(1))
    closed = arr.symmetry_point()
    numeric = np.clip(arr._symmetry_numeric(), arr.b_min, arr.b_max)
    np.testing.assert_allclose(closed, numeric, atol=1e-9)
    np.testing.assert_allclose(arr.step_up(closed), arr.step_down(closed), rtol=1e-9)
    # unequal gammas: numerical, and the steps are equal there
    d2 = dataclasses.replace(d, gamma_down=3.0)
    ws = d2.symmetry_point()
    assert d2.step_up(ws) == pytest.approx(float(d2.step_down(ws)), rel=1e-9)


def test_pow_step_gamma_one_is_geometric_and_other_gammas_follow_the_ode():
    R, b_max = 2.0, 1.0
    d1 = PowStepDevice(dw_min=0.01, w_max=b_max, w_min=-1.0, pow_gamma=1.0)
    w0, n = -0.5, 120
    wn = up_pulses(d1.nominal((1,)), np.array([w0]), n)[0]
    assert b_max - wn == pytest.approx((b_max - w0) * (1 - 0.01 / R) ** n, rel=1e-12)
    # omega^{1-g} = omega0^{1-g} + (g - 1) (dw / R) n  (continuum limit)
    g, dw = 2.0, 1e-4
    d2 = PowStepDevice(dw_min=dw, w_max=b_max, w_min=-1.0, pow_gamma=g)
    n = 10000
    wn = up_pulses(d2.nominal((1,)), np.array([w0]), n)[0]
    om0, om = (b_max - w0) / R, (b_max - wn) / R
    assert om ** (1 - g) == pytest.approx(om0 ** (1 - g) + (g - 1) * dw / R * n, rel=2e-3)


def test_pow_step_symmetry_point_closed_form():
    d = PowStepDevice(dw_min=0.01, up_down=0.2, w_max=1.0, w_min=-1.0, pow_gamma=2.0)
    r = (0.008 / 0.012) ** 0.5
    assert d.symmetry_point() == pytest.approx(1.0 - r / (1 + r) * 2.0, rel=1e-12)
    d2 = dataclasses.replace(d, pow_up_down=0.3)  # unequal exponents: numerical
    ws = d2.symmetry_point()
    assert d2.step_up(ws) == pytest.approx(float(d2.step_down(ws)), rel=1e-9)


def test_piecewise_with_linear_nodes_is_soft_bounds():
    b_max, b_min = 1.2, -0.8
    nodes = np.linspace(b_min, b_max, 7)
    pw = PiecewiseStepDevice(dw_min=0.01, up_down=0.1, w_max=b_max, w_min=b_min, dw_min_std=0.5,
                             piecewise_up=tuple(1 - nodes / b_max), piecewise_down=tuple(1 - nodes / b_min))
    sb = SoftBoundsDevice(dw_min=0.01, up_down=0.1, w_max=b_max, w_min=b_min, dw_min_std=0.5)
    counts = np.random.default_rng(0).integers(-3, 4, (400, 5))
    a1, a2 = pw.nominal((5,)), sb.nominal((5,))
    w0 = np.linspace(-0.5, 0.5, 5)
    np.testing.assert_allclose(a1.apply_pulses(w0, counts, 7), a2.apply_pulses(w0, counts, 7), atol=1e-12)
    assert pw.symmetry_point() == pytest.approx(sb.symmetry_point(), abs=1e-9)


def test_pcm_reset_and_set():
    d = PCMDevice(dw_min=0.01, w_max=1.0, w_min=-1.0, A_up=-27.235, gamma_up=2.5, a=-1.0, b=-1.0, reset=0.01)
    arr = d.nominal((1,))
    # a down pulse is a reset, from anywhere
    assert arr.apply_pulses(np.array([0.7]), np.array([-1]), 0)[0] == pytest.approx(-0.99, abs=1e-15)
    # a set pulse follows the exponential law: z = -(w + 1)
    w = -0.2
    assert arr.apply_pulses(np.array([w]), np.array([1]), 0)[0] == \
        pytest.approx(w + 0.01 * (1 + 27.235 * math.exp(-2.5 * (w + 1))), rel=1e-13)
    ws = d.symmetry_point()
    assert float(d.step_up(ws)) == pytest.approx(ws + 0.99, rel=1e-9)


def test_read_iv_models_and_derivatives():
    g, v = np.array([1e-5, 2e-5]), np.array([0.1, -0.3])
    lin = SoftBoundsDevice(iv_model="linear")
    np.testing.assert_allclose(lin.read_current(g, v), g * v)
    sh = SoftBoundsDevice(iv_model="sinh", iv_v0_v=0.25)
    np.testing.assert_allclose(sh.read_current(g, v), g * 0.25 * np.sinh(v / 0.25))
    po = SoftBoundsDevice(iv_model="poly", iv_k2_per_v=0.3, iv_k3_per_v2=0.8)
    np.testing.assert_allclose(po.read_current(g, v), g * (v + 0.3 * v**2 + 0.8 * v**3))
    for d in (lin, sh, po):
        h = 1e-6
        fd = (d.read_current(g, v + h) - d.read_current(g, v - h)) / (2 * h)
        np.testing.assert_allclose(d.read_current_dv(g, v), fd, rtol=1e-7)


# ------------------------------------------------------------------------------------------------------------
# random +/- pulses settle at the symmetry point
SETTLE = {
    "constant-like linear": LinearStepDevice(dw_min=0.002, w_max=1.0, w_min=-1.0, gamma_up=0.3, gamma_down=0.6,
                                             up_down=0.1, dw_min_std=0.3),
    "softbounds": SoftBoundsDevice(dw_min=0.002, up_down=0.2, w_max=1.25, w_min=-0.75, dw_min_std=0.5),
    "expstep": ExpStepDevice(dw_min=0.002, up_down=0.259, w_max=1.0, w_min=-1.0, A_up=-1.18445,
                             A_down=-0.081404, gamma_up=5.0, gamma_down=5.0, a=-0.5, b=-0.5, dw_min_std=0.5),
    "powstep": PowStepDevice(dw_min=0.004, up_down=0.1, w_max=1.0, w_min=-1.0, pow_gamma=1.5, pow_up_down=0.2,
                             dw_min_std=0.5),
    "piecewise": PiecewiseStepDevice(dw_min=0.002, w_max=1.0, w_min=-1.0, piecewise_up=(1.6, 1.2, 0.9, 0.4),
                                     piecewise_down=(0.3, 0.8, 1.1, 1.5), dw_min_std=0.5),
    "lookup (ENODe)": LookupTableDevice(table_up=ENODE_UP, table_down=ENODE_DN),
    "pcm": PCMDevice(dw_min=0.002, reset=0.01, reset_std=0.001),
}


@pytest.mark.parametrize("name", list(SETTLE))
def test_random_pulses_settle_at_the_symmetry_point(name):
    d = SETTLE[name]
    arr = d.nominal((2000,))
    rng = np.random.default_rng(3)
    w = arr.initial_weights(rng.uniform(d.w_min, d.w_max, 2000))
    counts = rng.choice(np.array([-1, 1], dtype=np.int32), size=(6000, 2000))
    w = arr.apply_pulses(w, counts, seed=5)
    # time average over a further stretch, then over devices
    acc = np.zeros(2000)
    for i in range(20):
        w = arr.apply_pulses(w, rng.choice(np.array([-1, 1], dtype=np.int32), size=(100, 2000)), seed=100 + i)
        acc += w
    mean = float(acc.mean() / 20)
    ws = d.symmetry_point()
    # the stationary mean differs from w* by O(step): 0.6 % of the range (the ENODe table's steps are 1 %)
    assert abs(mean - ws) < 0.006 * (d.w_max - d.w_min), (mean, ws)


# ------------------------------------------------------------------------------------------------------------
# lookup table
def test_lookup_table_reproduces_median_step_per_bin_within_sampling_error():
    d = LookupTableDevice(table_up=ENODE_UP, table_down=ENODE_DN)
    up, dn = d.tables()
    n = 20000
    arr = d.nominal((n,))
    spu = d.siemens_per_unit
    for table, sign in ((up, 1), (dn, -1)):
        med = table.median()
        for j in range(1, table.g_bins_s.size - 1):
            w0 = np.full(n, float(d.to_weight(table.g_bins_s[j])))
            steps = (arr.apply_pulses(w0, np.full(n, sign, dtype=np.int32), seed=j) - w0) * spu
            # standard error of a sample median: 1 / (2 f(m) sqrt(n)), f = 1 / (dQ/du) at u = 0.5
            du = 0.02
            slope = (np.interp(0.5 + du, table.cdf, table.dg_s[:, j])
                     - np.interp(0.5 - du, table.cdf, table.dg_s[:, j])) / (2 * du)
            se = slope / (2 * math.sqrt(n))
            assert abs(np.median(steps) - med[j]) <= 4 * se + 1e-12 * abs(med[j]) + 1e-15, (j, sign)
        # the mean step function is the table's mean
        wb = d.to_weight(table.g_bins_s)
        got = (d.step_up(wb) if sign > 0 else -d.step_down(wb)) * spu
        np.testing.assert_allclose(got, table.mean(), rtol=1e-10, atol=1e-18)


def test_lookup_table_with_a_constant_table_is_a_constant_step(tmp_path):
    g = np.linspace(1e-4, 2e-4, 5)
    cdf = np.linspace(0, 1, 3)
    for name, v in (("up.txt", 2e-6), ("dn.txt", -1e-6)):
        lines = ["title", ",".join(map(str, g.tolist())), ",".join(map(str, cdf.tolist()))]
        lines += [",".join([repr(v)] * 5)] * 3
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    d = LookupTableDevice(table_up=str(tmp_path / "up.txt"), table_down=str(tmp_path / "dn.txt"))
    arr = d.nominal((3,))
    w = arr.apply_pulses(np.zeros(3), np.array([10, -10, 3]), seed=1)
    np.testing.assert_allclose(w * d.siemens_per_unit, [2e-5, -1e-5, 6e-6], rtol=1e-12)
    assert d.dw_min == pytest.approx(1.5e-6 / d.siemens_per_unit)


def test_crosssim_table_reader_rejects_a_bad_file(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("title\n1,2\n0,1\n1,2,3\n")
    with pytest.raises(ValueError, match="lookup table .*shape"):
        read_crosssim_table(p)


# ------------------------------------------------------------------------------------------------------------
# the interface the training code uses, for every preset and model
ALL_DEVICES = {name: get_preset(name) for name in PRESETS} | {f"model:{k}": v for k, v in SETTLE.items()}


@pytest.mark.parametrize("name", list(ALL_DEVICES))
def test_device_interface(name):
    d = ALL_DEVICES[name]
    for attr in ("name", "citation", "dw_min", "w_min", "w_max", "n_states", "siemens_per_unit"):
        getattr(d, attr)
    assert d.w_min < 0 < d.w_max and d.dw_min > 0 and d.n_states > 1
    g = d.to_conductance(np.array([d.w_min, d.w_max]))
    np.testing.assert_allclose(g, [d.g_min_s, d.g_max_s])
    np.testing.assert_allclose(d.to_weight(g), [d.w_min, d.w_max])
    assert isinstance(d.to_dict(), dict) and d.to_dict()["model"] == d.model
    arr = d.sample((4, 3), np.random.default_rng(0))
    assert arr.device is d and arr.shape == (4, 3) and arr.b_min.shape == arr.b_max.shape == (4, 3)
    w = arr.initial_weights(0.0)
    assert w.shape == (4, 3)
    assert arr.step_up(w).shape == arr.step_down(w).shape == (4, 3)
    ws = arr.symmetry_point()
    assert ws.shape == (4, 3) and np.all((ws >= arr.b_min) & (ws <= arr.b_max))
    counts = np.random.default_rng(1).integers(-4, 5, (6, 4, 3))
    w1 = arr.apply_pulses(w, counts, seed=9)
    assert w1.shape == (4, 3) and np.all((w1 >= arr.b_min) & (w1 <= arr.b_max))
    np.testing.assert_array_equal(w1, arr.apply_pulses(w, counts, seed=9))  # same seed, same numbers
    w2, mean = arr.zero_shift(w1, 50, seed=3)
    assert w2.shape == mean.shape == (4, 3)


def test_results_do_not_depend_on_the_number_of_threads():
    arr = get_preset("reram-hfo2-expstep").sample((64, 32), np.random.default_rng(0))
    counts = np.random.default_rng(1).integers(-5, 6, (20, 64, 32))
    n = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = arr.apply_pulses(arr.initial_weights(0.0), counts, seed=4)
    finally:
        numba.set_num_threads(n)
    np.testing.assert_array_equal(one, arr.apply_pulses(arr.initial_weights(0.0), counts, seed=4))


def test_device_to_device_sampling_statistics():
    d = SoftBoundsDevice(dw_min=0.01, w_max=1.0, w_min=-1.0, dw_min_dtod=0.1, up_down_dtod=0.05, w_max_dtod=0.2,
                         w_min_dtod=0.3, g_min_s=5e-5, g_max_s=1e-4)
    arr = d.sample((400, 250), np.random.default_rng(2))
    dw = 0.5 * (arr.dw_up + arr.dw_dn)
    assert dw.mean() == pytest.approx(0.01, rel=0.005) and dw.std() / dw.mean() == pytest.approx(0.1, rel=0.02)
    ud = (arr.dw_up - arr.dw_dn) / (arr.dw_up + arr.dw_dn)
    assert ud.std() == pytest.approx(0.05, rel=0.02)
    assert arr.b_max.std() == pytest.approx(0.2, rel=0.02) and arr.b_min.std() == pytest.approx(0.3, rel=0.02)
    ln = dataclasses.replace(d, dw_min_dtod=0.5, dw_min_dtod_dist="lognormal").sample((400, 250),
                                                                                     np.random.default_rng(2))
    assert np.log(0.5 * (ln.dw_up + ln.dw_dn) / 0.01).std() == pytest.approx(0.5, rel=0.02)
    pw = PowStepDevice(pow_gamma=2.0, pow_gamma_dtod=0.1).sample((400, 250), np.random.default_rng(2))
    assert pw.law_params[0].std() == pytest.approx(0.2, rel=0.03)


def test_cycle_to_cycle_noise_is_the_relative_std_of_a_step():
    d = ConstantStepDevice(dw_min=0.001, dw_min_std=0.4)
    arr = d.nominal((50000,))
    steps = arr.apply_pulses(np.zeros(50000), np.ones(50000, dtype=np.int32), seed=2) / 0.001
    assert steps.mean() == pytest.approx(1.0, abs=0.01) and steps.std() == pytest.approx(0.4, rel=0.02)
    add = dataclasses.replace(d, noise="add")
    steps = add.nominal((50000,)).apply_pulses(np.full(50000, 0.9), np.ones(50000, dtype=np.int32), seed=2)
    assert (steps - 0.9).std() / 0.001 == pytest.approx(0.4, rel=0.02)


# ------------------------------------------------------------------------------------------------------------
# presets, TOML, validation
def test_presets_keep_their_published_parameters():
    li = get_preset("ecram-li-ion")
    assert (li.dw_min, li.w_max, li.w_min, li.gamma_up, li.gamma_down, li.dw_min_std) == \
        (0.002, 1.1724, -0.8276, 0.1153, 0.5085, 0.3)
    mo = get_preset("ecram-metal-oxide")
    assert (mo.dw_min, mo.gamma_up, mo.gamma_down, mo.dw_min_std) == (2.8214e-4, 0.4152, 0.7342, 2.0)
    hf = get_preset("reram-hfo2")
    assert (hf.dw_min, hf.w_max, hf.w_min, hf.dw_min_dtod, hf.w_max_dtod, hf.w_min_dtod, hf.dw_min_std) == \
        (0.002, 1.25, -0.75, 0.3, 0.24, 0.40, 3.75)
    es = get_preset("reram-hfo2-expstep")
    assert (es.dw_min, es.A_up, es.A_down, es.gamma_up, es.a, es.b) == (0.00135, -1.18445, -0.081404, 5.0, -0.5, -0.5)
    om = get_preset("reram-array-om")
    assert (om.dw_min, om.w_max, om.w_min, om.dw_min_dtod, om.dw_min_std) == (0.0949, 1.4839, -0.6192, 0.7829, 0.4158)
    assert get_preset("ideal").n_states == pytest.approx(2000)
    assert get_preset("ideal").mean_step == pytest.approx(0.001)
    pcm = get_preset("pcm-gst")
    assert pcm.n_states == pytest.approx(2.0 / pcm.mean_step) and pcm.mean_step > pcm.dw_min  # SET steps only
    en = get_preset("ecram-enode")
    assert (en.g_min_s, en.g_max_s) == (0.00029772, 0.00097828)
    for name in PRESETS:
        assert get_preset(name).citation


@pytest.mark.parametrize("name", list(PRESETS))
def test_toml_round_trip_of_every_preset(name, tmp_path):
    d = get_preset(name)
    p = tmp_path / f"{name}.toml"
    save_device(d, p)
    back = load_device(str(p))
    assert type(back) is type(d) and back.to_dict() == d.to_dict()
    assert from_dict(d.to_dict()) == d


def test_load_device_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="not a known preset: allowed values are reram-hfo2") as e:
        load_device("nonsense")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="does not exist"):
        load_device(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[device\nmodel = 1\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_device(str(bad))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[device]\nmodel = "softbounds"\ndw_mni = 0.1\n')
    with pytest.raises(ValueError, match="'dw_mni' is not a parameter of model 'softbounds'"):
        load_device(str(unknown))
    badval = tmp_path / "badval.toml"
    badval.write_text('[device]\nmodel = "expstep"\ngamma_up = -1.0\n')
    with pytest.raises(ValueError, match=r"gamma_up=-1.0 is invalid: must be in \[0.0, 100.0\]"):
        load_device(str(badval))
    nomodel = tmp_path / "nomodel.toml"
    nomodel.write_text('[device]\nmodel = "memristor"\n')
    with pytest.raises(ValueError, match="model='memristor' is invalid: allowed values are constant"):
        load_device(str(nomodel))


@pytest.mark.parametrize("cls, kw, msg", [
    (SoftBoundsDevice, dict(dw_min=-1.0), r"dw_min=-1.0 is invalid: must be a finite number > 0"),
    (SoftBoundsDevice, dict(w_min=0.5), r"w_min=0.5 is invalid: must be a finite number < 0"),
    (SoftBoundsDevice, dict(noise="gauss"), r"noise='gauss' is invalid: allowed values are mult, add"),
    (SoftBoundsDevice, dict(iv_model="diode"), r"iv_model='diode' is invalid: allowed values are linear"),
    (PowStepDevice, dict(pow_up_down=2.0), r"pow_up_down=2.0 is invalid: must be in \[-0.99, 0.99\]"),
    (PiecewiseStepDevice, dict(piecewise_up=(1.0,)), r"piecewise_up=\(1.0,\) is invalid"),
    (PiecewiseStepDevice, dict(piecewise_up=(1.0, 1.0, 1.0)), r"piecewise_down has 2 nodes"),
    (LookupTableDevice, dict(table_up="nowhere.txt"), r"lookup table 'nowhere.txt' does not exist"),
    (PCMDevice, dict(reset=-0.1), r"reset=-0.1 is invalid"),
    (SoftBoundsDevice, dict(g_max_s=1e5), r"^g_max_s=100000.0 is invalid: must be in \[1e-15, 1000\] S"),
    (SoftBoundsDevice, dict(g_min_s=1e-20), r"^g_min_s=1e-20 is invalid: must be in \[1e-15, 1000\] S"),
    (PiecewiseStepDevice, dict(piecewise_up=(0.0, 0.0, 0.0), piecewise_down=(1.0, 0.0, 0.0)),
     r"^piecewise_up=\(0.0, 0.0, 0.0\) is invalid: at least one step must be > 0"),
    (PiecewiseStepDevice, dict(piecewise_down=(0.0, 0.0)), r"^piecewise_down=\(0.0, 0.0\) is invalid: at least one"),
])
def test_bad_parameters_give_one_line_errors(cls, kw, msg):
    with pytest.raises(ValueError, match=msg) as e:
        cls(**kw)
    assert "\n" not in str(e.value)


def test_every_model_is_registered():
    assert set(MODELS) == {"constant", "linearstep", "softbounds", "expstep", "powstep", "piecewise", "lookup",
                           "pcm"}
    for name, cls in MODELS.items():
        assert cls.model == name


def test_load_device_paths_directories_binary_files_and_conductance_range(tmp_path):
    p = tmp_path / "d.toml"
    save_device(get_preset("reram-hfo2"), p)
    assert load_device(p) == get_preset("reram-hfo2")  # a pathlib.Path
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"^device file '.*dir.toml' is a directory: expected a .toml file$"):
        load_device(str(folder))
    binary = tmp_path / "bin.toml"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ValueError, match=r"bin.toml' is not a text \(TOML\) file: byte 0x80 at offset 0"):
        load_device(binary)
    for key, value in (("g_max_s", "1e5"), ("g_min_s", "1e-20")):
        bad = tmp_path / f"{key}.toml"
        bad.write_text(f'[device]\nmodel = "softbounds"\n{key} = {value}\n')
        with pytest.raises(ValueError, match=rf"{key}.toml': {key}=\S+ is invalid: must be in \[1e-15, 1000\] S"):
            load_device(bad)


def _set_value(line, j, x):
    cells = line.split(",")
    cells[j] = x
    return ",".join(cells)


def _table_lines():
    return [ln for ln in Path(ENODE_UP).read_text().splitlines() if ln.strip()]


@pytest.mark.parametrize("cut, msg", [
    (lambda ls: ls[:2], r"has 2 non-empty lines: expected a title line, the conductance bins \(S\), the CDF"),
    (lambda ls: ls[:40], r"the matrix has 37 rows: expected 122, one per CDF point .*is the file truncated\?"),
    (lambda ls: ls[:40] + [ls[40][:45]], r"line 41 has 2 values: expected 48, one per conductance bin"),
    (lambda ls: ls[:40] + [ls[40][:50]], r"line 41, value 3 is empty \(is the file truncated\?\)"),
    (lambda ls: ls[:5] + [_set_value(ls[5], 3, "abc")] + ls[6:], r"line 6, value 4: 'abc' is not a number"),
    (lambda ls: ls[:5] + [_set_value(ls[5], 3, "nan")] + ls[6:], r"line 6, value 4: 'nan' is not a finite number"),
    (lambda ls: [ls[0], ls[1].replace(ls[1].split(",")[0], "1e300", 1)] + ls[2:],
     r"conductance bins \(line 2\) must be >= 2 increasing values in \[1e-15, 1000\] S"),
    (lambda ls: ls[:3] + [",".join(repr(float(x) * (1e300 if j == 5 else 1)) for j, x in enumerate(ln.split(",")))
                          for ln in ls[3:]],
     r"a step of 9e\+294 S is larger than the table's conductance range \(0.00068056 S\)"),
])
def test_bad_lookup_tables_name_the_file_and_line(tmp_path, cut, msg):
    p = tmp_path / "dG_increasing.txt"
    p.write_text("\n".join(cut(_table_lines())) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy or scipy warning leaks
        with pytest.raises(ValueError, match=rf"^lookup table .*dG_increasing.txt: {msg}") as e:
            read_crosssim_table(p)
    assert "\n" not in str(e.value)
