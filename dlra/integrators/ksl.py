"""Projector-splitting integrator (KSL), Lie–Trotter and Strang.

Lubich & Oseledets, "A projector-splitting integrator for dynamical low-rank approximation",
BIT Numer. Math. 54 (2014) 171–188.

Lie–Trotter step from Y0 = U0 S0 V0ᴴ (each substep over the whole [t0, t1]):

1. K-step  K̇ = F(t, K V0ᴴ) V0,            K(t0) = U0 S0;   K(t1) = U1 Ŝ1 (thin QR).
2. S-step  Ṡ = −U1ᴴ F(t, U1 S V0ᴴ) V0,     S(t0) = Ŝ1;      S̃0 = S(t1)   (note the minus sign:
   it integrates the subtracted term of P = P_K − P_KL + P_L, i.e. "backward in time").
3. L-step  L̇ = F(t, U1 Lᴴ)ᴴ U1,            L(t0) = V0 S̃0ᴴ;  L(t1) = V1 S1ᴴ (thin QR).

Strang: K and S over [t0, t½], one L-step over the whole [t0, t1], then S and K over [t½, t1]
(K½ S½ L_h S½ K½: the two half L-steps of "K-S-L then L-S-K" merged into one; second order).
Exact when A(t) has rank r (Thm. 4.1 of the paper) and robust to small singular values.
Dense items of the state are integrated in the K-steps (both K-steps for Strang, h/2 each).
"""
from __future__ import annotations

from ..field import lowrank_indices
from ..flows import k_flow, l_flow, s_flow
from ..linalg import orth_with_r
from ..lowrank import LowRank
from .base import Integrator, StepInfo

__all__ = ["ProjectorSplitting"]


class ProjectorSplitting(Integrator):
    """KSL projector splitting (Lubich & Oseledets, BIT 2014), fixed rank.

    K̇ = F(t, K V0ᴴ) V0 → K(t1) = U1 Ŝ1; backward Ṡ = −U1ᴴ F(t, U1 S V0ᴴ) V0 from Ŝ1;
    L̇ = F(t, U1 Lᴴ)ᴴ U1 from V0 S̃0ᴴ → L(t1) = V1 S1ᴴ. ``scheme="lie"`` (order 1) or ``"strang"``
    (K½ S½ L_h S½ K½, order 2 with a substep solver of order ≥ 2). Exact for F = Ȧ with A(t) of
    rank r, robust to small singular values.
    """

    name = "ksl"

    def __init__(self, *, substep=None, scheme="lie"):
        super().__init__(substep=substep)
        if scheme not in ("lie", "strang"):
            raise ValueError(f"scheme must be 'lie' or 'strang', got {scheme!r}")
        self.scheme = scheme
        self.method_order = 1 if scheme == "lie" else 2

    def __repr__(self):
        return f"ProjectorSplitting(scheme={self.scheme!r}, substep={self.substep!r})"

    # each sub-step updates (U, S, V) lists and the dense items in place of `items`
    def _k_then_s(self, field, items, lr, t0, t1, move_dense):
        U = [items[k].U for k in lr]
        S = [items[k].S for k in lr]
        V = [items[k].V for k in lr]
        kf = k_flow(field, items, V, integrate_dense=move_dense)
        z1 = self.substep.integrate(kf, t0, t1, [u @ s for u, s in zip(U, S)] + [items[k] for k in kf.dense])
        items = list(items)
        for j, k in enumerate(kf.dense):
            items[k] = z1[len(lr) + j]
        QR = [orth_with_r(K) for K in z1[:len(lr)]]
        U1 = [q for q, _ in QR]
        sf = s_flow(field, items, U1, V, backward=True)
        S_tilde = self.substep.integrate(sf, t0, t1, [r for _, r in QR])
        for j, k in enumerate(lr):
            items[k] = LowRank(U1[j], S_tilde[j], V[j])
        return items

    def _l_step(self, field, items, lr, t0, t1, backward_s_after=False):
        """L-step with U fixed; with ``backward_s_after`` the backward S-step in (U, V1) follows
        over [t½, t1] where t½ = (t0 + t1)/2 (the second half of the Strang step)."""
        U = [items[k].U for k in lr]
        lf = l_flow(field, items, U)
        L1 = self.substep.integrate(lf, t0, t1, [items[k].V @ items[k].S.conj().T for k in lr])
        QR = [orth_with_r(L) for L in L1]
        V1 = [q for q, _ in QR]
        S1 = [r.conj().T for _, r in QR]
        items = list(items)
        if backward_s_after:
            sf = s_flow(field, items, U, V1, backward=True, key="S_backward_2")
            S1 = self.substep.integrate(sf, 0.5 * (t0 + t1), t1, S1)
        for j, k in enumerate(lr):
            items[k] = LowRank(U[j], S1[j], V1[j])
        return items

    def _k_step(self, field, items, lr, t0, t1, move_dense):
        """The closing K-step of the Strang step (its own optimiser key, "K_2")."""
        V = [items[k].V for k in lr]
        kf = k_flow(field, items, V, integrate_dense=move_dense, key="K_2")
        z1 = self.substep.integrate(kf, t0, t1, [items[k].U @ items[k].S for k in lr]
                                    + [items[k] for k in kf.dense])
        items = list(items)
        for j, k in enumerate(lr):
            U1, R = orth_with_r(z1[j])
            items[k] = LowRank(U1, R, V[j])
        for j, k in enumerate(kf.dense):
            items[k] = z1[len(lr) + j]
        return items

    def _step_impl(self, field, t0, items, h):
        lr = lowrank_indices(items)
        if self.scheme == "lie":
            t1 = t0 + h
            items = self._k_then_s(field, items, lr, t0, t1, move_dense=True)
            items = self._l_step(field, items, lr, t0, t1)
        else:  # K½ S½ L_h S½ K½
            tm, t1 = t0 + 0.5 * h, t0 + h
            items = self._k_then_s(field, items, lr, t0, tm, move_dense=True)
            items = self._l_step(field, items, lr, t0, t1, backward_s_after=True)
            items = self._k_step(field, items, lr, tm, t1, move_dense=True)
        return items, StepInfo.of(items)
