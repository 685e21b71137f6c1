"""Compile and cache every numba kernel the demo and the solver use (``make`` runs this once after install).

numba compiles a kernel the first time it runs and caches the machine code beside the source; doing it here,
as part of the install, keeps the ~20 s of compilation out of the first real run.
"""

from __future__ import annotations

import tempfile

import numpy as np

from xbarsim.circuits import Crossbar
from xbarsim.solvers import read_backward, read_forward
from xbarsim.solvers.adjoint import vjp


def warm_up() -> None:
    rng = np.random.default_rng(0)
    for m, n, b in ((4, 3, 1), (64, 48, 8)):
        xbar = Crossbar(m, n)
        g = rng.uniform(1e-6, 1e-5, (m, n))
        read_forward(xbar, g, rng.uniform(0, 0.2, (b, m)))
        read_backward(xbar, g, rng.uniform(0, 0.2, (b, n)))
    for cell in ("sinh", "1s1r"):  # the Newton kernels and the adjoint
        xbar = Crossbar(6, 5, cell=cell)
        g = rng.uniform(1e-6, 1e-5, (6, 5))
        sol = read_forward(xbar, g, rng.uniform(0, 1.0, (2, 6)))
        vjp(sol, g, np.ones((2, 5)))
    from xbarsim.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        run_demo(tmp, progress=False, epochs=1, train_size=20, test_size=10)


if __name__ == "__main__":
    warm_up()
