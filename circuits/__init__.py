"""Crossbar topology and circuit parameters."""

from .crossbar import CELL_TYPES, Crossbar

__all__ = ["CELL_TYPES", "Crossbar"]
