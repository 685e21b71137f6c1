"""Compact models of resistive crosspoint devices, presets from published measurements, and fitting of
models to measured pulse traces (:mod:`xbarsim.devices.fitting`)."""

from . import _threads  # noqa: F401  (sets the numba threading layer before any kernel runs)
from .base import DeviceArray, PulsedDevice
from .io import from_dict, load_device, save_device, to_toml
from .linear_step import ConstantStepDevice, LinearStepDevice, SoftBoundsDevice
from .models import (MODELS, CrossSimTable, ExpStepDevice, LookupTableDevice, PCMDevice, PiecewiseStepDevice,
                     PowStepDevice, read_crosssim_table)
from .presets import PRESETS, get_preset

__all__ = [
    "ConstantStepDevice", "CrossSimTable", "DeviceArray", "ExpStepDevice", "LinearStepDevice",
    "LookupTableDevice", "MODELS", "PCMDevice", "PRESETS", "PiecewiseStepDevice", "PowStepDevice",
    "PulsedDevice", "SoftBoundsDevice", "from_dict", "get_preset", "load_device", "read_crosssim_table",
    "save_device", "to_toml",
]
