"""Crosspoint cell types: the static I-V of each cell as a function of its device state G.

Every cell is two-terminal on the read path (row node -> column node) with a current I(V; G) that is zero
at V = 0 and strictly increasing in V, and whose small-signal conductance at V = 0 is set by the device state G (S):

- :class:`LinearCell`: I = G V (ECRAM read path, ReRAM at small read voltage).
- :class:`SinhCell`: passive 0T1R with a nonlinear device, I = G V0 sinh(V / V0).
- :class:`PolyCell`: I = G (V + k2 V^2 + k3 V^3), the polynomial of Milo et al., IRPS 2021 (the same law
  as a device's ``iv_model="poly"``); k2^2 < 3 k3 keeps dI/dV > 0 at every voltage.
- :class:`SelectorCell`: 1S1R, the device in series with a selector I_s = i0 sinh(V_s / v_sel); the internal
  node between them is solved exactly per cell (static condensation: V = V_d + V_s, I_dev(V_d) = I_sel(V_s)).
- :class:`TransistorCell`: 1T1R, the device in series with the access transistor's on-resistance while its
  word line (the row) is on, or its off-resistance (leakage) while off.
- :class:`ECRAMCell`: three-terminal ECRAM. The read path is linear (I = G V); writes go through a separate
  gate path that carries no read-path current, so writes see neither IR drop nor sneak paths.

Numerics: each cell becomes (device law, device parameters, series law, series parameters) for the numba
kernel :func:`cell_iv`, which returns the current and dI/dV at a given cell voltage (:func:`cell_iv_dg` also
dI/dG, for adjoint gradients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from xbarsim.devices import _validate as V

# device laws and series elements, as integer codes for the numba kernels
LAW_LINEAR, LAW_SINH, LAW_POLY = 0, 1, 2
SERIES_NONE, SERIES_SELECTOR, SERIES_RESISTOR = 0, 1, 2


@dataclass(frozen=True)
class LinearCell:
    """I = G V."""

    name = "linear"

    def codes(self):
        return LAW_LINEAR, np.zeros(2), SERIES_NONE, np.zeros(2)


@dataclass(frozen=True)
class SinhCell:
    """Passive nonlinear device, I = G v0 sinh(V / v0); v0_v (V) sets the nonlinearity (0.1-0.5 V typical)."""

    v0_v: float = 0.25
    name = "sinh"

    def __post_init__(self):
        V.positive("v0_v", self.v0_v, "V", 1e-3, 10.0)

    def codes(self):
        return LAW_SINH, np.array([self.v0_v, 0.0]), SERIES_NONE, np.zeros(2)


@dataclass(frozen=True)
class PolyCell:
    """I = G (V + k2 V^2 + k3 V^3); k2_per_v (1/V), k3_per_v2 (1/V^2) (Milo et al., IRPS 2021)."""

    k2_per_v: float = 0.5
    k3_per_v2: float = 2.0
    name = "poly"

    def __post_init__(self):
        k2 = V.in_range("k2_per_v", self.k2_per_v, -1e3, 1e3, "1/V")
        k3 = V.in_range("k3_per_v2", self.k3_per_v2, 0.0, 1e3, "1/V^2")
        if k2 != 0 and not k2 * k2 < 3 * k3:
            raise ValueError(f"k2_per_v={k2!r} with k3_per_v2={k3!r} is invalid: the I-V must increase at every "
                             "voltage, which needs k2_per_v**2 < 3 * k3_per_v2")

    def codes(self):
        return LAW_POLY, np.array([self.k2_per_v, self.k3_per_v2]), SERIES_NONE, np.zeros(2)


def _device_codes(device):
    if not isinstance(device, (LinearCell, SinhCell, PolyCell)):
        raise ValueError(f"device={device!r} is invalid: the device of a series cell must be a LinearCell, "
                         "SinhCell or PolyCell")
    law, p, _, _ = device.codes()
    return law, p


@dataclass(frozen=True)
class SelectorCell:
    """1S1R: ``device`` in series with a selector I = i0_a sinh(V_s / v_sel_v).

    Defaults: a threshold-like selector passing 1e-9 A * sinh(V/0.1 V): about 1e-5 A at 1 V, 1e-9 A at 0.1 V.
    """

    device: LinearCell | SinhCell | PolyCell = LinearCell()
    i0_a: float = 1e-9
    v_sel_v: float = 0.1
    name = "1s1r"

    def __post_init__(self):
        _device_codes(self.device)
        V.positive("i0_a", self.i0_a, "A", 1e-18, 1.0)
        V.positive("v_sel_v", self.v_sel_v, "V", 1e-3, 10.0)

    def codes(self):
        law, p = _device_codes(self.device)
        return law, p, SERIES_SELECTOR, np.array([self.i0_a, self.v_sel_v])


@dataclass(frozen=True)
class TransistorCell:
    """1T1R: ``device`` in series with the access transistor, r_on_ohm when its row's word line is on and
    r_off_ohm (leakage) when off."""

    device: LinearCell | SinhCell | PolyCell = LinearCell()
    r_on_ohm: float = 1e3
    r_off_ohm: float = 1e12
    name = "1t1r"

    def __post_init__(self):
        _device_codes(self.device)
        V.positive("r_on_ohm", self.r_on_ohm, "Ohm", 1e-3, 1e9)
        V.positive("r_off_ohm", self.r_off_ohm, "Ohm", self.r_on_ohm, 1e15)

    def codes(self, on: bool = True):
        law, p = _device_codes(self.device)
        return law, p, SERIES_RESISTOR, np.array([self.r_on_ohm if on else self.r_off_ohm, 0.0])


@dataclass(frozen=True)
class ECRAMCell:
    """Three-terminal ECRAM: linear read path; writes through the gate path (no IR drop, no sneak paths)."""

    name = "ecram3t"

    def codes(self):
        return LAW_LINEAR, np.zeros(2), SERIES_NONE, np.zeros(2)


CELLS = {"linear": LinearCell, "sinh": SinhCell, "poly": PolyCell, "1s1r": SelectorCell, "1t1r": TransistorCell,
         "ecram3t": ECRAMCell}
Cell = LinearCell | SinhCell | PolyCell | SelectorCell | TransistorCell | ECRAMCell


def as_cell(cell) -> Cell:
    """A cell object from a cell object or a cell-type name (its defaults); clear error otherwise."""
    if isinstance(cell, str):
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} is invalid: allowed values are {', '.join(CELLS)}")
        return CELLS[cell]()
    if not isinstance(cell, tuple(CELLS.values())):
        raise ValueError(f"cell={cell!r} is invalid: must be one of {', '.join(CELLS)} or a cell object "
                         "(LinearCell, SinhCell, PolyCell, SelectorCell, TransistorCell, ECRAMCell)")
    return cell


def device_cell(device) -> LinearCell | SinhCell | PolyCell:
    """The passive cell of a device model's static read I-V (its ``iv_model`` and parameters)."""
    if device.iv_model == "sinh":
        return SinhCell(device.iv_v0_v)
    if device.iv_model == "poly":
        return PolyCell(device.iv_k2_per_v, device.iv_k3_per_v2)
    return LinearCell()


def is_linear(cell) -> bool:
    """True when I = G V exactly (the linear solver applies)."""
    return isinstance(as_cell(cell), (LinearCell, ECRAMCell))


@nb.njit(cache=True, inline="always")
def device_iv(law, p, g, v):
    """Device current (A) and dI/dV (S) at voltage v (V)."""
    if law == LAW_SINH:
        x = v / p[0]
        if abs(x) < 1e-3:  # the series: exact to float64 here, where exp(x) - exp(-x) would cancel
            x2 = x * x
            return g * v * (1.0 + x2 / 6.0 * (1.0 + x2 / 20.0)), g * (1.0 + 0.5 * x2 * (1.0 + x2 / 12.0))
        e = math.exp(x)
        ie = 1.0 / e
        return g * p[0] * 0.5 * (e - ie), g * 0.5 * (e + ie)  # one exponential for sinh and cosh
    if law == LAW_POLY:
        return g * (v + p[0] * v * v + p[1] * v * v * v), g * (1.0 + 2.0 * p[0] * v + 3.0 * p[1] * v * v)
    return g * v, g


@nb.njit(cache=True, inline="always")
def series_iv(kind, q, v):
    """Series element's current (A) and dI/dV (S) at voltage v (V)."""
    if kind == SERIES_SELECTOR:
        x = v / q[1]
        return q[0] * math.sinh(x), q[0] / q[1] * math.cosh(x)
    return v / q[0], 1.0 / q[0]


@nb.njit(cache=True)
def cell_iv(law, p, kind, q, g, v):
    """Cell current (A) and small-signal conductance dI/dV (S) at cell voltage v (V)."""
    i, d, _ = cell_iv_dg(law, p, kind, q, g, v)
    return i, d


@nb.njit(cache=True)
def cell_iv_dg(law, p, kind, q, g, v):
    """Cell current (A), dI/dV (S) and dI/dG (V: the sensitivity to the device state) at cell voltage v (V).

    For a series cell the internal node is solved to float64 precision: f(u) = I_dev(u) - I_ser(v - u) is
    strictly increasing in the device voltage u and changes sign on [min(0, v), max(0, v)], so safeguarded
    Newton (bisection whenever a step leaves the bracket) always converges. Every device law is linear in G,
    so dI_dev/dG = I_dev / G, and in series dI/dG = (I_dev / G) g_ser / (g_dev + g_ser).
    """
    if kind == SERIES_NONE:
        i, d = device_iv(law, p, g, v)
        return i, d, i / g
    if v == 0.0:
        _, gd = device_iv(law, p, g, 0.0)
        _, gs = series_iv(kind, q, 0.0)
        return 0.0, gd * gs / (gd + gs), 0.0
    lo, hi = min(0.0, v), max(0.0, v)
    _, gd = device_iv(law, p, g, 0.0)
    _, gs = series_iv(kind, q, 0.0)
    u = v * gs / (gd + gs)  # the linearised divider: exact for two linear elements
    for _ in range(200):
        idev, gd = device_iv(law, p, g, u)
        iser, gs = series_iv(kind, q, v - u)
        f = idev - iser
        if f > 0.0:
            hi = u
        elif f < 0.0:
            lo = u
        else:
            break
        step = f / (gd + gs)
        un = u - step
        if not (lo < un < hi):
            un = 0.5 * (lo + hi)
        if abs(un - u) <= 4e-16 * abs(v) or hi - lo <= 4e-16 * abs(v):
            u = un
            break
        u = un
    idev, gd = device_iv(law, p, g, u)
    iser, gs = series_iv(kind, q, v - u)
    return 0.5 * (idev + iser), gd * gs / (gd + gs), idev / g * gs / (gd + gs)
