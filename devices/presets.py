"""Device presets from published measurements, each with its source.

The parameter values of the aihwkit fits are those listed in ``data/README.md`` (and, where that list is
silent, the aihwkit preset of the same fit). Conductance windows (g_min_s, g_max_s) and read I-V parameters
are not part of those normalised fits; the values here are typical of each technology and are stated as
assumptions in each docstring. So are the write kinetics of the two-terminal devices (ReRAM, PCM): the class
defaults v_write_v = 1.2 V, v_th_v = 0.55 V, v_kin_v = 0.1 V (a threshold just below the V/2 half-select
voltage, as in passive arrays whose V/2 writes disturb weakly and V/3 writes not at all). The ECRAM presets
write through their gate (write_path = "gate"): no IR drop and no disturb in writes.
"""

from __future__ import annotations

from .base import PulsedDevice
from .linear_step import LinearStepDevice, SoftBoundsDevice
from .models import ExpStepDevice, LookupTableDevice, PCMDevice


def ecram_li_ion() -> LinearStepDevice:
    """Li-ion ECRAM: J. Tang et al., "ECRAM as scalable synaptic cell for high-speed, low-power
    neuromorphic computing", IEDM 2018. aihwkit LinearStep fit: dw_min 0.002, bounds +1.1724/-0.8276,
    gamma_up 0.1153, gamma_down 0.5085, device-to-device 0.1 (step) / 0.05 (bounds), cycle-to-cycle 0.3.
    up_down_dtod 0.01 and the 1-10 uS conductance window are assumptions; read I-V linear (ECRAM channel)."""
    return LinearStepDevice(
        dw_min=0.002, w_max=1.1724, w_min=-0.8276, gamma_up=0.1153, gamma_down=0.5085,
        dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05, dw_min_std=0.3,
        g_min_s=1e-6, g_max_s=1e-5, iv_model="linear", write_path="gate", name="ecram-li-ion",
        citation="J. Tang et al., IEDM 2018 (aihwkit LinearStep fit)",
    )


def ecram_metal_oxide() -> LinearStepDevice:
    """Metal-oxide ECRAM: S. Kim et al., "Metal-oxide based, CMOS-compatible ECRAM for deep learning
    accelerator", IEDM 2019. aihwkit LinearStep fit: dw_min 2.8214e-4, bounds +1.1714/-0.8286, gamma_up
    0.4152, gamma_down 0.7342, device-to-device 0.1 / 0.05, cycle-to-cycle 2.0. up_down_dtod 0.01 and the
    1-10 uS conductance window are assumptions; read I-V linear."""
    return LinearStepDevice(
        dw_min=2.8214e-4, w_max=1.1714, w_min=-0.8286, gamma_up=0.4152, gamma_down=0.7342,
        dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05, dw_min_std=2.0,
        g_min_s=1e-6, g_max_s=1e-5, iv_model="linear", write_path="gate", name="ecram-metal-oxide",
        citation="S. Kim et al., IEDM 2019 (aihwkit LinearStep fit)",
    )


def ecram_enode() -> LookupTableDevice:
    """Organic electrochemical ECRAM (ENODe): Y. van de Burgt et al., "A non-volatile organic
    electrochemical device as a low-voltage artificial synapse for neuromorphic computing", Nat. Mater.
    16:414-418 (2017). Step-size lookup tables of Sandia CrossSim (cross-sim-data, BSD-3) derived from those
    measurements: 48 conductance bins 0.298-0.978 mS, 122 CDF points; the tables carry the cycle-to-cycle
    noise (dw_min_std = 1: as measured). No device-to-device variation is given by the source (none here);
    read I-V linear."""
    return LookupTableDevice(
        table_up="data/devices/crosssim_ENODe/dG_increasing.txt",
        table_down="data/devices/crosssim_ENODe/dG_decreasing.txt",
        w_max=1.0, w_min=-1.0, iv_model="linear", write_path="gate", name="ecram-enode",
        citation="Y. van de Burgt et al., Nat. Mater. 16:414 (2017) (Sandia CrossSim lookup table)",
    )


def reram_hfo2() -> LinearStepDevice:
    """HfO2 ReRAM: N. Gong et al., "Signal and noise extraction from analog memory elements for
    neuromorphic computing", Nat. Commun. 9:2102 (2018). aihwkit SoftBounds fit: dw_min 0.002, bounds
    +1.25/-0.75, device-to-device 0.3 (step), 0.24 (w_max), 0.40 (w_min), cycle-to-cycle 3.75.
    up_down_dtod 0.05, the 2-20 uS conductance window and the sinh read I-V (v0 = 0.25 V) are assumptions."""
    return LinearStepDevice(
        dw_min=0.002, w_max=1.25, w_min=-0.75, gamma_up=1.0, gamma_down=1.0,
        dw_min_dtod=0.3, up_down_dtod=0.05, w_max_dtod=0.24, w_min_dtod=0.40, dw_min_std=3.75,
        g_min_s=2e-6, g_max_s=2e-5, iv_model="sinh", iv_v0_v=0.25, name="reram-hfo2",
        citation="N. Gong et al., Nat. Commun. 9:2102 (2018) (aihwkit SoftBounds fit)",
    )


def reram_hfo2_expstep() -> ExpStepDevice:
    """HfO2 ReRAM, exponential-step variant: N. Gong et al., Nat. Commun. 9:2102 (2018). aihwkit ExpStep
    fit (ReRamESPresetDevice): dw_min 0.00135, up_down 0.259359, bounds +/-1, A_up -1.18445, A_down
    -0.081404, gamma 5/5, a = b = -0.5, device-to-device 0.2 (step), 0.05 (up_down), 0.3 (bounds),
    cycle-to-cycle 5.0. aihwkit's write noise (75 dw_min, a non-accumulating read-out noise) is not part
    of the device model here. The 2-20 uS window and the sinh read I-V (v0 = 0.25 V) are assumptions."""
    return ExpStepDevice(
        dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0,
        A_up=-1.18445, A_down=-0.081404, gamma_up=5.0, gamma_down=5.0, a=-0.5, b=-0.5,
        dw_min_dtod=0.2, up_down_dtod=0.05, w_max_dtod=0.3, w_min_dtod=0.3, dw_min_std=5.0,
        g_min_s=2e-6, g_max_s=2e-5, iv_model="sinh", iv_v0_v=0.25, name="reram-hfo2-expstep",
        citation="N. Gong et al., Nat. Commun. 9:2102 (2018) (aihwkit ExpStep fit)",
    )


def reram_array_om() -> SoftBoundsDevice:
    """ReRAM arrays with optimised material: N. Gong, M. J. Rasch et al., "Deep learning acceleration in
    14nm CMOS compatible ReRAM array: device, material and algorithm co-optimization", IEDM 2022. aihwkit
    SoftBounds fit (ReRamArrayOMPresetDevice): dw_min 0.0949, raw range +1.4839/-0.6192, device-to-device
    0.7829 (step, log-normal), 0.01 (up_down), 0.3499 (w_max), 0.5695 (w_min), cycle-to-cycle 0.4158
    (additive). The 2-20 uS window and the sinh read I-V (v0 = 0.25 V) are assumptions; aihwkit's write
    noise and corrupt-device fraction are not modelled."""
    return SoftBoundsDevice(
        dw_min=0.0949, w_max=1.4839, w_min=-0.6192, up_down=0.0,
        dw_min_dtod=0.7829, dw_min_dtod_dist="lognormal", up_down_dtod=0.01, w_max_dtod=0.3499,
        w_min_dtod=0.5695, dw_min_std=0.4158, noise="add",
        g_min_s=2e-6, g_max_s=2e-5, iv_model="sinh", iv_v0_v=0.25, name="reram-array-om",
        citation="N. Gong, M. J. Rasch et al., IEDM 2022 (aihwkit SoftBounds fit, optimised material)",
    )


def pcm_gst() -> PCMDevice:
    """Ge2Sb2Te5 phase-change cell, unipolar with reset: S. R. Nandakumar et al., "Mixed-precision deep
    learning based on computational memory", Front. Neurosci. 14:406 (2020). aihwkit ExpStep fit
    (PCMPresetDevice), shifted from [0, 2] to [-1, 1]: dw_min 0.01, A_up -27.235, gamma_up 2.5, a = -1,
    b = -1, device-to-device 0.2 (step), 0.05 (up_down), 0.1 (w_max), cycle-to-cycle 0.6; reset to
    0.01 above w_min with device-to-device 0.02 (no cycle-to-cycle spread of the reset state is given).
    The 0.1-25 uS window and the sinh read I-V (v0 = 0.3 V) are assumptions."""
    return PCMDevice(
        dw_min=0.01, w_max=1.0, w_min=-1.0, A_up=-27.235, gamma_up=2.5, a=-1.0, b=-1.0,
        dw_min_dtod=0.2, up_down_dtod=0.05, w_max_dtod=0.1, w_min_dtod=0.0, dw_min_std=0.6,
        reset=0.01, reset_dtod=0.02, reset_std=0.0,
        g_min_s=1e-7, g_max_s=2.5e-5, iv_model="sinh", iv_v0_v=0.3, name="pcm-gst",
        citation="S. R. Nandakumar et al., Front. Neurosci. 14:406 (2020) (aihwkit PCM ExpStep fit)",
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
    "reram-hfo2-expstep": reram_hfo2_expstep,
    "reram-array-om": reram_array_om,
    "ecram-li-ion": ecram_li_ion,
    "ecram-metal-oxide": ecram_metal_oxide,
    "ecram-enode": ecram_enode,
    "pcm-gst": pcm_gst,
    "ideal": ideal,
}


def get_preset(name: str) -> PulsedDevice:
    """The preset called ``name`` (see ``PRESETS``)."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"device={name!r} is not a known preset: allowed values are {', '.join(PRESETS)}")
    return PRESETS[name]()
