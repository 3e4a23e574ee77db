"""One integrator per module; :data:`METHODS` maps the names of :func:`dlra.solve` to classes."""
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

METHODS = {
    cls.name: cls
    for cls in (ProjectedEuler, ProjectedRK, ProjectorSplitting, BUG, AugmentedBUG, AdaptiveBUG,
                ParallelBUG, MidpointBUG, NaiveFactorODE, FullRank)
}

__all__ = ["Integrator", "StepInfo", "METHODS", "ProjectedEuler", "ProjectedRK", "ProjectorSplitting",
           "BUG", "AugmentedBUG", "AdaptiveBUG", "ParallelBUG", "MidpointBUG", "NaiveFactorODE",
           "FullRank", "tangent_projection"]
