"""An exact reference for small crossbars: the nodal equations stamped from the element values in 50-digit
arithmetic (mpmath) and solved by LU, so that no float64 rounding of the matrix hides the cells behind stiff
wires (the float64 nodal matrix of 1e-9 Ohm wires and 1e-4 S cells already misstates each cell by ~0.4 %)."""

import mpmath as mp
import numpy as np


def exact_column_currents(xbar, g, v_rows, v_cols, terminals) -> np.ndarray:
    """(N,) column terminal currents (A) of one input vector, exact to float64."""
    with mp.workdps(50):
        m, n = xbar.shape
        size = 2 * m * n
        a, rhs = mp.zeros(size, size), mp.zeros(size, 1)

        def stamp(p, q, cond):
            a[p, p] += cond
            if q is not None:
                a[q, q] += cond
                a[p, q] -= cond
                a[q, p] -= cond

        row = lambda i, j: i * n + j  # noqa: E731
        col = lambda i, j: m * n + i * n + j  # noqa: E731
        gwr, gwc = 1 / mp.mpf(xbar.r_row_ohm), 1 / mp.mpf(xbar.r_col_ohm)
        for i in range(m):
            for j in range(n):
                stamp(row(i, j), col(i, j), mp.mpf(g[i, j]))
                if j < n - 1:
                    stamp(row(i, j), row(i, j + 1), gwr)
                if i < m - 1:
                    stamp(col(i, j), col(i + 1, j), gwc)
        for i, gt in enumerate(terminals.g_rows):
            if gt > 0:
                stamp(row(i, 0), None, mp.mpf(gt))
                rhs[row(i, 0)] += mp.mpf(gt) * mp.mpf(v_rows[i])
        for j, gt in enumerate(terminals.g_cols):
            if gt > 0:
                stamp(col(m - 1, j), None, mp.mpf(gt))
                rhs[col(m - 1, j)] += mp.mpf(gt) * mp.mpf(v_cols[j])
        u = mp.lu_solve(a, rhs)
        return np.array([float(mp.mpf(gt) * (u[col(m - 1, j)] - mp.mpf(v_cols[j])))
                         for j, gt in enumerate(terminals.g_cols)])
