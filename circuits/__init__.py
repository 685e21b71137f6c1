"""Crossbar topology and circuit parameters, and SPICE netlists of them."""

from .crossbar import CELL_TYPES, G_MAX_S, G_MIN_S, R_MAX_OHM, R_MIN_OHM, V_MAX_V, Crossbar
from .netlist import OPTIONS_LINE, crossbar_netlist, crossbar_netlists

__all__ = ["CELL_TYPES", "G_MAX_S", "G_MIN_S", "R_MAX_OHM", "R_MIN_OHM", "V_MAX_V", "Crossbar", "OPTIONS_LINE",
           "crossbar_netlist", "crossbar_netlists"]
