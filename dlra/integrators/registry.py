"""Method names → integrator classes, and the one resolver used by :func:`dlra.solve` and training."""
from __future__ import annotations

import inspect

from .adaptive_bug import AdaptiveBUG
from .augmented_bug import AugmentedBUG
from .base import Integrator
from .bug import BUG
from .full import FullRank
from .ksl import ProjectorSplitting
from .midpoint_bug import MidpointBUG
from .naive import NaiveFactorODE
from .parallel_bug import ParallelBUG
from .projected_rk import ProjectedEuler, ProjectedRK

__all__ = ["METHODS", "make_integrator"]

#: method name → class
METHODS = {
    cls.name: cls
    for cls in (ProjectedEuler, ProjectedRK, ProjectorSplitting, BUG, AugmentedBUG, AdaptiveBUG,
                ParallelBUG, MidpointBUG, NaiveFactorODE, FullRank)
}


def make_integrator(method, *, methods=None, **options):
    """An :class:`Integrator` from a method name (a key of :data:`METHODS`) and its options.

    ``options`` are the class's keyword-only constructor options (``substep``, ``truncation``,
    ``theta``, ``scheme``, ``tableau``); options that are None are left out. An option the method
    does not take is a ``ValueError``/``TypeError`` naming it, never silently ignored. An
    Integrator instance is returned as is (then no option may be given). ``methods`` extends the
    name table (e.g. training's baselines).
    """
    table = dict(METHODS, **(methods or {}))
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(method, Integrator):
        if options:
            raise ValueError(f"{', '.join(sorted(options))}: pass options to the Integrator's "
                             "constructor when method is an instance")
        return method
    if not isinstance(method, str) or method not in table:
        raise ValueError(f"method must be one of {sorted(table)} or an Integrator, got {method!r}")
    cls = table[method]
    if ("truncation" in options or "theta" in options) and not cls.accepts_truncation:
        raise ValueError(f"truncation/theta: method {method!r} is a fixed-rank method; truncation/theta "
                         "do not apply")
    if "substep" in options and not cls.uses_substep:
        raise ValueError(f"substep: method {method!r} has no substeps (it takes no substep solver)")
    allowed = {name for name, p in inspect.signature(cls.__init__).parameters.items()
               if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"bad option for method {method!r}: {', '.join(unknown)} (it takes "
                        f"{', '.join(sorted(allowed))})")
    return cls(**options)
