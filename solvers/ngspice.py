"""ngspice as the independent reference solver: run crossbar netlists and read the operating point back.

Two backends, one interface (:func:`run_netlist`, :func:`solve_spice`):

- ``"shared"``: ngspice in-process through PySpice's ``NgSpiceShared`` (libngspice). One ngspice per process,
  shared with any other PySpice user of the same process and guarded by a lock. The guards around PySpice 1.5:
  the library is located as ``libngspice.so.0`` (``NGSPICE_LIBRARY_PATH`` overrides), its "Unsupported
  Ngspice version" warning and its logging of every stderr line are silenced, success is judged from
  ngspice's own output (an ``.op`` that converged by gmin stepping is a success; "simulation(s) aborted"
  or an "Error" line is a failure, whatever ``run`` returned), and each run's circuit and plot are removed
  afterwards so that memory stays flat and a circuit that failed to load can never re-run the previous one.
- ``"subprocess"``: ``ngspice -b -r out.raw netlist.cir`` per operating point, the binary rawfile read with
  numpy. A failure is a non-zero exit code, "simulation(s) aborted", an "Error" line or a rawfile without
  points. Runs in parallel processes (``workers``) and needs no shared library.

Vector names are normalised across backends: node voltages by node name (``"r0_0"``), branch currents of
voltage sources as ``"i(<source>)"`` (``"i(var0)"``), all lower case.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xbarsim.circuits import Crossbar
from xbarsim.circuits import netlist as NL
from xbarsim.devices import _validate as V

from .cellmodel import check_word_lines
from .linear import check_conductance
from .solution import Terminals

BACKENDS = ("shared", "subprocess")
LIBRARY_ENV = "NGSPICE_LIBRARY_PATH"  # PySpice's own variable: full path or soname of libngspice
EXECUTABLE_ENV = "XBARSIM_NGSPICE"  # path of the ngspice executable for the subprocess backend

_ERROR_LINE = re.compile(r"^\s*(error\b|.*simulation\(s\) aborted|.*simulation interrupted"
                         r"|.*there aren't any circuits loaded|.*dc solution failed)", re.IGNORECASE)


class SpiceError(RuntimeError):
    """ngspice failed (did not converge, rejected the netlist, crashed). ``output`` holds its log."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


class SpiceUnavailable(SpiceError):
    """ngspice (the executable or libngspice) is not installed or cannot be loaded."""


@dataclass(frozen=True)
class SpiceRun:
    """One ngspice operating point: vectors by normalised name (V or A), ngspice's log, wall time in s."""

    vectors: dict
    output: str
    seconds: float


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class SpiceSolution:
    """ngspice's solution of a crossbar batch, with the properties of :class:`xbarsim.solvers.CrossbarSolution`.

    Terminal currents are those measured by the netlist's 0 V ammeters, not derived from node voltages.
    """

    xbar: Crossbar
    terminals: Terminals
    v_row_nodes: np.ndarray  # (B, M, N) V
    v_col_nodes: np.ndarray  # (B, M, N) V
    i_rows: np.ndarray  # (B, M) A, from the array into each row terminal
    i_cols: np.ndarray  # (B, N) A, from the array into each column terminal
    seconds: np.ndarray  # (B,) wall time of each operating point (load, solve, read back), s
    backend: str
    version: str

    @property
    def dev(self) -> np.ndarray:
        """(B, 2, M, N) node deviations from their line's terminal voltage, V (CrossbarSolution layout)."""
        t = self.terminals
        return np.stack([self.v_row_nodes - t.v_rows[:, :, None], self.v_col_nodes - t.v_cols[:, None, :]], axis=1)

    def to_dataset(self):
        """The solution as an ``xarray.Dataset`` with dims (batch, row, col) and SI units in attrs."""
        import xarray as xr

        dims3 = ("batch", "row", "col")
        ds = xr.Dataset(
            {
                "v_row_nodes": (dims3, self.v_row_nodes, {"units": "V", "long_name": "row-wire node voltage"}),
                "v_col_nodes": (dims3, self.v_col_nodes, {"units": "V", "long_name": "column-wire node voltage"}),
                "i_rows": (("batch", "row"), self.i_rows, {"units": "A", "long_name": "current array -> row terminal"}),
                "i_cols": (("batch", "col"), self.i_cols,
                           {"units": "A", "long_name": "current array -> column terminal"}),
                "seconds": (("batch",), self.seconds,
                            {"units": "s", "long_name": "ngspice wall time per operating point"}),
            },
            attrs={"solver": f"ngspice {self.version} ({self.backend} backend)", "driven": self.terminals.driven,
                   **{f"crossbar_{k}": v for k, v in self.xbar.to_dict().items()}},
        )
        return ds


def solve_spice(xbar: Crossbar, g, v_rows, v_cols, *, driven: str = "rows", backend: str = "shared",
                workers: int = 1, timeout_s: float | None = None, r_rows_ohm=None, r_cols_ohm=None,
                word_lines=None) -> SpiceSolution:
    """Solve the crossbar batch with ngspice: one netlist and one ``.op`` per batch vector.

    Args:
        xbar, g, v_rows, v_cols, driven: as for :func:`xbarsim.solvers.solve` (S, V).
        backend: "shared" (in-process libngspice) or "subprocess" (one ``ngspice -b`` per vector).
        workers: parallel ngspice processes (subprocess backend only; the shared library runs one at a time).
        timeout_s: per-vector limit for the subprocess backend, s (None = no limit).
        r_rows_ohm, r_cols_ohm, word_lines: per-line terminals (inf = floating) and 1T1R word lines, as for
            :func:`xbarsim.solvers.solve_nonlinear`. Any cell type of :mod:`xbarsim.circuits.cells`.
    Raises:
        SpiceError: ngspice failed; SpiceUnavailable: ngspice is not installed.
    """
    V.choice("backend", backend, BACKENDS)
    workers = V.positive_int("workers", workers)
    if workers > 1 and backend == "shared":
        raise ValueError(f"workers={workers!r} is invalid with backend='shared': allowed is 1 (one ngspice per "
                         "process); use backend='subprocess' for parallel runs")
    g = check_conductance(xbar, g)
    t = Terminals.build(xbar, v_rows, v_cols, driven, r_rows_ohm, r_cols_ohm)
    wl = check_word_lines(xbar, word_lines)
    with np.errstate(divide="ignore"):
        texts = NL.crossbar_netlists(xbar, g, t.v_rows, t.v_cols, driven=driven, r_rows_ohm=1.0 / t.g_rows,
                                     r_cols_ohm=1.0 / t.g_cols, word_lines=wl)
    if backend == "shared":
        runs = [run_netlist(s, backend="shared") for s in texts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(lambda s: run_netlist(s, backend="subprocess", timeout_s=timeout_s), texts))
    parts = [_crossbar_vectors(xbar, r.vectors) for r in runs]
    vr, vc, ir, ic = (np.stack([p[k] for p in parts]) for k in range(4))
    return SpiceSolution(xbar, t, vr, vc, ir, ic, np.array([r.seconds for r in runs]), backend,
                         ngspice_version(backend))


def _crossbar_vectors(xbar: Crossbar, vec: dict) -> tuple[np.ndarray, ...]:
    """(v_row_nodes (M, N), v_col_nodes (M, N), i_rows (M,), i_cols (N,)) from one run's vectors."""
    m, n = xbar.shape
    try:
        vr = np.array([[vec[NL.row_node(i, j)] for j in range(n)] for i in range(m)])
        vc = np.array([[vec[NL.col_node(i, j)] for j in range(n)] for i in range(m)])
        ir = np.array([vec.get(f"i({NL.row_ammeter(i)})", 0.0) for i in range(m)])  # absent: a floating line
        ic = np.array([vec.get(f"i({NL.col_ammeter(j)})", 0.0) for j in range(n)])
    except KeyError as e:
        raise SpiceError(f"ngspice's result lacks the vector {e.args[0]!r} of a {m}x{n} crossbar netlist") from None
    return vr, vc, ir, ic


# ---------------------------------------------------------------------------------------------- any backend


def run_netlist(text: str, *, backend: str = "shared", timeout_s: float | None = None) -> SpiceRun:
    """Run one netlist with an ``.op`` analysis; return its operating point (one value per vector).

    Raises SpiceError when ngspice rejects the netlist or the analysis fails, SpiceUnavailable when ngspice
    is not installed.
    """
    V.choice("backend", backend, BACKENDS)
    if timeout_s is not None:
        timeout_s = V.positive("timeout_s", timeout_s, "s")
    if backend == "shared":
        return _shared_engine().run(text)
    return _run_subprocess(text, timeout_s)


def ngspice_version(backend: str = "shared") -> str:
    """The ngspice version number of ``backend`` (e.g. "39"), or SpiceUnavailable."""
    V.choice("backend", backend, BACKENDS)
    return ngspice_info(backend)["version"]


def ngspice_info(backend: str = "shared") -> dict:
    """{"version": str, "klu": bool, "location": str} of the ngspice behind ``backend``.

    ``klu`` says whether this ngspice was built with the KLU sparse solver (ngspice >= 41 in Debian
    bookworm-backports); without it only SPARSE 1.3 is available and arrays beyond 64x64 take minutes.
    """
    V.choice("backend", backend, BACKENDS)
    if backend == "shared":
        return _shared_engine().info
    return _subprocess_info(find_ngspice())


def _failure(output: str) -> str | None:
    """The lines of ``output`` (up to three, joined by "; ") that say the run failed, else None.

    A first "singular matrix" warning is added as a hint. Warnings and notes alone (gmin stepping that
    converged) are no failure.
    """
    lines = [ln.strip() for ln in output.splitlines() if _ERROR_LINE.match(ln)]
    if not lines:
        return None
    hint = [ln.strip() for ln in output.splitlines() if "singular matrix" in ln.lower()][:1]
    return "; ".join(lines[:3] + hint)


def _normalise(name: str) -> str:
    """One vector name for both backends: node voltages bare, source currents as ``i(<source>)``."""
    name = name.strip().lower()
    if name.startswith("v(") and name.endswith(")"):
        return name[2:-1]
    if name.endswith("#branch"):
        return f"i({name[:-7]})"
    return name


def _version_from(text: str) -> tuple[str, bool]:
    m = re.search(r"ngspice-(\d+(?:\.\d+)?)", text)
    if m is None:
        raise SpiceError("cannot read the ngspice version from its banner", text)
    return m.group(1), "KLU" in text


# ---------------------------------------------------------------------------------------------- subprocess


def find_ngspice() -> str:
    """Path of the ngspice executable: ``$XBARSIM_NGSPICE`` if set, else ``ngspice`` on PATH."""
    exe = os.environ.get(EXECUTABLE_ENV)
    if exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise SpiceUnavailable(f"{EXECUTABLE_ENV}={exe!r} is invalid: not an executable file")
        return exe
    exe = shutil.which("ngspice")
    if exe is None:
        raise SpiceUnavailable("ngspice executable not found on PATH: install it (apt-get install ngspice) "
                               f"or set {EXECUTABLE_ENV}=/path/to/ngspice")
    return exe


_SUBPROCESS_INFO: dict = {}


def _subprocess_info(exe: str) -> dict:
    if exe not in _SUBPROCESS_INFO:
        try:
            p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise SpiceUnavailable(f"ngspice at {exe!r} did not answer --version within 60 s") from None
        except OSError as e:
            raise SpiceUnavailable(f"cannot start ngspice at {exe!r}: {e}") from None
        version, klu = _version_from(p.stdout + p.stderr)
        _SUBPROCESS_INFO[exe] = {"version": version, "klu": klu, "location": exe}
    return _SUBPROCESS_INFO[exe]


def _run_subprocess(text: str, timeout_s: float | None) -> SpiceRun:
    exe = find_ngspice()
    with tempfile.TemporaryDirectory(prefix="xbarsim-spice-") as tmp:
        cir, raw = Path(tmp, "netlist.cir"), Path(tmp, "out.raw")
        cir.write_text(text)
        t0 = time.perf_counter()
        try:
            p = subprocess.run([exe, "-b", "-r", str(raw), str(cir)], capture_output=True, text=True,
                               timeout=timeout_s, cwd=tmp, errors="replace")
        except subprocess.TimeoutExpired as e:
            raise SpiceError(f"ngspice did not finish within timeout_s={timeout_s!r} s",
                             _text(e.stdout) + _text(e.stderr)) from None
        except OSError as e:
            raise SpiceUnavailable(f"cannot start ngspice at {exe!r}: {e}") from None
        output = p.stdout + p.stderr
        bad = _failure(output)
        if p.returncode != 0 or bad:
            raise SpiceError(f"ngspice failed (exit code {p.returncode}): {bad or _last_line(output)}", output)
        if not raw.exists():
            raise SpiceError("ngspice wrote no rawfile", output)
        plots = read_rawfile(raw.read_bytes())
        seconds = time.perf_counter() - t0
    return SpiceRun(_op_vectors(plots, output), output, seconds)


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def _last_line(output: str) -> str:
    lines = [s.strip() for s in output.splitlines() if s.strip()]
    return lines[-1] if lines else "no output"


def _op_vectors(plots: list[dict], output: str) -> dict:
    """The vectors of the one operating-point plot, one float each, by normalised name."""
    ops = [p for p in plots if p["plotname"].lower().startswith("operating point")]
    if not ops:
        raise SpiceError("ngspice's rawfile holds no operating-point plot", output)
    data = ops[-1]["data"]
    if data.shape[0] != 1 or np.iscomplexobj(data):
        raise SpiceError(f"ngspice's operating point has {data.shape[0]} points instead of 1 real one "
                         "(the analysis failed)", output)
    return {_normalise(k): float(data[0, i]) for i, k in enumerate(ops[-1]["names"])}


def read_rawfile(blob: bytes) -> list[dict]:
    """Parse an ngspice binary rawfile (all plots) with numpy.

    Returns one dict per plot: ``plotname``, ``flags``, ``names`` (vector names as written), ``types``
    ("voltage", "current", ...) and ``data``, a (points, variables) float64 array (complex128 for complex
    plots). ASCII rawfiles are refused: they are not exact.
    """
    plots, pos = [], 0
    while pos < len(blob):
        head = {}
        names, types = [], []
        while True:
            end = blob.find(b"\n", pos)
            if end < 0:
                raise SpiceError(f"rawfile truncated in its header at byte {pos}")
            line = blob[pos:end].decode("latin-1")
            pos = end + 1
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "variables":
                nvar = int(head["no. variables"])
                for _ in range(nvar):
                    end = blob.find(b"\n", pos)
                    parts = blob[pos:end].decode("latin-1").split()
                    pos = end + 1
                    names.append(parts[1])
                    types.append(parts[2] if len(parts) > 2 else "")
                continue
            if key == "values":
                raise SpiceError("rawfile is ASCII; xbarsim reads binary rawfiles only (exact doubles)")
            if key == "binary":
                break
            if key:
                head[key] = value.strip()
        nvar, npts = int(head["no. variables"]), int(head["no. points"])
        complex_ = "complex" in head.get("flags", "").lower()
        width = nvar * (16 if complex_ else 8)
        nbytes = npts * width
        if pos + nbytes > len(blob):
            raise SpiceError(f"rawfile truncated: plot {head.get('plotname')!r} needs {nbytes} bytes of data, "
                             f"{len(blob) - pos} remain")
        arr = np.frombuffer(blob, dtype="<f8", count=nbytes // 8, offset=pos)
        if complex_:
            arr = arr.view("<c16")
        plots.append({"plotname": head.get("plotname", ""), "flags": head.get("flags", ""), "names": names,
                      "types": types, "data": arr.reshape(npts, nvar).copy()})
        pos += nbytes
        while pos < len(blob) and blob[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1
    return plots


# ---------------------------------------------------------------------------------------------- shared library


def find_libngspice() -> str:
    """Path or soname of libngspice: ``$NGSPICE_LIBRARY_PATH`` if set, else the system's ``libngspice.so.0``.

    PySpice 1.5 alone looks for ``libngspice.so``, which only Debian's -dev package provides.
    """
    lib = os.environ.get(LIBRARY_ENV)
    if lib:
        if "/" in lib and not os.path.isfile(lib):
            raise SpiceUnavailable(f"{LIBRARY_ENV}={lib!r} is invalid: no such file")
        return lib
    lib = ctypes.util.find_library("ngspice")
    if lib is None:
        raise SpiceUnavailable("libngspice not found: install it (apt-get install libngspice0) "
                               f"or set {LIBRARY_ENV}=/path/to/libngspice.so.0")
    return lib


class _QuietFilter(logging.Filter):
    """Drops PySpice's log records while xbarsim drives ngspice, and its harmless version warning always."""

    active = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.active or "Unsupported Ngspice version" in record.getMessage())


_QUIET = _QuietFilter()
_ENGINE_LOCK = threading.RLock()
_ENGINE: "_SharedEngine | None" = None


def _shared_engine() -> "_SharedEngine":
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _SharedEngine(find_libngspice())
        return _ENGINE


class _SharedEngine:
    """The process's one in-process ngspice, driven through PySpice's NgSpiceShared instance 0."""

    def __init__(self, library: str):
        try:
            from PySpice.Spice.NgSpice import Shared as S
        except ImportError as e:
            raise SpiceUnavailable(f"PySpice is not installed ({e}): pip install PySpice==1.5") from None
        logging.getLogger(S.__name__).addFilter(_QUIET)
        logging.getLogger(S.NgSpiceShared._logger.name).addFilter(_QUIET)
        self._ffi = S.ffi
        existing = S.NgSpiceShared._instances.get(0)
        if existing is None:
            S.NgSpiceShared.LIBRARY_PATH = library.replace("{", "{{").replace("}", "}}")
            try:
                existing = S.NgSpiceShared.new_instance()
            except OSError as e:
                raise SpiceUnavailable(f"cannot load libngspice {library!r}: {e}") from None
            except Exception as e:  # PySpice raises NameError / NgSpiceCommandError on a broken install
                raise SpiceError(f"libngspice {library!r} failed to initialise: {type(e).__name__}: {e}") from None
        self._ng = existing
        self._lib = existing._ngspice_shared
        self.runs = 0
        banner = "\n".join(self._command("version -f"))
        version, klu = _version_from(banner)
        self.info = {"version": version, "klu": klu, "location": existing.library_path}

    def _command(self, command: str) -> list[str]:
        """Run one ngspice command; return its stdout and stderr lines."""
        self._ng.clear_output()
        rc = self._lib.ngSpice_Command(command.encode("ascii"))
        if rc:
            raise SpiceError(f"ngspice command {command!r} returned {rc}")
        return self._ng._stdout + self._ng._stderr

    def _load(self, text: str) -> list[str]:
        first, *rest = text.splitlines() or [""]
        lines = [first.strip() or "untitled"] + [ln for ln in rest if ln.strip()] + [""]  # line 1 is the title
        keep = [self._ffi.new("char[]", ln.encode("utf-8")) for ln in lines] + [self._ffi.NULL]
        self._ng.clear_output()
        rc = self._lib.ngSpice_Circ(self._ffi.new("char *[]", keep))
        out = self._ng._stdout + self._ng._stderr
        if rc:
            raise SpiceError(f"ngspice rejected the netlist (ngSpice_Circ returned {rc})", "\n".join(out))
        return out

    def _plots(self) -> list[str]:
        arr = self._lib.ngSpice_AllPlots()
        names, i = [], 0
        while arr[i] != self._ffi.NULL:
            names.append(self._ffi.string(arr[i]).decode())
            i += 1
        return names

    def _vectors(self, plot: str) -> dict:
        arr = self._lib.ngSpice_AllVecs(plot.encode())
        out, i = {}, 0
        while arr[i] != self._ffi.NULL:
            name = self._ffi.string(arr[i]).decode()
            i += 1
            info = self._lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
            if info == self._ffi.NULL or info.v_realdata == self._ffi.NULL or info.v_length < 1:
                continue
            out[_normalise(name)] = float(info.v_realdata[info.v_length - 1])
        return out

    def run(self, text: str) -> SpiceRun:
        """Load, run and read back one netlist; always remove its circuit and plot afterwards."""
        with _ENGINE_LOCK:
            _QUIET.active = True
            try:
                return self._run_locked(text)
            finally:
                _QUIET.active = False

    def _run_locked(self, text: str) -> SpiceRun:
        t0 = time.perf_counter()
        before = set(self._plots())
        log = self._load(text)
        circuit_loaded = not _failure("\n".join(log))
        try:
            if circuit_loaded:
                log += self._command("run")
            output = "\n".join(log)
            new = [p for p in self._plots() if p not in before]
            bad = _failure(output)
            if bad:
                raise SpiceError(f"ngspice failed: {bad}", output)
            ops = [p for p in new if p.startswith("op")]
            if not ops:
                raise SpiceError("ngspice made no operating-point plot (analysis did not run)", output)
            vectors = self._vectors(ops[-1])
            if not vectors:
                raise SpiceError("ngspice's operating point holds no values", output)
            return SpiceRun(vectors, output, time.perf_counter() - t0)
        finally:
            self._cleanup(before, circuit_loaded)

    def _cleanup(self, before: set, circuit_loaded: bool):
        """Remove this run's circuit and plots (memory stays flat; no stale circuit can run again)."""
        if circuit_loaded:
            self._command("remcirc")
        for p in self._plots():
            if p not in before and p != "const":
                self._command(f"destroy {p}")
        self.runs += 1
        if self.runs % 1000 == 0:
            self._lib.ngSpice_Command(self._ffi.NULL)  # frees ngspice's command history
