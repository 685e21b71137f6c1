"""MNIST from the IDX files shipped in ``data/mnist``, verified by the SHA-256 of the uncompressed content."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xbarsim.devices import _validate as V

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def default_data_dir() -> Path:
    """``$XBARSIM_DATA/mnist`` if XBARSIM_DATA is set, else ``data/mnist`` of the source checkout (xbarsim
    installed editable, as ``make`` does). After a plain ``pip install .`` set XBARSIM_DATA to the
    repository's ``data`` folder."""
    root = os.environ.get("XBARSIM_DATA")
    return (Path(root) if root else Path(__file__).resolve().parent.parent / "data") / "mnist"


class DataFileError(ValueError):
    """A data file is missing, corrupt or not what it claims to be."""


def read_idx(path: Path, name: str) -> np.ndarray:
    """Read one gzip IDX file, check its SHA-256 (uncompressed) and header, return a uint8 array."""
    if not path.is_file():
        raise DataFileError(f"MNIST file {name} not found at {path}: expected the gzip IDX file {path.name} "
                            "(set XBARSIM_DATA to the repository's data folder after a non-editable install)")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:
        raise DataFileError(f"MNIST file {path} is corrupt: not a readable gzip file ({e})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_SHA256[name]:
        raise DataFileError(
            f"MNIST file {path} is corrupt: sha256 of its content is {digest}, expected {MNIST_SHA256[name]}")
    magic, ndim = int.from_bytes(raw[0:4], "big"), raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    if magic >> 8 != 8:  # 0x08 = unsigned byte
        raise DataFileError(f"MNIST file {path}: IDX type {magic >> 8:#x} is not unsigned byte")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@dataclass(frozen=True)
class Dataset:
    """Images as float64 in [0, 1], shape (samples, features); integer labels 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple


def load_mnist(data_dir: str | Path | None = None, *, downsample: int = 1, train_size: int | None = None,
               test_size: int | None = None) -> Dataset:
    """Load MNIST; ``downsample`` = k averages k x k pixel blocks (28 -> 28/k per side).

    ``train_size`` / ``test_size`` take the first samples of each split (the files' own order).
    """
    if isinstance(downsample, bool) or downsample not in (1, 2, 4, 7) or not isinstance(downsample, int):
        raise ValueError(f"downsample={downsample!r} is invalid: allowed values are 1, 2, 4, 7")
    for split, limit, total in (("train", train_size, 60000), ("test", test_size, 10000)):
        if limit is not None:
            V.positive_int(f"{split}_size", limit, hi=total)
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise ValueError(f"data_dir={data_dir!r} is invalid: must be a folder path (str or os.PathLike) or None")
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    parts = {n: read_idx(d / f"{n}.gz", n) for n in MNIST_SHA256}

    def images(a, limit):
        a = a[:limit].astype(np.float64) / 255.0
        k = downsample
        a = a.reshape(a.shape[0], 28 // k, k, 28 // k, k).mean(axis=(2, 4))
        return a.reshape(a.shape[0], -1)

    return Dataset(
        x_train=images(parts["train-images-idx3-ubyte"], train_size),
        y_train=parts["train-labels-idx1-ubyte"][:train_size].astype(np.int64),
        x_test=images(parts["t10k-images-idx3-ubyte"], test_size),
        y_test=parts["t10k-labels-idx1-ubyte"][:test_size].astype(np.int64),
        image_shape=(28 // downsample, 28 // downsample),
    )
