"""Crossbar topology and circuit parameters, and SPICE netlists of them."""

from .cells import CELLS, as_cell, cell_iv, is_linear
from .crossbar import CELL_TYPES, G_MAX_S, G_MIN_S, R_MAX_OHM, R_MIN_OHM, V_MAX_V, Crossbar
from .netlist import OPTIONS_LINE, crossbar_netlist, crossbar_netlists

__all__ = [
    "CELLS", "CELL_TYPES", "G_MAX_S", "G_MIN_S", "OPTIONS_LINE", "R_MAX_OHM", "R_MIN_OHM", "V_MAX_V", "Crossbar",
    "as_cell", "cell_iv", "crossbar_netlist", "crossbar_netlists", "is_linear",
]
