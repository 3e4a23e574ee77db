"""Base class of the low-rank integrators (in the style of ``scipy.integrate._ivp``).

``step(F, t, Y, h)`` checks its arguments, wraps F once (:class:`~dlra.field.VectorField`) and
calls the subclass's ``_step_impl(field, t, items, h)`` on the normalised state (a list of
:class:`~dlra.lowrank.LowRank` and dense arrays). After each step ``last_step`` holds what the
diagnostics need: the singular values each truncation discarded and the ranks.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field as dc_field

import numpy as np

from ..field import VectorField, as_items, from_items, lowrank_indices
from ..linalg import all_finite
from ..lowrank import LowRank
from ..substep import as_substep_solver
from ..truncation import as_truncation_rule

__all__ = ["Integrator", "StepInfo", "check_state"]


@dataclass
class StepInfo:
    """What one step did: per low-rank matrix, the discarded singular values and the new rank."""

    discarded: list = dc_field(default_factory=list)
    ranks: list = dc_field(default_factory=list)

    @property
    def truncation_error(self):
        """ℓ² norm of everything discarded in this step (all matrices)."""
        return float(np.sqrt(sum(float(np.sum(np.abs(d) ** 2)) for d in self.discarded)))


def check_state(items, name="Y0", lowrank_required=True):
    """Validate a normalised state: finite factors, matching shapes, ranks ≤ min(m, n)."""
    for k, item in enumerate(items):
        label = name if len(items) == 1 else f"{name}[{k}]"
        if isinstance(item, LowRank):
            m, n = item.shape
            if item.S.shape[0] != item.S.shape[1]:
                raise ValueError(f"{label} must have a square core S, got shape {item.S.shape}")
            if item.rank > min(m, n):
                raise ValueError(f"{label} has rank {item.rank} > min(m, n) = {min(m, n)}")
            if item.rank < 1:
                raise ValueError(f"{label} must have rank >= 1")
            for fname in ("U", "S", "V"):
                if not all_finite(getattr(item, fname)):
                    raise ValueError(f"{label} is not finite (its factor {fname} holds NaN or inf)")
        else:
            if not all_finite(item):
                raise ValueError(f"{label} is not finite (NaN or inf)")
            if not (np.issubdtype(item.dtype, np.floating) or np.issubdtype(item.dtype, np.complexfloating)):
                raise TypeError(f"{label} must have a floating or complex dtype, got {item.dtype}")
    if lowrank_required and not lowrank_indices(items):
        raise TypeError(f"{name} must contain at least one LowRank matrix for a low-rank integrator")


class Integrator:
    """A one-step method for the projected flow Ẏ = P(Y) F(t, Y).

    Parameters
    ----------
    substep : SubstepSolver or name, optional
        Solver of the K-, L- and S-substeps (default: classical RK4 with one substep). In
        training this is the optimiser (``SGD``, ``Adam``).
    truncation : TruncationRule or float, optional
        Rank-adaptive methods only (a float is an absolute tolerance ϑ).
    theta : float, optional
        Shortcut for ``truncation=AbsoluteTolerance(theta)``.

    Class attributes: ``name`` (the method name of :func:`dlra.solve`), ``order`` (classical
    order with exact substeps), ``rank_adaptive``.
    """

    name = None
    order = None
    rank_adaptive = False
    #: whether the truncation rule may be chosen (rank-adaptive methods and projected RK)
    accepts_truncation = False
    #: False for the full-rank reference, which integrates dense matrices
    lowrank_state = True

    def __init__(self, substep=None, truncation=None, theta=None):
        self.substep = as_substep_solver(substep)
        if isinstance(truncation, numbers.Real) and not isinstance(truncation, bool):
            theta, truncation = truncation, None
        if (truncation is not None or theta is not None) and not self.accepts_truncation:
            raise ValueError(f"{type(self).__name__} is a fixed-rank method and takes no truncation/theta")
        self.truncation = as_truncation_rule(theta=theta, truncation=truncation, required=True)
        self.last_step = StepInfo()

    def __repr__(self):
        return f"{type(self).__name__}(substep={self.substep!r}, truncation={self.truncation!r})"

    # ------------------------------------------------------------------ public API
    def step(self, F, t, Y, h):
        """One step of length h from (t, Y); returns the new state in the format of Y.

        ``F`` is the user's callback ``F(t, Y)`` (or an already wrapped VectorField).
        """
        items, multi = as_items(Y, name="Y")
        check_state(items, name="Y", lowrank_required=self.lowrank_state)
        if isinstance(h, bool) or not isinstance(h, numbers.Real) or not np.isfinite(h) or h <= 0:
            raise ValueError(f"h must be a positive finite number, got {h!r}")
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not np.isfinite(t):
            raise ValueError(f"t must be a finite real number, got {t!r}")
        rule = getattr(self, "truncation", None)
        if hasattr(rule, "set_step_size"):  # rules scaled with the step (e.g. RateTolerance)
            rule.set_step_size(float(h))
        field = VectorField.wrap(F, items, multi)
        new_items = self._step_impl(field, float(t), items, float(h))
        return from_items(new_items, multi)

    def _step_impl(self, field, t, items, h):
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for subclasses
    def _record(self, items, discarded=None):
        ranks = [item.rank for item in items if isinstance(item, LowRank)]
        if discarded is None:
            discarded = [np.zeros(0) for _ in ranks]
        self.last_step = StepInfo(discarded=discarded, ranks=ranks)
