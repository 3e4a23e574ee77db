"""Wall-time accounting for the benchmarks: time in F, in QR/SVD, in the integrators' own dense
products (basis products such as U0 S0 and U1ᴴ U0, substep arithmetic), and everything else
(copies, checks, Python bookkeeping).

The accounting is always on (two ``perf_counter`` calls per QR/SVD or F application, well under a
microsecond) and costs nothing to read. ``reset()`` before a timed region, ``snapshot()`` after.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

__all__ = ["TIMERS", "timed", "reset", "snapshot"]

TIMERS = {"F": 0.0, "linalg": 0.0, "products": 0.0}


@contextmanager
def timed(category):
    start = time.perf_counter()
    try:
        yield
    finally:
        TIMERS[category] += time.perf_counter() - start


def reset():
    for key in TIMERS:
        TIMERS[key] = 0.0


def snapshot():
    return dict(TIMERS)
