"""Truncation rules: how many singular values a rank-adaptive step keeps.

A rule maps a decreasing vector of singular values σ₁ ≥ σ₂ ≥ … to a rank r, then clips r to
``[min_rank, max_rank]`` and to ``len(σ)``. Every rank-adaptive integrator and
:meth:`LowRank.truncate` use these objects through :func:`dlra.linalg.truncated_svd`.

Rules
-----
* :class:`AbsoluteTolerance` (ϑ): smallest r with ``(Σ_{j>r} σⱼ²)^{1/2} ≤ ϑ`` — the rule of the
  rank-adaptive BUG papers (Ceruti, Kusch, Lubich, BIT 2022).
* :class:`RelativeTolerance` (τ): the same with ϑ = τ‖σ‖₂ = τ‖Ŝ‖_F — the rule of the DLRT code
  (Schotthöfer et al., NeurIPS 2022).
* :class:`RateTolerance` (τ): ϑ = τ · h · ‖Ŝ‖_F, the relative tolerance per unit time — lets the
  rank grow when the flow needs new directions (the integrator tells it the step size h).
* :class:`FixedRank` (r): always r; ``FixedRank()`` keeps the incoming rank (the fixed-rank
  augmented BUG).
* :class:`RelativeSingularValue` (δ): keep σᵢ ≥ δσ₁ (theory-driven rank selection poster).
* :class:`Energy` (e): smallest r with ``Σ_{j≤r} σⱼ² ≥ (1 − e) Σ σⱼ²``.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "TruncationRule",
    "AbsoluteTolerance",
    "RelativeTolerance",
    "RateTolerance",
    "FixedRank",
    "RelativeSingularValue",
    "Energy",
    "as_truncation_rule",
]


def _check_rank(value, name, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_nonnegative(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and nonnegative, got {value}")
    return float(value)


class TruncationRule:
    """Base class. Subclasses implement :meth:`_rank` on a decreasing σ vector."""

    def __init__(self, min_rank=1, max_rank=None):
        self.min_rank = _check_rank(min_rank, "min_rank", allow_none=False)
        self.max_rank = _check_rank(max_rank, "max_rank")
        if self.max_rank is not None and self.max_rank < self.min_rank:
            raise ValueError(f"max_rank ({self.max_rank}) must be >= min_rank ({self.min_rank})")

    def _rank(self, sigma, current_rank):
        raise NotImplementedError

    def select_rank(self, sigma, current_rank=None):
        """Rank to keep for the decreasing singular values ``sigma``."""
        sigma = np.asarray(sigma)
        n = sigma.size
        r = int(self._rank(sigma, current_rank))
        r = max(r, self.min_rank)
        if self.max_rank is not None:
            r = min(r, self.max_rank)
        return min(r, n)

    def _caps(self):
        caps = []
        if self.min_rank != 1:
            caps.append(f"min_rank={self.min_rank}")
        if self.max_rank is not None:
            caps.append(f"max_rank={self.max_rank}")
        return (", " + ", ".join(caps)) if caps else ""


def _tail_rank(sigma, theta):
    """Smallest r with ‖σ[r:]‖₂ ≤ θ."""
    # tail[k] = ‖σ[k:]‖₂ for k = 0..n (tail[n] = 0)
    tail = np.sqrt(np.concatenate([np.cumsum((sigma ** 2)[::-1])[::-1], [0.0]]))
    return int(np.argmax(tail <= theta))


class AbsoluteTolerance(TruncationRule):
    """Smallest r with ``(Σ_{j>r} σⱼ²)^{1/2} ≤ theta`` (Ceruti–Kusch–Lubich 2022, eq. (3.4))."""

    def __init__(self, theta, min_rank=1, max_rank=None):
        super().__init__(min_rank, max_rank)
        self.theta = _check_nonnegative(theta, "theta")

    def _rank(self, sigma, current_rank):
        return _tail_rank(sigma, self.theta)

    def __repr__(self):
        return f"AbsoluteTolerance(theta={self.theta:g}{self._caps()})"


class RelativeTolerance(TruncationRule):
    """Smallest r with ``(Σ_{j>r} σⱼ²)^{1/2} ≤ tau ‖σ‖₂`` (DLRT, Schotthöfer et al. 2022)."""

    def __init__(self, tau, min_rank=1, max_rank=None):
        super().__init__(min_rank, max_rank)
        self.tau = _check_nonnegative(tau, "tau")
        if self.tau >= 1:
            raise ValueError(f"tau must be < 1 (tau ≥ 1 discards everything), got {tau}")

    def _rank(self, sigma, current_rank):
        return _tail_rank(sigma, self.tau * float(np.linalg.norm(sigma)))

    def __repr__(self):
        return f"RelativeTolerance(tau={self.tau:g}{self._caps()})"


class RateTolerance(TruncationRule):
    """Smallest r with ``(Σ_{j>r} σⱼ²)^{1/2} ≤ tau · h · ‖σ‖₂``: a relative tolerance per unit time.

    In one rank-adaptive BUG step of length h the directions that the augmentation adds carry
    singular values of size ≈ h ‖(I − P(Y)) F‖ (the part of the vector field normal to the manifold,
    Ceruti, Kusch & Lubich, BIT 2022, §3), while :class:`RelativeTolerance` cuts everything below
    ϑ = τ‖Ŝ‖_F, independent of h. For small h (a learning rate of 10⁻³ in DLRT) every new direction
    is discarded and a run started at a too small rank can never grow, whatever τ. Scaling the
    tolerance with the step, ϑ = τ h ‖Ŝ‖_F, keeps a new direction whenever the normal part of the
    flow is large relative to the state, ‖(I − P) F‖ ≳ τ ‖Y‖, independently of h; in the error
    bound ‖Yₙ − Y(tₙ)‖ ≤ c1 ε + c2 h + c3 ϑ/h (Thm. 2 there) the truncation term becomes
    c3 τ ‖Y‖, also independent of h. Directions are removed only when their singular value falls
    below τ h ‖Ŝ‖_F, so the rank mostly grows: use ``max_rank`` as a budget.

    The integrator passes the step size through :meth:`set_step_size` before truncating
    (``Integrator.step`` does this for every rule that has the method). Default ``tau = 0.1``
    (the DLRT default of :class:`RelativeTolerance`, now per unit time): keep the directions along
    which the flow moves by at least 10 % of the state's norm per unit time. On a least-squares
    flow that needs rank 14 and starts at rank 2 (``tests/test_rank_growth.py``), τ = 0.05 or 0.1
    of :class:`RelativeTolerance` at h = 0.01 stays at rank 2, this rule grows to rank 16.
    """

    def __init__(self, tau=0.1, min_rank=1, max_rank=None):
        super().__init__(min_rank, max_rank)
        self.tau = _check_nonnegative(tau, "tau")
        self.h = None

    def set_step_size(self, h):
        """Store the step size h of the step being truncated."""
        self.h = _check_nonnegative(h, "h")

    def _rank(self, sigma, current_rank):
        if self.h is None:
            raise ValueError("RateTolerance needs the step size: call set_step_size(h) (integrators do)")
        return _tail_rank(sigma, self.tau * self.h * float(np.linalg.norm(sigma)))

    def __repr__(self):
        return f"RateTolerance(tau={self.tau:g}{self._caps()})"


class FixedRank(TruncationRule):
    """Always ``rank`` columns; ``FixedRank()`` keeps the incoming (current) rank."""

    def __init__(self, rank=None):
        rank = _check_rank(rank, "rank")
        super().__init__(min_rank=1, max_rank=None)
        self.rank = rank

    def _rank(self, sigma, current_rank):
        if self.rank is not None:
            return self.rank
        if current_rank is None:
            raise ValueError("FixedRank() without a rank needs the current rank")
        return current_rank

    def __repr__(self):
        return f"FixedRank({'' if self.rank is None else self.rank})"


class RelativeSingularValue(TruncationRule):
    """Keep every σᵢ ≥ delta·σ₁ (the per-value rule of theory-driven rank selection)."""

    def __init__(self, delta, min_rank=1, max_rank=None):
        super().__init__(min_rank, max_rank)
        self.delta = _check_nonnegative(delta, "delta")

    def _rank(self, sigma, current_rank):
        if sigma.size == 0 or sigma[0] == 0:
            return 0
        return int(np.count_nonzero(sigma >= self.delta * sigma[0]))

    def __repr__(self):
        return f"RelativeSingularValue(delta={self.delta:g}{self._caps()})"


class Energy(TruncationRule):
    """Smallest r keeping a fraction ≥ 1 − e of the energy Σσⱼ²."""

    def __init__(self, e, min_rank=1, max_rank=None):
        super().__init__(min_rank, max_rank)
        self.e = _check_nonnegative(e, "e")
        if self.e > 1:
            raise ValueError(f"e must be in [0, 1], got {e}")

    def _rank(self, sigma, current_rank):
        total = float(np.sum(sigma ** 2))
        return _tail_rank(sigma, np.sqrt(self.e * total))

    def __repr__(self):
        return f"Energy(e={self.e:g}{self._caps()})"


def as_truncation_rule(rank=None, theta=None, truncation=None, required=True):
    """Build a rule from the front door's shortcuts.

    ``truncation`` (a rule) wins; else ``theta`` → :class:`AbsoluteTolerance`; else ``rank`` →
    :class:`FixedRank`. Giving more than one is an error. With none: ``None`` unless
    ``required`` (then ``FixedRank()``, keep the current rank).
    """
    given = [name for name, v in (("rank", rank), ("theta", theta), ("truncation", truncation))
             if v is not None]
    if len(given) > 1:
        raise ValueError(f"give only one of rank, theta, truncation; got {', '.join(given)}")
    if truncation is not None:
        if not isinstance(truncation, TruncationRule):
            raise TypeError(f"truncation must be a TruncationRule, got {type(truncation).__name__}")
        return truncation
    if theta is not None:
        return AbsoluteTolerance(theta)
    if rank is not None:
        return FixedRank(rank)
    return FixedRank() if required else None
