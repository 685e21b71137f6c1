"""Counter-based normal random numbers for numba kernels.

A kernel draws the noise of pulse k of cell c in update s from a hash of (seed, s, c, k). The numbers are
therefore independent of thread count and scheduling, and a run is reproducible bit for bit from the seed
that the caller draws from its ``numpy.random.Generator``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(inline="always", cache=True)
def _mix(z):
    """splitmix64 finaliser: a bijective 64-bit hash with good avalanche."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always", cache=True)
def _uniform(key):
    """Uniform in (0, 1) from a 64-bit key (53 random bits, never 0)."""
    return ((_mix(key) >> np.uint64(11)) + np.float64(0.5)) * (1.0 / 9007199254740992.0)


@nb.njit(inline="always", cache=True)
def normal(seed, s, c, k):
    """Standard normal for (seed, update s, cell c, pulse k) by Box-Muller."""
    key = _mix(np.uint64(seed) + _GOLD * np.uint64(s + 1))
    key = _mix(key + _GOLD * np.uint64(c + 1))
    key = key + _GOLD * np.uint64(2 * k + 1)
    u1 = _uniform(key)
    u2 = _uniform(key + _GOLD)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


_SALT_U = np.uint64(0xD1B54A32D192ED03)


@nb.njit(inline="always", cache=True)
def uniform(seed, s, c, k):
    """Uniform in (0, 1) for (seed, update s, cell c, pulse k), from a stream disjoint from :func:`normal`."""
    key = _mix(np.uint64(seed) + _GOLD * np.uint64(s + 1))
    key = _mix(key + _GOLD * np.uint64(c + 1))
    key = _mix(key ^ _SALT_U) + _GOLD * np.uint64(k + 1)
    return _uniform(key)
