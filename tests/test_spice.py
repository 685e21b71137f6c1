"""SPICE cross-validation: netlists, both ngspice backends, the spice-check function and command.

Every test that needs ngspice runs the real ngspice. They skip (with the reason) only when ngspice is not
installed; with XBARSIM_REQUIRE_NGSPICE=1 (set in CI) a missing ngspice fails them instead.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from xbarsim.circuits import OPTIONS_LINE, Crossbar, crossbar_netlist
from xbarsim.circuits.netlist import spice_resistance
from xbarsim.solvers import (
    SpiceError, SpiceUnavailable, kcl_residual, ngspice_info, read_rawfile, run_netlist, solve, solve_spice,
)
from xbarsim.spice_check import add_parser, default_sizes, random_circuit, spice_check, spice_study

BACKENDS = ("shared", "subprocess")
RTOL = 1e-8


def _need(backend: str):
    """Skip (or fail under XBARSIM_REQUIRE_NGSPICE=1) when this backend's ngspice is not installed."""
    try:
        ngspice_info(backend)
    except SpiceUnavailable as e:
        if os.environ.get("XBARSIM_REQUIRE_NGSPICE") == "1":
            pytest.fail(f"ngspice is required here (XBARSIM_REQUIRE_NGSPICE=1) but missing: {e}")
        pytest.skip(f"ngspice not installed for the {backend} backend: {e}")


@pytest.fixture(params=BACKENDS)
def backend(request):
    _need(request.param)
    return request.param


def _circuit(n, seed, driven="rows", batch=2, cols=None):
    """A random realistic circuit; ``cols`` makes it rectangular."""
    rng = np.random.default_rng([seed, n])
    xbar, g, vr, vc = random_circuit(n, rng, driven=driven, batch=batch)
    if cols is not None:
        xbar = xbar.with_shape(n, cols)
        g = 10.0 ** rng.uniform(-7, -4, xbar.shape)
        v_in = rng.uniform(-0.2, 0.2, (batch, n if driven == "rows" else cols))
        vr = v_in if driven == "rows" else np.zeros((batch, n))
        vc = np.zeros((batch, cols)) if driven == "rows" else v_in
    return xbar, g, vr, vc


# ---------------------------------------------------------------------------------------------- netlist text


def test_netlist_is_exact_lower_case_and_row_by_row():
    xbar = Crossbar(3, 4, r_row_ohm=0.1 + 1e-17, r_col_ohm=1 / 3, r_driver_ohm=47.0, r_sense_ohm=12.5)
    rng = np.random.default_rng(0)
    g = 10.0 ** rng.uniform(-7, -4, (3, 4))
    v_rows, v_cols = rng.uniform(-0.2, 0.2, 3), np.array([0.0, 1e-3, -2e-3, 0.1])
    text = crossbar_netlist(xbar, g, v_rows, v_cols, driven="rows")
    lines = text.splitlines()
    assert OPTIONS_LINE in lines and OPTIONS_LINE == ".options reltol=1e-9 abstol=1e-15 vntol=1e-12 klu"
    assert lines[-2:] == [".op", ".end"]
    body = [ln for ln in lines[1:] if not ln.startswith("*")]
    assert all(ln == ln.lower() for ln in body)
    elements = {ln.split()[0]: ln.split() for ln in body if not ln.startswith(".")}
    assert len(elements) == 3 * 4 + 3 * 3 + 2 * 4 + 3 * (3 + 4)  # cells, row segs, col segs, terminals
    for i in range(3):  # numbers round-trip exactly
        for j in range(4):
            assert float(elements[f"rx{i}_{j}"][3]) == 1.0 / g[i, j]
        assert float(elements[f"vtr{i}"][4]) == v_rows[i]
        assert float(elements[f"rtr{i}"][3]) == 47.0
    assert [float(elements[f"vtc{j}"][4]) for j in range(4)] == list(v_cols)
    assert float(elements["rr0_0"][3]) == xbar.r_row_ohm and float(elements["rc0_0"][3]) == 1 / 3
    assert elements["rtc2"][1:3] == ["c2_2", "ac2"] and elements["vac2"][1:5] == ["ac2", "tc2", "dc", "0"]
    order = [ln.split()[0] for ln in body if ln.startswith(("rx", "rr", "rc"))]
    expect = []
    for i in range(3):
        for j in range(4):
            expect += [f"rx{i}_{j}"] + ([f"rr{i}_{j}"] if j < 3 else []) + ([f"rc{i}_{j}"] if i < 2 else [])
    assert order == expect


def test_netlist_transposed_read_swaps_terminal_resistances():
    xbar = Crossbar(2, 2, r_driver_ohm=100.0, r_sense_ohm=7.0)
    text = crossbar_netlist(xbar, np.full((2, 2), 1e-5), [0.0, 0.0], [0.1, 0.2], driven="cols")
    assert "rtr0 r0_0 ar0 7.0" in text and "rtc1 c1_1 ac1 100.0" in text


@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), float("nan")])
def test_netlist_refuses_zero_negative_and_nonfinite_resistance(value):
    with pytest.raises(ValueError, match=r"must be a finite number > 0 Ohm"):
        spice_resistance("r_wire", value)


def test_netlist_refuses_a_cell_whose_resistance_is_not_finite():
    g = np.full((2, 2), 1e-5)
    g[1, 0] = 5e-324  # 1/g overflows to inf
    with pytest.raises(ValueError, match=r"1/conductance\[1, 0\].*must be a finite number > 0 Ohm"):
        crossbar_netlist(Crossbar(2, 2), g, [0.1, 0.1], [0.0, 0.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"driven": "both"}, r"driven='both' is invalid: allowed values are rows, cols"),
    ({"v_rows": [0.1]}, r"v_rows has shape \(1,\): expected \(2\)"),
    ({"g": np.zeros((2, 2))}, r"conductance contains .*0\.0\)?: all entries must be > 0 S"),
    ({"title": "a\nb"}, r"title='a\\nb' is invalid"),
])
def test_netlist_bad_input_names_the_parameter(kwargs, match):
    args = {"g": np.full((2, 2), 1e-5), "v_rows": [0.1, 0.2], "v_cols": [0.0, 0.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        crossbar_netlist(Crossbar(2, 2), **args)


# ---------------------------------------------------------------------------------------------- runner


DIVIDER = textwrap.dedent("""\
    divider
    v1 a 0 dc 1.5
    r1 a b 1000.0
    r2 b 0 3000.0
    vm b c dc 0
    r3 c 0 1e6
    .op
    .end
    """)


def test_divider_values_from_both_backends(backend):
    run = run_netlist(DIVIDER, backend=backend)
    # b: 1.5 * (3000 || 1e6) / (1000 + 3000 || 1e6)
    rp = 1.0 / (1 / 3000 + 1 / 1e6)
    vb = 1.5 * rp / (1000 + rp)
    assert run.vectors["b"] == pytest.approx(vb, rel=1e-12)
    assert run.vectors["i(vm)"] == pytest.approx(vb / 1e6, rel=1e-12)
    assert run.vectors["i(v1)"] == pytest.approx(-(1.5 - vb) / 1000, rel=1e-12)
    assert run.seconds > 0


def test_rawfile_reader_refuses_truncated_files(tmp_path):
    _need("subprocess")
    from xbarsim.solvers.ngspice import find_ngspice

    (tmp_path / "d.cir").write_text(DIVIDER)
    subprocess.run([find_ngspice(), "-b", "-r", "d.raw", "d.cir"], cwd=tmp_path, check=True, capture_output=True)
    blob = (tmp_path / "d.raw").read_bytes()
    (plot,) = read_rawfile(blob)
    assert plot["plotname"] == "Operating Point" and plot["data"].shape == (1, len(plot["names"]))
    with pytest.raises(SpiceError, match="truncated"):
        read_rawfile(blob[:-4])


@pytest.mark.parametrize("n", [8, 16, 32])
@pytest.mark.parametrize("driven", ["rows", "cols"])
def test_ngspice_agrees_with_xbarsim(backend, n, driven):
    xbar, g, vr, vc = _circuit(n, seed=11, driven=driven, cols=n + 3 if n == 16 else None)
    ds = spice_check(xbar, g, vr, vc, driven=driven, backend=backend, rtol=RTOL)
    for k in ("i_cols", "i_rows", "v_nodes"):
        assert ds[f"rel_err_{k}"].shape == (2,)
        assert float(ds[f"rel_err_{k}"].max()) <= RTOL, (k, ds[f"rel_err_{k}"].values)
    assert ds.attrs["passed"] == 1
    assert ds["i_cols"].attrs["units"] == "A" and ds["v_row_nodes"].attrs["units"] == "V"
    assert ds.attrs["ngspice_backend"] == backend


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 1)])
def test_single_line_arrays_agree(backend, shape):
    xbar, g, vr, vc = _circuit(shape[0], seed=4, cols=shape[1])
    assert spice_check(xbar, g, vr, vc, backend=backend).attrs["passed"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("driven", ["rows", "cols"])
def test_ngspice_agrees_with_xbarsim_64(backend, driven):
    xbar, g, vr, vc = _circuit(64, seed=12, driven=driven, batch=1)
    ds = spice_check(xbar, g, vr, vc, driven=driven, backend=backend, rtol=RTOL)
    assert ds.attrs["passed"] == 1, {k: float(ds[f"rel_err_{k}"].max()) for k in ("i_cols", "i_rows", "v_nodes")}


def test_backends_agree_with_each_other():
    _need("shared"), _need("subprocess")
    xbar, g, vr, vc = _circuit(24, seed=5, driven="cols", batch=3)
    a = solve_spice(xbar, g, vr, vc, driven="cols", backend="shared")
    b = solve_spice(xbar, g, vr, vc, driven="cols", backend="subprocess", workers=2)
    for name in ("i_cols", "i_rows", "v_row_nodes", "v_col_nodes"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.max(np.abs(x - y)) <= 1e-12 * np.max(np.abs(y)), name


def test_spice_solution_satisfies_kcl_and_its_ammeters(backend):
    xbar, g, vr, vc = _circuit(8, seed=3)
    sol = solve_spice(xbar, g, vr, vc, backend=backend)
    assert np.all(kcl_residual(xbar, g, sol) < 1e-9)
    from_nodes = (sol.v_col_nodes[:, -1, :] - vc) / xbar.r_sense_ohm
    np.testing.assert_allclose(sol.i_cols, from_nodes, rtol=1e-9, atol=1e-18)
    ref = solve(xbar, g, vr, vc)
    np.testing.assert_allclose(sol.dev, ref.dev, rtol=0, atol=1e-9 * np.abs(ref.dev).max())


# ---------------------------------------------------------------------------------------------- failures


VOLTAGE_LOOP = textwrap.dedent("""\
    two sources in parallel: no operating point exists
    v1 a 0 dc 1
    v2 a 0 dc 2
    r1 a 0 1000
    .op
    .end
    """)

UNKNOWN_SUBCIRCUIT = "bad netlist\nv1 a 0 dc 1\nr1 a 0 1000\nx1 a 0 nosuch\n.op\n.end\n"


def test_nonconvergent_netlist_raises_and_runner_recovers(backend):
    with pytest.raises(SpiceError, match=r"ngspice failed.*(aborted|failed)") as e:
        run_netlist(VOLTAGE_LOOP, backend=backend)
    assert "singular matrix" in str(e.value) and e.value.output
    with pytest.raises(SpiceError, match=r"unknown subckt"):
        run_netlist(UNKNOWN_SUBCIRCUIT, backend=backend)
    # the next run solves its own circuit, not a stale one left by a failure
    assert run_netlist(DIVIDER, backend=backend).vectors["a"] == 1.5


def test_crossbar_netlist_that_cannot_converge_raises(backend):
    """A crossbar whose one column is shorted to a second source at another voltage has no solution."""
    xbar, g, vr, vc = _circuit(4, seed=1, batch=1)
    text = crossbar_netlist(xbar, g, vr[0], vc[0]).replace(".op", "vshort tc0 0 dc 0.5\n.op")
    with pytest.raises(SpiceError, match="ngspice failed"):
        run_netlist(text, backend=backend)


def test_gmin_stepping_that_converges_is_a_result_not_an_error():
    """PySpice alone raises on this (its stderr notes); the shared backend must return the operating point."""
    _need("shared"), _need("subprocess")
    text = textwrap.dedent("""\
        diode that needs gmin stepping
        .options itl1=3 noopiter
        v1 a 0 dc 10
        r1 a b 1
        d1 b 0 dmod
        .model dmod d is=1e-14
        .op
        .end
        """)
    shared = run_netlist(text, backend="shared")
    assert "gmin stepping" in shared.output
    sub = run_netlist(text, backend="subprocess")
    assert shared.vectors["b"] == pytest.approx(sub.vectors["b"], rel=1e-12)
    assert -shared.vectors["i(v1)"] == pytest.approx(10.0 - shared.vectors["b"], rel=1e-9)


def test_missing_ngspice_executable_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("XBARSIM_NGSPICE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SpiceUnavailable, match=r"ngspice executable not found on PATH.*apt-get install ngspice"):
        run_netlist(DIVIDER, backend="subprocess")
    monkeypatch.setenv("XBARSIM_NGSPICE", str(tmp_path / "ngspice"))
    with pytest.raises(SpiceUnavailable, match=r"XBARSIM_NGSPICE='.*ngspice' is invalid: not an executable file"):
        solve_spice(Crossbar(2, 2), np.full((2, 2), 1e-5), [0.1, 0.1], [0, 0], backend="subprocess")


def _child(code: str, env_update: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_update}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_missing_libngspice_is_a_clear_error_never_a_pass():
    """In a fresh process (one ngspice per process): the Python call raises, the command exits 2."""
    env = {"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so.0"}
    p = _child("import numpy as np\n"
               "from xbarsim.circuits import Crossbar\nfrom xbarsim.solvers import solve_spice, SpiceUnavailable\n"
               "try:\n    solve_spice(Crossbar(2, 2), np.full((2, 2), 1e-5), [0.1, 0.1], [0, 0])\n"
               "except SpiceUnavailable as e:\n    print('UNAVAILABLE', e)\n", env)
    assert "UNAVAILABLE NGSPICE_LIBRARY_PATH='/nonexistent/libngspice.so.0' is invalid: no such file" in p.stdout, \
        p.stdout + p.stderr
    p = _child("import sys\nfrom xbarsim.spice_check import main\nsys.exit(main(['--sizes', '4', '--trials', '1']))",
               env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "xbarsim spice-check: error: NGSPICE_LIBRARY_PATH=" in p.stderr and "PASS" not in p.stdout


def test_shared_backend_is_quiet_and_keeps_a_blank_title_line():
    """No "Unsupported Ngspice version" warning and no stderr-as-error log records reach the user's logging;
    a netlist whose first (title) line is blank still has every element."""
    _need("shared")
    code = textwrap.dedent("""\
        import logging, numpy as np
        logging.basicConfig(level=logging.WARNING)
        from xbarsim.solvers import run_netlist, SpiceError
        text = ("\\nv1 a 0 dc 1\\nr1 a b 1\\nd1 b 0 dmod\\n.model dmod d is=1e-14\\n"
                ".options itl1=3 noopiter\\n.op\\n.end")
        r = run_netlist(text, backend="shared")
        print("V", r.vectors["a"], "b" in r.vectors)
        try:
            run_netlist("loop\\nv1 a 0 dc 1\\nv2 a 0 dc 2\\n.op\\n.end", backend="shared")
        except SpiceError:
            print("RAISED")
        """)
    p = _child(code, {})
    assert "V 1.0 True" in p.stdout and "RAISED" in p.stdout, p.stdout + p.stderr
    assert "PySpice" not in p.stderr and "Unsupported" not in p.stderr, p.stderr


def test_shared_backend_refuses_parallel_workers():
    with pytest.raises(ValueError, match=r"workers=2 is invalid with backend='shared'"):
        solve_spice(Crossbar(2, 2), np.full((2, 2), 1e-5), [0.1, 0.1], [0, 0], backend="shared", workers=2)


# ---------------------------------------------------------------------------------------------- memory


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="RSS is read from /proc (Linux)")
def test_300_shared_runs_keep_rss_flat():
    _need("shared")
    xbar, g, vr, vc = _circuit(16, seed=2, batch=1)
    text = crossbar_netlist(xbar, g, vr[0], vc[0])
    ref = run_netlist(text, backend="shared").vectors
    start = _rss_mb()
    for _ in range(300):
        run = run_netlist(text, backend="shared")
    grown = _rss_mb() - start
    assert grown < 50.0, f"RSS grew by {grown:.1f} MB over 300 runs"
    assert run.vectors == ref  # same netlist, same numbers, run after run


# ---------------------------------------------------------------------------------------------- check and CLI


def test_default_sizes_follow_the_solver():
    assert default_sizes({"klu": False}) == (8, 16, 32, 64)
    assert default_sizes({"klu": True})[-2:] == (128, 256)


def test_study_is_reproducible_and_passes(backend):
    a = spice_study([4, 8], trials=2, seed=7, backend=backend)
    b = spice_study([8], trials=2, seed=7, backend=backend)
    assert a.attrs["passed"] == 1 and a["rel_err_v_nodes"].dims == ("size", "trial")
    for k in ("r_row_ohm", "r_driver_ohm", "rel_err_i_cols", "rel_err_v_nodes"):
        np.testing.assert_array_equal(a[k].sel(size=8).values, b[k].sel(size=8).values)
    assert list(a["driven"].values) == ["rows", "cols"]
    assert np.all((a["r_row_ohm"] >= 0.1) & (a["r_row_ohm"] <= 10))


def _cli(argv):
    parser = argparse.ArgumentParser(prog="xbarsim")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prints_table_writes_netcdf_and_exits_zero(tmp_path, capsys):
    _need("subprocess")
    out = tmp_path / "check.nc"
    rc = _cli(["spice-check", "--sizes", "4,8", "--trials", "2", "--seed", "1", "--backend", "subprocess",
               "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert re.search(r"size\s+trials\s+err I_col\s+err I_row\s+err V_node\s+xbarsim ms\s+ngspice ms\s+ratio", text)
    assert re.search(r"^\s+8x8\s+2\s+\S+e-\d\d", text, re.M) and "PASS" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check.nc"]  # no temporary file left
    with xr.open_dataset(out) as ds:
        assert list(ds["size"].values) == [4, 8] and ds.attrs["seed"] == 1 and ds.attrs["passed"] == 1
        assert ds["t_ngspice_s"].attrs["units"] == "s" and ds["r_sense_ohm"].attrs["units"] == "Ohm"


def test_cli_exits_one_when_an_error_exceeds_rtol(tmp_path, capsys):
    _need("subprocess")
    rc = _cli(["spice-check", "--sizes", "4", "--trials", "1", "--backend", "subprocess", "--rtol", "1e-300",
               "--out", str(tmp_path / "f.nc")])
    cap = capsys.readouterr()
    assert rc == 1 and "FAIL" in cap.err and (tmp_path / "f.nc").exists()


def test_cli_bad_arguments_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        _cli(["spice-check", "--sizes", "8,x"])
    assert e.value.code == 2 and "--sizes='8,x' is invalid: must be comma-separated integers >= 1" in \
        capsys.readouterr().err
    rc = _cli(["spice-check", "--sizes", "4", "--out", str(tmp_path / "missing" / "x.nc")])
    assert rc == 2 and "folder" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
