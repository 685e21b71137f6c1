"""numba threading layer: workqueue unless the user chose one with NUMBA_THREADING_LAYER.

OpenMP's worker threads spin while they wait; when another process shares the cores (a 2-core laptop, CI,
a parallel sweep) that made the parallel kernels 20-30x slower here. The workqueue layer does not spin.
"""

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
