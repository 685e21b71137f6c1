"""Device presets from published measurements (parameter values from the aihwkit fits listed in
``data/README.md``). Conductance windows (g_min_s, g_max_s) are not part of those normalised fits; the
values here are typical of each technology and are stated as assumptions in each docstring.
"""

from __future__ import annotations

from .linear_step import LinearStepDevice


def ecram_li_ion() -> LinearStepDevice:
    """Li-ion ECRAM: J. Tang et al., "ECRAM as scalable synaptic cell for high-speed, low-power
    neuromorphic computing", IEDM 2018. aihwkit LinearStep fit: dw_min 0.002, bounds +1.1724/-0.8276,
    gamma_up 0.1153, gamma_down 0.5085, device-to-device 0.1 (step) / 0.05 (bounds), cycle-to-cycle 0.3.
    up_down_dtod 0.01 and the 1-10 uS conductance window are assumptions."""
    return LinearStepDevice(
        dw_min=0.002, w_max=1.1724, w_min=-0.8276, gamma_up=0.1153, gamma_down=0.5085,
        dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05, dw_min_std=0.3,
        g_min_s=1e-6, g_max_s=1e-5, name="ecram-li-ion",
        citation="J. Tang et al., IEDM 2018 (aihwkit LinearStep fit)",
    )


def ecram_metal_oxide() -> LinearStepDevice:
    """Metal-oxide ECRAM: S. Kim et al., "Metal-oxide based, CMOS-compatible ECRAM for deep learning
    accelerator", IEDM 2019. aihwkit LinearStep fit: dw_min 2.8214e-4, bounds +1.1714/-0.8286, gamma_up
    0.4152, gamma_down 0.7342, device-to-device 0.1 / 0.05, cycle-to-cycle 2.0. up_down_dtod 0.01 and the
    1-10 uS conductance window are assumptions."""
    return LinearStepDevice(
        dw_min=2.8214e-4, w_max=1.1714, w_min=-0.8286, gamma_up=0.4152, gamma_down=0.7342,
        dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05, dw_min_std=2.0,
        g_min_s=1e-6, g_max_s=1e-5, name="ecram-metal-oxide",
        citation="S. Kim et al., IEDM 2019 (aihwkit LinearStep fit)",
    )


def reram_hfo2() -> LinearStepDevice:
    """HfO2 ReRAM: N. Gong et al., "Signal and noise extraction from analog memory elements for
    neuromorphic computing", Nat. Commun. 9:2102 (2018). aihwkit SoftBounds fit: dw_min 0.002, bounds
    +1.25/-0.75, device-to-device 0.3 (step), 0.24 (w_max), 0.40 (w_min), cycle-to-cycle 3.75.
    up_down_dtod 0.05 and the 2-20 uS conductance window are assumptions."""
    return LinearStepDevice(
        dw_min=0.002, w_max=1.25, w_min=-0.75, gamma_up=1.0, gamma_down=1.0,
        dw_min_dtod=0.3, up_down_dtod=0.05, w_max_dtod=0.24, w_min_dtod=0.40, dw_min_std=3.75,
        g_min_s=2e-6, g_max_s=2e-5, name="reram-hfo2",
        citation="N. Gong et al., Nat. Commun. 9:2102 (2018) (aihwkit SoftBounds fit)",
    )


def ideal() -> LinearStepDevice:
    """Ideal symmetric constant-step device: 2000 states between -1 and +1, no variation, no noise.
    A reference for what the algorithms do without device non-idealities (1-100 uS window)."""
    return LinearStepDevice(
        dw_min=0.001, w_max=1.0, w_min=-1.0, gamma_up=0.0, gamma_down=0.0,
        g_min_s=1e-6, g_max_s=1e-4, name="ideal", citation="ideal constant-step device (no source)",
    )


PRESETS = {
    "reram-hfo2": reram_hfo2,
    "ecram-li-ion": ecram_li_ion,
    "ecram-metal-oxide": ecram_metal_oxide,
    "ideal": ideal,
}


def get_preset(name: str) -> LinearStepDevice:
    """The preset called ``name`` (see ``PRESETS``)."""
    if name not in PRESETS:
        raise ValueError(f"device={name!r} is not a known preset: allowed values are {', '.join(PRESETS)}")
    return PRESETS[name]()
