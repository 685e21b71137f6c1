"""Nodal analysis of crossbar circuits: the numba solver, an independent scipy reference, diagnostics."""

from .linear import DEFAULT_RTOL, read_backward, read_forward, solve
from .reference import nodal_matrix, solve_reference
from .solution import CrossbarSolution, NonConvergence, Terminals, branch_currents, kcl_residual

__all__ = [
    "DEFAULT_RTOL", "CrossbarSolution", "NonConvergence", "Terminals", "branch_currents", "kcl_residual",
    "nodal_matrix", "read_backward", "read_forward", "solve", "solve_reference",
]
