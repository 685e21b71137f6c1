"""The nodal solver against closed forms, an independent scipy solve, Kirchhoff's laws and energy balance."""

import numpy as np
import pytest

from xbarsim.circuits import Crossbar
from xbarsim.solvers import (NonConvergence, branch_currents, kcl_residual, read_backward, read_forward, solve,
                             solve_reference)


def random_circuit(rng, m, n, batch=4):
    r = 10 ** rng.uniform(-1, 1)
    xb = Crossbar(m, n, r_row_ohm=r, r_col_ohm=10 ** rng.uniform(-1, 1), r_driver_ohm=rng.uniform(1, 100),
                  r_sense_ohm=rng.uniform(1, 100))
    g = 10 ** rng.uniform(-7, -4, (m, n))
    return xb, g, rng.uniform(-0.3, 0.3, (batch, m)), rng.uniform(-0.05, 0.05, (batch, n))


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_zero_wire_resistance_gives_the_ideal_product(rng):
    m, n = 48, 40
    xb = Crossbar(m, n, r_row_ohm=1e-9, r_col_ohm=1e-9, r_driver_ohm=1e-9, r_sense_ohm=1e-9)
    g = 10 ** rng.uniform(-7, -4, (m, n))
    v = rng.uniform(-0.2, 0.2, (5, m))
    assert rel(read_forward(xb, g, v).i_cols, v @ g) <= 1e-9
    d = rng.uniform(-0.2, 0.2, (5, n))
    assert rel(read_backward(xb, g, d).i_rows, d @ g.T) <= 1e-9


@pytest.mark.parametrize("m,n", [(8, 8), (16, 12), (32, 32), (64, 48), (128, 128)])
def test_numba_agrees_with_scipy_and_kcl_holds(rng, m, n):
    for driven in ("rows", "cols"):
        xb, g, vr, vc = random_circuit(rng, m, n)
        if driven == "cols":
            vr, vc = vr * 0.1, rng.uniform(-0.3, 0.3, vc.shape)
        s = solve(xb, g, vr, vc, driven=driven)
        ref = solve_reference(xb, g, vr, vc, driven=driven)
        assert rel(s.i_cols, ref.i_cols) <= 1e-9
        assert rel(s.i_rows, ref.i_rows) <= 1e-9
        assert rel(s.v_row_nodes, ref.v_row_nodes) <= 1e-9
        assert rel(s.v_col_nodes, ref.v_col_nodes) <= 1e-9
        assert kcl_residual(xb, g, s).max() <= 1e-9
        assert s.rel_residual.max() <= 1e-10


@pytest.mark.parametrize("r_wire", [1e-3, 0.1, 10.0, 100.0])
def test_converges_at_every_wire_ratio(rng, r_wire):
    m = n = 64
    xb = Crossbar(m, n, r_row_ohm=r_wire, r_col_ohm=r_wire)
    g = rng.uniform(1e-6, 1e-4, (m, n))
    v = rng.uniform(0, 0.2, (3, m))
    s = read_forward(xb, g, v)
    assert rel(s.i_cols, solve_reference(xb, g, v, np.zeros((3, n))).i_cols) <= 1e-9


def test_energy_balance(rng):
    """Power delivered by the terminal sources equals the power dissipated in cells, wires and terminals."""
    xb, g, vr, vc = random_circuit(rng, 24, 20)
    s = solve(xb, g, vr, vc)
    br = branch_currents(xb, g, s)
    t = s.terminals
    delivered = -(t.v_rows * br["row_terminal"]).sum(axis=1) - (t.v_cols * br["col_terminal"]).sum(axis=1)
    dissipated = ((br["cell"] ** 2 / g).sum(axis=(1, 2)) + (br["row_wire"] ** 2).sum(axis=(1, 2)) * xb.r_row_ohm
                  + (br["col_wire"] ** 2).sum(axis=(1, 2)) * xb.r_col_ohm
                  + (br["row_terminal"] ** 2 / t.g_rows).sum(axis=1) + (br["col_terminal"] ** 2 / t.g_cols).sum(axis=1))
    np.testing.assert_allclose(delivered, dissipated, rtol=1e-9)


def test_reciprocity_of_forward_and_transposed_reads(rng):
    """With equal driver and sense resistance the network is the same both ways, so by reciprocity the
    transposed read's transfer matrix is the forward one transposed -- although IR drop is not symmetric."""
    m, n = 20, 14
    xb = Crossbar(m, n, r_row_ohm=2.0, r_col_ohm=0.5, r_driver_ohm=20.0, r_sense_ohm=20.0)
    g = 10 ** rng.uniform(-6, -4, (m, n))
    k_fwd = read_forward(xb, g, np.eye(m)).i_cols  # (m, n): column currents per unit row voltage
    k_bwd = read_backward(xb, g, np.eye(n)).i_rows  # (n, m)
    np.testing.assert_allclose(k_bwd, k_fwd.T, rtol=1e-8)
    assert rel(k_fwd, g) > 1e-3  # and the IR drop is real


def test_batch_columns_are_independent_and_reproducible(rng):
    xb, g, vr, vc = random_circuit(rng, 30, 25, batch=6)
    s = solve(xb, g, vr, vc)
    one = solve(xb, g, vr[2:3], vc[2:3])
    assert rel(one.i_cols[0], s.i_cols[2]) <= 1e-9
    again = solve(xb, g, vr, vc)
    assert np.array_equal(again.dev, s.dev)


def test_zero_input_is_exactly_zero(rng):
    xb = Crossbar(8, 8)
    s = read_forward(xb, np.full((8, 8), 1e-5), np.zeros((2, 8)))
    assert np.all(s.i_cols == 0) and np.all(s.iterations == 0)


def test_iteration_limit_raises_nonconvergence(rng):
    xb = Crossbar(64, 64, r_row_ohm=10, r_col_ohm=10)
    g = rng.uniform(1e-6, 1e-4, (64, 64))
    with pytest.raises(NonConvergence, match="did not converge") as e:
        read_forward(xb, g, rng.uniform(0, 0.2, (2, 64)), maxiter=2)
    assert e.value.iterations == 2 and e.value.residual > 1e-10 and e.value.worst_node in (0, 1)


@pytest.mark.parametrize("field,value", [("r_row_ohm", 0.0), ("r_col_ohm", -1.0), ("r_driver_ohm", float("nan")),
                                         ("r_sense_ohm", float("inf")), ("v_read_v", 0.0)])
def test_bad_resistance_is_refused_with_its_name(field, value):
    with pytest.raises(ValueError, match=f"^{field}=.* is invalid: must be in "):
        Crossbar(4, 4, **{field: value})


def test_bad_arrays_are_refused():
    xb = Crossbar(4, 3)
    g = np.full((4, 3), 1e-5)
    with pytest.raises(ValueError, match=r"conductance has shape \(3, 4\): expected \(4, 3\)"):
        read_forward(xb, g.T, np.zeros(4))
    with pytest.raises(ValueError, match="conductance contains -1e-05: all entries must be > 0 S"):
        read_forward(xb, -g, np.zeros(4))
    with pytest.raises(ValueError, match="conductance contains nan"):
        read_forward(xb, np.where(g > 0, np.nan, g), np.zeros(4))
    with pytest.raises(ValueError, match=r"v_rows has shape \(1, 3\): expected \(any, 4\)"):
        read_forward(xb, g, np.zeros(3))
    with pytest.raises(ValueError, match="v_rows contains nan"):
        read_forward(xb, g, np.full(4, np.nan))
    with pytest.raises(ValueError, match="driven='both' is invalid"):
        solve(xb, g, np.zeros(4), np.zeros(3), driven="both")
    with pytest.raises(ValueError, match="rows=0 is invalid"):
        Crossbar(0, 3)


@pytest.mark.parametrize("r_driver", [1e3, 1e6, 1e10])
def test_accurate_when_drivers_drop_most_of_the_voltage(rng, r_driver):
    """With a large driver resistance the array carries far less current than the ideal G^T v; the solver
    must still meet rtol on the real currents (it re-centres the unknowns on each line's mean voltage)."""
    n = 32
    xb = Crossbar(n, n, r_driver_ohm=r_driver)
    g = np.full((n, n), 1e-3)
    v = rng.uniform(-0.2, 0.2, (2, n))
    s = read_forward(xb, g, v)
    ref = solve_reference(xb, g, v, np.zeros((2, n)))
    assert rel(s.i_cols, ref.i_cols) <= 1e-9
    assert s.rel_residual.max() <= 1e-10


def test_out_of_range_and_complex_inputs_are_refused():
    xb = Crossbar(4, 3)
    g = np.full((4, 3), 1e-5)
    with pytest.raises(ValueError, match="conductance is complex"):
        read_forward(xb, g + 1j, np.zeros(4))
    with pytest.raises(ValueError, match="v_rows is complex"):
        read_forward(xb, g, np.zeros(4) + 1j)
    with pytest.raises(ValueError, match=r"v_rows contains 1e\+160: all entries must be within \+/-1000 V"):
        read_forward(xb, g, np.full(4, 1e160))
    with pytest.raises(ValueError, match=r"conductance contains 1e-200: all entries must be >= 1e-15 S"):
        read_forward(xb, np.full((4, 3), 1e-200), np.zeros(4))
    with pytest.raises(ValueError, match="conductance is not a numeric array"):
        read_forward(xb, [["a"] * 3] * 4, np.zeros(4))
    with pytest.raises(ValueError, match=r"r_row_ohm=1e-15 is invalid: must be in \[1e-09, 1e\+12\] Ohm"):
        Crossbar(4, 4, r_row_ohm=1e-15)


def test_floating_and_biased_lines_agree_with_scipy_and_kcl_holds(rng):
    """Per-line terminals (bias schemes): a floating line carries no terminal current, KCL holds, and the
    solve agrees with the scipy reference; a V/2-style read biases the unselected lines."""
    m, n = 12, 9
    xb, g, vr, vc = random_circuit(rng, m, n, batch=3)
    r_rows = rng.uniform(1, 100, m)
    r_cols = rng.uniform(1, 100, n)
    r_rows[[1, 5]] = np.inf
    r_cols[[0, 7]] = np.inf
    kw = dict(r_rows_ohm=r_rows, r_cols_ohm=r_cols)
    s = solve(xb, g, vr, vc, **kw)
    ref = solve_reference(xb, g, vr, vc, **kw)
    assert rel(s.i_cols, ref.i_cols) <= 1e-9 and rel(s.v_col_nodes, ref.v_col_nodes) <= 1e-9
    assert rel(s.v_row_nodes, ref.v_row_nodes) <= 1e-9
    assert np.all(s.i_rows[:, [1, 5]] == 0) and np.all(s.i_cols[:, [0, 7]] == 0)
    assert kcl_residual(xb, g, s).max() <= 1e-9


@pytest.mark.parametrize("r_wire,r_term,g", [(1e-9, 50.0, 1e-4), (1e-9, 1e4, 1e-4), (1e-3, 1e6, 1e-6),
                                            (0.1, 1e8, 1e-3), (1.0, 1e10, 1e-3), (1.0, 1e12, 1e3), (10.0, 10.0, 1e3)])
def test_exact_to_float64_at_extreme_wire_terminal_and_cell_ratios(rng, r_wire, r_term, g):
    """Against 50-digit arithmetic on the element values: xbarsim keeps 1e-9 where wires are 1e10 times
    stiffer than the terminals or cells 1e4 times more conductive than a segment (the float64 nodal matrix
    that scipy factorises is off by up to 1e-2 there)."""
    from exact_nodal import exact_column_currents

    xb = Crossbar(4, 4, r_row_ohm=r_wire, r_col_ohm=r_wire, r_driver_ohm=r_term, r_sense_ohm=r_term)
    gg = g * rng.uniform(0.5, 1, (4, 4))
    v = rng.uniform(-0.2, 0.2, 4)
    s = solve(xb, gg, v, np.zeros(4))
    assert rel(s.i_cols[0], exact_column_currents(xb, gg, v, np.zeros(4), s.terminals)) <= 1e-9


def test_cells_far_stiffer_than_the_wires_are_refused():
    with pytest.raises(ValueError, match=r"conductance up to 1e\+03 S with 1e\+06 Ohm wire segments is invalid: "
                                         r".* \(allowed: G \* R_wire <= 10000\)"):
        solve(Crossbar(3, 3, r_row_ohm=1e6, r_col_ohm=1e6), np.full((3, 3), 1e3), np.ones(3), np.zeros(3))


def test_all_lines_floating_is_refused():
    xb = Crossbar(3, 3)
    with pytest.raises(ValueError, match="every line floats"):
        solve(xb, np.full((3, 3), 1e-5), np.zeros(3), np.zeros(3), r_rows_ohm=np.inf, r_cols_ohm=np.inf)
    with pytest.raises(ValueError, match=r"r_rows_ohm\[1\]=-1.0 Ohm"):
        solve(xb, np.full((3, 3), 1e-5), np.zeros(3), np.zeros(3), r_rows_ohm=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="r_cols_ohm has shape"):
        solve(xb, np.full((3, 3), 1e-5), np.zeros(3), np.zeros(3), r_cols_ohm=[1.0, 1.0])
