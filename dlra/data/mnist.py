"""MNIST loading: IDX file reader/writer and the train/validation/test split.

The MNIST database of handwritten digits (Yann LeCun, Corinna Cortes and
Christopher J. C. Burges; licensed CC BY-SA 3.0) is distributed as four IDX
files::

    train-images-idx3-ubyte   60,000 x 28 x 28 uint8
    train-labels-idx1-ubyte   60,000 uint8
    t10k-images-idx3-ubyte    10,000 x 28 x 28 uint8
    t10k-labels-idx1-ubyte    10,000 uint8

each either raw or gzip-compressed (``.gz``).  :func:`load_mnist` reads them
from a directory and returns the split used in the DLRT paper: the first
50,000 training images for training, the last 10,000 for validation, and the
10,000 test images.

Where the data is looked for (first match wins):

1. the ``data_dir`` argument (``"embedded"`` selects the embedded subset);
2. the environment variable ``DLRA_DATA_DIR``;
3. the small real MNIST subset shipped inside the package
   (:data:`EMBEDDED_DIR`: 6,000 training + 1,000 test images, balanced over
   the 10 digits), so that examples run offline on a fresh machine.

The embedded subset uses exactly the same IDX/gzip code path as the full set.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from ..io import save_npz, write_bytes

__all__ = [
    "EMBEDDED_DIR",
    "MNIST",
    "MNIST_FILES",
    "cache_dir",
    "clear_cache",
    "find_mnist_files",
    "load_idx",
    "load_mnist",
    "resolve_data_dir",
    "save_idx",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Directory holding the embedded MNIST subset shipped with the package.
EMBEDDED_DIR: Path = Path(__file__).resolve().parent / "embedded"

#: Base names of the four MNIST files (each may carry a ``.gz`` suffix).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: Number of training images of the full MNIST set; for it the default
#: validation split is the paper's 10,000 images.
FULL_TRAIN_SIZE = 60_000
FULL_VALIDATION = 10_000

_GZIP_MAGIC = b"\x1f\x8b"

# IDX data type codes (third byte of the magic number) -> big-endian dtype.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}


# ---------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) content of ``path``; gzip is detected by the
    ``.gz`` suffix or the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path.name}: file not found in directory {path.parent}"
        ) from None
    except OSError as exc:  # permissions, a directory of that name, I/O errors
        raise OSError(f"{path.name}: cannot be read ({exc.strerror or exc}) [{path}]") from None
    if path.name.endswith(".gz") or raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"{path.name}: not a valid gzip file ({exc}) [{path}]"
            ) from None
    return raw


def load_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file and return its content as a numpy array.

    The file may be raw or gzip-compressed (detected by a ``.gz`` suffix or
    by the gzip magic bytes).  The header is validated: the magic number must
    have two zero bytes, a known data type code (``0x08`` = uint8 for MNIST;
    the other IDX codes int8/int16/int32/float32/float64 are accepted too) and
    a number of dimensions >= 1; the byte count must match the dimension
    sizes exactly.

    Parameters
    ----------
    path:
        The IDX file.

    Returns
    -------
    numpy.ndarray
        A writable array in native byte order with the shape given by the
        header (e.g. ``(60000, 28, 28)`` uint8 for MNIST training images).

    Raises
    ------
    FileNotFoundError
        If the file does not exist (the message names the file and the
        directory searched).
    ValueError
        If the file is malformed: bad magic number, truncated or oversized
        content, or corrupt gzip data.  The message starts with the file
        name, e.g. ``"train-images-idx3-ubyte.gz: truncated: expected
        47040016 bytes, got 1000"``.
    """
    path = Path(path)
    data = _read_bytes(path)
    name = path.name
    if len(data) < 4:
        raise ValueError(
            f"{name}: truncated: expected at least 4 bytes of header, got {len(data)} [{path}]"
        )
    magic = struct.unpack(">I", data[:4])[0]
    code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or code not in _IDX_DTYPES or ndim < 1:
        raise ValueError(
            f"{name}: bad magic number 0x{magic:08x} (expected 0x0000TTNN with a data "
            f"type code TT such as 0x08 = uint8 and NN >= 1 dimensions) [{path}]"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name}: truncated: expected at least {header} bytes of header for "
            f"{ndim} dimensions, got {len(data)} [{path}]"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "oversized"
        raise ValueError(
            f"{name}: {what}: expected {expected} bytes, got {len(data)} "
            f"(dimensions {'x'.join(map(str, dims))}) [{path}]"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # copy: writable, native order


def save_idx(path: PathLike, array: np.ndarray, *, compresslevel: int = 9) -> Path:
    """Write ``array`` to ``path`` in IDX format (gzip-compressed when the
    name ends in ``.gz``; the gzip header carries no time stamp, so the
    output is byte-for-byte reproducible).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.  Returns
    the path written.  The write is atomic (:func:`dlra.io.write_bytes`).
    """
    path = Path(path)
    array = np.asarray(array)
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"array: IDX needs 1..255 dimensions, got {array.ndim}")
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"array: dtype {array.dtype} has no IDX type code")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=compresslevel, mtime=0)
    write_bytes(path, payload)
    return path


# ---------------------------------------------------------------------------
# Locating the data
# ---------------------------------------------------------------------------


def resolve_data_dir(data_dir: PathLike | None = None, *, embedded: bool = False) -> Path:
    """Return the directory MNIST is read from.

    ``embedded=True`` or ``data_dir="embedded"`` selects :data:`EMBEDDED_DIR`;
    otherwise ``data_dir`` if given, else the ``DLRA_DATA_DIR`` environment
    variable if set and non-empty, else :data:`EMBEDDED_DIR`.  ``~`` is
    expanded.  Raises :class:`FileNotFoundError` if the directory does not
    exist and :class:`ValueError` for contradictory arguments.
    """
    if embedded:
        if data_dir is not None and str(data_dir) != "embedded":
            raise ValueError(
                f"data_dir: {str(data_dir)!r} contradicts embedded=True; pass only one"
            )
        return EMBEDDED_DIR
    source = "data_dir argument"
    if data_dir is None:
        env = os.environ.get("DLRA_DATA_DIR", "").strip()
        if not env:
            return EMBEDDED_DIR
        data_dir, source = env, "DLRA_DATA_DIR environment variable"
    elif not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"data_dir: expected a path or None, got {type(data_dir).__name__}"
        )
    if str(data_dir) == "embedded":
        return EMBEDDED_DIR
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"MNIST data directory {str(path)!r} (from the {source}) does not exist "
            "or is not a directory"
        )
    return path.resolve()


def find_mnist_files(data_dir: PathLike) -> dict[str, Path]:
    """Locate the four MNIST IDX files in ``data_dir``.

    For each file the raw name is preferred over the ``.gz`` name when both
    exist.  Returns a dict with keys ``train_images``, ``train_labels``,
    ``test_images``, ``test_labels``.  Raises :class:`FileNotFoundError`
    naming the missing file and the directory searched.
    """
    data_dir = Path(data_dir)
    found = {}
    for key, base in MNIST_FILES.items():
        for candidate in (data_dir / base, data_dir / f"{base}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            raise FileNotFoundError(
                f"{base}[.gz]: MNIST file not found in directory {data_dir} "
                f"(looked for {base} and {base}.gz)"
            )
    return found


# ---------------------------------------------------------------------------
# Caching
# ---------------------------------------------------------------------------

_MEMORY_CACHE: dict[tuple, dict[str, np.ndarray]] = {}
_MEMORY_CACHE_MAX = 4
_DISK_CACHE_VERSION = 1


def clear_cache() -> None:
    """Empty the in-process cache of :func:`load_mnist` (the on-disk ``.npz``
    cache is left alone; delete the files in :func:`cache_dir` to drop it)."""
    _MEMORY_CACHE.clear()


def cache_dir() -> Path:
    """Directory of the on-disk cache: ``DLRA_CACHE_DIR`` if set, else
    ``$XDG_CACHE_HOME/dlra``, else ``~/.cache/dlra``."""
    env = os.environ.get("DLRA_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "dlra"


def _cache_key(files: dict[str, Path]) -> tuple:
    """Key identifying the content of ``files``: resolved paths, sizes and
    modification times."""
    items = []
    for key in sorted(files):
        st = files[key].stat()
        items.append((key, str(files[key].resolve()), st.st_size, st.st_mtime_ns))
    return tuple(items)


def _disk_cache_path(key: tuple) -> Path:
    digest = hashlib.sha256(repr((_DISK_CACHE_VERSION, key)).encode()).hexdigest()[:24]
    return cache_dir() / f"mnist-{digest}.npz"


def _read_disk_cache(path: Path) -> dict[str, np.ndarray] | None:
    """Return the arrays of a cache file, or None if absent/unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in MNIST_FILES}
    except Exception:  # corrupt or foreign file: ignore, it will be rewritten
        return None
    if any(a.dtype != np.uint8 for a in arrays.values()):
        return None
    return arrays


def _write_disk_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache file atomically; failures only warn."""
    try:
        save_npz(path, **arrays)
    except OSError as exc:
        warnings.warn(f"dlra: could not write MNIST cache {path}: {exc}", RuntimeWarning,
                      stacklevel=3)


def _read_raw(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Read and validate the four IDX files (uint8 arrays, images 3-D)."""
    arrays = {key: load_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        img_key, lab_key = f"{split}_images", f"{split}_labels"
        images, labels = arrays[img_key], arrays[lab_key]
        img_name, lab_name = files[img_key].name, files[lab_key].name
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(
                f"{img_name}: expected uint8 images of shape (n, rows, cols), "
                f"got {images.dtype} {images.shape}"
            )
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(
                f"{lab_name}: expected uint8 labels of shape (n,), got "
                f"{labels.dtype} {labels.shape}"
            )
        if len(images) != len(labels):
            raise ValueError(
                f"count mismatch: {img_name} has {len(images)} images but "
                f"{lab_name} has {len(labels)} labels (in {files[img_key].parent})"
            )
        if labels.size and labels.max() > 9:
            raise ValueError(f"{lab_name}: labels must be digits 0..9, found {labels.max()}")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise ValueError(
            f"image size mismatch: {files['train_images'].name} has "
            f"{arrays['train_images'].shape[1:]} but {files['test_images'].name} has "
            f"{arrays['test_images'].shape[1:]}"
        )
    return arrays


def _load_raw(files: dict[str, Path], *, cache: bool, disk: bool) -> dict[str, np.ndarray]:
    """Read the raw uint8 arrays, going through the in-process and (if
    ``disk``) the on-disk cache when ``cache`` is true."""
    if not cache:
        return _read_raw(files)
    key = _cache_key(files)
    arrays = _MEMORY_CACHE.get(key)
    if arrays is not None:
        return arrays
    npz_path = _disk_cache_path(key) if disk else None
    arrays = _read_disk_cache(npz_path) if npz_path is not None else None
    if arrays is None:
        arrays = _read_raw(files)
        if npz_path is not None:
            _write_disk_cache(npz_path, arrays)
    for a in arrays.values():
        a.setflags(write=False)  # protect the cached copy
    while len(_MEMORY_CACHE) >= _MEMORY_CACHE_MAX:
        _MEMORY_CACHE.pop(next(iter(_MEMORY_CACHE)))
    _MEMORY_CACHE[key] = arrays
    return arrays


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MNIST:
    """MNIST split into training, validation and test sets.

    ``x_*`` are ``(n, 784)`` arrays of flattened 28x28 images (in [0, 1] when
    loaded with ``normalize=True``), ``y_*`` are ``(n,)`` int64 digit labels.
    ``data_dir`` is the directory the files came from and ``embedded`` tells
    whether it is the embedded subset.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    data_dir: Path | None = None
    embedded: bool = False

    @property
    def n_features(self) -> int:
        """Number of input features (784 for MNIST)."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes (10)."""
        return 10

    def __repr__(self) -> str:
        src = "embedded subset" if self.embedded else str(self.data_dir)
        return (
            f"MNIST(train={self.x_train.shape[0]}, val={self.x_val.shape[0]}, "
            f"test={self.x_test.shape[0]}, features={self.x_train.shape[1]}, "
            f"dtype={self.x_train.dtype}, source={src})"
        )


def _default_validation(n_train: int) -> int:
    """10,000 for the full 60,000-image training set, else one sixth."""
    return FULL_VALIDATION if n_train == FULL_TRAIN_SIZE else n_train // 6


def load_mnist(
    data_dir: PathLike | None = None,
    *,
    validation: int | None = None,
    normalize: bool = True,
    dtype=np.float32,
    cache: bool = True,
    embedded: bool = False,
) -> MNIST:
    """Load MNIST and split it into training, validation and test sets.

    The split follows the DLRT paper: the *first* ``n_train - validation``
    training images are used for training, the *last* ``validation`` for
    validation, and the test images for testing.

    Parameters
    ----------
    data_dir:
        Directory with ``train-images-idx3-ubyte[.gz]``,
        ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]`` and
        ``t10k-labels-idx1-ubyte[.gz]`` (raw or gzip).  ``None``: use the
        ``DLRA_DATA_DIR`` environment variable, else the embedded subset.
        ``"embedded"``: the embedded subset.
    validation:
        Number of training images held out (from the end) for validation.
        ``None`` (default): 10,000 for the full 60,000-image set (the paper's
        50,000/10,000 split), otherwise one sixth of the training images
        (1,000 of the embedded 6,000).  Must satisfy
        ``0 <= validation < n_train``.
    normalize:
        Scale pixel values from 0..255 to [0, 1] (requires a floating
        ``dtype``).  Otherwise the values stay 0..255, cast to ``dtype``.
    dtype:
        dtype of the image arrays (default float32).  Labels are int64.
    cache:
        Keep the decoded files in an in-process cache keyed by the resolved
        file paths, sizes and modification times, so repeated calls are
        instant; for non-embedded data also keep an ``.npz`` copy in the
        user cache directory (``DLRA_CACHE_DIR``, else ``~/.cache/dlra``),
        written atomically.  Returned arrays are always fresh copies.
    embedded:
        Force the embedded subset (same as ``data_dir="embedded"``).

    Returns
    -------
    MNIST
        With fields ``x_train, y_train, x_val, y_val, x_test, y_test``.

    Raises
    ------
    FileNotFoundError
        Missing directory or file (the message names file and directory).
    ValueError
        Malformed files, images/labels count mismatch, or bad arguments
        (the message names the argument).
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize: expected a bool, got {type(normalize).__name__}")
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: not a numpy dtype: {dtype!r} ({exc})") from None
    if normalize and not np.issubdtype(dtype, np.floating):
        raise ValueError(
            f"dtype: normalize=True needs a floating dtype, got {dtype}; "
            "pass normalize=False for integer images"
        )
    if validation is not None and (
        isinstance(validation, (bool, np.bool_)) or not isinstance(validation, (int, np.integer))
    ):
        raise TypeError(f"validation: expected an int or None, got {validation!r}")

    directory = resolve_data_dir(data_dir, embedded=embedded)
    is_embedded = directory == EMBEDDED_DIR
    files = find_mnist_files(directory)
    raw = _load_raw(files, cache=bool(cache), disk=not is_embedded)

    images, labels = raw["train_images"], raw["train_labels"]
    n_train = len(images)
    if validation is None:
        validation = _default_validation(n_train)
    validation = int(validation)
    if not 0 <= validation < n_train:
        raise ValueError(
            f"validation: must satisfy 0 <= validation < {n_train} (the number of "
            f"training images in {directory}), got {validation}"
        )
    n_fit = n_train - validation

    def features(x: np.ndarray) -> np.ndarray:
        out = x.reshape(len(x), -1).astype(dtype)  # always a fresh copy
        if normalize:
            out /= dtype.type(255)
        return out

    x_all = features(images)
    y_all = labels.astype(np.int64)
    return MNIST(
        x_train=x_all[:n_fit],
        y_train=y_all[:n_fit],
        x_val=x_all[n_fit:],
        y_val=y_all[n_fit:],
        x_test=features(raw["test_images"]),
        y_test=raw["test_labels"].astype(np.int64),
        data_dir=directory,
        embedded=is_embedded,
    )
