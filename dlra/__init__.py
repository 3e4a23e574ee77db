"""dlra — dynamical low-rank approximation of matrix ODEs and dynamical low-rank training.

The projected flow Ẏ = P(Y) F(t, Y) on the manifold of rank-r matrices, integrated by
interchangeable integrators that touch F only through F V, Fᴴ U and Uᴴ F V.

>>> import dlra
>>> problem = dlra.problems.RotatingMatrix(n=50, rank=8)
>>> sol = dlra.solve(problem.F, problem.Y0, (0, 1), h=0.05, method="bug")
"""
from . import problems, substep, tableaux, truncation
from .errors import BlowUpError, NonFiniteError, SubstepFailure
from .field import VectorField, gradient_flow
from .adaptive import StepSizeController
from .fields import LinearMatrixField
from .integrators import (BUG, METHODS, make_integrator, AdaptiveBUG, AugmentedBUG, FullRank, Integrator, MidpointBUG,
                          NaiveFactorODE, ParallelBUG, ProjectedEuler, ProjectedRK, ProjectorSplitting)
from .lowrank import LowRank
from .solve import LowRankSolution, solve
from .substep import SGD, Adam, ClosedForm, ExplicitEuler, RungeKutta, ScipyIVP
from .truncation import (AbsoluteTolerance, Energy, FixedRank, RateTolerance, RelativeSingularValue,
                         RelativeTolerance, TruncationRule)

__version__ = "0.1.0"

__all__ = [
    "LowRank", "solve", "LowRankSolution", "gradient_flow", "VectorField", "NonFiniteError", "LinearMatrixField",
    "BlowUpError", "SubstepFailure", "make_integrator", "StepSizeController",
    "METHODS", "Integrator", "ProjectedEuler", "ProjectedRK", "ProjectorSplitting", "BUG",
    "AugmentedBUG", "AdaptiveBUG", "ParallelBUG", "MidpointBUG", "NaiveFactorODE", "FullRank",
    "RungeKutta", "ExplicitEuler", "ScipyIVP", "ClosedForm", "SGD", "Adam",
    "TruncationRule", "AbsoluteTolerance", "RelativeTolerance", "FixedRank", "RelativeSingularValue",
    "Energy", "RateTolerance", "problems", "substep", "truncation",
]
