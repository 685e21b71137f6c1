"""Cell I-V laws: closed forms, the series internal node, and the small-signal conductance."""

import math

import numpy as np
import pytest

from xbarsim.circuits import Crossbar, as_cell, cell_iv
from xbarsim.circuits.cells import PolyCell, SelectorCell, SinhCell, TransistorCell


def iv(cell, g, v, **kw):
    law, p, kind, q = cell.codes(**kw)
    return cell_iv(law, p, kind, q, g, v)


@pytest.mark.parametrize("v", [-1.3, -0.2, 0.0, 1e-6, 0.35, 2.0])
def test_two_terminal_laws_match_closed_forms(v):
    g = 3e-5
    i, d = iv(SinhCell(0.25), g, v)
    assert i == pytest.approx(g * 0.25 * math.sinh(v / 0.25), rel=1e-15, abs=0)
    assert d == pytest.approx(g * math.cosh(v / 0.25), rel=1e-15)
    i, d = iv(PolyCell(0.4, 1.5), g, v)
    assert i == pytest.approx(g * (v + 0.4 * v * v + 1.5 * v ** 3), rel=1e-15, abs=0)
    assert d == pytest.approx(g * (1 + 0.8 * v + 4.5 * v * v), rel=1e-15)


@pytest.mark.parametrize("v", [-2.0, -0.3, 1e-7, 0.1, 0.9, 3.0])
def test_series_cells_solve_their_internal_node(v):
    g = 5e-5
    # two linear elements: the exact series conductance
    i, d = iv(TransistorCell(r_on_ohm=2e3), g, v)
    assert d == pytest.approx(1 / (1 / g + 2e3), rel=1e-14) and i == pytest.approx(d * v, rel=1e-14)
    i_off, _ = iv(TransistorCell(r_on_ohm=2e3, r_off_ohm=1e11), g, v, on=False)
    assert i_off == pytest.approx(v / (1 / g + 1e11), rel=1e-12)
    # selector + sinh device: the same current through both elements, voltages summing to v
    cell = SelectorCell(SinhCell(0.3), i0_a=1e-8, v_sel_v=0.12)
    i, d = iv(cell, g, v)
    vs = 0.12 * math.asinh(i / 1e-8)
    vd = 0.3 * math.asinh(i / (g * 0.3))
    assert vs + vd == pytest.approx(v, rel=1e-12)
    h = 1e-7 * max(abs(v), 1e-3)
    fd = (iv(cell, g, v + h)[0] - iv(cell, g, v - h)[0]) / (2 * h)
    assert d == pytest.approx(fd, rel=1e-6)


def test_crossbar_takes_cell_names_and_objects_and_refuses_others():
    assert Crossbar(2, 2, cell="1s1r").cell == SelectorCell()
    assert Crossbar(2, 2, cell=SinhCell(0.2)).to_dict()["cell_v0_v"] == 0.2
    with pytest.raises(ValueError, match="cell='diode' is invalid: allowed values are linear, sinh"):
        Crossbar(2, 2, cell="diode")
    with pytest.raises(ValueError, match="k2_per_v=2.0 with k3_per_v2=1.0 is invalid"):
        PolyCell(2.0, 1.0)
    with pytest.raises(ValueError, match="v0_v=-1"):
        SinhCell(-1)
    with pytest.raises(ValueError, match="device=.* must be a LinearCell"):
        SelectorCell(device=SelectorCell())
    assert as_cell("ecram3t").name == "ecram3t"


def test_linear_solver_refuses_nonlinear_cells():
    from xbarsim.solvers import solve
    with pytest.raises(ValueError, match="is nonlinear"):
        solve(Crossbar(2, 2, cell="sinh"), np.full((2, 2), 1e-5), np.ones(2), np.zeros(2))
