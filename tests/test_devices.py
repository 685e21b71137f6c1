"""The linear-step device model against its closed forms and its symmetry-point dynamics."""

import dataclasses

import numpy as np
import pytest

from xbarsim.devices import PRESETS, LinearStepDevice, get_preset


def noiseless(dev: LinearStepDevice) -> LinearStepDevice:
    return dataclasses.replace(dev, dw_min_std=0.0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_one_pulse_matches_the_step_functions(name, rng):
    arr = noiseless(get_preset(name)).sample((30, 20), rng)
    w = rng.uniform(0.8, 0.9, arr.shape) * np.where(rng.random(arr.shape) < 0.5, arr.b_min, arr.b_max)
    up = arr.apply_pulses(w, np.ones(arr.shape, dtype=int), seed=0)
    down = arr.apply_pulses(w, -np.ones(arr.shape, dtype=int), seed=0)
    np.testing.assert_allclose(up, np.minimum(w + arr.step_up(w), arr.b_max), rtol=0, atol=1e-15)
    np.testing.assert_allclose(down, np.maximum(w - arr.step_down(w), arr.b_min), rtol=0, atol=1e-15)


def test_n_up_pulses_follow_the_soft_bounds_closed_form(rng):
    """w_n = b_max - (b_max - w0) (1 - dw_up / b_max)^n for soft bounds (ALGORITHMS.md section 1); down
    pulses mirror it with b_min < 0: w_n = b_min - (b_min - w0) (1 + dw_dn / b_min)^n."""
    arr = noiseless(get_preset("reram-hfo2")).sample((10, 10), rng)
    w0 = arr.initial_weights(-0.3)
    for n in (1, 10, 250):
        w = arr.apply_pulses(w0, np.full(arr.shape, n), seed=0)
        expect = arr.b_max - (arr.b_max - w0) * (1 - arr.dw_up / arr.b_max) ** n
        np.testing.assert_allclose(w, expect, rtol=1e-12)
        w = arr.apply_pulses(w0, np.full(arr.shape, -n), seed=0)
        expect = arr.b_min - (arr.b_min - w0) * (1 + arr.dw_dn / arr.b_min) ** n
        np.testing.assert_allclose(w, expect, rtol=1e-12)


def test_soft_bounds_symmetry_point_closed_form():
    """tau = 1, a_up = 1.2, a_dn = 0.8: w* = (a_up - a_dn) / (a_up / b_max - a_dn / b_min) = 0.2."""
    dev = LinearStepDevice(dw_min=0.01, w_max=1.0, w_min=-1.0, gamma_up=1.0, gamma_down=1.0, up_down=0.2)
    arr = dev.sample((1,), np.random.default_rng(0))
    assert arr.symmetry_point()[0] == pytest.approx(0.2, abs=1e-15)
    np.testing.assert_allclose(arr.step_up(arr.symmetry_point()), arr.step_down(arr.symmetry_point()), rtol=1e-14)


@pytest.mark.parametrize("name", ["reram-hfo2", "ecram-li-ion", "ecram-metal-oxide"])
def test_symmetry_point_equalises_the_steps_for_every_device(name, rng):
    arr = get_preset(name).sample((40, 40), rng)
    ws = arr.symmetry_point()
    np.testing.assert_allclose(arr.step_up(ws), arr.step_down(ws), rtol=1e-12)
    assert np.all((ws > arr.b_min) & (ws < arr.b_max))


def test_constant_step_device_has_no_restoring_force():
    arr = get_preset("ideal").sample((5, 5), np.random.default_rng(0))
    assert np.all(arr.symmetry_point() == 0)
    w = arr.apply_pulses(arr.initial_weights(0.0), np.full((5, 5), 37), seed=0)
    np.testing.assert_allclose(w, 37 * 0.001, rtol=1e-12)
    biased = LinearStepDevice(dw_min=0.01, up_down=0.1).sample((2,), np.random.default_rng(0))
    np.testing.assert_array_equal(biased.symmetry_point(), biased.b_max)  # drifts to the bound of the larger step


@pytest.mark.parametrize("name", ["reram-hfo2", "ecram-li-ion", "ecram-metal-oxide"])
def test_random_pulses_drive_every_device_to_its_own_symmetry_point(name, rng):
    """Zero-mean random up/down pulses: each device ends at its own w* (without cycle-to-cycle noise the
    only spread left is the random walk's jitter), far from where it started. A larger up/down spread than the
    preset's makes the devices' own points clearly different from each other."""
    dev = dataclasses.replace(noiseless(get_preset(name)), dw_min=max(get_preset(name).dw_min, 0.002),
                              up_down_dtod=0.1)
    arr = dev.sample((20, 20), rng)
    ws = arr.symmetry_point()
    w = arr.initial_weights(0.9 * np.where(rng.random(arr.shape) < 0.5, arr.b_min, arr.b_max))
    n_pulses = int(8 * (dev.w_max - dev.w_min) / dev.dw_min * max(1.0, 1.0 / min(dev.gamma_up, dev.gamma_down)))
    signs = np.where(rng.random((n_pulses,) + arr.shape) < 0.5, 1, -1).astype(np.int8)
    mean = np.zeros(arr.shape)
    tail = n_pulses // 2
    for start in range(0, n_pulses, 1000):
        w = arr.apply_pulses(w, signs[start:start + 1000], seed=start)
        if start >= tail:
            mean += w * min(1000, n_pulses - start)
    mean /= n_pulses - tail
    err = np.abs(mean - ws)
    assert err.max() < 0.15 * (dev.w_max - dev.w_min)
    assert err.mean() < 0.2 * ws.std()  # each device found its own point, not the array's mean


def test_zero_shift_finds_the_symmetry_point_with_noise(rng):
    arr = get_preset("reram-hfo2").sample((30, 30), rng)
    _, measured = arr.zero_shift(arr.initial_weights(0.8), n_pairs=4000, seed=3)
    ws = arr.symmetry_point()
    start = np.abs(0.8 - ws).mean()
    assert np.abs(measured - ws).mean() < 0.08 * start  # cycle-to-cycle jitter (3.75 x the step) is left


def test_cycle_to_cycle_noise_has_the_stated_statistics(rng):
    dev = dataclasses.replace(get_preset("ideal"), dw_min_std=0.5)
    arr = dev.sample((200, 200), rng)
    dw = arr.apply_pulses(arr.initial_weights(0.0), np.ones(arr.shape, dtype=int), seed=11)
    assert dw.mean() == pytest.approx(0.001, rel=0.01)
    assert dw.std() == pytest.approx(0.0005, rel=0.02)


def test_pulses_are_reproducible_and_thread_independent(rng):
    import numba
    arr = get_preset("reram-hfo2").sample((50, 50), rng)
    counts = rng.integers(-5, 6, (3, 50, 50))
    a = arr.apply_pulses(arr.initial_weights(0.1), counts, seed=42)
    numba.set_num_threads(1)
    try:
        b = arr.apply_pulses(arr.initial_weights(0.1), counts, seed=42)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, arr.apply_pulses(arr.initial_weights(0.1), counts, seed=43))


def test_conductance_map_round_trips():
    dev = get_preset("reram-hfo2")
    assert dev.to_conductance(dev.w_min) == pytest.approx(dev.g_min_s)
    assert dev.to_conductance(dev.w_max) == pytest.approx(dev.g_max_s)
    w = np.linspace(-0.7, 1.2, 11)
    np.testing.assert_allclose(dev.to_weight(dev.to_conductance(w)), w, rtol=1e-12)


def test_sampled_devices_keep_a_positive_conductance(rng):
    dev = get_preset("reram-hfo2")
    arr = dev.sample((300, 300), rng)
    assert dev.to_conductance(arr.b_min).min() > 0


def test_unknown_preset_and_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="device='pcm' is not a known preset: allowed values are reram-hfo2"):
        get_preset("pcm")
    with pytest.raises(ValueError, match=r"^dw_min=-0.1 is invalid: must be a finite number > 0"):
        LinearStepDevice(dw_min=-0.1)
    with pytest.raises(ValueError, match=r"^w_min=0.5 is invalid: must be a finite number < 0"):
        LinearStepDevice(w_min=0.5)
    with pytest.raises(ValueError, match=r"^gamma_up=nan is invalid"):
        LinearStepDevice(gamma_up=float("nan"))
    with pytest.raises(ValueError, match=r"^g_max_s=1e-06 is invalid: must exceed g_min_s"):
        LinearStepDevice(g_min_s=1e-6, g_max_s=1e-6)
    arr = get_preset("ideal").sample((3, 3), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"counts has shape \(2, 2\)"):
        arr.apply_pulses(arr.initial_weights(), np.ones((2, 2), dtype=int), seed=0)
    with pytest.raises(ValueError, match="counts has dtype float64: expected integers"):
        arr.apply_pulses(arr.initial_weights(), np.ones((3, 3)), seed=0)


def test_bad_device_state_and_seeds_are_refused():
    arr = get_preset("reram-hfo2").sample((2, 3), np.random.default_rng(0))
    w = arr.initial_weights(0.0)
    with pytest.raises(ValueError, match=r"w has shape \(3, 2\): expected \(2, 3\)"):
        arr.zero_shift(w.T, 10, seed=0)
    with pytest.raises(ValueError, match="w contains nan"):
        arr.apply_pulses(np.full((2, 3), np.nan), np.ones((2, 3), dtype=int), seed=0)
    with pytest.raises(ValueError, match="w has entries outside the devices' bounds"):
        arr.apply_pulses(np.full((2, 3), 100.0), np.ones((2, 3), dtype=int), seed=0)
    for bad in (-1, 2 ** 64, 1.9, "1"):
        with pytest.raises(ValueError, match=r"seed=.* is invalid: must be an integer in \[0, 2\*\*64\)"):
            arr.apply_pulses(w, np.ones((2, 3), dtype=int), seed=bad)
    with pytest.raises(ValueError, match="counts contains 4294967297 pulses"):
        arr.apply_pulses(w, np.full((2, 3), 2 ** 32 + 1), seed=0)
    with pytest.raises(ValueError, match="shape=2.7 is invalid"):
        get_preset("ideal").sample((2.7, 3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="w0 contains nan"):
        arr.initial_weights(np.nan)
    with pytest.raises(ValueError, match="dw_min='0.01' is invalid"):
        LinearStepDevice(dw_min="0.01")


def test_pulse_counts_out_of_range_are_refused_without_overflow():
    arr = get_preset("ideal").sample((3,), np.random.default_rng(0))
    w = arr.initial_weights(0.0)
    for bad, dtype in ((2 ** 63, np.uint64), (2 ** 64 - 1, np.uint64), (-2 ** 63, np.int64), (2 ** 31, np.int64),
                       (-2 ** 31, np.int64)):
        with pytest.raises(ValueError, match=rf"^counts contains {bad} pulses: at most 2\*\*31 - 1 per entry"):
            arr.apply_pulses(w, np.array([0, bad, 0], dtype=dtype), seed=0)
    edge = arr.apply_pulses(w, np.array([2 ** 31 - 1, -(2 ** 31 - 1), 0], dtype=np.int64), seed=0)
    np.testing.assert_array_equal(edge, [arr.b_max[0], arr.b_min[1], 0.0])
    np.testing.assert_array_equal(arr.apply_pulses(w, np.array([3, 0, 1], dtype=np.uint8), seed=0),
                                  [0.003, 0.0, 0.001])


def test_zero_updates_leave_the_weights_unchanged():
    arr = get_preset("reram-hfo2").sample((2, 3), np.random.default_rng(0))
    w = arr.initial_weights(0.1)
    out = arr.apply_pulses(w, np.zeros((0, 2, 3), dtype=np.int64), seed=0)
    np.testing.assert_array_equal(out, w)
    assert out is not w
    out = arr.apply_weighted_pulses(w, np.zeros((0, 2, 3), dtype=np.int8), np.zeros((0, 2, 3)), seed=0)
    np.testing.assert_array_equal(out, w)


def test_sample_needs_a_generator_and_presets_a_name():
    with pytest.raises(ValueError, match=r"^rng=None is invalid: must be a numpy random Generator"):
        get_preset("ideal").sample((2, 2), None)
    with pytest.raises(ValueError, match=r"^rng=0 is invalid: must be a numpy random Generator"):
        get_preset("ideal").sample((2, 2), 0)
    for bad in (["x"], None, 3):
        with pytest.raises(ValueError, match=r"^device=.* is not a known preset: allowed values are reram-hfo2"):
            get_preset(bad)
