"""Atomic file output: nothing a user saved is lost if a run crashes half-way through a write.

Every writer goes to a temporary file in the target's directory and then ``os.replace``s it onto
the target, which is atomic on POSIX and Windows file systems.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_open", "write_csv", "write_text", "save_npz", "remove_stale_temporaries"]

_UMASK = os.umask(0)
os.umask(_UMASK)


def _temporary_pattern(name):
    return f".{name}.*.tmp"


def remove_stale_temporaries(path):
    """Delete the temporaries a killed writer left next to ``path`` (``.NAME.*.tmp``); returns them.

    A process killed between creating the temporary and ``os.replace`` (SIGKILL, power loss)
    leaves it behind; call this when a run starts writing ``path`` again. Only files matching this
    module's own naming are touched."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(_temporary_pattern(path.name)):
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # another process cleaned it up first
            pass
    return removed


@contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Open a temporary sibling of ``path`` for writing; on success move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path, text):
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_csv(path, rows, fieldnames=None):
    """Write a list of dicts as CSV (columns: ``fieldnames`` or the union of keys in order)."""
    rows = list(rows)
    if fieldnames is None:
        fieldnames = []
        for row in rows:
            for key in row:
                if key not in fieldnames:
                    fieldnames.append(key)
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def save_npz(path, **arrays):
    """``numpy.savez`` written atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
