"""Wall-time accounting for the benchmarks: time in F, in QR/SVD, in the integrators' own dense
products (basis products such as U0 S0 and U1ᴴ U0, substep arithmetic), and everything else
(copies, checks, Python bookkeeping).

The accounting is always on (two ``perf_counter`` calls per QR/SVD or F application, well under a
microsecond) and costs nothing to read. ``reset()`` before a timed region, ``snapshot()`` after.
"""
from __future__ import annotations

import time

__all__ = ["TIMERS", "timed", "reset", "snapshot"]

TIMERS = {"F": 0.0, "linalg": 0.0, "products": 0.0}


class timed:
    """``with timed(category):`` adds the block's wall time to ``TIMERS[category]``.

    A plain class rather than a generator-based context manager: the DLRT step enters a few
    hundred of these per step at small ranks, and ``contextlib.contextmanager`` costs several
    times more per use.
    """

    __slots__ = ("category", "start")

    def __init__(self, category):
        self.category = category

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        TIMERS[self.category] += time.perf_counter() - self.start
        return False


def reset():
    for key in TIMERS:
        TIMERS[key] = 0.0


def snapshot():
    return dict(TIMERS)
