"""Build the embedded MNIST subset shipped in ``dlra/data/embedded/``.

One-off maintenance script (already run; its output is committed).  It reads
the full MNIST set (four IDX ``.gz`` files) and writes a small, balanced,
reproducible subset in the same IDX/gzip format, plus a README with the
license, credit, selection rule, counts and checksums.

Selection rule (deterministic, no random numbers; original order kept):

* training (6,000 images): the first 500 images of each digit among the
  first 50,000 training images (the paper's training part), followed by the
  first 100 images of each digit among the last 10,000 training images (the
  paper's validation part).  Hence ``load_mnist(embedded=True)`` with its
  default ``validation=None`` (one sixth = 1,000) holds out exactly the
  images that come from MNIST's validation part, 100 per digit.
* test (1,000 images): the first 100 images of each digit of the 10,000 test
  images.

Usage::

    python -m dlra.data.make_embedded [--source DIR] [--dest DIR]

``--source`` defaults to ``$DLRA_DATA_DIR`` or ``../shared/data/mnist``
relative to the project root; ``--dest`` defaults to the package's
``embedded`` directory.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

from dlra.data.mnist import EMBEDDED_DIR, MNIST_FILES, find_mnist_files, load_idx, save_idx
from dlra.io import write_text

PER_CLASS_TRAIN = 500   # per digit, from the first 50,000 training images
PER_CLASS_VAL = 100     # per digit, from the last 10,000 training images
PER_CLASS_TEST = 100    # per digit, from the test images
FULL_FIT = 50_000

README_TEMPLATE = """\
# Embedded MNIST subset

A small subset of the MNIST database of handwritten digits, shipped with
`dlra` so that `dlra.data.load_mnist()` works offline on a fresh machine.
Point `load_mnist(data_dir=...)` or the `DLRA_DATA_DIR` environment variable
at a directory with the full set to use all 70,000 images.

## License and credit

MNIST: Yann LeCun, Corinna Cortes and Christopher J. C. Burges.
The MNIST data is licensed under the Creative Commons Attribution-ShareAlike
3.0 license (CC BY-SA 3.0, https://creativecommons.org/licenses/by-sa/3.0/).
This subset is a derivative of MNIST and is distributed under the same
license; keep this license and credit with any copy or further subset.
(The license of the `dlra` code does not apply to these data files.)

## Content

Original IDX format (uint8, 28x28 images), gzip-compressed, produced by
`dlra/data/make_embedded.py` (deterministic: re-running it on the original
files reproduces the uncompressed content, checked by the hashes below, and
with the same zlib version the .gz files byte for byte).

| file | shape | uncompressed sha256 |
|---|---|---|
{table}

Selection (no randomness, original order kept):

* training, {n_train} images: the first {per_train} images of each digit
  among the first 50,000 MNIST training images, followed by the first
  {per_val} images of each digit among the last 10,000 MNIST training images.
  `load_mnist(embedded=True)` holds out the last {n_val} (one sixth) for
  validation, i.e. exactly those taken from MNIST's validation part.
* test, {n_test} images: the first {per_test} images of each digit of the
  MNIST test set.

Training label counts per digit 0..9: {train_counts}.
Test label counts per digit 0..9: {test_counts}.
"""


def first_per_class(labels: np.ndarray, per_class: int, offset: int = 0) -> np.ndarray:
    """Indices (plus ``offset``) of the first ``per_class`` occurrences of
    each digit 0..9 in ``labels``, sorted in original order."""
    chosen = []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)[:per_class]
        if len(idx) < per_class:
            raise ValueError(f"only {len(idx)} images of digit {digit}, need {per_class}")
        chosen.append(idx)
    return np.sort(np.concatenate(chosen)) + offset


def build(source: Path, dest: Path) -> dict[str, np.ndarray]:
    """Write the subset from ``source`` into ``dest``; return its arrays."""
    files = find_mnist_files(source)
    data = {key: load_idx(path) for key, path in files.items()}
    train_labels = data["train_labels"]
    train_idx = np.concatenate([
        first_per_class(train_labels[:FULL_FIT], PER_CLASS_TRAIN),
        first_per_class(train_labels[FULL_FIT:], PER_CLASS_VAL, offset=FULL_FIT),
    ])
    test_idx = first_per_class(data["test_labels"], PER_CLASS_TEST)
    subset = {
        "train_images": data["train_images"][train_idx],
        "train_labels": train_labels[train_idx],
        "test_images": data["test_images"][test_idx],
        "test_labels": data["test_labels"][test_idx],
    }
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for key, base in MNIST_FILES.items():
        path = save_idx(dest / f"{base}.gz", subset[key])
        sha = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
        rows.append(f"| {path.name} | {' x '.join(map(str, subset[key].shape))} | {sha} |")
    n_train = len(train_idx)
    readme = README_TEMPLATE.format(
        table="\n".join(rows),
        n_train=n_train,
        n_val=n_train // 6,
        n_test=len(test_idx),
        per_train=PER_CLASS_TRAIN,
        per_val=PER_CLASS_VAL,
        per_test=PER_CLASS_TEST,
        train_counts=" ".join(map(str, np.bincount(subset["train_labels"], minlength=10))),
        test_counts=" ".join(map(str, np.bincount(subset["test_labels"], minlength=10))),
    )
    write_text(dest / "README.md", readme)
    return subset


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    default_source = os.environ.get("DLRA_DATA_DIR") or str(
        Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(default_source),
                        help="directory with the full MNIST IDX files")
    parser.add_argument("--dest", type=Path, default=EMBEDDED_DIR,
                        help="output directory (default: the package's embedded/)")
    args = parser.parse_args(argv)
    subset = build(args.source, args.dest)
    total = sum(p.stat().st_size for p in args.dest.iterdir() if p.is_file())
    print(f"wrote {len(subset['train_labels'])} training + {len(subset['test_labels'])} "
          f"test images to {args.dest} ({total} bytes)")


if __name__ == "__main__":
    main()
