"""The Newton solver for nonlinear cells against closed forms, an independent scipy Newton, ngspice (every cell
type and read scheme), Kirchhoff's law; its failure mode; the sneak-path study's physics."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import brentq

from xbarsim.circuits import Crossbar
from xbarsim.circuits.bias import read_bias
from xbarsim.circuits.cells import PolyCell, SelectorCell, SinhCell, TransistorCell
from xbarsim.solvers import (NonConvergence, kcl_residual, read_forward, solve, solve_nonlinear,
                             solve_reference_nonlinear, solve_spice)

from test_spice import _need

CELLS = {"sinh": SinhCell(0.25), "poly": PolyCell(0.5, 2.0), "1s1r": SelectorCell(SinhCell(0.25)),
         "1t1r": TransistorCell(SinhCell(0.25))}


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def circuit(rng, m, n, cell, batch=3, v=2.0):
    xb = Crossbar(m, n, r_row_ohm=10 ** rng.uniform(-1, 1), r_col_ohm=10 ** rng.uniform(-1, 1),
                  r_driver_ohm=rng.uniform(1, 100), r_sense_ohm=rng.uniform(1, 100), cell=cell)
    g = 10 ** rng.uniform(-6, -4, (m, n))
    return xb, g, rng.uniform(-v, v, (batch, m)), rng.uniform(-0.05, 0.05, (batch, n))


def test_one_cell_matches_its_scalar_equation():
    """1x1 array: V = I (r_driver + r_sense) + v_cell with I = G v0 sinh(v_cell / v0), solved by brentq."""
    g, v0, rd, rs, v = 5e-5, 0.25, 800.0, 200.0, 1.7
    xb = Crossbar(1, 1, r_driver_ohm=rd, r_sense_ohm=rs, cell=SinhCell(v0))
    vc = brentq(lambda x: g * v0 * np.sinh(x / v0) * (rd + rs) + x - v, 0, v, xtol=1e-15, rtol=1e-15)
    i = read_forward(xb, np.full((1, 1), g), np.array([[v]])).i_cols[0, 0]
    assert i == pytest.approx(g * v0 * np.sinh(vc / v0), rel=1e-10)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("driven", ["rows", "cols"])
def test_newton_agrees_with_scipy_newton_and_kcl_holds(rng, name, driven):
    xb, g, vr, vc = circuit(rng, 14, 11, CELLS[name])
    if driven == "cols":
        vr, vc = vc[:, :1] * np.ones((1, 14)), rng.uniform(-2, 2, vc.shape)
    s = solve_nonlinear(xb, g, vr, vc, driven=driven)
    ref = solve_reference_nonlinear(xb, g, vr, vc, driven=driven)
    assert rel(s.i_cols, ref.i_cols) <= 1e-9 and rel(s.i_rows, ref.i_rows) <= 1e-9
    assert rel(s.v_row_nodes, ref.v_row_nodes) <= 1e-9 and rel(s.v_col_nodes, ref.v_col_nodes) <= 1e-9
    assert kcl_residual(xb, g, s).max() <= 1e-9
    assert np.abs(s.v_cells).max() > 4 * 0.25  # well inside the nonlinear region


def test_small_signal_limit_is_the_linear_solve(rng):
    """At 1e-4 V a sinh cell is its conductance G to (V/v0)^2 ~ 1e-7."""
    xb, g, vr, vc = circuit(rng, 20, 16, SinhCell(0.25), v=1e-4)
    lin = solve(replace(xb, cell="linear"), g, vr, vc * 1e-3)
    nl = solve_nonlinear(xb, g, vr, vc * 1e-3)
    assert rel(nl.i_cols, lin.i_cols) <= 1e-6


def test_newton_on_linear_cells_is_the_linear_solve(rng):
    xb, g, vr, vc = circuit(rng, 16, 16, "linear")
    assert rel(solve_nonlinear(xb, g, vr, vc).i_cols, solve(xb, g, vr, vc).i_cols) <= 1e-9


def test_floating_lines_and_word_lines(rng):
    xb, g, vr, vc = circuit(rng, 10, 9, CELLS["1t1r"])
    r_rows = np.full(10, 20.0)
    r_rows[[2, 7]] = np.inf
    wl = np.arange(10) % 3 == 0
    s = solve_nonlinear(xb, g, vr, vc, r_rows_ohm=r_rows, word_lines=wl)
    ref = solve_reference_nonlinear(xb, g, vr, vc, r_rows_ohm=r_rows, word_lines=wl)
    assert rel(s.i_cols, ref.i_cols) <= 1e-9 and np.all(s.i_rows[:, [2, 7]] == 0)
    assert kcl_residual(xb, g, s).max() <= 1e-9


def test_warm_start_gives_the_same_answer_in_fewer_iterations(rng):
    xb, g, vr, vc = circuit(rng, 24, 24, CELLS["sinh"])
    cold = solve_nonlinear(xb, g, vr, vc)
    warm = solve_nonlinear(xb, g * (1 + 1e-4), vr, vc, x0=cold)
    again = solve_nonlinear(xb, g * (1 + 1e-4), vr, vc)
    assert rel(warm.i_cols, again.i_cols) <= 1e-9
    assert warm.iterations.sum() < again.iterations.sum()


def test_nonconvergence_carries_its_diagnostics(rng):
    xb, g, vr, vc = circuit(rng, 16, 16, CELLS["sinh"], v=3.0)
    with pytest.raises(NonConvergence, match=r"did not converge: relative KCL residual .* after max_newton=1 "
                                             r"Newton iterations \(a larger max_newton may get there\) "
                                             r"\(batch column \d, worst node: (row|col)-wire") as e:
        solve_nonlinear(xb, g, vr, vc, max_newton=1)
    k, plane, i, j = e.value.worst_node
    assert e.value.iterations == 1 and e.value.residual > 1e-10
    assert 0 <= k < 3 and plane in ("row", "col") and 0 <= i < 16 and 0 <= j < 16


def test_bad_nonlinear_arguments_are_refused():
    xb = Crossbar(3, 3, cell="1t1r")
    g = np.full((3, 3), 1e-5)
    with pytest.raises(ValueError, match=r"word_lines has shape \(2,\)"):
        solve_nonlinear(xb, g, np.ones(3), np.zeros(3), word_lines=[True, False])
    with pytest.raises(ValueError, match="max_newton=0 is invalid"):
        solve_nonlinear(xb, g, np.ones(3), np.zeros(3), max_newton=0)
    with pytest.raises(ValueError, match="dv_max_v=-1"):
        solve_nonlinear(xb, g, np.ones(3), np.zeros(3), dv_max_v=-1)
    with pytest.raises(ValueError, match="apply to nonlinear cells only"):
        read_forward(Crossbar(3, 3), g, np.ones(3), word_lines=np.ones(3, bool))


# ---------------------------------------------------------------------------------------------- vs ngspice


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("scheme", ["floating", "v2", "v3", "all-rows"])
@pytest.mark.parametrize("size", [8, 32])
def test_every_cell_and_read_scheme_agrees_with_ngspice(name, scheme, size):
    """Device voltages up to about 8 v0 (2 V across a v0 = 0.25 V sinh device), rtol 1e-7. The 1T1R cell leaks
    1 nA/V when off (r_off 1e9 Ohm): through the default 1e12 Ohm, lines reached only by leakage carry pA,
    which ngspice's abstol (1e-15 A) resolves to no better than 1e-4."""
    _need("shared")
    rng = np.random.default_rng([size, len(name), len(scheme)])
    cell = replace(CELLS[name], r_off_ohm=1e9) if name == "1t1r" else CELLS[name]
    xb = Crossbar(size, size, r_row_ohm=2.0, r_col_ohm=1.0, r_driver_ohm=20.0, r_sense_ohm=10.0, cell=cell,
                  v_read_v=2.0)
    g = 10 ** rng.uniform(-6, -4, xb.shape)
    kw = {}
    if scheme == "all-rows":
        vr, vc = rng.uniform(-2, 2, (1, size)), np.zeros((1, size))
    else:
        bias = read_bias(xb, [0], [size - 1], scheme).solve_args()
        vr, vc = bias.pop("v_rows")[None], bias.pop("v_cols")[None]
        kw = bias
    if name == "1t1r" and scheme != "all-rows":
        kw["word_lines"] = np.arange(size) == 0
    s = solve_nonlinear(xb, g, vr, vc, **kw)
    sp = solve_spice(xb, g, vr, vc, **kw)
    for a, b in ((s.i_cols, sp.i_cols), (s.i_rows, sp.i_rows), (s.v_row_nodes, sp.v_row_nodes),
                 (s.v_col_nodes, sp.v_col_nodes)):
        assert rel(a, b) <= 1e-7
    if name == "sinh" and scheme == "all-rows":
        assert np.abs(s.v_cells).max() > 6 * 0.25


def test_subprocess_backend_agrees_on_a_nonlinear_netlist():
    _need("subprocess")
    rng = np.random.default_rng(5)
    xb, g, vr, vc = circuit(rng, 12, 12, CELLS["1s1r"], batch=1)
    s = solve_nonlinear(xb, g, vr, vc)
    sp = solve_spice(xb, g, vr, vc, backend="subprocess")
    assert rel(s.i_cols, sp.i_cols) <= 1e-7 and rel(s.v_col_nodes, sp.v_col_nodes) <= 1e-7


# ---------------------------------------------------------------------------------------------- sneak paths


def test_two_by_two_sneak_path_closed_form():
    """Linear cells, ideal wires and periphery, floating lines: the read current is the selected cell plus the
    sneak path of the three other cells in series, V (G_sel + G/3)."""
    from xbarsim.sneak import read_point

    xb = Crossbar(2, 2, r_row_ohm=1e-9, r_col_ohm=1e-9, r_driver_ohm=1e-9, r_sense_ohm=1e-9)
    out = read_point(xb, 1e-4, 1e-5, "floating", 1.0)
    assert out["i_on_a"] == pytest.approx(1e-4 + 1e-4 / 3, rel=1e-8)
    assert out["i_off_a"] == pytest.approx(1e-5 + 1e-4 / 3, rel=1e-8)
    assert out["sneak_current_a"] == pytest.approx(1e-4 / 3, rel=1e-8)
    assert out["power_w"] == pytest.approx(1.0 * out["i_on_a"], rel=1e-8)


def test_read_margin_collapses_for_floating_lines_and_selectors_recover_it():
    from xbarsim.sneak import sneak_study

    ds = sneak_study([8, 32, 128], ["floating", "v3"], ["sinh", "1s1r", "1t1r"])
    m = ds.read_margin
    floating = m.sel(cell="sinh", scheme="floating").values
    assert np.all(np.diff(floating) < 0) and floating[-1] < 0.05
    assert float(m.sel(cell="1s1r", scheme="v3", size=128)) > 5 * floating[-1]
    assert float(m.sel(cell="1t1r", scheme="floating", size=128)) > 0.8  # the access transistor blocks sneaks
    assert ds.read_margin.attrs["units"] == "1" and ds.sneak_current_a.attrs["units"] == "A"


def test_voltages_beyond_the_cells_range_are_refused_not_overflowed():
    """At 100 V a sinh cell's current overflows float64; the solver refuses such spans instead of returning
    NaN as success, and at the largest allowed span it converges and satisfies KCL."""
    xb = Crossbar(8, 6, cell="sinh")
    g = np.full((8, 6), 1e-5)
    with pytest.raises(ValueError, match=r"terminal voltages spanning 100 V are invalid .* beyond 10 V"):
        solve_nonlinear(xb, g, np.full((1, 8), 100.0), np.zeros((1, 6)))
    s = solve_nonlinear(xb, g, np.full((1, 8), 9.9), np.zeros((1, 6)))
    assert np.isfinite(s.rel_residual).all() and kcl_residual(xb, g, s).max() <= 1e-9
    with pytest.raises(ValueError, match="batch 0"):
        solve_nonlinear(xb, g, np.zeros((0, 8)), np.zeros((0, 6)))
    with pytest.raises(ValueError, match="word_lines apply to 1T1R cells only"):
        solve_nonlinear(xb, g, np.ones(8), np.zeros(6), word_lines=np.ones(8, bool))
    with pytest.raises(ValueError, match="apply to nonlinear cells only"):
        read_forward(Crossbar(8, 6), g, np.ones(8), max_newton=5)


def test_sneak_command_refuses_bad_size_ranges_and_repeats(capsys):
    from xbarsim.cli import main

    for args, message in ((["--size", "0..8"], "--size='0..8' is invalid"), (["--size", "3..12"], "powers of two"),
                          (["--size", "8,8"], "each value may appear once"),
                          (["--size", "8", "--scheme", "v3,v3"], "--scheme='v3,v3' is invalid")):
        assert main(["sneak", *args]) == 2
        assert message in capsys.readouterr().err
