"""Base class of the low-rank integrators (in the style of ``scipy.integrate._ivp.OdeSolver``).

The contract between the base class and a method:

* The public :meth:`Integrator.step` checks its arguments, brings every low-rank matrix to
  orthonormal factors (when they are not, or when their orthonormality has drifted beyond
  :func:`dlra.linalg.orthonormality_tolerance`), wraps F once
  (:class:`~dlra.field.VectorField`, which counts evaluations) and calls the method's
  ``_step_impl(field, t, items, h)`` on the normalised state (a list of
  :class:`~dlra.lowrank.LowRank` and dense arrays).
* ``_step_impl`` returns ``(new_items, StepInfo)``: the new state and the step record (ranks,
  discarded singular values; the base class adds the number of F evaluations). The base class
  checks both, stores the record in ``last_step`` and raises :class:`~dlra.errors.NonFiniteError`
  when the new state is not finite. :func:`dlra.solve` goes through this same public path.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field as dc_field

import numpy as np

from ..errors import NonFiniteError
from ..field import VectorField, as_items, from_items, lowrank_indices
from ..linalg import all_finite, orthonormality_drift, orthonormality_tolerance
from ..lowrank import LowRank
from ..substep import as_substep_solver
from ..truncation import as_truncation_rule

__all__ = ["Integrator", "StepInfo", "check_state", "check_real"]


@dataclass
class StepInfo:
    """The record of one step: per low-rank matrix the discarded singular values and the new
    rank, and the number of calls of F the step made."""

    discarded: list = dc_field(default_factory=list)
    ranks: list = dc_field(default_factory=list)
    nfev: int = 0

    @classmethod
    def of(cls, items, discarded=None):
        """The record of a step that produced ``items`` (nothing discarded unless given)."""
        ranks = [item.rank for item in items if isinstance(item, LowRank)]
        if discarded is None:
            discarded = [np.zeros(0) for _ in ranks]
        return cls(discarded=list(discarded), ranks=ranks)

    @property
    def truncation_error(self):
        """ℓ² norm of everything discarded in this step (all matrices)."""
        return float(np.sqrt(sum(float(np.sum(np.abs(d) ** 2)) for d in self.discarded)))


def check_real(value, name, *, positive=False):
    """``float(value)`` for a finite real number (positive if asked); else ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be a {'positive ' if positive else ''}finite number, got {value!r}")
    return value


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
            if item.ndim != 2:
                raise ValueError(f"{label} must be 2-D, got shape {item.shape}")
            if item.dtype.kind not in "fc":  # real or complex floating
                raise TypeError(f"{label} must have a floating or complex dtype, got {item.dtype}")
            if not all_finite(item):
                raise ValueError(f"{label} is not finite (NaN or inf)")
    if lowrank_required and not lowrank_indices(items):
        raise TypeError(f"{name} must contain at least one LowRank matrix for a low-rank integrator")


def _keep_dtype(new, old):
    """Cast ``new`` to the precision of ``old`` (complex stays complex: float32 → complex64)."""
    target = np.result_type(old.dtype, np.complex64) if np.iscomplexobj(new) else old.dtype
    if isinstance(new, LowRank):
        return new if new.dtype == target else new.astype(target)
    return new if new.dtype == target else new.astype(target)


class Integrator:
    """A one-step method for the projected flow Ẏ = P(Y) F(t, Y) on the rank-r manifold.

    Constructor options are keyword-only:

    substep : SubstepSolver or name, optional
        Solver of the K-, L- and S-substeps (default: classical RK4 with one substep). In
        training this is the optimiser (``SGD``, ``Adam``). Methods without substeps (projected
        Runge–Kutta) raise ``ValueError`` when one is given.
    truncation : TruncationRule or float, optional
        Methods with ``accepts_truncation`` only (a float is an absolute tolerance ϑ); the
        constructors of fixed-rank methods have no such argument (and :func:`make_integrator`
        raises ``ValueError`` naming it). The rank-adaptive BUG methods require one of
        ``truncation`` or ``theta`` (``truncation=FixedRank()`` keeps the rank fixed).
    theta : float, optional
        Shortcut for ``truncation=AbsoluteTolerance(theta)``.

    Class attributes: ``name`` (the method name of :func:`dlra.solve`), ``method_order``
    (classical order with exact substeps), ``rank_adaptive``, ``accepts_truncation``,
    ``requires_truncation``, ``uses_substep``, ``lowrank_state`` (False for the full-rank
    reference), ``orthonormal_factors`` (whether the method needs orthonormal U, V).
    The property ``order`` accounts for the substep solver: min(method order, substep order),
    None when the substep is not an ODE method (Adam, momentum).

    A new method subclasses this and implements ``_step_impl(field, t, items, h) -> (new_items,
    StepInfo)`` from the building blocks of :mod:`dlra.integrators.blocks`.
    """

    name = None
    method_order = None
    rank_adaptive = False
    accepts_truncation = False
    requires_truncation = False
    uses_substep = True
    lowrank_state = True
    orthonormal_factors = True

    def __init__(self, *, substep=None, truncation=None, theta=None):
        label = type(self).__name__
        if self.uses_substep:
            self.substep = as_substep_solver(substep)
        elif substep is not None:
            raise ValueError(f"substep: {label} has no substeps (it takes no substep solver)")
        else:
            self.substep = None
        if isinstance(truncation, numbers.Real) and not isinstance(truncation, bool):
            theta, truncation = truncation, None
        if (truncation is not None or theta is not None) and not self.accepts_truncation:
            raise ValueError(f"truncation/theta: {label} is a fixed-rank method and takes no truncation/theta")
        if self.requires_truncation and truncation is None and theta is None:
            raise ValueError(f"truncation: {label} is rank-adaptive and needs theta= or truncation= "
                             "(truncation=FixedRank() keeps the rank fixed)")
        self.truncation = as_truncation_rule(theta=theta, truncation=truncation, required=True)
        self.last_step = StepInfo()

    @property
    def order(self):
        """Order of the method with its substep solver (None when the substep is not an ODE method)."""
        sub = float("inf") if self.substep is None else self.substep.order
        if sub is None or self.method_order is None:
            return None
        return min(self.method_order, sub)

    def __repr__(self):
        return f"{type(self).__name__}(substep={self.substep!r}, truncation={self.truncation!r})"

    # ------------------------------------------------------------------ public API
    def step(self, F, t, Y, h):
        """One step of length h from (t, Y); returns the new state in the format of Y.

        ``F`` is the user's callback ``F(t, Y)`` (or an already wrapped VectorField). Low-rank
        matrices with non-orthonormal factors are orthonormalised first (same matrix). Raises
        :class:`~dlra.errors.NonFiniteError` (or a subclass) when the step fails; ``last_step``
        holds the step's record.
        """
        items, multi = as_items(Y, name="Y")
        check_state(items, name="Y", lowrank_required=self.lowrank_state)
        h = check_real(h, "h", positive=True)
        t = check_real(t, "t")
        if self.orthonormal_factors:
            items = self._orthonormalized(items)
        rule = getattr(self, "truncation", None)
        if hasattr(rule, "set_step_size"):  # rules scaled with the step (e.g. RateTolerance)
            rule.set_step_size(h)
        field = VectorField.wrap(F, items, multi)
        nfev0 = field.nfev
        with np.errstate(over="ignore", invalid="ignore"):
            out = self._step_impl(field, t, items, h)
        new, record = self._checked(out, items, t, h)
        record.nfev = field.nfev - nfev0
        self.last_step = record
        return from_items(new, multi)

    def _step_impl(self, field, t, items, h):
        """Return ``(new_items, StepInfo)`` for one step of length h from (t, items)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _step_impl")

    # ------------------------------------------------------------------ contract checks
    @staticmethod
    def _orthonormalized(items):
        out = list(items)
        for k, item in enumerate(items):
            if isinstance(item, LowRank):
                tol = orthonormality_tolerance(item.dtype)
                if orthonormality_drift(item.U) > tol or orthonormality_drift(item.V) > tol:
                    out[k] = item.orthonormalize()
        return out

    def _checked(self, out, items, t, h):
        label = type(self).__name__
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], StepInfo)):
            raise TypeError(f"{label}._step_impl must return (new_items, StepInfo), got {type(out).__name__}")
        new, record = list(out[0]), out[1]
        if len(new) != len(items):
            raise TypeError(f"{label}._step_impl returned {len(new)} items for a state of {len(items)}")
        for k, (a, b) in enumerate(zip(new, items)):
            if isinstance(a, LowRank) != isinstance(b, LowRank) or a.shape != b.shape:
                raise TypeError(f"{label}._step_impl changed item {k} from {b!r} to {a!r}")
            parts = (a.U, a.S, a.V) if isinstance(a, LowRank) else (a,)
            if not all(all_finite(p) for p in parts):
                raise NonFiniteError(f"the step from t = {t:.6g} to t = {t + h:.6g} produced non-finite "
                                     f"values in item {k} of the state")
            new[k] = _keep_dtype(a, b)
        return new, record
