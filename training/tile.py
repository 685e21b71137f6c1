"""Analog arrays inside a layer: reads through the crossbar circuit and the stochastic pulsed update.

An :class:`AnalogArray` is one physical crossbar of devices plus its reference array. The logical weight of
cell (i, j) is ``w[i, j] - w_ref[i, j]`` in device units; a read returns the difference of the two arrays'
currents divided by (v_read * S per unit), so IR drop in both arrays shows up in every read. With
``circuit=None`` the wires are ideal and a read is the plain product.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from xbarsim.circuits import Crossbar, is_linear
from xbarsim.circuits.bias import WRITE_SCHEMES
from xbarsim.devices import LinearStepDevice
from xbarsim.devices import _validate as V
from xbarsim.solvers import read_backward, read_forward
from xbarsim.solvers.adjoint import vjp

from .writes import WriteStats, circuit_write, phases


@dataclass(frozen=True)
class UpdateConfig:
    """Fully parallel stochastic pulse update (Gokmen & Vlasov 2016).

    bl: pulse-train length (time slots per update).
    update_management: rescale the row and column probabilities by sqrt(max|d| / max|x|) and its inverse.
    write_scheme: "v2" or "v3", the line biasing of writes through the wires (``circuit="full"``).
    """

    bl: int = 10
    update_management: bool = True
    write_scheme: str = "v2"

    def __post_init__(self):
        V.positive_int("bl", self.bl, hi=1000)
        V.flag("update_management", self.update_management)
        V.choice("write_scheme", self.write_scheme, WRITE_SCHEMES)


BACKWARDS = ("read", "adjoint")


@dataclass(frozen=True)
class Periphery:
    """Read periphery. dac_bits/adc_bits: resolution of input and output converters over [-1, 1] and
    [-out_bound, out_bound] (None = ideal); out_noise: std of additive Gaussian noise on each output, in
    units of a full-scale single weight (w = 1, x = 1); rtol: relative residual of the circuit solve of each
    read (1e-6 is far below any ADC resolution). backward: "read" (the physical transposed read: drive the
    columns, sense the rows) or "adjoint" (hardware-aware training: the exact Jacobian of the forward circuit,
    IR drop and cell nonlinearity included, by an adjoint solve at the forward pass's operating point;
    digital, so without converter quantisation or read noise)."""

    dac_bits: int | None = None
    adc_bits: int | None = None
    out_bound: float = 20.0
    out_noise: float = 0.0
    rtol: float = 1e-6
    backward: str = "read"

    def __post_init__(self):
        V.choice("backward", self.backward, BACKWARDS)
        for n in ("dac_bits", "adc_bits"):
            if getattr(self, n) is not None:
                V.positive_int(n, getattr(self, n), hi=24)
        V.positive("out_bound", self.out_bound)
        V.nonnegative("out_noise", self.out_noise)
        V.in_range("rtol", self.rtol, 1e-15, 1e-2)


def _quantise(x, bits, bound):
    if bits is None:
        return x
    step = 2.0 * bound / (2 ** bits - 1)
    return np.clip(np.round(x / step) * step, -bound, bound)


class AnalogArray:
    """One crossbar of devices (shape (inputs, outputs)) with its reference array and periphery."""

    def __init__(self, device: LinearStepDevice, shape, *, circuit: Crossbar | None, periphery: Periphery,
                 rng: np.random.Generator, writes_through_wires: bool = False):
        self.device = device
        self.params = device.sample(shape, rng)
        self.shape = tuple(shape)
        self.circuit = None if circuit is None else circuit.with_shape(*shape)
        self.periphery = periphery
        self.w = self.params.initial_weights(0.0)
        self.w_ref = np.zeros(shape)
        self._ref_reads = None  # effective transfer matrices of the fixed reference array
        self._last_forward = None  # (solution, conductances) of the last forward read, for the adjoint
        # writes as line voltages through the circuit (crosspoint devices only; a gate-written ECRAM has none)
        self.writes_through_wires = bool(writes_through_wires and circuit is not None
                                         and device.write_path == "crosspoint")
        self.write_stats = WriteStats()

    # -- programming --------------------------------------------------------------------------------------
    def program(self, target, reference=0.0):
        """Set weights to ``w_ref + target`` (write-verify, clipped to each device's bounds) and fix the
        reference array at ``reference`` (device units, per device or scalar)."""
        self.w_ref = np.broadcast_to(np.asarray(reference, dtype=np.float64), self.shape).copy()
        self.w = np.clip(self.w_ref + target, self.params.b_min, self.params.b_max)
        self._ref_reads = None

    def zero_shift(self, n_pairs: int, seed: int):
        """Zero-shift (Kim et al.): alternating pulses bring each device to its symmetry point; the reference
        array is programmed to the measured point, so the logical weight there reads as zero."""
        self.w, measured = self.params.zero_shift(self.w, n_pairs, seed)
        self.program(self.w - measured, measured)

    @property
    def weights(self) -> np.ndarray:
        """Logical weights (device units), as an ideal circuit would read them."""
        return self.w - self.w_ref

    def conductance(self):
        """(main, reference) conductances in S."""
        return self.device.to_conductance(self.w), self.device.to_conductance(self.w_ref)

    # -- reads ----------------------------------------------------------------------------------------------
    def forward(self, x, rng: np.random.Generator):
        """y = W^T x read through the circuit; x (B, inputs) in [-1, 1] (clipped by the DAC)."""
        return self._read(x, rng, transposed=False)

    def backward(self, d, rng: np.random.Generator):
        """z = W d read by the transposed read, or the exact vector-Jacobian product of the last forward read
        (periphery.backward = "adjoint"); d (B, outputs)."""
        if self.periphery.backward == "adjoint" and self.circuit is not None:
            return self._adjoint(d)
        return self._read(d, rng, transposed=True)

    def _adjoint(self, d):
        """d^T dy/dx of the last forward read y(x): the main array's adjoint solve at its operating point minus
        the reference array's (its transfer matrix where linear), in weight units."""
        if self._last_forward is None:
            raise ValueError("an adjoint backward needs a forward read of the same batch first")
        sol, g, ref, g_ref = self._last_forward
        if sol.dev.shape[0] != d.shape[0]:
            raise ValueError(f"backward batch {d.shape[0]} does not match the last forward batch {sol.dev.shape[0]}")
        rtol = max(self.periphery.rtol, 1e-12)
        z_ref = d @ self._reference_reads()[0].T if ref is None else vjp(ref, g_ref, y_bar_cols=d, rtol=rtol).v_rows
        return (vjp(sol, g, y_bar_cols=d, rtol=rtol).v_rows - z_ref) / self.device.siemens_per_unit

    def _read(self, x, rng, transposed):
        p = self.periphery
        scale = np.abs(x).max(axis=1, keepdims=True)  # noise management: use the DAC's full range
        scale = np.where(scale > 0, scale, 1.0)
        xq = _quantise(x / scale, p.dac_bits, 1.0)
        y = self._currents(xq, transposed)
        if p.out_noise > 0:
            y = y + p.out_noise * rng.standard_normal(y.shape)
        return _quantise(y, p.adc_bits, p.out_bound) * scale

    def _currents(self, x, transposed):
        """Output in weight units: (I_main - I_ref) / (v_read * S per unit)."""
        g, g_ref = self.conductance()
        if self.circuit is None:
            return x @ (g - g_ref).T / self.device.siemens_per_unit if transposed else \
                x @ (g - g_ref) / self.device.siemens_per_unit
        c = self.circuit
        v = x * c.v_read_v
        read = read_backward if transposed else read_forward
        sol = read(c, g, v, rtol=self.periphery.rtol)
        i = sol.i_rows if transposed else sol.i_cols
        ref = None
        if is_linear(c.cell):
            i = i - v @ self._reference_reads()[1 if transposed else 0]
        else:  # a nonlinear reference array has no transfer matrix: solve it too
            ref = read(c, g_ref, v, rtol=self.periphery.rtol)
            i = i - (ref.i_rows if transposed else ref.i_cols)
        if not transposed and self.periphery.backward == "adjoint":
            self._last_forward = (sol, g, ref, g_ref)
        return i / (c.v_read_v * self.device.siemens_per_unit)

    def _reference_reads(self):
        """The fixed reference array's transfer matrices (forward (M, N), transposed (N, M)), in S.

        The circuit is linear, so one solve per input line gives every later reference read exactly.
        """
        if self._ref_reads is None:
            c = self.circuit
            _, g_ref = self.conductance()
            fwd = read_forward(c, g_ref, np.eye(c.rows), rtol=self.periphery.rtol).i_cols
            bwd = read_backward(c, g_ref, np.eye(c.cols), rtol=self.periphery.rtol).i_rows
            self._ref_reads = (fwd, bwd)
        return self._ref_reads

    # -- update ---------------------------------------------------------------------------------------------
    def update(self, x, d, lr: float, cfg: UpdateConfig, rng: np.random.Generator):
        """Apply dW = -lr * x d^T for each sample in turn as stochastic pulse coincidences.

        x (B, inputs), d (B, outputs). Row j fires in a slot with probability min(1, c_x |x_j|), column i with
        min(1, c_d |d_i|), c_x c_d = lr / (dw_min BL); each coincidence is one pulse of sign -sign(x_j d_i).
        """
        if self.writes_through_wires:
            fx, fd = pulse_trains(x, d, lr, self.device.dw_min, cfg, rng)
            rows, cols, pol = phases(fx, fd, x, d)
            self.w, stats = circuit_write(self.params, self.w, self.conductance()[0], self.circuit, rows, cols, pol,
                                          cfg.write_scheme, seed=int(rng.integers(2 ** 63)))
            self.write_stats.add(stats)
            return
        counts = pulse_counts(x, d, lr, self.device.dw_min, cfg, rng)
        pulses = int(np.abs(counts).sum())
        self.write_stats.add(WriteStats(coincidences=pulses, strength_sum=float(pulses)))
        self.w = self.params.apply_pulses(self.w, counts, seed=int(rng.integers(2 ** 63)))


def pulse_trains(x, d, lr, dw_min, cfg: UpdateConfig, rng):
    """Which rows and columns fire in each of the BL slots of each sample: (B, BL, inputs), (B, BL, outputs).

    Row j fires in a slot with probability min(1, c_x |x_j|), column i with min(1, c_d |d_i|),
    c_x c_d = lr / (dw_min BL), with update management rescaling c_x and c_d by sqrt(max|d| / max|x|).
    """
    x = np.atleast_2d(x)
    d = np.atleast_2d(d)
    bl = cfg.bl
    c = np.sqrt(lr / (dw_min * bl))
    cx = np.full((x.shape[0], 1), c)
    cd = np.full((x.shape[0], 1), c)
    if cfg.update_management:
        mx = np.abs(x).max(axis=1, keepdims=True)
        md = np.abs(d).max(axis=1, keepdims=True)
        ok = (mx > 0) & (md > 0)
        ratio = np.sqrt(np.where(ok, md, 1.0) / np.where(ok, mx, 1.0))
        cx, cd = cx * ratio, cd / ratio
    px = np.minimum(cx * np.abs(x), 1.0)
    pd = np.minimum(cd * np.abs(d), 1.0)
    fx = rng.random((x.shape[0], bl, x.shape[1])) < px[:, None, :]
    fd = rng.random((d.shape[0], bl, d.shape[1])) < pd[:, None, :]
    return fx, fd


def pulse_counts(x, d, lr, dw_min, cfg: UpdateConfig, rng):
    """Signed coincidence counts (B, inputs, outputs) of the stochastic pulse trains of each sample: each
    coincidence is one pulse of sign -sign(x_j d_i)."""
    x = np.atleast_2d(x)
    d = np.atleast_2d(d)
    fx, fd = pulse_trains(x, d, lr, dw_min, cfg, rng)
    coincide = np.matmul(fx.astype(np.float32).transpose(0, 2, 1), fd.astype(np.float32))  # exact small integers
    sign = -np.sign(x)[:, :, None] * np.sign(d)[:, None, :]
    return (coincide * sign).astype(np.int32)


def config_dict(obj) -> dict:
    return asdict(obj)
