"""Linear step laws: constant step, linear step and soft bounds (aihwkit ConstantStep, LinearStep, SoftBounds).

One up pulse changes a device by ``dw_up * (1 - gamma_up * w / b_max)`` and one down pulse by
``-dw_dn * (1 - gamma_down * w / b_min)`` (each floored at 0, times the cycle-to-cycle noise factor, then
clipped to [b_min, b_max]). gamma = 1 is soft bounds (the step vanishes at the bound), gamma = 0 a constant
step. The common parameters and the sampled array are described in :mod:`xbarsim.devices.base`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels as K
from . import _validate as V
from .base import DeviceArray, PulsedDevice

__all__ = ["ConstantStepDevice", "DeviceArray", "LinearStepDevice", "SoftBoundsDevice", "linear_symmetry_point"]


def linear_symmetry_point(dw_up, dw_dn, b_max, b_min, gamma_up: float, gamma_down: float) -> np.ndarray:
    """Closed-form symmetry point of the linear step law, per device.

    ``w* = (dw_up - dw_dn) / (dw_up gamma_up / b_max - dw_dn gamma_down / b_min)``. Where the steps do not
    depend on w (constant step), every w is a symmetry point if dw_up == dw_dn (returned: 0) and none is
    otherwise: the device drifts to the bound on the side of the larger step (returned: that bound).
    """
    num = dw_up - dw_dn
    den = dw_up * gamma_up / b_max - dw_dn * gamma_down / b_min
    with np.errstate(divide="ignore", invalid="ignore"):
        ws = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return np.where(den > 0, ws, np.where(num > 0, b_max, np.where(num < 0, b_min, 0.0)))


class _LinearLaw:
    """Mixin: the kernel hooks of the linear law, for gammas given by ``_gammas()``."""

    law = K.LINEAR

    def _gammas(self):
        raise NotImplementedError

    def _global_params(self) -> np.ndarray:
        g_up, g_dn = self._gammas()
        return np.array([g_up, g_dn, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])

    def _symmetry_closed_form(self, arr: DeviceArray):
        g_up, g_dn = self._gammas()
        return linear_symmetry_point(arr.dw_up, arr.dw_dn, arr.b_max, arr.b_min, g_up, g_dn)


@dataclass(frozen=True)
class LinearStepDevice(_LinearLaw, PulsedDevice):
    """Linear step (aihwkit LinearStep): the step falls linearly with w, with slopes gamma_up, gamma_down.

    Extra attributes:
        gamma_up, gamma_down: slope of the step with w, in [0, 1] (1 = soft bounds, 0 = constant step).
    """

    model = "linearstep"

    gamma_up: float = 0.0
    gamma_down: float = 0.0

    def _validate_law(self):
        self._put("gamma_up", V.in_range("gamma_up", self.gamma_up, 0.0, 1.0))
        self._put("gamma_down", V.in_range("gamma_down", self.gamma_down, 0.0, 1.0))

    def _gammas(self):
        return float(self.gamma_up), float(self.gamma_down)


@dataclass(frozen=True)
class SoftBoundsDevice(_LinearLaw, PulsedDevice):
    """Soft bounds (aihwkit SoftBounds): q_up = 1 - w/b_max, q_dn = 1 - w/b_min; the step vanishes at the
    bounds. Symmetry point (closed form) ``w* = (dw_up - dw_dn) / (dw_up / b_max - dw_dn / b_min)``."""

    model = "softbounds"

    def _gammas(self):
        return 1.0, 1.0


@dataclass(frozen=True)
class ConstantStepDevice(_LinearLaw, PulsedDevice):
    """Constant step (aihwkit ConstantStep): every up pulse adds dw_up, every down pulse removes dw_dn, up
    to hard bounds. With up_down = 0 every w is a symmetry point (reported: 0); otherwise the device drifts
    to the bound on the side of the larger step."""

    model = "constant"

    def _gammas(self):
        return 0.0, 0.0
