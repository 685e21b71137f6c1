"""Argument checks shared by every layer: one-line errors that name the parameter, its value and what is allowed.

It lives in the bottom layer (devices) because every other layer depends on it and nothing may depend upward.
"""

from __future__ import annotations

import math

import numpy as np


def positive(name: str, value, unit: str = "", lo: float = 0.0, hi: float | None = None) -> float:
    """Return ``value`` as float if it is a finite number > lo (and <= hi), else raise ValueError naming
    ``name``."""
    if hi is None:
        allowed = f"a finite number > {lo:g}{_u(unit)}"
    else:
        allowed = f"in {'(' if lo == 0 else '['}{lo:g}, {hi:g}]{_u(unit)}"
    v = _finite(name, value, allowed)
    if not (v > 0 and v >= lo and (hi is None or v <= hi)):
        raise ValueError(f"{name}={value!r} is invalid: must be {allowed}")
    return v


def nonnegative(name: str, value, unit: str = "") -> float:
    v = _finite(name, value, f"a finite number >= 0{_u(unit)}")
    if not v >= 0:
        raise ValueError(f"{name}={value!r} is invalid: must be a finite number >= 0{_u(unit)}")
    return v


def in_range(name: str, value, lo: float, hi: float, unit: str = "") -> float:
    v = _finite(name, value, f"a finite number in [{lo}, {hi}]{_u(unit)}")
    if not lo <= v <= hi:
        raise ValueError(f"{name}={value!r} is invalid: must be in [{lo}, {hi}]{_u(unit)}")
    return v


def finite(name: str, value, unit: str = "") -> float:
    return _finite(name, value, f"a finite number{_u(unit)}")


def positive_int(name: str, value, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1 or (hi and value > hi):
        allowed = "an integer >= 1" if hi is None else f"an integer in [1, {hi}]"
        raise ValueError(f"{name}={value!r} is invalid: must be {allowed}")
    return int(value)


def seed(name: str, value) -> int:
    """A seed: an integer in [0, 2**64)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2 ** 64:
        raise ValueError(f"{name}={value!r} is invalid: must be an integer in [0, 2**64)")
    return int(value)


def generator(name: str, value) -> np.random.Generator:
    """A numpy random Generator (``np.random.default_rng(seed)``)."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(f"{name}={value!r} is invalid: must be a numpy random Generator "
                         "(np.random.default_rng(seed))")
    return value


def flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} is invalid: must be True or False")
    return bool(value)


def choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is invalid: allowed values are {', '.join(map(str, allowed))}")
    return value


def array(name: str, value, shape: tuple, *, positive_values: bool = False, unit: str = "",
          max_abs: float | None = None, min_value: float | None = None, allow_inf: bool = False) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array of ``shape`` (None = any size), all finite (+inf too
    with ``allow_inf``; and |a| <= max_abs, a >= min_value where given)."""
    if np.iscomplexobj(value):
        raise ValueError(f"{name} is complex: expected real numbers{_u(unit)}")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a numeric array: expected real numbers{_u(unit)}") from None
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {a.shape}: expected {want}")
    ok = np.isfinite(a) | (a == np.inf) if allow_inf else np.isfinite(a)
    if not np.all(ok):
        bad = float(a[~ok].flat[0])
        allowed = "finite or +inf" if allow_inf else "finite"
        raise ValueError(f"{name} contains {bad!r}: all entries must be {allowed}{_u(unit)}")
    if positive_values and a.size and not np.all(a > 0):
        bad = float(a[~(a > 0)].flat[0])
        raise ValueError(f"{name} contains {bad!r}: all entries must be > 0{_u(unit)}")
    if max_abs is not None and a.size and np.abs(a).max() > max_abs:
        raise ValueError(f"{name} contains {float(np.abs(a).max())!r}: all entries must be within "
                         f"+/-{max_abs:g}{_u(unit)}")
    if min_value is not None and a.size and a.min() < min_value:
        raise ValueError(f"{name} contains {float(a.min())!r}: all entries must be >= {min_value:g}{_u(unit)}")
    return np.ascontiguousarray(a)


def _finite(name, value, allowed) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{name}={value!r} is invalid: must be {allowed}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is invalid: must be {allowed}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r} is invalid: must be {allowed}")
    return v


def _u(unit: str) -> str:
    return f" {unit}" if unit else ""
