"""Wall-time accounting for the benchmarks: time in F, in QR/SVD, in the integrators' own dense
products (basis products such as U0 S0 and U1ᴴ U0, substep arithmetic), and everything else
(copies, checks, Python bookkeeping).

The QR/SVD and product accounting is **off by default**: a DLRT step at small ranks enters a few
hundred ``with timed(...)`` blocks, and two ``perf_counter`` calls and a dictionary update each cost
≈ 2.5 % of such a step. :func:`enable` switches it on (the benchmarks that report the split do);
while it is off, ``timed`` returns one shared do-nothing context. Time in F (the products of
:mod:`dlra.field`, a few per step) is always counted. ``reset()`` before a timed region,
``snapshot()`` after.
"""
from __future__ import annotations

import time

__all__ = ["TIMERS", "timed", "enable", "enabled", "reset", "snapshot"]

TIMERS = {"F": 0.0, "linalg": 0.0, "products": 0.0}
_STATE = {"enabled": False}


class _Timer:
    """Adds the block's wall time to ``TIMERS[category]`` (a plain class: cheaper per use than a
    generator-based ``contextlib.contextmanager``)."""

    __slots__ = ("category", "start")

    def __init__(self, category):
        self.category = category

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        TIMERS[self.category] += time.perf_counter() - self.start
        return False


class _Off:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_OFF = _Off()


def timed(category):
    """``with timed(category):`` adds the block's wall time to ``TIMERS[category]`` while the
    accounting is enabled (:func:`enable`); otherwise it does nothing."""
    return _Timer(category) if _STATE["enabled"] else _OFF


def enable(on=True):
    """Switch the QR/SVD and product accounting on (``on=False``: off); returns the previous setting."""
    previous = _STATE["enabled"]
    _STATE["enabled"] = bool(on)
    return previous


def enabled():
    """Whether the QR/SVD and product accounting is on."""
    return _STATE["enabled"]


def reset():
    for key in TIMERS:
        TIMERS[key] = 0.0


def snapshot():
    return dict(TIMERS)
