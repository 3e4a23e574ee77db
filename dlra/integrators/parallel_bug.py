"""Parallel rank-adaptive BUG integrator.

Ceruti, Kusch & Lubich, "A parallel rank-adaptive integrator for dynamical low-rank
approximation", SIAM J. Sci. Comput. 46 (2024).

One step from Y0 = U0 S0 V0ᴴ; the K-, L- and S-substeps all start at t0 from the old factors and
are independent (they may run in parallel; here they share the single evaluation F(t0, Y0)):

1. K̇ = F(t, K V0ᴴ) V0 (K(t0) = U0 S0),  L̇ = F(t, U0 Lᴴ)ᴴ U0 (L(t0) = V0 S0ᴴ),
   S̄̇ = U0ᴴ F(t, U0 S̄ V0ᴴ) V0 (S̄(t0) = S0).
2. New directions: [U0, Ũ1] = orth([U0, K(t1)]) with U0 kept as the first columns (Ũ1 ⟂ U0);
   [V0, Ṽ1] likewise from L(t1).
3. Augmented core  Ŝ1 = [[S̄(t1), L(t1)ᴴ Ṽ1], [Ũ1ᴴ K(t1), 0]]  in the bases [U0, Ũ1], [V0, Ṽ1].
4. Truncation of Ŝ1 by the rule (ϑ).

Error bound O(h + ϑ/h + ε) as for the rank-adaptive BUG. Dense items move in the S̄-step.
"""
from __future__ import annotations

import numpy as np

from ..field import lowrank_indices
from ..linalg import augmented_basis
from .base import Integrator, StepInfo
from .blocks import factors, galerkin_step, kl_steps, truncate_cores, with_updates

__all__ = ["ParallelBUG"]


class ParallelBUG(Integrator):
    """Parallel rank-adaptive BUG (Ceruti, Kusch & Lubich, SIAM J. Sci. Comput. 2024).

    K-, L- and S̄-steps all from the old factors at t0; Ũ1 ⟂ U0 from orth([U0, K(t1)]), Ṽ1
    likewise; core [[S̄(t1), L(t1)ᴴ Ṽ1], [Ũ1ᴴ K(t1), 0]] in [U0, Ũ1], [V0, Ṽ1], truncated by the
    rule. ``theta=`` or ``truncation=`` is required. First order; error O(ε + h + ϑ/h).
    """

    name = "parallel_bug"
    method_order = 1
    rank_adaptive = True
    accepts_truncation = True
    requires_truncation = True

    def _step_impl(self, field, t0, items, h):
        t1 = t0 + h
        lr = lowrank_indices(items)
        F0 = field(t0, items)
        K1, L1, FV0, _ = kl_steps(self.substep, field, items, lr, t0, t1, F0)
        U0, S0, V0 = factors(items, lr)
        S_bar, dense = galerkin_step(self.substep, field, items, U0, V0, S0, t0, t1, F0=F0,
                                     core_f0=[u.conj().T @ fv for u, fv in zip(U0, FV0)])
        Uhat, Vhat, Shat = [], [], []
        for j in range(len(lr)):
            r = U0[j].shape[1]
            U_new = augmented_basis(U0[j], K1[j])[:, r:]
            V_new = augmented_basis(V0[j], L1[j])[:, r:]
            # at most min(m, 2r) − r new directions per side (fewer once 2r exceeds the dimension)
            core = np.zeros((r + U_new.shape[1], r + V_new.shape[1]), dtype=np.result_type(S_bar[j], K1[j], L1[j]))
            core[:r, :r] = S_bar[j]
            core[:r, r:] = L1[j].conj().T @ V_new
            core[r:, :r] = U_new.conj().T @ K1[j]
            Uhat.append(np.concatenate([U0[j], U_new], axis=1))
            Vhat.append(np.concatenate([V0[j], V_new], axis=1))
            Shat.append(core)
        truncated, discarded = truncate_cores(self.truncation, Uhat, Shat, Vhat, [u.shape[1] for u in U0])
        new = with_updates(items, lr, truncated, dense)
        return new, StepInfo.of(new, discarded)
