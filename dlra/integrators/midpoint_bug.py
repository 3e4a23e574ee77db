"""Second-order BUG integrator based on the midpoint rule.

Ceruti, Einkemmer, Kusch & Lubich, "A robust second-order low-rank BUG integrator based on the
midpoint rule", BIT Numer. Math. 64 (2024) 30.

One step from Y0 = U0 S0 V0ᴴ of rank r:

1. Half step: the augmented BUG over [t0, t0 + h/2] without truncation gives
   Y½ = U½ S½ V½ᴴ (rank 2r, range U½ ⊇ range U0, range V½ ⊇ range V0).
2. Augmentation with the midpoint field: Û = orth([U½, F(t½, Y½) V½]),
   V̂ = orth([V½, F(t½, Y½)ᴴ U½]) (4r columns); Y0 = Û (Ûᴴ Y0 V̂) V̂ᴴ exactly.
3. Galerkin S-step over the full step: Ṡ = Ûᴴ F(t, Û S V̂ᴴ) V̂, S(t0) = Ûᴴ U0 S0 V0ᴴ V̂
   (use a substep solver of order ≥ 2; the default RK4 is).
4. Truncation by the rule (default: back to rank r; a tolerance ϑ makes it rank-adaptive).

Second order (Thm. 4.1 of the paper), robust to small singular values.
"""
from __future__ import annotations

from ..linalg import augmented_basis
from ..lowrank import LowRank
from .base import Integrator, StepInfo
from .blocks import augmented_galerkin, factors, galerkin_step, truncate_cores, with_updates

__all__ = ["MidpointBUG"]


class MidpointBUG(Integrator):
    """Second-order midpoint BUG (Ceruti, Einkemmer, Kusch & Lubich, BIT 2024).

    An augmented BUG half step gives Y½ = U½ S½ V½ᴴ; Û = orth([U½, F(t½, Y½) V½]),
    V̂ = orth([V½, F(t½, Y½)ᴴ U½]); Galerkin S-step over [t0, t1] from Ûᴴ Y0 V̂; truncation by the
    rule (default: back to the incoming rank r; ``theta=`` makes it rank-adaptive). Order 2 with a
    substep solver of order ≥ 2. The half step's and the full step's S-substeps keep separate
    optimiser states (keys ``"S_half"`` and ``"S"``).
    """

    name = "midpoint_bug"
    method_order = 2
    rank_adaptive = True
    accepts_truncation = True

    def _step_impl(self, field, t0, items, h):
        t1, th = t0 + h, t0 + 0.5 * h
        lr, Uh, Sh, Vh, dense_half, F0 = augmented_galerkin(self.substep, field, items, t0, 0.5 * h,
                                                            keys=("K", "L", "S_half"))
        half = with_updates(items, lr, [LowRank(u, s, v) for u, s, v in zip(Uh, Sh, Vh)], dense_half)
        F_half = field(th, half)
        Uhat = [augmented_basis(Uh[j], F_half[k].right(Vh[j])) for j, k in enumerate(lr)]
        Vhat = [augmented_basis(Vh[j], F_half[k].left(Uh[j])) for j, k in enumerate(lr)]
        U0, S0, V0 = factors(items, lr)
        S_start = [(uh.conj().T @ u0) @ s0 @ (v0.conj().T @ vh)
                   for u0, s0, v0, uh, vh in zip(U0, S0, V0, Uhat, Vhat)]
        # range Û ⊇ range U½ ⊇ range U0 (likewise V̂), so Û S_start V̂ᴴ = Y0: reuse F(t0, Y0)
        S1, dense = galerkin_step(self.substep, field, items, Uhat, Vhat, S_start, t0, t1, F0=F0)
        truncated, discarded = truncate_cores(self.truncation, Uhat, S1, Vhat, [items[k].rank for k in lr])
        new = with_updates(items, lr, truncated, dense)
        return new, StepInfo.of(new, discarded)
