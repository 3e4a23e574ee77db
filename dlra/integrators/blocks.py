"""Building blocks of the low-rank integrators: write a new method in a few lines.

Every method of :mod:`dlra.integrators` is assembled from these pieces; they are public so that a
user can write a new integrator the same way. A method subclasses
:class:`~dlra.integrators.Integrator` and implements ``_step_impl(field, t0, items, h)``, which
receives the vector field wrapped once (a :class:`~dlra.field.VectorField`: ``field(t, items)``
evaluates F for every matrix and returns one :class:`~dlra.field.FieldValue` per item, with the
products F V, Fᴴ U, Uᴴ F V) and the state as a list of :class:`~dlra.lowrank.LowRank` (with
orthonormal factors) and dense arrays, and returns ``(new_items, StepInfo.of(new_items,
discarded))``. The first-order BUG integrator of Ceruti & Lubich (BIT 2022) in full::

    from dlra.field import lowrank_indices
    from dlra.integrators import Integrator
    from dlra.integrators.blocks import StepInfo, factors, galerkin_step, kl_steps, with_updates
    from dlra.linalg import orth
    from dlra.lowrank import LowRank

    class MyBUG(Integrator):
        name, method_order = "my_bug", 1

        def _step_impl(self, field, t0, items, h):
            lr = lowrank_indices(items)
            F0 = field(t0, items)                                  # one call for all matrices
            K1, L1, _, _ = kl_steps(self.substep, field, items, lr, t0, t0 + h, F0)
            U0, S0, V0 = factors(items, lr)
            U1, V1 = [orth(K) for K in K1], [orth(L) for L in L1]
            S_start = [(u1.conj().T @ u0) @ s0 @ (v0.conj().T @ v1)
                       for u0, s0, v0, u1, v1 in zip(U0, S0, V0, U1, V1)]
            S1, dense = galerkin_step(self.substep, field, items, U1, V1, S_start, t0, t0 + h)
            new = with_updates(items, lr, [LowRank(*f) for f in zip(U1, S1, V1)], dense)
            return new, StepInfo.of(new)

The substep flows (K̇ = F(t, K V0ᴴ) V0, L̇ = F(t, U0 Lᴴ)ᴴ U0, Ṡ = ±Uᴴ F(t, U S Vᴴ) V) are the
:class:`~dlra.flows.Flow` objects of :mod:`dlra.flows`, re-exported here; every substep solver
integrates any of them. Stateful optimisers keep their state per flow ``key``: give two substeps
of one step different keys (as the midpoint BUG does for its two S-steps).
"""
from __future__ import annotations

import numpy as np

from ..field import lowrank_indices
from ..flows import Flow, full_flow, k_flow, l_flow, naive_flow, s_flow
from ..lineage import record_complement, record_product
from ..linalg import augmented_basis, times_core, truncated_svd
from ..lowrank import LowRank
from ..timing import timed
from .base import StepInfo

__all__ = ["StepInfo", "Flow", "k_flow", "l_flow", "s_flow", "naive_flow", "full_flow", "factors",
           "kl_starts", "kl_steps", "augmented_start", "augmented_galerkin", "galerkin_step", "truncate_cores",
           "with_updates"]


def factors(items, indices):
    """Lists U, S, V of the low-rank items at ``indices``."""
    return ([items[k].U for k in indices], [items[k].S for k in indices], [items[k].V for k in indices])


def kl_starts(items, indices):
    """The starts K(t0) = U0 S0 and L(t0) = V0 S0ᴴ of the K- and L-steps (lists over ``indices``)."""
    U, S, V = factors(items, indices)
    with timed("products"):
        return ([times_core(u, s) for u, s in zip(U, S)],
                [times_core(v, s.conj().T) for v, s in zip(V, S)])


def kl_steps(substep, field, items, indices, t0, t1, F0, keys=("K", "L"), starts=None):
    """K- and L-steps over [t0, t1] from the old factors, both started from F0 = F(t0, Y0).

    K(t0) = U0 S0, L(t0) = V0 S0ᴴ (``starts``: these two lists from :func:`kl_starts`, when the
    caller needs them too). The first stage of both substeps is taken from F0, so with one
    explicit Euler substep they cost no extra evaluation (the K- and L-passes share one).
    ``keys`` name the two substeps for stateful optimisers. Returns K(t1), L(t1) and the initial
    derivatives F0 V0, F0ᴴ U0 (reused by the S-steps).
    """
    U, S, V = factors(items, indices)
    kf = k_flow(field, items, V, key=keys[0])
    lf = l_flow(field, items, U, key=keys[1])
    K0, L0 = kl_starts(items, indices) if starts is None else starts
    FV0, FhU0 = kf.initial(F0, K0), lf.initial(F0, L0)
    K1 = substep.integrate(kf, t0, t1, K0, f0=FV0)
    L1 = substep.integrate(lf, t0, t1, L0, f0=FhU0)
    return K1, L1, FV0, FhU0


def augmented_start(U0, S0, V0, Uhat, Vhat, F0_value, FV0):
    """Start of the S-step in augmented bases Û = [U0, Qu], V̂ = [V0, Qv] (Qu ⟂ U0, Qv ⟂ V0).

    Ŝ0 = Ûᴴ U0 S0 V0ᴴ V̂ = [[S0, 0], [0, 0]] (exactly Y0), and its derivative Ûᴴ F0 V̂ =
    Ûᴴ [F0 V0, F0 Qv] from the K-step's F0 V0: only F0 Qv is new, and the 2r × 2r block comes from
    one product (a single call instead of one per block: the four r × r blocks of the DLRT cores
    cost more in call overhead than in arithmetic).
    """
    r_u, r_v = U0.shape[1], V0.shape[1]
    Qv = Vhat[:, r_v:]
    FQv = F0_value.right(Qv)
    with timed("products"):
        S_start = np.zeros((Uhat.shape[1], Vhat.shape[1]), dtype=np.result_type(S0, Uhat, Vhat))
        S_start[:r_u, :r_v] = S0
        S_dot = Uhat.conj().T @ np.concatenate([FV0, FQv], axis=1)
    return S_start, S_dot


def truncate_cores(rule, Uhat, Shat, Vhat, current_ranks):
    """Truncated SVD of each core Ŝ = P Σ Qᴴ; new factors U = Û P_r, S = Σ_r, V = V̂ Q_r.

    The relations U = Û P_r, V = V̂ Q_r are recorded in :mod:`dlra.lineage` (optimisers rotate
    their state with them), and for a square Û (V̂) also the complement Û P_⊥ of U (V̂ Q_⊥ of V),
    which the next step's augmented basis uses when it spans the whole space again. Returns (list
    of LowRank, list of discarded singular values).
    """
    out, discarded = [], []
    for Uh, Sh, Vh, r0 in zip(Uhat, Shat, Vhat, current_ranks):
        res = truncated_svd(Sh, rule, current_rank=r0)
        with timed("products"):
            U1, V1 = Uh @ res.left, Vh @ res.right
        record_product(U1, Uh, res.left)
        record_product(V1, Vh, res.right)
        record_complement(U1, Uh, res.left_rest)
        record_complement(V1, Vh, res.right_rest)
        out.append(LowRank(U1, np.diag(res.sigma).astype(Sh.dtype, copy=False), V1))
        discarded.append(res.discarded)
    return out, discarded


def galerkin_step(substep, field, items, U, V, S_start, t0, t1, F0=None, core_f0=None, key="S"):
    """Forward S-step Ṡ = Uᴴ F(t, U S Vᴴ) V over [t0, t1] from ``S_start``, with the dense items.

    ``F0`` (values of F at t0) may be passed only when U S_start Vᴴ equals the state's matrices
    (then the first stage reuses it); ``core_f0`` are the cores' initial derivatives Uᴴ F0 V when
    already known; ``key`` names the substep for stateful optimisers. Returns (list of S(t1),
    {index: new dense item}).
    """
    sf = s_flow(field, items, U, V, key=key)
    z0 = list(S_start) + [items[k] for k in sf.dense]
    if F0 is None:
        f0 = None
    elif core_f0 is None:
        f0 = sf.initial(F0, z0)
    else:
        f0 = list(core_f0) + [F0[k].dense() for k in sf.dense]
    z1 = substep.integrate(sf, t0, t1, z0, f0=f0)
    n = len(U)
    return z1[:n], dict(zip(sf.dense, z1[n:]))


def augmented_galerkin(substep, field, items, t0, h, keys=("K", "L", "S")):
    """K- and L-steps, augmented bases and the S-step of the rank-adaptive BUG (Ceruti–Kusch–Lubich 2022).

    Û = [U0, orth((I − U0U0ᴴ) K(t1))], V̂ likewise from L(t1); Ṡ = Ûᴴ F(t, Û S V̂ᴴ) V̂ from
    Ŝ0 = Ûᴴ U0 S0 V0ᴴ V̂ (= Y0 exactly, so the S-step reuses F(t0, Y0)). No truncation.
    Returns (lr, Û, Ŝ(t1), V̂, new dense items, F(t0, Y0)); ``keys`` name the three substeps.
    """
    t1 = t0 + h
    lr = lowrank_indices(items)
    F0 = field(t0, items)
    K0, L0 = kl_starts(items, lr)
    K1, L1, FV0, _ = kl_steps(substep, field, items, lr, t0, t1, F0, keys=keys[:2], starts=(K0, L0))
    U0, S0, V0 = factors(items, lr)
    # K(t0) = U0 S0 and L(t0) = V0 S0ᴴ are in range U0, range V0: only the increments are projected
    Uhat = [augmented_basis(u0, K, K0=k0) for K, u0, k0 in zip(K1, U0, K0)]
    Vhat = [augmented_basis(v0, L, K0=l0) for L, v0, l0 in zip(L1, V0, L0)]
    starts = [augmented_start(U0[j], S0[j], V0[j], Uhat[j], Vhat[j], F0[k], FV0[j])
              for j, k in enumerate(lr)]
    S1, dense = galerkin_step(substep, field, items, Uhat, Vhat, [s for s, _ in starts], t0, t1,
                              F0=F0, core_f0=[d for _, d in starts], key=keys[2])
    return lr, Uhat, S1, Vhat, dense, F0


def with_updates(items, lr, lowrank, dense):
    """A copy of the state with the low-rank items at ``lr`` and the dense items replaced."""
    new = list(items)
    for k, value in zip(lr, lowrank):
        new[k] = value
    for k, value in dense.items():
        new[k] = value
    return new
