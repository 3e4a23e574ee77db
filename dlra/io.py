"""Atomic file output, the one writer of the package: nothing a user saved is lost if a run crashes
half-way through a write.

Every writer goes to a temporary file ``.NAME.<random>.tmp`` in the target's directory, created
with mode 0666 filtered by the process umask (the mode any ``open(path, "w")`` would give), and then
``os.replace``s it onto the target, which is atomic on POSIX and Windows file systems. A process
killed in between leaves the temporary behind; :func:`remove_stale_temporaries` deletes those.
"""
from __future__ import annotations

import csv
import io
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_open", "write_bytes", "write_csv", "write_text", "save_npz", "save_figure",
           "remove_stale_temporaries"]



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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path, text):
    """Write a string (UTF-8) atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_bytes(path, data):
    """Write bytes atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


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
    write_bytes(path, buffer.getvalue())


def save_figure(fig, path_without_suffix, formats=("png", "pdf"), **savefig_kwargs):
    """Save a matplotlib figure once per format (``PATH.png``, ``PATH.pdf``), each atomically;
    returns the written paths as strings. ``savefig_kwargs`` go to ``Figure.savefig`` (dpi, …)."""
    base = os.fspath(path_without_suffix)
    paths = []
    for fmt in formats:
        final = f"{base}.{fmt}"
        with atomic_open(final, "wb") as handle:
            fig.savefig(handle, format=fmt, **savefig_kwargs)
        paths.append(final)
    return paths
