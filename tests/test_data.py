"""Tests of the MNIST data module ``dlra.data``.

They need only the embedded subset and small IDX files written into
``tmp_path``; the check of the full data set is skipped when
``../shared/data/mnist`` (relative to the project root) is absent.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from dlra.data import (
    EMBEDDED_DIR,
    MNIST,
    clear_cache,
    load_idx,
    load_mnist,
    save_idx,
)
from dlra.data import mnist as mnist_mod

FULL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """No DLRA_DATA_DIR from the outside, an on-disk cache in a temporary
    directory, and an empty in-process cache for every test."""
    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)
    monkeypatch.setenv("DLRA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    clear_cache()
    yield
    clear_cache()


def idx_bytes(array: np.ndarray) -> bytes:
    """Independent IDX encoder for uint8 arrays (not using save_idx)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.tobytes()


def write_tiny_mnist(directory: Path, n_train=12, n_test=5, gz=True, seed=0, rows=28, cols=28):
    """Write a tiny random MNIST-like data set; return its arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, rows, cols), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, rows, cols), dtype=np.uint8),
        "test_labels": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for key, base in NAMES.items():
        payload = idx_bytes(arrays[key])
        if gz:
            (directory / f"{base}.gz").write_bytes(gzip.compress(payload))
        else:
            (directory / base).write_bytes(payload)
    return arrays


# ---------------------------------------------------------------------------
# load_idx / save_idx
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = save_idx(tmp_path / f"x-idx3-ubyte{suffix}", a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    payload = gzip.decompress(raw) if suffix else raw
    assert payload == idx_bytes(a)  # same bytes as an independent encoder
    b = load_idx(path)
    assert b.dtype == np.uint8 and b.shape == (7, 5, 3)
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # the result is writable


def test_idx_reads_hand_written_files(tmp_path):
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.uint8)
    (tmp_path / "raw").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(load_idx(tmp_path / "raw"), labels)
    # gzip content without a .gz name is recognized by its magic bytes
    (tmp_path / "nosuffix").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(load_idx(str(tmp_path / "nosuffix")), labels)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_other_types_round_trip(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    b = load_idx(save_idx(tmp_path / "a.gz", a))
    assert b.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_truncated_names_file(tmp_path, suffix):
    payload = idx_bytes(np.zeros((10, 28, 28), np.uint8))[:1000]
    path = tmp_path / f"train-images-idx3-ubyte{suffix}"
    path.write_bytes(gzip.compress(payload) if suffix else payload)
    with pytest.raises(ValueError, match=rf"train-images-idx3-ubyte{suffix}: truncated: "
                                         r"expected 7856 bytes, got 1000"):
        load_idx(path)


def test_idx_truncated_header_and_oversized(tmp_path):
    path = tmp_path / "short-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08")
    with pytest.raises(ValueError, match="short-idx1-ubyte: truncated"):
        load_idx(path)
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")  # 3 dims announced, header cut
    with pytest.raises(ValueError, match="short-idx1-ubyte: truncated"):
        load_idx(path)
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="long-idx1-ubyte: oversized: expected 13 bytes, got 14"):
        load_idx(path)


def test_idx_bad_magic_names_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    good = idx_bytes(np.arange(5, dtype=np.uint8))
    path.write_bytes(gzip.compress(b"\x00\x00\x0a\x03" + good[4:]))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: bad magic number 0x00000a03"):
        load_idx(path)
    path.write_bytes(gzip.compress(b"\x01" + good[1:]))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: bad magic number 0x01000801"):
        load_idx(path)
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x00"))  # zero dimensions
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: bad magic number"):
        load_idx(path)


def test_idx_corrupt_gzip_names_file(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(500) % 256))[:30])
    with pytest.raises(ValueError, match="broken.gz"):
        load_idx(path)


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_idx(tmp_path / "nothere-idx1-ubyte.gz")
    assert "nothere-idx1-ubyte.gz" in str(info.value)
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------------------
# load_mnist on small written files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_tiny(tmp_path, gz):
    arrays = write_tiny_mnist(tmp_path / "d", n_train=12, n_test=5, gz=gz)
    data = load_mnist(tmp_path / "d", validation=3)
    assert isinstance(data, MNIST)
    assert data.x_train.shape == (9, 784) and data.x_val.shape == (3, 784)
    assert data.x_test.shape == (5, 784)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    flat = arrays["train_images"].reshape(12, 784) / 255.0
    np.testing.assert_allclose(data.x_train, flat[:9], rtol=1e-6)  # first ones: training
    np.testing.assert_allclose(data.x_val, flat[9:], rtol=1e-6)    # last ones: validation
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"][:9])
    np.testing.assert_array_equal(data.y_val, arrays["train_labels"][9:])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert not data.embedded and data.data_dir == (tmp_path / "d").resolve()


def test_load_mnist_options(tmp_path):
    arrays = write_tiny_mnist(tmp_path, n_train=12)
    raw = load_mnist(tmp_path, normalize=False, dtype=np.uint8, validation=0)
    assert raw.x_train.dtype == np.uint8 and raw.x_val.shape == (0, 784)
    np.testing.assert_array_equal(raw.x_train, arrays["train_images"].reshape(12, -1))
    f64 = load_mnist(tmp_path, dtype=np.float64)
    assert f64.x_train.dtype == np.float64
    assert len(f64.y_val) == 2  # default: one sixth of 12
    assert "train=10" in repr(f64)


def test_load_mnist_bad_arguments(tmp_path):
    write_tiny_mnist(tmp_path, n_train=12)
    for bad in (-1, 12, 100):
        with pytest.raises(ValueError, match="validation"):
            load_mnist(tmp_path, validation=bad)
    with pytest.raises(TypeError, match="validation"):
        load_mnist(tmp_path, validation=2.5)
    with pytest.raises(ValueError, match="dtype"):
        load_mnist(tmp_path, dtype=np.uint8)  # normalize needs floats
    with pytest.raises(ValueError, match="data_dir"):
        load_mnist(tmp_path, embedded=True)


def test_load_mnist_missing(tmp_path):
    write_tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(info.value) and str(tmp_path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_load_mnist_count_mismatch(tmp_path):
    write_tiny_mnist(tmp_path, n_train=12)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(11, np.uint8))))
    with pytest.raises(ValueError, match=r"count mismatch: train-images-idx3-ubyte.gz has 12 "
                                         r"images but train-labels-idx1-ubyte.gz has 11 labels"):
        load_mnist(tmp_path)


def test_load_mnist_bad_file_named(tmp_path):
    write_tiny_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: truncated"):
        load_mnist(tmp_path)


def test_env_data_dir_honoured(tmp_path, monkeypatch):
    arrays = write_tiny_mnist(tmp_path / "env", n_train=18, n_test=4, gz=False)
    monkeypatch.setenv("DLRA_DATA_DIR", str(tmp_path / "env"))
    data = load_mnist()
    assert data.data_dir == (tmp_path / "env").resolve() and not data.embedded
    assert len(data.y_train) + len(data.y_val) == 18 and len(data.y_val) == 3
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    # the argument wins over the environment; "embedded" forces the subset
    assert load_mnist(EMBEDDED_DIR).embedded
    assert load_mnist("embedded").embedded and load_mnist(embedded=True).embedded
    monkeypatch.setenv("DLRA_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="DLRA_DATA_DIR"):
        load_mnist()


def test_cache(tmp_path, monkeypatch):
    write_tiny_mnist(tmp_path / "d")
    a = load_mnist(tmp_path / "d")
    a.x_train[:] = -1.0  # results are copies: mutating them does not touch the cache
    b = load_mnist(tmp_path / "d")
    assert b.x_train.min() >= 0.0
    npz = list(Path(os.environ["DLRA_CACHE_DIR"]).glob("mnist-*.npz"))
    assert len(npz) == 1
    assert not list(npz[0].parent.glob(".*tmp"))  # no temp file left behind
    # the on-disk cache serves a fresh process (simulated by clearing memory)
    clear_cache()
    monkeypatch.setattr(mnist_mod, "load_idx", lambda p: pytest.fail("cache not used"))
    c = load_mnist(tmp_path / "d")
    np.testing.assert_array_equal(b.x_train, c.x_train)
    monkeypatch.undo()
    # a corrupt cache file is ignored, and changed data files are re-read
    monkeypatch.setenv("DLRA_CACHE_DIR", str(npz[0].parent))
    npz[0].write_bytes(b"garbage")
    clear_cache()
    np.testing.assert_array_equal(load_mnist(tmp_path / "d").y_test, b.y_test)
    new = write_tiny_mnist(tmp_path / "d", n_train=24, seed=5)
    st = (tmp_path / "d" / "train-images-idx3-ubyte.gz").stat()
    os.utime(tmp_path / "d" / "train-images-idx3-ubyte.gz", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    d = load_mnist(tmp_path / "d", normalize=False, dtype=np.uint8)
    assert len(d.y_train) + len(d.y_val) == 24
    np.testing.assert_array_equal(d.x_test, new["test_images"].reshape(5, -1))
    # cache=False reads the files directly
    assert len(load_mnist(tmp_path / "d", cache=False).y_val) == 4


# ---------------------------------------------------------------------------
# The embedded subset and the full set
# ---------------------------------------------------------------------------


def test_embedded_default():
    data = load_mnist()  # no argument, no DLRA_DATA_DIR: the embedded subset
    assert data.embedded and data.data_dir == EMBEDDED_DIR
    assert data.x_train.shape == (5000, 784) and data.x_val.shape == (1000, 784)
    assert data.x_test.shape == (1000, 784)
    for x in (data.x_train, data.x_val, data.x_test):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    for y, n in ((data.y_train, 5000), (data.y_val, 1000), (data.y_test, 1000)):
        assert y.dtype == np.int64
        counts = np.bincount(y, minlength=10)
        assert len(counts) == 10 and counts.min() >= 0.08 * n and counts.max() <= 0.12 * n
    # real digits, not noise: on average about 19% of the pixels are ink
    assert 0.1 < (data.x_train > 0.5).mean() < 0.3
    assert load_mnist(embedded=True, validation=500).x_val.shape == (500, 784)


def test_embedded_files_small_and_licensed():
    files = sorted(p.name for p in EMBEDDED_DIR.iterdir())
    assert files == sorted(["README.md"] + [f"{n}.gz" for n in NAMES.values()])
    assert sum(p.stat().st_size for p in EMBEDDED_DIR.iterdir()) < 2.5e6
    readme = (EMBEDDED_DIR / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in readme
    for name in ("Yann LeCun", "Corinna Cortes", "Christopher J. C. Burges"):
        assert name in readme


@pytest.mark.skipif(not FULL_DIR.is_dir(), reason=f"full MNIST not available at {FULL_DIR}")
def test_full_set():
    data = load_mnist(FULL_DIR)
    assert data.x_train.shape == (50000, 784)
    assert data.x_val.shape == (10000, 784) and data.x_test.shape == (10000, 784)
    assert not data.embedded
    train_counts = np.bincount(np.concatenate([data.y_train, data.y_val]), minlength=10)
    assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.y_test, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
