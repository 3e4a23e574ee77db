"""BLAS thread limits suited to the matrix sizes of a run (used by :class:`dlra.nn.Trainer` and
:func:`dlra.solve`).

The products of a low-rank step are small: tall-skinny m × 2r QRs, 2r × 2r SVDs, batch × width
GEMMs of a few 10⁷ multiply-adds. Below a few 10⁸ multiply-adds per call a multithreaded BLAS
spends more time waking, synchronising and (on a loaded machine) waiting for its threads than
computing: one MNIST epoch of the README's Python example took 21.8–26.7 s with OpenBLAS's default
threads on a loaded 2-core machine and 1.0 s on one thread. So a run whose largest product is
below :data:`SINGLE_THREAD_WORK` multiply-adds runs with BLAS limited to one thread; larger runs
(e.g. dense width-5120 layers) leave BLAS as the user configured it.

Precedence: an explicit ``threads=`` argument, then the environment variable ``DLRA_NUM_THREADS``,
then the size rule. ``threads=0`` (or ``DLRA_NUM_THREADS=0``) leaves BLAS alone; ``threads=n ≥ 1``
limits it to n threads for the run. Limits are set with ``threadpoolctl`` for the duration of the
call and restored afterwards; they never raise the thread count above what BLAS already uses
unless asked for explicitly.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import sys

__all__ = ["ENV_VAR", "SINGLE_THREAD_WORK", "resolve_threads", "blas_threads", "lowrank_step_work"]

#: environment variable overriding the automatic choice ("0" = leave BLAS alone)
ENV_VAR = "DLRA_NUM_THREADS"
#: largest multiply-add count of one BLAS call that still runs on one thread (2²⁸ ≈ 2.7·10⁸)
SINGLE_THREAD_WORK = 2 ** 28


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be None or an integer ≥ 0 (0 = leave BLAS alone), got {value!r}")
    return int(value)


def resolve_threads(threads=None, work=0):
    """The BLAS thread limit for a run whose largest product costs ``work`` multiply-adds.

    Returns an integer n ≥ 1 (limit BLAS to n threads) or None (leave BLAS alone).
    ``threads``: None (automatic), 0 (leave alone) or n ≥ 1 (explicit).
    """
    if threads is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            try:
                value = int(env)
            except ValueError:
                raise ValueError(f"{ENV_VAR} must be an integer ≥ 0, got {env!r}") from None
            threads = _check_count(value, ENV_VAR)
        else:
            return 1 if work < SINGLE_THREAD_WORK else None
    threads = _check_count(threads, "threads")
    return threads or None


def blas_threads(threads=None, work=0):
    """Context manager limiting BLAS to :func:`resolve_threads` ``(threads, work)`` threads.

    A no-op when the rule leaves BLAS alone or ``threadpoolctl`` is not installed.
    """
    limit = resolve_threads(threads, work)
    if limit is None:
        return contextlib.nullcontext()
    controller = _controller()
    if controller is None:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return controller.limit(limits=limit, user_api="blas")


_CACHE = {"modules": -1, "controller": None}


def _controller():
    """A cached ``threadpoolctl.ThreadpoolController``.

    Building one scans every loaded shared library (milliseconds; more than a whole low-rank step
    of a small problem), so it is built once and rebuilt only when new modules were imported since
    (a new module may have loaded another BLAS).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    if _CACHE["modules"] != len(sys.modules):
        _CACHE["controller"] = ThreadpoolController()
        _CACHE["modules"] = len(sys.modules)
    return _CACHE["controller"]


def lowrank_step_work(m, n, rank):
    """Multiply-adds of the largest product of a rank-adaptive step on an m × n rank-r matrix:
    the QR of the augmented max(m, n) × 2r basis, ≈ max(m, n) · (2r)²."""
    return max(m, n) * (2 * rank) ** 2
