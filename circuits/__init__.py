"""Crossbar topology and circuit parameters, and SPICE netlists of them."""

from .crossbar import CELL_TYPES, Crossbar
from .netlist import OPTIONS_LINE, crossbar_netlist, crossbar_netlists

__all__ = ["CELL_TYPES", "Crossbar", "OPTIONS_LINE", "crossbar_netlist", "crossbar_netlists"]
