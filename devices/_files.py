"""Atomic file writes, early output-path checks and text input files, shared by every layer (it lives in the
bottom layer, devices, because nothing may import upward).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


TEMP_EXTRA = 16  # characters the hidden temporary name adds to the file name (".NAME.XXXXXXXX.tmp")


def check_output_path(path, name: str = "out") -> Path:
    """Fail early, before any work, if ``path`` cannot be written: it must name a regular file (not a folder,
    device or pipe; an existing one is replaced) in an existing, writable folder, short enough for the file
    system with the temporary name's extra characters."""
    if str(path) in ("", "."):
        raise ValueError(f"{name}={str(path)!r} is invalid: must be a file name")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name}={str(path)!r} is invalid: it is a folder, expected a file name")
    if path.exists() and not path.is_file():
        raise ValueError(f"{name}={str(path)!r} is invalid: it exists and is not a regular file (a device, pipe "
                         "or socket), which an atomic write would replace")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{name}={str(path)!r} is invalid: folder {str(folder)!r} does not exist")
    try:
        longest = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    if len(os.fsencode(path.name)) + TEMP_EXTRA > longest:
        raise ValueError(f"{name}={str(path)!r} is invalid: the file name is {len(os.fsencode(path.name))} bytes; "
                         f"at most {longest - TEMP_EXTRA} are allowed here")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"{name}={str(path)!r} is invalid: cannot write in {str(folder)!r} ({e.strerror})") from None
    return path


@contextmanager
def atomic_path(path):
    """Yield a hidden temporary path beside ``path``; on success flush it to disk and rename it to ``path``
    (with the usual umask permissions), on failure or interruption remove it, so an interrupted write never
    leaves a partial file under the final name."""
    path = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        try:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except OSError as e:
            raise ValueError(f"cannot write {str(path)!r}: {e.strerror or e}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_text(path, what: str, kind: str = "text file") -> str:
    """The text of the input file ``path`` (UTF-8, a byte-order mark allowed). A file that is not text (not
    UTF-8, or with NUL bytes: a binary file) is a one-line ValueError that names it as ``what`` (e.g.
    "trace") and says it is not a ``kind`` (e.g. "text CSV")."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} {str(path)!r} is not a {kind}: byte 0x{data[e.start]:02x} at offset {e.start} "
                         "is not UTF-8 text (a binary file?)") from None
    if "\x00" in text:
        raise ValueError(f"{what} {str(path)!r} is not a {kind}: it contains NUL bytes (a binary file?)")
    return text
