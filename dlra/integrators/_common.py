"""Pieces shared by the BUG family: the K- and L-steps from the old factors and the truncation."""
from __future__ import annotations

import numpy as np

from ..flows import k_flow, l_flow, s_flow
from ..linalg import truncated_svd
from ..lowrank import LowRank
from ..timing import timed

__all__ = ["factors", "kl_steps", "augmented_start", "galerkin_step", "truncate_cores", "with_updates"]


def factors(items, indices):
    """Lists U, S, V of the low-rank items at ``indices``."""
    return ([items[k].U for k in indices], [items[k].S for k in indices], [items[k].V for k in indices])


def kl_steps(substep, field, items, indices, t0, t1, F0):
    """K- and L-steps over [t0, t1] from the old factors, both started from F0 = F(t0, Y0).

    K(t0) = U0 S0, L(t0) = V0 S0ᴴ. The first stage of both substeps is taken from F0, so with one
    explicit Euler substep they cost no extra evaluation (the K- and L-passes share one).
    Returns K(t1), L(t1) and the initial derivatives F0 V0, F0ᴴ U0 (reused by the S-steps).
    """
    U, S, V = factors(items, indices)
    kf = k_flow(field, items, V)
    lf = l_flow(field, items, U)
    with timed("products"):
        K0 = [u @ s for u, s in zip(U, S)]
        L0 = [v @ s.conj().T for v, s in zip(V, S)]
    FV0, FhU0 = kf.initial(F0, K0), lf.initial(F0, L0)
    K1 = substep.integrate(kf, t0, t1, K0, f0=FV0)
    L1 = substep.integrate(lf, t0, t1, L0, f0=FhU0)
    return K1, L1, FV0, FhU0


def augmented_start(U0, S0, V0, Uhat, Vhat, F0_value, FV0, FhU0):
    """Start of the S-step in augmented bases Û = [U0, Qu], V̂ = [V0, Qv] (Qu ⟂ U0, Qv ⟂ V0).

    Ŝ0 = Ûᴴ U0 S0 V0ᴴ V̂ = [[S0, 0], [0, 0]] (exactly Y0), and its derivative Ûᴴ F0 V̂ from the K- and
    L-steps' F0 V0 and F0ᴴ U0: [[U0ᴴ F0V0, (F0ᴴU0)ᴴ Qv], [Quᴴ F0V0, Quᴴ F0 Qv]] — only F0 Qv is new,
    half the products of forming Ûᴴ F0 V̂ afresh.
    """
    r_u, r_v = U0.shape[1], V0.shape[1]
    Qu, Qv = Uhat[:, r_u:], Vhat[:, r_v:]
    FQv = F0_value.right(Qv)
    with timed("products"):
        S_start = np.zeros((Uhat.shape[1], Vhat.shape[1]), dtype=np.result_type(S0, Uhat, Vhat))
        S_start[:r_u, :r_v] = S0
        S_dot = np.empty_like(S_start, dtype=np.result_type(S_start, FV0, FhU0))
        S_dot[:r_u, :r_v] = U0.conj().T @ FV0
        S_dot[:r_u, r_v:] = FhU0.conj().T @ Qv
        S_dot[r_u:, :r_v] = Qu.conj().T @ FV0
        S_dot[r_u:, r_v:] = Qu.conj().T @ FQv
    return S_start, S_dot


def truncate_cores(rule, Uhat, Shat, Vhat, current_ranks):
    """Truncated SVD of each core Ŝ = P Σ Qᴴ; new factors U = Û P_r, S = Σ_r, V = V̂ Q_r.

    Returns (list of LowRank, list of discarded singular values).
    """
    out, discarded = [], []
    for Uh, Sh, Vh, r0 in zip(Uhat, Shat, Vhat, current_ranks):
        res = truncated_svd(Sh, rule, current_rank=r0)
        with timed("products"):
            out.append(LowRank(Uh @ res.left, np.diag(res.sigma).astype(Sh.dtype), Vh @ res.right))
        discarded.append(res.discarded)
    return out, discarded


def galerkin_step(substep, field, items, U, V, S_start, t0, t1, F0=None, core_f0=None):
    """Forward S-step Ṡ = Uᴴ F(t, U S Vᴴ) V over [t0, t1] from ``S_start``, with the dense items.

    ``F0`` (values of F at t0) may be passed only when U S_start Vᴴ equals the state's matrices
    (then the first stage reuses it); ``core_f0`` are the cores' initial derivatives Uᴴ F0 V when
    already known. Returns (list of S(t1), {index: new dense item}).
    """
    sf = s_flow(field, items, U, V)
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


def with_updates(items, lr, lowrank, dense):
    """A copy of the state with the low-rank items at ``lr`` and the dense items replaced."""
    new = list(items)
    for k, value in zip(lr, lowrank):
        new[k] = value
    for k, value in dense.items():
        new[k] = value
    return new
