"""Nodal analysis of crossbar circuits: the numba solvers (linear, Newton), an independent scipy reference,
ngspice, diagnostics."""

from .circuit import read_backward, read_forward, solve_circuit
from .linear import DEFAULT_RTOL, solve
from .ngspice import (
    BACKENDS as SPICE_BACKENDS, SpiceError, SpiceRun, SpiceSolution, SpiceUnavailable, ngspice_info, read_rawfile,
    run_netlist, solve_spice,
)
from .nonlinear import solve_nonlinear
from .reference import nodal_matrix, solve_reference, solve_reference_nonlinear
from .solution import CrossbarSolution, NonConvergence, Terminals, branch_currents, kcl_residual

__all__ = [
    "DEFAULT_RTOL", "CrossbarSolution", "NonConvergence", "SPICE_BACKENDS", "SpiceError", "SpiceRun",
    "SpiceSolution", "SpiceUnavailable", "Terminals", "branch_currents", "kcl_residual", "ngspice_info",
    "nodal_matrix", "read_backward", "read_forward", "read_rawfile", "run_netlist", "solve", "solve_circuit",
    "solve_nonlinear", "solve_reference", "solve_reference_nonlinear", "solve_spice",
]
