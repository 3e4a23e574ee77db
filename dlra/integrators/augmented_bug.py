"""Fixed-rank augmented BUG: the rank-adaptive BUG truncated back to the incoming rank.

Ceruti, Kusch & Lubich (BIT 2022), the fixed-rank variant of the augmented integrator: the same
K-, L- and augmented S-steps as :class:`~dlra.integrators.adaptive_bug.AdaptiveBUG`, followed by the
best rank-r truncation of the 2r×2r core (r = rank of the input).
"""
from __future__ import annotations

from .adaptive_bug import AdaptiveBUG

__all__ = ["AugmentedBUG"]


class AugmentedBUG(AdaptiveBUG):
    """Fixed-rank augmented BUG (Ceruti, Kusch & Lubich, BIT 2022): the steps of
    :class:`AdaptiveBUG` in the 2r-column bases Û, V̂, then the best rank-r truncation of Ŝ(t1)
    (r = the incoming rank). First order, robust to small singular values."""

    name = "augmented_bug"
    method_order = 1
    rank_adaptive = False
    accepts_truncation = False
    requires_truncation = False

    def __init__(self, *, substep=None):
        super().__init__(substep=substep)
