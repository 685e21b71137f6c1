"""Crossbar array description: size, wires, periphery. Frozen and validated on construction.

Topology (forward orientation, DESIGN.md): row i is a wire of ``cols`` nodes r[i, 0..N-1] joined by
segments of ``r_row_ohm``; its driver (a voltage source behind ``r_driver_ohm``) connects at r[i, 0].
Column j is a wire of ``rows`` nodes c[0..M-1, j] joined by segments of ``r_col_ohm``; its sense amplifier
(a virtual ground behind ``r_sense_ohm``) connects at c[M-1, j]. The cell (i, j) joins r[i, j] and c[i, j].
The other line ends are open. In the transposed read the roles swap: columns are driven at row M-1 through
``r_driver_ohm`` and rows are sensed at column 0 through ``r_sense_ohm`` -- the same peripheral circuit at
each line's one end, used in both directions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from xbarsim.devices import _validate as V

from .cells import CELLS, Cell, as_cell

CELL_TYPES = tuple(CELLS)
R_MIN_OHM, R_MAX_OHM = 1e-9, 1e12  # resistances the solver resolves in float64 (1e-9 Ohm: the ideal-wire limit)
G_MIN_S, G_MAX_S = 1e-15, 1e3  # cell conductances accepted by the solvers
V_MAX_V = 1e3  # largest terminal voltage accepted


@dataclass(frozen=True)
class Crossbar:
    """One crossbar array's circuit parameters (SI units).

    Attributes:
        rows, cols: number of rows (inputs, M) and columns (outputs, N).
        r_row_ohm, r_col_ohm: wire resistance of one segment between neighbouring crosspoints, Ohm.
        r_driver_ohm: output resistance of each line driver (DAC buffer), Ohm.
        r_sense_ohm: input resistance of each sense amplifier (virtual ground), Ohm.
        v_read_v: read voltage for a full-scale input (|x| = 1), V.
        cell: cell type, a name from CELL_TYPES (its default parameters) or a cell object from
            :mod:`xbarsim.circuits.cells`; "linear" = a linear conductance G (ECRAM read path, ReRAM at small
            read voltage). Stored as the cell object.
    """

    rows: int
    cols: int
    r_row_ohm: float = 1.0
    r_col_ohm: float = 1.0
    r_driver_ohm: float = 50.0
    r_sense_ohm: float = 10.0
    v_read_v: float = 0.2
    cell: Cell | str = "linear"

    def __post_init__(self):
        V.positive_int("rows", self.rows)
        V.positive_int("cols", self.cols)
        for name in ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm"):
            object.__setattr__(self, name, V.positive(name, getattr(self, name), "Ohm", R_MIN_OHM, R_MAX_OHM))
        object.__setattr__(self, "v_read_v", V.positive("v_read_v", self.v_read_v, "V", 0.0, V_MAX_V))
        object.__setattr__(self, "cell", as_cell(self.cell))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def n_nodes(self) -> int:
        """Unknown node voltages of the nodal system (row and column wire nodes)."""
        return 2 * self.rows * self.cols

    def with_shape(self, rows: int, cols: int) -> "Crossbar":
        """The same wires and periphery on an array of another size."""
        return replace(self, rows=rows, cols=cols)

    def to_dict(self) -> dict:
        """Flat dict of plain values (for netCDF attrs): the cell as its name and its parameters."""
        d = {k: v for k, v in asdict(self).items() if k != "cell"}
        d["cell"] = self.cell.name
        for k, v in asdict(self.cell).items():
            d[f"cell_{k}"] = v if not isinstance(v, dict) else getattr(self.cell, k).name
        return d
