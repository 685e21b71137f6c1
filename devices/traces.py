"""Readers of measured pulse traces and step-size tables.

Formats (``fmt``):
    aihwkit   two-column CSV without header (the aihwkit examples' measured traces): column 1 the state after
              each of N potentiation pulses, column 2 after each of N depression pulses; unitless
              (normalised conductance, read as device units).
    crosssim  Sandia CrossSim raw ramp CSVs ``set.csv`` and ``reset.csv``: header ``rmp1,...``, each column
              one ramp of read currents (A) after every pulse, read at ``read_voltage_v``; G = I / V.
              Ramps alternate set, reset, set, ...
    plain     CSV of ``pulse, conductance_s[, direction]`` (optional header): pulse numbers non-decreasing
              (a gap of k means k pulses between the two samples); direction +1/-1 (or up/down) of the
              pulses that led to each row. Without it, the direction of each interval is the sign of the
              change of a running median of the trace.
    lut       CrossSim step-size tables ``dG_increasing.txt`` and ``dG_decreasing.txt`` (fitted on steps,
              not on a trace).

A trace is a tuple of segments; a segment is a run of samples joined by pulses of one sign, with its own
starting state (ramps and branches need not be contiguous).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import CrossSimTable, read_crosssim_table

FORMATS = ("auto", "aihwkit", "crosssim", "plain", "lut")


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


def read_aihwkit(path) -> Trace:
    """Two-column CSV: potentiation trace, depression trace (unitless)."""
    p = _check_file(path)
    try:
        a = np.genfromtxt(p, delimiter=",", dtype=np.float64)
    except ValueError as e:
        raise _err(path, f"not a numeric two-column CSV ({e})") from None
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 3:
        raise _err(path, f"has shape {a.shape}: expected (pulses >= 3, 2) columns (potentiation, depression)")
    segs = []
    for j, (sign, label) in enumerate(((1, "potentiation"), (-1, "depression"))):
        g = a[:, j][np.isfinite(a[:, j])]
        if g.size < 3:
            raise _err(path, f"column {j + 1} has {g.size} numbers: expected >= 3")
        segs.append(Segment(g, np.full(g.size - 1, sign, dtype=np.int64), label))
    return Trace(tuple(segs), "1", "aihwkit", str(path))


def _read_ramps(path) -> list[np.ndarray]:
    p = _check_file(path)
    with open(p, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0] or not rows[0][0].strip().lower().startswith("rmp"):
        raise _err(path, "not a CrossSim ramp CSV: expected a header rmp1,rmp2,...")
    cols = [[] for _ in rows[0]]
    for i, row in enumerate(rows[1:], start=2):
        for j in range(len(cols)):
            x = row[j].strip() if j < len(row) else ""
            try:
                cols[j].append(float(x) if x else np.nan)
            except ValueError:
                raise _err(path, f"line {i}, column {j + 1}: {x!r} is not a number") from None
    out = []
    for j, c in enumerate(cols):
        c = np.array(c)
        c = c[np.isfinite(c)]
        if c.size >= 3:
            out.append(c)
    if not out:
        raise _err(path, "no ramp with >= 3 readings")
    return out


def read_crosssim(set_path, reset_path, read_voltage_v: float = 0.1) -> Trace:
    """CrossSim raw ramps: read currents (A) at ``read_voltage_v`` after each set (up) / reset (down) pulse."""
    if not (np.isfinite(read_voltage_v) and read_voltage_v > 0):
        raise ValueError(f"read_voltage_v={read_voltage_v!r} is invalid: must be a finite number > 0 V")
    ups = _read_ramps(set_path)
    dns = _read_ramps(reset_path)
    for path, ramps in ((set_path, ups), (reset_path, dns)):
        if any(np.any(r <= 0) for r in ramps):
            raise _err(path, "read currents must be > 0 A")
    segs = []
    for i in range(max(len(ups), len(dns))):
        for ramps, sign, name in ((ups, 1, "set"), (dns, -1, "reset")):
            if i < len(ramps):
                g = ramps[i] / read_voltage_v
                segs.append(Segment(g, np.full(g.size - 1, sign, dtype=np.int64), f"{name} ramp {i + 1}"))
    src = f"{set_path} + {reset_path}"
    return Trace(tuple(segs), "S", "crosssim", src, float(read_voltage_v))


def _direction_token(x: str, path, line: int) -> int:
    t = x.strip().lower()
    if t in ("+1", "1", "up", "+", "set", "potentiation"):
        return 1
    if t in ("-1", "down", "-", "reset", "depression"):
        return -1
    raise _err(path, f"line {line}: direction {x!r} is invalid: allowed values are +1, -1, up, down")


def read_plain(path) -> Trace:
    """``pulse, conductance_s[, direction]`` CSV (optional header line)."""
    p = _check_file(path)
    with open(p, newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
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
        try:
            pulse.append(float(r[0]))
            g.append(float(r[1]))
        except ValueError:
            raise _err(path, f"data row {i}: {r[:2]!r} are not numbers") from None
        if n_col == 3:
            dirs.append(_direction_token(r[2], path, i))
    pulse, g = np.array(pulse), np.array(g)
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise _err(path, "conductances must be finite and > 0 S")
    if np.any(pulse != np.round(pulse)):
        raise _err(path, "pulse numbers must be integers")
    dp = np.diff(pulse).astype(np.int64)
    if np.any(dp < 0):
        bad = int(np.argmax(dp < 0)) + 2
        raise _err(path, f"pulse numbers decrease at data row {bad}: they must be non-decreasing")
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
    """A pair of CrossSim step-size tables."""
    return StepTables(read_crosssim_table(up_path), read_crosssim_table(down_path), "lut",
                      f"{up_path} + {down_path}")


def _sniff(path: Path) -> str:
    with open(path, errors="replace") as f:
        first = f.readline().strip()
    low = first.lower()
    if low.startswith("rmp"):
        return "crosssim"
    if "cdf" in low or "gbins" in low:
        return "lut"
    cells = [c.strip() for c in first.split(",")]
    if not all(_is_number(c) for c in cells):
        return "plain"  # a header line
    if len(cells) == 3:
        return "plain"
    a = np.genfromtxt(path, delimiter=",", max_rows=50)
    if a.ndim == 2 and a.shape[1] == 2 and np.all(a[:, 0] == np.round(a[:, 0])) and np.all(np.diff(a[:, 0]) >= 0):
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
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not 1 <= len(paths) <= 2:
        raise ValueError(f"trace has {len(paths)} paths: expected 1 (or 2 for a set/reset or up/down pair)")
    for p in paths:
        if not p.exists():
            raise ValueError(f"trace {str(p)!r} does not exist")
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
        elif paths[0].name == b and paths[1].name == a:
            paths = paths[::-1]
        if fmt == "crosssim":
            return read_crosssim(paths[0], paths[1], read_voltage_v)
        return read_lut(paths[0], paths[1])
    if len(paths) != 1:
        raise ValueError(f"a {fmt} trace is one file: got {len(paths)} paths")
    return read_aihwkit(paths[0]) if fmt == "aihwkit" else read_plain(paths[0])
