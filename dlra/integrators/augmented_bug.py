"""Fixed-rank augmented BUG: the rank-adaptive BUG truncated back to the incoming rank.

Ceruti, Kusch & Lubich (BIT 2022), the fixed-rank variant of the augmented integrator: the same
K-, L- and augmented S-steps as :class:`~dlra.integrators.adaptive_bug.AdaptiveBUG`, followed by the
best rank-r truncation of the 2r×2r core (r = rank of the input).
"""
from __future__ import annotations

from ..truncation import FixedRank
from .adaptive_bug import AdaptiveBUG

__all__ = ["AugmentedBUG"]


class AugmentedBUG(AdaptiveBUG):
    name = "augmented_bug"
    order = 1
    rank_adaptive = False
    accepts_truncation = False

    def __init__(self, substep=None):
        super().__init__(substep=substep)
        self.truncation = FixedRank()
