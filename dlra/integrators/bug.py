"""The unconventional robust integrator ("BUG": basis update & Galerkin), fixed rank.

Ceruti & Lubich, "An unconventional robust integrator for dynamical low-rank approximation",
BIT Numer. Math. 62 (2022) 23–44.

One step from Y0 = U0 S0 V0ᴴ:

1. K-step K̇ = F(t, K V0ᴴ) V0, K(t0) = U0 S0 and L-step L̇ = F(t, U0 Lᴴ)ᴴ U0, L(t0) = V0 S0ᴴ
   (independent, from the old factors); U1 = orth(K(t1)), V1 = orth(L(t1)).
2. S-step forward in the new bases: Ṡ = U1ᴴ F(t, U1 S V1ᴴ) V1 from S(t0) = M S0 Nᴴ,
   M = U1ᴴ U0, N = V1ᴴ V0.

First order, exact when F = Ȧ with A(t) of rank r (Thm. 4 of the paper), robust to small
singular values. Dense items of the state are integrated in the S-step.
"""
from __future__ import annotations

from ..field import lowrank_indices
from ..linalg import orth
from ..lowrank import LowRank
from ..timing import timed
from .base import Integrator, StepInfo
from .blocks import factors, galerkin_step, kl_steps, with_updates

__all__ = ["BUG"]


class BUG(Integrator):
    """Fixed-rank BUG, the unconventional robust integrator (Ceruti & Lubich, BIT 2022).

    U1 = orth(K(t1)), V1 = orth(L(t1)) from the K- and L-steps started at the old factors;
    Ṡ = U1ᴴ F(t, U1 S V1ᴴ) V1 from (U1ᴴU0) S0 (V0ᴴV1). First order, exact for F = Ȧ with A(t)
    of rank r, robust to small singular values. Fixed rank: ``truncation``/``theta`` raise.
    """

    name = "bug"
    method_order = 1

    def __init__(self, *, substep=None):
        super().__init__(substep=substep)

    def _step_impl(self, field, t0, items, h):
        t1 = t0 + h
        lr = lowrank_indices(items)
        F0 = field(t0, items)
        K1, L1, _, _ = kl_steps(self.substep, field, items, lr, t0, t1, F0)
        U0, S0, V0 = factors(items, lr)
        U1 = [orth(K) for K in K1]
        V1 = [orth(L) for L in L1]
        with timed("products"):
            S_start = [(u1.conj().T @ u0) @ s0 @ (v0.conj().T @ v1)
                       for u0, s0, v0, u1, v1 in zip(U0, S0, V0, U1, V1)]
        S1, dense = galerkin_step(self.substep, field, items, U1, V1, S_start, t0, t1)
        new = with_updates(items, lr, [LowRank(u, s, v) for u, s, v in zip(U1, S1, V1)], dense)
        return new, StepInfo.of(new)
