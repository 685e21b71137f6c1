"""Readers of measured pulse traces and step-size tables.

Formats (``fmt``):
    aihwkit   two-column CSV without header (the aihwkit examples' measured traces): column 1 the state after
              each of N potentiation pulses, column 2 after each of N depression pulses; unitless
              (normalised conductance, read as device units). Every cell a finite number; a column may end
              early (empty cells to the end of the file), but has no gaps.
    crosssim  Sandia CrossSim raw ramp CSVs ``set.csv`` and ``reset.csv``: header ``rmp1,...``, each column
              one ramp of >= 3 read currents (A, > 0) after every pulse, read at ``read_voltage_v`` (in
              [1e-6, 100] V); G = I / V. A ramp ends at its first empty cell. Ramps alternate set, reset, ...
    plain     CSV of ``pulse, conductance_s[, direction]`` (optional header): integer pulse numbers,
              non-decreasing (a gap of k means k pulses between the two samples; at most
              :data:`MAX_PULSES_BETWEEN_READINGS` between two readings and :data:`MAX_PULSES_IN_TRACE` in
              all); direction +1/-1 (or up/down) of the pulses that led to each row. Without it, the direction
              of each interval is the sign of the change of a running median of the trace.
    lut       CrossSim step-size tables ``dG_increasing.txt`` and ``dG_decreasing.txt`` (fitted on steps,
              not on a trace).

A trace is a tuple of segments; a segment is a run of samples joined by pulses of one sign, with its own
starting state (ramps and branches need not be contiguous).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _kernels as K
from . import _validate as V
from ._files import read_text
from .base import G_RANGE_S, PulsedDevice
from .models import CrossSimTable, read_crosssim_table

FORMATS = ("auto", "aihwkit", "crosssim", "plain", "lut")
READ_VOLTAGE_RANGE_V = (1e-6, 100.0)
# The fits apply every pulse, hundreds of times (about 70 us per pulse and model): 1e6 pulses take minutes
# per model. A larger gap between two readings is more likely a typo or a misread column than a measurement.
MAX_PULSES_BETWEEN_READINGS = 10 ** 6
MAX_PULSES_IN_TRACE = 10 ** 7
_EXACT_PULSE = 2 ** 53  # pulse numbers beyond this are not exact as floats (their differences would be misread)


@dataclass(frozen=True, eq=False)
class Segment:
    """Samples ``g`` (n,) and the signed pulse counts between consecutive samples ``counts`` (n - 1,)."""

    g: np.ndarray
    counts: np.ndarray
    label: str

    @property
    def direction(self) -> int:
        return 1 if self.counts.sum() >= 0 else -1


@dataclass(frozen=True, eq=False)
class Trace:
    """A measured pulse trace: segments, the unit of g ("S", or "1" for normalised data), its provenance."""

    segments: tuple
    unit: str
    fmt: str
    source: str
    read_voltage_v: float = float("nan")

    @property
    def n_samples(self) -> int:
        return sum(s.g.size for s in self.segments)

    def all_g(self) -> np.ndarray:
        return np.concatenate([s.g for s in self.segments])


@dataclass(frozen=True, eq=False)
class StepTables:
    """A pair of CrossSim step-size tables (up, down)."""

    up: CrossSimTable
    down: CrossSimTable
    fmt: str
    source: str
    unit: str = "S"


def _err(path, msg) -> ValueError:
    return ValueError(f"trace {str(path)!r}: {msg}")


def _check_file(path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"trace {str(path)!r} does not exist (or is not a file)")
    return p


def _csv_rows(path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank line of a text CSV (one-line errors for a binary file)."""
    text = read_text(_check_file(path), "trace", "text CSV")
    reader = csv.reader(text.splitlines())
    out = []
    try:
        for row in reader:
            if row and any(x.strip() for x in row):
                out.append((reader.line_num, row))
    except csv.Error as e:
        raise _err(path, f"line {reader.line_num + 1}: not a CSV line ({e})") from None
    return out


def _number(x: str) -> float | None:
    """``x`` as a finite float, or None."""
    try:
        v = float(x)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def check_read_voltage(value, name: str = "read_voltage_v") -> float:
    """The read voltage of CrossSim current ramps: a finite number in READ_VOLTAGE_RANGE_V (V)."""
    return V.positive(name, value, "V", *READ_VOLTAGE_RANGE_V)


def check_pulse_counts(trace: "Trace") -> None:
    """At most MAX_PULSES_BETWEEN_READINGS pulses between two samples and MAX_PULSES_IN_TRACE in all (the
    fits apply every pulse, many times)."""
    total = 0
    for s in trace.segments:
        c = np.asarray(s.counts)
        big = max(abs(int(c.min())), abs(int(c.max()))) if c.size else 0  # no np.abs: it overflows at int64 min
        if big > MAX_PULSES_BETWEEN_READINGS:
            raise _err(trace.source, f"{s.label}: {big} pulses between two readings: at most "
                                     f"{MAX_PULSES_BETWEEN_READINGS} (is the pulse column right?)")
        total += int(np.abs(c).sum())
    if total > MAX_PULSES_IN_TRACE:
        raise _err(trace.source, f"has {total} pulses: at most {MAX_PULSES_IN_TRACE} in a trace")


def read_aihwkit(path) -> Trace:
    """Two-column CSV: potentiation trace, depression trace (unitless)."""
    cols = ([], [])
    ended = [0, 0]  # line of a column's first empty cell (the column ends there)
    for line, row in _csv_rows(path):
        if len(row) != 2:
            raise _err(path, f"line {line} has {len(row)} column{'' if len(row) == 1 else 's'}: expected 2 "
                             "(potentiation, depression)")
        for j, cell in enumerate(row):
            x = cell.strip()
            if not x:
                ended[j] = ended[j] or line
                continue
            if ended[j]:
                raise _err(path, f"line {line}, column {j + 1}: {x!r} follows the empty cell of line {ended[j]}: "
                                 "a column may end early but not have gaps")
            v = _number(x)
            if v is None:
                raise _err(path, f"line {line}, column {j + 1}: {x!r} is not a finite number")
            cols[j].append(v)
    segs = []
    for j, (sign, label) in enumerate(((1, "potentiation"), (-1, "depression"))):
        g = np.array(cols[j])
        if g.size < 3:
            raise _err(path, f"column {j + 1} ({label}) has {g.size} numbers: expected >= 3")
        segs.append(Segment(g, np.full(g.size - 1, sign, dtype=np.int64), label))
    return Trace(tuple(segs), "1", "aihwkit", str(path))


def _ramp_cell(path, line: int, j: int, x: str) -> float:
    v = _number(x)
    if v is None:
        raise _err(path, f"line {line}, column {j + 1}: {x!r} is not a finite number")
    if not v > 0:
        raise _err(path, f"line {line}, column {j + 1}: read current {x!r} A is invalid: must be > 0 A")
    return v


def _read_ramps(path) -> list[np.ndarray]:
    rows = _csv_rows(path)
    if not rows or not rows[0][1][0].strip().lower().startswith("rmp"):
        raise _err(path, "not a CrossSim ramp CSV: expected a header rmp1,rmp2,...")
    header = rows[0][1]
    cols = [[] for _ in header]
    ended = [0] * len(header)  # line of a ramp's first empty cell (the ramp ends there)
    for line, row in rows[1:]:
        extra = [x for x in row[len(header):] if x.strip()]
        if extra:
            raise _err(path, f"line {line} has {len(row)} cells: the header has {len(header)} columns")
        for j in range(len(header)):
            x = row[j].strip() if j < len(row) else ""
            if not x:
                ended[j] = ended[j] or line
            elif ended[j]:
                raise _err(path, f"line {line}, column {j + 1}: {x!r} follows the empty cell of line {ended[j]}: "
                                 "a ramp ends at its first empty cell")
            else:
                cols[j].append(_ramp_cell(path, line, j, x))
    for j, c in enumerate(cols):
        if len(c) < 3:
            raise _err(path, f"column {j + 1} ({header[j].strip()!r}) has {len(c)} readings: a ramp needs >= 3")
    return [np.array(c) for c in cols]


def read_crosssim(set_path, reset_path, read_voltage_v: float = 0.1) -> Trace:
    """CrossSim raw ramps: read currents (A) at ``read_voltage_v`` after each set (up) / reset (down) pulse."""
    read_voltage_v = check_read_voltage(read_voltage_v)
    ups = _read_ramps(set_path)
    dns = _read_ramps(reset_path)
    g_hi = G_RANGE_S[1]
    for path, ramps in ((set_path, ups), (reset_path, dns)):
        for j, r in enumerate(ramps):
            if r.max() / read_voltage_v > g_hi:
                raise _err(path, f"column {j + 1}: read current {r.max():g} A at {read_voltage_v:g} V is "
                                 f"{r.max() / read_voltage_v:g} S: at most {g_hi:g} S (is the read voltage right?)")
    segs = []
    for i in range(max(len(ups), len(dns))):
        for ramps, sign, name in ((ups, 1, "set"), (dns, -1, "reset")):
            if i < len(ramps):
                g = ramps[i] / read_voltage_v
                segs.append(Segment(g, np.full(g.size - 1, sign, dtype=np.int64), f"{name} ramp {i + 1}"))
    src = f"{set_path} + {reset_path}"
    return Trace(tuple(segs), "S", "crosssim", src, float(read_voltage_v))


def _direction_token(x: str, path, row: int) -> int:
    t = x.strip().lower()
    if t in ("+1", "1", "up", "+", "set", "potentiation"):
        return 1
    if t in ("-1", "down", "-", "reset", "depression"):
        return -1
    raise _err(path, f"data row {row}: direction {x!r} is invalid: allowed values are +1, -1, up, down")


def _pulse_number(x: str, path, row: int) -> int:
    """A pulse number: an integer (written as one, or as an integer-valued float below 2**53)."""
    x = x.strip()
    try:
        return int(x)
    except ValueError:
        pass
    v = _number(x)
    if v is None or not v.is_integer() or abs(v) >= _EXACT_PULSE:
        raise _err(path, f"data row {row}: pulse number {x!r} is invalid: pulse numbers must be integers")
    return int(v)


def _conductance(x: str, path, row: int) -> float:
    v = _number(x)
    lo, hi = G_RANGE_S
    if v is None or not lo <= v <= hi:
        raise _err(path, f"data row {row}: conductance {x.strip()!r} is invalid: conductances must be finite "
                         f"and > 0 S, in [{lo:g}, {hi:g}] S")
    return v


def _pulse_gaps(pulse: list[int], path) -> np.ndarray:
    """Pulses between consecutive rows (Python integers until checked: no overflow)."""
    dp = [b - a for a, b in zip(pulse[:-1], pulse[1:])]
    for i, d in enumerate(dp, start=2):
        if d < 0:
            raise _err(path, f"pulse numbers decrease at data row {i}: they must be non-decreasing")
    for i, d in enumerate(dp, start=2):
        if d > MAX_PULSES_BETWEEN_READINGS:
            raise _err(path, f"data row {i}: {d} pulses since the previous row: at most "
                             f"{MAX_PULSES_BETWEEN_READINGS} pulses between two readings")
    if sum(dp) > MAX_PULSES_IN_TRACE:
        raise _err(path, f"has {sum(dp)} pulses from the first row to the last: at most {MAX_PULSES_IN_TRACE} "
                         "in a trace")
    return np.array(dp, dtype=np.int64)


def read_plain(path) -> Trace:
    """``pulse, conductance_s[, direction]`` CSV (optional header line)."""
    rows = [r for _, r in _csv_rows(path)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]
    if len(rows) < 3:
        raise _err(path, f"has {len(rows)} data rows: expected >= 3 (pulse, conductance_s[, direction])")
    n_col = len(rows[0])
    if n_col not in (2, 3):
        raise _err(path, f"has {n_col} columns: expected 2 (pulse, conductance_s) or 3 (+ direction)")
    pulse, g, dirs = [], [], []
    for i, r in enumerate(rows, start=1):
        if len(r) != n_col:
            raise _err(path, f"data row {i} has {len(r)} columns: expected {n_col}")
        pulse.append(_pulse_number(r[0], path, i))
        g.append(_conductance(r[1], path, i))
        if n_col == 3:
            dirs.append(_direction_token(r[2], path, i))
    dp = _pulse_gaps(pulse, path)
    g = np.array(g)
    if n_col == 3:
        sign = np.array(dirs[1:], dtype=np.int64)
    else:
        sign = _infer_directions(g)
    counts = sign * dp
    return Trace(tuple(_split_by_sign(g, counts)), "S", "plain", str(path))


def _is_number(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


def _infer_directions(g: np.ndarray) -> np.ndarray:
    """Direction of each interval from the sign of the change of a running median (window ~n/50, >= 5);
    runs shorter than two windows are merged into their neighbours, and each turn is then moved to the
    extreme sample (maximum for up -> down, minimum for down -> up) within a window of it."""
    n = g.size
    k = max(5, n // 50) | 1
    pad = np.pad(g, k // 2, mode="edge")
    med = np.array([np.median(pad[i:i + k]) for i in range(n)])
    d = np.sign(np.diff(med))
    # fill flat parts with the previous direction (or the next one at the start)
    for i in range(1, d.size):
        if d[i] == 0:
            d[i] = d[i - 1]
    nz = np.flatnonzero(d)
    d[: nz[0] if nz.size else d.size] = d[nz[0]] if nz.size else 1
    # merge short runs
    changed = True
    while changed:
        changed = False
        edges = np.flatnonzero(np.diff(d)) + 1
        starts = np.r_[0, edges]
        ends = np.r_[edges, d.size]
        for s, e in zip(starts, ends):
            if e - s < 2 * k and len(starts) > 1:
                d[s:e] = d[s - 1] if s > 0 else d[e]
                changed = True
                break
    edges = np.flatnonzero(np.diff(d)) + 1  # interval index where the sign changes
    out = d.copy()
    bounds = np.r_[0, edges, d.size]
    for i, e in enumerate(edges):
        lo, hi = max(bounds[i], e - k), min(bounds[i + 2], e + k)  # stay between the neighbouring turns
        seg = g[lo:hi + 1]
        t = lo + int(np.argmax(seg) if d[e - 1] > 0 else np.argmin(seg))  # the turning sample
        out[lo:t] = d[e - 1]
        out[t:hi] = d[e]
    return out.astype(np.int64)


def _split_by_sign(g: np.ndarray, counts: np.ndarray) -> list[Segment]:
    """Segments of one pulse sign; a segment starts at the last sample of the previous one. Intervals of
    zero pulses (repeated reads) join the run they are in."""
    sign = np.sign(counts)
    nz = np.flatnonzero(sign)
    if nz.size == 0:
        raise ValueError("trace has no pulses: every pulse number is the same")
    filled = sign.copy()
    filled[: nz[0]] = sign[nz[0]]
    for i in range(nz[0] + 1, filled.size):
        if filled[i] == 0:
            filled[i] = filled[i - 1]
    edges = np.r_[0, np.flatnonzero(np.diff(filled)) + 1, filled.size]
    segs = []
    for a, b in zip(edges[:-1], edges[1:]):
        label = f"{'up' if filled[a] > 0 else 'down'} run {len(segs) + 1}"
        segs.append(Segment(g[a:b + 1], counts[a:b], label))
    return segs


def read_lut(up_path, down_path) -> StepTables:
    """A pair of CrossSim step-size tables (with the same conductance bins)."""
    up, dn = read_crosssim_table(up_path), read_crosssim_table(down_path)
    if up.g_bins_s.shape != dn.g_bins_s.shape or not np.allclose(up.g_bins_s, dn.g_bins_s, rtol=1e-9):
        raise ValueError(f"lookup table {down_path}: its conductance bins differ from those of {up_path}: the "
                         "two tables must have the same bins")
    return StepTables(up, dn, "lut", f"{up_path} + {down_path}")


def _sniff(path: Path) -> str:
    """The format of one file, from its text:

    - a first line starting with ``rmp`` is a CrossSim ramp file, one mentioning ``cdf`` or ``gbins`` a
      CrossSim lookup table;
    - a first line that is not all numbers (a header), or three columns, is plain;
    - two columns of numbers: plain if every finite number in the first column is an integer (pulse
      numbers, in whatever order: the plain reader then says what is wrong with them), aihwkit otherwise (a
      normalised conductance trace is not integer-valued). An aihwkit file whose first column happens to
      hold only integers needs ``fmt="aihwkit"``.
    """
    rows = _csv_rows(path)
    first = rows[0][1] if rows else []
    low = ",".join(first).strip().lower()
    if low.startswith("rmp"):
        return "crosssim"
    if "cdf" in low or "gbins" in low:
        return "lut"
    if not first or not all(_is_number(c) for c in first) or len(first) != 2:
        return "plain"  # a header line, or not two columns (the plain reader names the problem)
    col1 = [v for v in (_number(r[0]) for _, r in rows) if v is not None]
    if col1 and all(v.is_integer() for v in col1):
        return "plain"
    return "aihwkit"


_PAIRS = {"crosssim": ("set.csv", "reset.csv"), "lut": ("dG_increasing.txt", "dG_decreasing.txt")}


def read_trace(paths, fmt: str = "auto", read_voltage_v: float = 0.1):
    """Read a measured trace (or step tables) from one or two paths (a folder, a file, or a pair).

    Returns a :class:`Trace`, or :class:`StepTables` for ``lut``. For ``crosssim`` and ``lut`` one path
    may name either file of the pair (or their folder); the other is found beside it.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is invalid: allowed values are {', '.join(FORMATS)}")
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not 1 <= len(paths) <= 2:
        raise ValueError(f"trace has {len(paths)} paths: expected 1 (or 2 for a set/reset or up/down pair)")
    for p in paths:
        if not p.exists():
            raise ValueError(f"trace {str(p)!r} does not exist")
    if len(paths) == 2 and os.path.samefile(paths[0], paths[1]):
        raise ValueError(f"trace {str(paths[0])!r} and {str(paths[1])!r} are the same file: give the two files "
                         "of a pair (set.csv and reset.csv, or dG_increasing.txt and dG_decreasing.txt)")
    if len(paths) == 1 and paths[0].is_dir():
        d = paths[0]
        for kind, (a, b) in _PAIRS.items():
            if (d / a).is_file() and (d / b).is_file() and fmt in ("auto", kind):
                paths, fmt = [d / a, d / b], kind
                break
        else:
            raise ValueError(f"trace {str(d)!r} is a folder without set.csv/reset.csv or "
                             f"dG_increasing.txt/dG_decreasing.txt")
    if fmt == "auto":
        fmt = _sniff(paths[0])
    if fmt in _PAIRS:
        a, b = _PAIRS[fmt]
        if len(paths) == 1:
            p = paths[0]
            if p.name not in (a, b):
                raise ValueError(f"trace {str(p)!r}: a {fmt} trace needs both {a} and {b}; give both paths")
            paths = [p.parent / a, p.parent / b]
            for q in paths:
                if not q.is_file():
                    raise ValueError(f"trace {str(p)!r}: its partner {str(q)!r} does not exist; give both paths")
        elif paths[0].name == paths[1].name and paths[0].name in (a, b):
            raise ValueError(f"trace {str(paths[0])!r} and {str(paths[1])!r} are both {paths[0].name}: a {fmt} "
                             f"trace needs {a} and {b}")
        elif paths[0].name == b and paths[1].name == a:
            paths = paths[::-1]
        if fmt == "crosssim":
            return read_crosssim(paths[0], paths[1], read_voltage_v)
        return read_lut(paths[0], paths[1])
    if len(paths) != 1:
        raise ValueError(f"a {fmt} trace is one file: got {len(paths)} paths")
    return read_aihwkit(paths[0]) if fmt == "aihwkit" else read_plain(paths[0])


# ------------------------------------------------------------------------------------------------------------
# synthetic traces: a device model's response, for tests and what-if studies


def device_response(device: PulsedDevice, x0, counts, lengths, *, noisy=False, seed=0) -> np.ndarray:
    """Response (segments, L) of the nominal ``device`` to segments of signed pulse counts (segments, L-1)
    from the states x0, sample by sample (see ``_kernels.trajectory``); with ``noisy`` its cycle-to-cycle
    noise from ``seed``."""
    arr = device.nominal((1,))
    p = arr._kernel_params()
    out = np.zeros((len(x0), counts.shape[1] + 1))
    K.trajectory(device.law, np.ascontiguousarray(x0, dtype=np.float64), counts, lengths, *p[:12], noisy,
                 np.uint64(seed), out)
    return out


def simulate_trace(device: PulsedDevice, counts_per_segment, x0: float | None = None, *, read_noise: float = 0.0,
                   seed: int = 0, unit: str = "1") -> Trace:
    """A synthetic measured trace of the nominal ``device``: segments of signed pulse counts applied one
    after the other (each segment starts where the previous ended), with the device's cycle-to-cycle noise
    and Gaussian read noise of std ``read_noise`` (in the trace's unit) on every sample.

    unit "1": samples are device units w; "S": samples are conductances (device.to_conductance).
    """
    rng = np.random.default_rng(seed)
    x = device.symmetry_point() if x0 is None else float(x0)
    segs = []
    for i, c in enumerate(counts_per_segment):
        c = np.asarray(c, dtype=np.int64)
        out = device_response(device, [x], c[None, :], np.array([c.size + 1]), noisy=True, seed=seed * 100003 + i)[0]
        x = out[-1]
        g = out if unit == "1" else device.to_conductance(out)
        g = g + read_noise * rng.standard_normal(g.size)
        segs.append(Segment(g, c, f"{'up' if c.sum() >= 0 else 'down'} {i + 1}"))
    return Trace(tuple(segs), unit, "synthetic", f"simulated {device.name}")


def ramps(n_cycles: int, n_up: int, n_down: int | None = None):
    """Pulse counts of ``n_cycles`` (up ramp of n_up pulses, down ramp of n_down pulses)."""
    n_down = n_up if n_down is None else n_down
    out = []
    for _ in range(n_cycles):
        out.append(np.ones(n_up, dtype=np.int64))
        out.append(-np.ones(n_down, dtype=np.int64))
    return out
