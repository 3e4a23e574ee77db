"""Pieces shared by the BUG family: the K- and L-steps from the old factors and the truncation."""
from __future__ import annotations

import numpy as np

from ..flows import k_flow, l_flow, s_flow
from ..linalg import truncated_svd
from ..lowrank import LowRank

__all__ = ["factors", "kl_steps", "galerkin_step", "truncate_cores", "with_updates"]


def factors(items, indices):
    """Lists U, S, V of the low-rank items at ``indices``."""
    return ([items[k].U for k in indices], [items[k].S for k in indices], [items[k].V for k in indices])


def kl_steps(substep, field, items, indices, t0, t1, F0):
    """K- and L-steps over [t0, t1] from the old factors, both started from F0 = F(t0, Y0).

    K(t0) = U0 S0, L(t0) = V0 S0ᴴ. The first stage of both substeps is taken from F0, so with one
    explicit Euler substep they cost no extra evaluation (the K- and L-passes share one).
    """
    U, S, V = factors(items, indices)
    kf = k_flow(field, items, V)
    lf = l_flow(field, items, U)
    K0 = [u @ s for u, s in zip(U, S)]
    L0 = [v @ s.conj().T for v, s in zip(V, S)]
    K1 = substep.integrate(kf, t0, t1, K0, f0=kf.initial(F0, K0))
    L1 = substep.integrate(lf, t0, t1, L0, f0=lf.initial(F0, L0))
    return K1, L1


def truncate_cores(rule, Uhat, Shat, Vhat, current_ranks):
    """Truncated SVD of each core Ŝ = P Σ Qᴴ; new factors U = Û P_r, S = Σ_r, V = V̂ Q_r.

    Returns (list of LowRank, list of discarded singular values).
    """
    out, discarded = [], []
    for Uh, Sh, Vh, r0 in zip(Uhat, Shat, Vhat, current_ranks):
        res = truncated_svd(Sh, rule, current_rank=r0)
        out.append(LowRank(Uh @ res.left, np.diag(res.sigma).astype(Sh.dtype), Vh @ res.right))
        discarded.append(res.discarded)
    return out, discarded


def galerkin_step(substep, field, items, U, V, S_start, t0, t1, F0=None):
    """Forward S-step Ṡ = Uᴴ F(t, U S Vᴴ) V over [t0, t1] from ``S_start``, with the dense items.

    ``F0`` (values of F at t0) may be passed only when U S_start Vᴴ equals the state's matrices
    (then the first stage reuses it). Returns (list of S(t1), {index: new dense item}).
    """
    sf = s_flow(field, items, U, V)
    z0 = list(S_start) + [items[k] for k in sf.dense]
    z1 = substep.integrate(sf, t0, t1, z0, f0=None if F0 is None else sf.initial(F0, z0))
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
