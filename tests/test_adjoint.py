"""Adjoint and tangent products of the terminal currents against finite differences, the scipy reference
Jacobian and each other, for linear and nonlinear cells across wire ratios."""

from dataclasses import replace

import numpy as np
import pytest

from xbarsim.circuits import Crossbar
from xbarsim.circuits.cells import SelectorCell, SinhCell
from xbarsim.solvers import solve_circuit, solve_reference
from xbarsim.solvers.adjoint import jvp, vjp
from xbarsim.solvers.reference import reference_jacobian


def rel(a, b):
    return np.abs(np.asarray(a) - b).max() / np.abs(b).max()


def setup(rng, m, n, cell="linear", ratio=1e-2, batch=3, v=0.3):
    """A circuit at wire ratio r_wire * G_max * N = ``ratio``."""
    g = rng.uniform(1e-6, 1e-4, (m, n))
    r = ratio / (g.max() * max(m, n))
    xb = Crossbar(m, n, r_row_ohm=r, r_col_ohm=0.7 * r, r_driver_ohm=rng.uniform(5, 50),
                  r_sense_ohm=rng.uniform(5, 50), cell=cell)
    return xb, g, rng.uniform(-v, v, (batch, m)), rng.uniform(-0.05, 0.05, (batch, n))


def loss(xb, g, vr, vc, yc, yr):
    s = solve_circuit(xb, g, vr, vc, rtol=1e-14 if xb.cell.name == "linear" else 1e-13)
    return float((yc * s.i_cols).sum() + (yr * s.i_rows).sum())


@pytest.mark.parametrize("ratio", [1e-6, 1e-4, 1e-2, 1e-1])
def test_vjp_matches_the_scipy_reference_jacobian(rng, ratio):
    xb, g, vr, vc = setup(rng, 7, 5, ratio=ratio)
    yc = rng.standard_normal((3, 5))
    ref = reference_jacobian(xb, g, vr, vc)
    grad = vjp(solve_circuit(xb, g, vr, vc), g, yc)
    assert rel(grad.g, np.einsum("bj,bjmn->mn", yc, ref["g"])) <= 1e-6
    assert rel(grad.v_rows, np.einsum("bj,bjm->bm", yc, ref["v_rows"])) <= 1e-6
    dg = rng.standard_normal(g.shape) * 1e-6
    di, _ = jvp(solve_circuit(xb, g, vr, vc), g, dg=dg)
    assert rel(di, np.einsum("bjmn,mn->bj", ref["g"], dg)) <= 1e-6


@pytest.mark.parametrize("cell", ["linear", SinhCell(0.25), SelectorCell(SinhCell(0.25))])
def test_vjp_and_jvp_match_finite_differences(rng, cell):
    v = 0.3 if cell == "linear" else 1.5
    xb, g, vr, vc = setup(rng, 9, 8, cell=cell, ratio=5e-2, v=v)
    yc, yr = rng.standard_normal((3, 8)), rng.standard_normal((3, 9))
    sol = solve_circuit(xb, g, vr, vc)
    grad = vjp(sol, g, yc, yr)
    f = lambda **kw: loss(kw.get("xb", xb), kw.get("g", g), kw.get("vr", vr), kw.get("vc", vc), yc, yr)  # noqa: E731
    dg = g * rng.standard_normal(g.shape) * 1e-5
    dvr = rng.standard_normal(vr.shape) * 1e-5
    h = 1.0
    fd = (f(g=g + h * dg, vr=vr + h * dvr) - f(g=g - h * dg, vr=vr - h * dvr)) / (2 * h)
    assert (grad.g * dg).sum() + (grad.v_rows * dvr).sum() == pytest.approx(fd, rel=1e-6)
    di_c, di_r = jvp(sol, g, dg=dg, dv_rows=dvr)
    assert (yc * di_c).sum() + (yr * di_r).sum() == pytest.approx(fd, rel=1e-6)
    for name, attr in (("r_row_ohm", "r_row_ohm"), ("r_col_ohm", "r_col_ohm"), ("r_driver_ohm", None)):
        r = getattr(xb, name)
        hr = 1e-5 * r
        fd = (f(xb=replace(xb, **{name: r + hr})) - f(xb=replace(xb, **{name: r - hr}))) / (2 * hr)
        analytic = getattr(grad, attr) if attr else grad.r_rows_ohm.sum()
        assert analytic == pytest.approx(fd, rel=1e-6), name


def test_dot_product_identity_of_vjp_and_jvp(rng):
    """<y_bar, J t> = <J^T y_bar, t> for every parameter at once: the two products are each other's adjoint."""
    xb, g, vr, vc = setup(rng, 12, 10, cell=SinhCell(0.3), ratio=1e-1, v=1.0)
    sol = solve_circuit(xb, g, vr, vc)
    yc, yr = rng.standard_normal((3, 10)), rng.standard_normal((3, 12))
    t = dict(dg=rng.standard_normal(g.shape) * 1e-6, dv_rows=rng.standard_normal(vr.shape),
             dv_cols=rng.standard_normal(vc.shape), dr_row_ohm=0.3, dr_col_ohm=-0.2,
             dr_rows_ohm=rng.standard_normal(12), dr_cols_ohm=rng.standard_normal(10))
    di_c, di_r = jvp(sol, g, **t)
    grad = vjp(sol, g, yc, yr)
    lhs = (yc * di_c).sum() + (yr * di_r).sum()
    rhs = ((grad.g * t["dg"]).sum() + (grad.v_rows * t["dv_rows"]).sum() + (grad.v_cols * t["dv_cols"]).sum()
           + grad.r_row_ohm * 0.3 - grad.r_col_ohm * 0.2 + grad.r_rows_ohm @ t["dr_rows_ohm"]
           + grad.r_cols_ohm @ t["dr_cols_ohm"])
    assert lhs == pytest.approx(rhs, rel=1e-9)


def test_ideal_wires_give_the_ideal_jacobian(rng):
    """With 1e-9 Ohm wires and periphery, i_cols = v G: dL/dG = v^T y_bar and dL/dv = y_bar G^T."""
    m, n = 10, 6
    xb = Crossbar(m, n, r_row_ohm=1e-9, r_col_ohm=1e-9, r_driver_ohm=1e-9, r_sense_ohm=1e-9)
    g = rng.uniform(1e-6, 1e-4, (m, n))
    v = rng.uniform(-0.2, 0.2, (4, m))
    yc = rng.standard_normal((4, n))
    grad = vjp(solve_circuit(xb, g, v, np.zeros((4, n))), g, yc)
    assert rel(grad.g, v.T @ yc) <= 1e-8 and rel(grad.v_rows, yc @ g.T) <= 1e-8


def test_bad_adjoint_input_is_refused(rng):
    xb, g, vr, vc = setup(rng, 4, 3)
    sol = solve_reference(xb, g, vr, vc)
    with pytest.raises(ValueError, match=r"y_bar_cols has shape \(3, 4\): expected \(3, 3\)"):
        vjp(sol, g, np.ones((3, 4)))
    with pytest.raises(ValueError, match="y_bar_cols contains nan"):
        vjp(sol, g, np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="sol=str is invalid"):
        jvp("x", g)
