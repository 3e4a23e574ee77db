"""Rank-adaptive (augmented) BUG integrator — the integrator of DLRT.

Ceruti, Kusch & Lubich, "A rank-adaptive robust integrator for dynamical low-rank
approximation", BIT Numer. Math. 62 (2022) 1149–1174; Schotthöfer et al., "Low-rank lottery
tickets", NeurIPS 2022 (DLRT).

One step from Y0 = U0 S0 V0ᴴ of rank r:

1. K- and L-steps from the old factors (as in :class:`~dlra.integrators.bug.BUG`).
2. Augmented bases Û = orth([K(t1), U0]), V̂ = orth([L(t1), V0]) (2r columns), computed as
   [U0, Q] with Q spanning the part of K(t1) orthogonal to U0 (:func:`dlra.linalg.augmented_basis`;
   the step depends only on the spans).
3. S-step forward in the augmented bases, Ṡ = Ûᴴ F(t, Û S V̂ᴴ) V̂, from Ŝ0 = Ûᴴ U0 S0 V0ᴴ V̂,
   which represents Y0 **exactly** (U0 ∈ range Û, V0 ∈ range V̂). Hence F(t0, Û Ŝ0 V̂ᴴ) = F(t0, Y0):
   the S-step's first stage reuses the evaluation of the K- and L-steps, and with one explicit
   Euler (SGD) substep a whole step costs one evaluation of F.
4. Truncation: Ŝ(t1) = P Σ Qᴴ, new rank r1 from the rule (default: the ℓ² tail ≤ ϑ);
   U1 = Û P[:, :r1], V1 = V̂ Q[:, :r1], S1 = Σ[:r1, :r1]. (Q, not Qᴴ: the DLRT reference codes
   take the wrong orientation here; :func:`dlra.linalg.truncated_svd` converts once.)

Error bound (Thm. 2 of Ceruti–Kusch–Lubich): ‖Yₙ − Y(tₙ)‖ ≤ c1 ε + c2 h + c3 ϑ/h, independent of
small singular values.
"""
from __future__ import annotations

from ..field import lowrank_indices
from ..linalg import augmented_basis
from .base import Integrator
from ._common import augmented_start, factors, galerkin_step, kl_steps, truncate_cores, with_updates

__all__ = ["AdaptiveBUG"]


class AdaptiveBUG(Integrator):
    name = "adaptive_bug"
    order = 1
    rank_adaptive = True
    accepts_truncation = True

    def _augmented_step(self, field, t0, items, h):
        """Steps 1–3; returns (lr, Û, Ŝ(t1), V̂, new dense items, F(t0, Y0))."""
        t1 = t0 + h
        lr = lowrank_indices(items)
        F0 = field(t0, items)
        K1, L1, FV0, FhU0 = kl_steps(self.substep, field, items, lr, t0, t1, F0)
        U0, S0, V0 = factors(items, lr)
        Uhat = [augmented_basis(u0, K) for K, u0 in zip(K1, U0)]
        Vhat = [augmented_basis(v0, L) for L, v0 in zip(L1, V0)]
        # Û Ŝ0 V̂ᴴ = Y0 exactly, so F at the S-step's start is F0 (no new evaluation)
        starts = [augmented_start(U0[j], S0[j], V0[j], Uhat[j], Vhat[j], F0[k], FV0[j], FhU0[j])
                  for j, k in enumerate(lr)]
        S1, dense = galerkin_step(self.substep, field, items, Uhat, Vhat, [s for s, _ in starts], t0, t1,
                                  F0=F0, core_f0=[d for _, d in starts])
        return lr, Uhat, S1, Vhat, dense, F0

    def _step_impl(self, field, t0, items, h):
        lr, Uhat, Shat, Vhat, dense, _ = self._augmented_step(field, t0, items, h)
        truncated, discarded = truncate_cores(self.truncation, Uhat, Shat, Vhat,
                                              [items[k].rank for k in lr])
        new = with_updates(items, lr, truncated, dense)
        self._record(new, discarded)
        return new
