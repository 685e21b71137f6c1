"""Compact models of resistive crosspoint devices, and presets from published measurements."""

from . import _threads  # noqa: F401  (sets the numba threading layer before any kernel runs)
from .linear_step import DeviceArray, LinearStepDevice
from .presets import PRESETS, get_preset

__all__ = ["DeviceArray", "LinearStepDevice", "PRESETS", "get_preset"]
