"""One integrator per module; :data:`METHODS` maps the names of :func:`dlra.solve` to classes and
:func:`make_integrator` builds one from a name and options (the one resolver of the package).

New methods are written from the public building blocks of :mod:`dlra.integrators.blocks`.
"""
from .adaptive_bug import AdaptiveBUG
from .augmented_bug import AugmentedBUG
from .base import Integrator, StepInfo
from .bug import BUG
from .full import FullRank
from .ksl import ProjectorSplitting
from .midpoint_bug import MidpointBUG
from .naive import NaiveFactorODE
from .parallel_bug import ParallelBUG
from .projected_rk import ProjectedEuler, ProjectedRK, tangent_projection
from .registry import METHODS, make_integrator

__all__ = ["Integrator", "StepInfo", "METHODS", "make_integrator", "ProjectedEuler", "ProjectedRK",
           "ProjectorSplitting", "BUG", "AugmentedBUG", "AdaptiveBUG", "ParallelBUG", "MidpointBUG",
           "NaiveFactorODE", "FullRank", "tangent_projection"]
