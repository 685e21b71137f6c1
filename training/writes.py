"""The stochastic pulse update applied as voltages on the lines of a crosspoint array (``circuit="full"``).

Each time slot of the pulse trains (Gokmen & Vlasov 2016) is written in four sign phases: the fired rows with
inputs of one sign and the fired columns with errors of one sign, polarity p = -sign(x) sign(d), so that
their crossings receive +p v_write (the V/2 or V/3 scheme of :func:`xbarsim.circuits.bias.write_voltages`).
The circuit solve of every phase gives the voltage across every cell -- IR drop in the wires and drivers, and
the cells' nonlinear I-V, included -- and each device moves by its law's step times its write strength at that
voltage (threshold and exponential kinetics of the device). So writes at cells far from the drivers are
weakened, and half-selected cells whose voltage passes the threshold are disturbed, as the circuit makes them.

The conductances are held at their value at the start of the update while its slots are solved (one
mini-batch's pulse trains change any device by a few steps at most); the pulses are then applied slot by slot
in order. A phase in which no row or no column fires writes nothing and is skipped (no controller would pulse
the lines of one side alone), so networks whose inputs are never negative (sigmoid or ReLU activations,
pixels) need two phases per slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.circuits.bias import write_voltages
from xbarsim.solvers import solve_circuit

WRITE_RTOL = 1e-4  # cell voltages to ~1e-4 V: write strengths to ~1e-3 (v_kin = 0.1 V), far below c2c noise
PHASES_PER_SOLVE = 256  # slots solved in one batch (memory: 16 MN bytes each)


@dataclass
class WriteStats:
    """Counts of one array's writes: intended pulses (coincidences), how strongly they arrived, disturbs."""

    coincidences: int = 0
    strength_sum: float = 0.0  # sum of the write strengths of the coincidences (1 each if ideal)
    missed: int = 0  # coincidences below the write threshold
    disturbs: int = 0  # pulses at cells that were not selected (half-select disturb)

    def add(self, other: "WriteStats"):
        self.coincidences += other.coincidences
        self.strength_sum += other.strength_sum
        self.missed += other.missed
        self.disturbs += other.disturbs

    @property
    def efficiency(self) -> float:
        """Mean strength of the intended pulses (1: as at the nominal write voltage)."""
        return self.strength_sum / self.coincidences if self.coincidences else 1.0


def phases(fx, fd, x, d):
    """The write phases of the pulse trains: fired-line masks rows (P, M), cols (P, N) and polarity (P,).

    fx (B, BL, M), fd (B, BL, N): which lines fire in each slot of each sample's train; x (B, M), d (B, N):
    the signs of the inputs and errors. Phases without a fired row or without a fired column are left out.
    """
    sx, sd = np.sign(x), np.sign(d)
    rows, cols, pol = [], [], []
    for a in (1.0, -1.0):
        for b in (1.0, -1.0):
            rows.append(fx & (sx == a)[:, None, :])
            cols.append(fd & (sd == b)[:, None, :])
            pol.append(np.full(fx.shape[:2], -a * b))
    rows = np.stack(rows, axis=2).reshape(-1, fx.shape[2])  # order: sample, slot, phase
    cols = np.stack(cols, axis=2).reshape(-1, fd.shape[2])
    pol = np.stack(pol, axis=2).reshape(-1)
    keep = rows.any(axis=1) & cols.any(axis=1)
    return rows[keep], cols[keep], pol[keep]


def circuit_write(params, w, g, circuit, rows, cols, pol, scheme: str, seed: int):
    """Apply the write phases to devices ``params`` at weights ``w`` (conductances ``g``, S) through
    ``circuit``; returns (new weights, WriteStats)."""
    dev = params.device
    m, n = circuit.shape
    r_rows, r_cols = np.full(m, circuit.r_driver_ohm), np.full(n, circuit.r_driver_ohm)
    stats = WriteStats()
    signs, strength = [], []
    for k in range(0, len(pol), PHASES_PER_SOLVE):
        sl = slice(k, k + PHASES_PER_SOLVE)
        vr, vc = write_voltages(rows[sl], cols[sl], pol[sl], scheme, dev.v_write_v)
        v = solve_circuit(circuit, g, vr, vc, r_rows_ohm=r_rows, r_cols_ohm=r_cols, rtol=WRITE_RTOL).v_cells
        s = dev.write_strength(np.abs(v))
        sel = rows[sl][:, :, None] & cols[sl][:, None, :]
        hit = s > 0
        stats.coincidences += int(sel.sum())
        stats.strength_sum += float(s[sel].sum())
        stats.missed += int((sel & ~hit).sum())
        stats.disturbs += int((hit & ~sel).sum())
        signs.append(np.where(hit, np.sign(v), 0).astype(np.int8))
        strength.append(s)
    if not signs:
        return w, stats
    w = params.apply_weighted_pulses(w, np.concatenate(signs), np.concatenate(strength), seed)
    return w, stats
