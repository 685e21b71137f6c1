"""Writes through the wires: bias-scheme voltages, the ideal-wire limit (the pulse-count update exactly), write
strength and disturb emerging from the circuit, and training with circuit="full"."""

from dataclasses import replace

import numpy as np
import pytest

from xbarsim.circuits import Crossbar
from xbarsim.circuits.bias import write_voltages
from xbarsim.circuits.cells import SinhCell
from xbarsim.devices import get_preset
from xbarsim.solvers import solve_circuit
from xbarsim.training import Periphery, TrainConfig, UpdateConfig, train
from xbarsim.training.tile import AnalogArray, pulse_counts, pulse_trains
from xbarsim.training.writes import circuit_write, phases

IDEAL_WIRES = dict(r_row_ohm=1e-9, r_col_ohm=1e-9, r_driver_ohm=1e-9, r_sense_ohm=1e-9)


@pytest.mark.parametrize("scheme,half,other", [("v2", 0.5, 0.0), ("v3", 1 / 3, -1 / 3)])
def test_bias_schemes_put_their_closed_form_voltages_on_the_cells(scheme, half, other):
    m, n, v = 6, 5, 1.2
    rows = np.zeros((2, m), bool)
    cols = np.zeros((2, n), bool)
    rows[:, 1], cols[:, 3] = True, True
    vr, vc = write_voltages(rows, cols, np.array([1.0, -1.0]), scheme, v)
    xb = Crossbar(m, n, **IDEAL_WIRES)
    cells = solve_circuit(xb, np.full((m, n), 1e-5), vr, vc, r_rows_ohm=np.full(m, 1e-9),
                          r_cols_ohm=np.full(n, 1e-9)).v_cells
    for k, p in enumerate((1.0, -1.0)):
        expect = np.full((m, n), other * p * v)
        expect[1, :] = expect[:, 3] = half * p * v
        expect[1, 3] = p * v
        np.testing.assert_allclose(cells[k], expect, atol=1e-7)


def test_ideal_wires_reproduce_the_pulse_count_update_exactly(rng):
    """1e-9 Ohm wires and drivers: every coincidence gets exactly v_write (strength 1) and, with the threshold
    above V/2, no half-selected cell reaches it, so the circuit write is the pulse-count update (no
    cycle-to-cycle noise here)."""
    dev = replace(get_preset("reram-hfo2"), dw_min_std=0.0, v_th_v=0.65)
    shape = (12, 7)
    params = dev.sample(shape, np.random.default_rng(3))
    w0 = params.initial_weights(0.1)
    x, d = rng.uniform(-1, 1, (4, 12)), rng.uniform(-1, 1, (4, 7))
    cfg = UpdateConfig()
    counts = pulse_counts(x, d, 0.05, dev.dw_min, cfg, np.random.default_rng(9))
    fx, fd = pulse_trains(x, d, 0.05, dev.dw_min, cfg, np.random.default_rng(9))
    xb = Crossbar(*shape, **IDEAL_WIRES, cell=SinhCell(0.25))
    for scheme in ("v2", "v3"):
        w, stats = circuit_write(params, w0, dev.to_conductance(w0), xb, *phases(fx, fd, x, d), scheme, seed=1)
        assert stats.coincidences == np.abs(counts).sum() > 0
        assert stats.disturbs == 0 and stats.missed == 0 and stats.efficiency == pytest.approx(1.0, abs=1e-7)
        np.testing.assert_allclose(w, params.apply_pulses(w0, counts, seed=1), rtol=0, atol=1e-9)


def test_ir_drop_weakens_far_writes_and_a_low_threshold_disturbs_half_selected_cells():
    m = n = 32
    dev = replace(get_preset("reram-hfo2"), dw_min_std=0.0, v_th_v=0.5)  # below V/2 = 0.6 V
    params = dev.nominal((m, n))
    w0 = params.initial_weights(0.0)
    xb = Crossbar(m, n, r_row_ohm=5.0, r_col_ohm=5.0, r_driver_ohm=20.0, cell=SinhCell(0.25))
    rows = np.ones((1, m), bool)  # every row fires, one column: the column carries every cell's current
    efficiency = {}
    for col in (0, n - 1):
        cols = np.zeros((1, n), bool)
        cols[0, col] = True
        w_v2, s_v2 = circuit_write(params, w0, dev.to_conductance(w0), xb, rows, cols, np.ones(1), "v2", seed=0)
        _, s_v3 = circuit_write(params, w0, dev.to_conductance(w0), xb, rows, cols, np.ones(1), "v3", seed=0)
        dw = w_v2[:, col] - w0[:, col]
        assert np.all(dw > 0) and dw[0] < dw[-1]  # row 0 is farthest from the column's driver at row M-1
        assert s_v2.efficiency < 1 and s_v2.disturbs > 0 and s_v3.disturbs == 0
        efficiency[col] = s_v2.efficiency
    assert efficiency[n - 1] < efficiency[0]  # farther from the row drivers too


def test_gate_written_ecram_never_writes_through_the_wires():
    dev = get_preset("ecram-li-ion")
    a = AnalogArray(dev, (8, 4), circuit=Crossbar(8, 4, cell="ecram3t"), periphery=Periphery(),
                    rng=np.random.default_rng(0), writes_through_wires=True)
    assert not a.writes_through_wires


def test_training_with_the_full_circuit_records_writes_and_is_reproducible():
    kw = dict(algorithm="sgd", device="reram-hfo2", circuit="full", epochs=1, train_size=40, test_size=20,
              hidden=(8,), downsample=4)
    a, b = train(TrainConfig(**kw), progress=False), train(TrainConfig(**kw), progress=False)
    h = a.history
    assert h["write_pulses"][0] > 0 and h["disturb_pulses"][0] >= 0 and 0 < h["write_efficiency"][0] < 1
    for k in h:
        np.testing.assert_array_equal(h[k], b.history[k])
    ideal = train(TrainConfig(**{**kw, "circuit": "ir-drop"}), progress=False).history
    assert ideal["disturb_pulses"][0] == 0 and ideal["write_efficiency"][0] == 1.0


def test_full_circuit_training_with_ideal_wires_is_the_ir_drop_training():
    """With 1e-9 Ohm wires and periphery, linear cells (the ideal preset) and V/3 writes (no cell reaches the
    threshold unless selected), every read and every write of circuit="full" is the ideal one: the same run."""
    tiny = Crossbar(1, 1, **IDEAL_WIRES)
    kw = dict(algorithm="shd", device="ideal", crossbar=tiny, epochs=1, train_size=30, test_size=20, hidden=(6,),
              downsample=7, update=UpdateConfig(write_scheme="v3"))
    full = train(TrainConfig(circuit="full", **kw), progress=False)
    ir = train(TrainConfig(circuit="ir-drop", **kw), progress=False)
    assert full.history["disturb_pulses"][0] == 0 and full.history["write_pulses"][0] > 0
    assert full.history["write_efficiency"][0] == pytest.approx(1.0, abs=1e-6)
    for a, b in zip(full.layers, ir.layers):
        np.testing.assert_allclose(a.weights(), b.weights(), atol=1e-6)


def test_write_voltages_and_kinetics_refuse_what_would_be_silently_wrong():
    ok = np.ones((2, 3), bool)
    with pytest.raises(ValueError, match="polarity must be one"):
        write_voltages(ok, np.ones((2, 4), bool), np.array([1.0, 0.0]), "v2", 1.0)
    with pytest.raises(ValueError, match=r"rows has shape \(2, 3\) and dtype float64"):
        write_voltages(ok.astype(float), np.ones((2, 4), bool), np.ones(2), "v2", 1.0)
    with pytest.raises(ValueError, match=r"v_kin_v=0.001 is invalid: \(v_write_v - v_th_v\) / v_kin_v = 650"):
        replace(get_preset("reram-hfo2"), v_kin_v=1e-3)
    with pytest.raises(ValueError, match="iv_k2_per_v=2.0 with iv_k3_per_v2=1.0 is invalid"):
        replace(get_preset("reram-hfo2"), iv_model="poly", iv_k2_per_v=2, iv_k3_per_v2=1)
    with pytest.raises(ValueError, match=r"iv_v0_v=1e-06 is invalid"):
        replace(get_preset("reram-hfo2"), iv_v0_v=1e-6)
