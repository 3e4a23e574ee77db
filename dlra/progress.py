"""Progress bars: the one tqdm factory of the package.

A bar is drawn only when asked for *and* its stream (stderr) is a terminal (tqdm's
``disable=None``): redirected into a log file, a long run writes no carriage-return noise.
"""
from __future__ import annotations

__all__ = ["progress_bar"]


def progress_bar(iterable=None, *, enabled=True, **kwargs):
    """``tqdm(iterable, **kwargs)``, disabled when ``enabled`` is false or stderr is not a terminal.

    A disabled bar still iterates and accepts ``update``/``set_postfix``/``write``/``close``."""
    from tqdm import tqdm

    return tqdm(iterable, disable=None if enabled else True, **kwargs)
