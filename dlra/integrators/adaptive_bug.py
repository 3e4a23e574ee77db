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

from .base import Integrator, StepInfo
from .blocks import augmented_galerkin, truncate_cores, with_updates

__all__ = ["AdaptiveBUG"]


class AdaptiveBUG(Integrator):
    """Rank-adaptive BUG (Ceruti, Kusch & Lubich, BIT 2022), the integrator of DLRT.

    Û = orth([K(t1), U0]), V̂ = orth([L(t1), V0]); Ṡ = Ûᴴ F(t, Û S V̂ᴴ) V̂ from Ûᴴ Y0 V̂; the
    truncated SVD Ŝ(t1) = P Σ Qᴴ gives U1 = Û P_r1, S1 = Σ_r1, V1 = V̂ Q_r1 with r1 from the rule.
    ``theta=`` (absolute tolerance ϑ on the ℓ² tail) or ``truncation=`` is required
    (``truncation=FixedRank()`` keeps the rank). First order; ‖Yₙ − Y(tₙ)‖ ≤ c1 ε + c2 h + c3 ϑ/h.
    """

    name = "adaptive_bug"
    method_order = 1
    rank_adaptive = True
    accepts_truncation = True
    requires_truncation = True

    def _step_impl(self, field, t0, items, h):
        lr, Uhat, Shat, Vhat, dense, _ = augmented_galerkin(self.substep, field, items, t0, h)
        truncated, discarded = truncate_cores(self.truncation, Uhat, Shat, Vhat,
                                              [items[k].rank for k in lr])
        new = with_updates(items, lr, truncated, dense)
        return new, StepInfo.of(new, discarded)
