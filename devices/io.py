"""Devices to and from TOML and dicts; :func:`load_device` resolves a preset name or a device file.

A device file is TOML with a ``[device]`` table holding ``model`` (one of :data:`MODELS`) and that model's
parameters (any parameter left out takes the model's default). Other tables (a fit's ``[fit]`` report) are
ignored by the loader.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import fields
from pathlib import Path

from ._files import atomic_path, read_text
from .base import PulsedDevice
from .models import MODELS
from .presets import PRESETS, get_preset


def from_dict(d: dict) -> PulsedDevice:
    """Build a device from ``{"model": ..., parameter: value}`` (as :meth:`PulsedDevice.to_dict` gives).

    Derived parameters (fields that are not constructor arguments, e.g. a lookup table's dw_min) are
    ignored; unknown keys are an error that names them and the allowed keys.
    """
    if not isinstance(d, dict):
        raise ValueError(f"device={d!r} is invalid: must be a table of parameters")
    model = d.get("model")
    if model not in MODELS:
        raise ValueError(f"model={model!r} is invalid: allowed values are {', '.join(MODELS)}")
    cls = MODELS[model]
    init = {f.name for f in fields(cls) if f.init}
    derived = {f.name for f in fields(cls) if not f.init}
    unknown = sorted(k for k in d if k != "model" and k not in init and k not in derived)
    if unknown:
        raise ValueError(f"parameter {unknown[0]!r} is not a parameter of model {model!r}: allowed are "
                         f"{', '.join(sorted(init))}")
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in init}
    return cls(**kw)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(float(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if hasattr(v, "item"):  # numpy scalar
        return _toml_value(v.item())
    raise TypeError(f"cannot write {v!r} ({type(v).__name__}) to TOML")


def to_toml(device: PulsedDevice, extra: dict | None = None, header: str = "") -> str:
    """The device as TOML: a ``[device]`` table (model + every constructor parameter) and optional extra
    tables (e.g. ``{"fit": {...}}``, informational)."""
    lines = [f"# {ln}" for ln in header.splitlines()] if header else []
    lines.append("[device]")
    d = device.to_dict()
    init = {f.name for f in fields(type(device)) if f.init}
    lines.append(f"model = {_toml_value(d['model'])}")
    for k, v in d.items():
        if k in init:
            lines.append(f"{k} = {_toml_value(v)}")
    for table, content in (extra or {}).items():
        lines.append("")
        lines.append(f"[{table}]")
        for k, v in content.items():
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def atomic_write(path, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path`` and rename it to ``path`` on success (see
    :func:`xbarsim.devices._files.atomic_path`)."""
    with atomic_path(path) as tmp:
        write(tmp)


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_device(device: PulsedDevice, path, extra: dict | None = None, header: str = "") -> None:
    """Write the device as a TOML file (atomically)."""
    write_text_atomic(path, to_toml(device, extra, header))


def load_device(spec) -> PulsedDevice:
    """A preset by name (see ``xbarsim devices list``) or a device from a ``.toml`` file (a string or an
    ``os.PathLike`` such as ``pathlib.Path``).

    Errors are one line: an unknown name lists the presets; a bad file names the file and the problem.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"device={spec!r} is invalid: must be a preset name or a path to a .toml file")
    if spec in PRESETS:
        return get_preset(spec)
    if not spec.endswith(".toml"):
        raise ValueError(f"device={spec!r} is not a known preset: allowed values are {', '.join(PRESETS)}, "
                         f"or a path to a .toml device file")
    p = Path(spec).expanduser()
    if p.is_dir():
        raise ValueError(f"device file {spec!r} is a directory: expected a .toml file")
    if not p.is_file():
        raise ValueError(f"device file {spec!r} does not exist")
    text = read_text(p, "device file", "text (TOML) file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"device file {spec!r} is not valid TOML: {str(e).splitlines()[0]}") from None
    table = data.get("device", data)
    try:
        return from_dict(table)
    except (ValueError, TypeError) as e:
        raise ValueError(f"device file {spec!r}: {str(e).splitlines()[0]}") from None
