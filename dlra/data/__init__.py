"""Data sets for dynamical low-rank training.

Currently MNIST: :func:`load_mnist` returns the paper's split (50,000 train /
10,000 validation / 10,000 test) from the directory given as argument or in
``DLRA_DATA_DIR``, falling back to a small real MNIST subset shipped with the
package (:data:`EMBEDDED_DIR`) so that examples work offline.
"""

from .mnist import (
    EMBEDDED_DIR,
    MNIST,
    MNIST_FILES,
    cache_dir,
    clear_cache,
    find_mnist_files,
    load_idx,
    load_mnist,
    resolve_data_dir,
    save_idx,
)

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
