"""Projected explicit Euler and projected Runge–Kutta methods.

Kieri & Vandereycken, "Projection methods for dynamical low-rank approximation of
high-dimensional problems", Comput. Methods Appl. Math. 19 (2019) 73–92.

For a Butcher tableau (a, b, c), with T_r the retraction by truncated SVD (fixed rank r, or a
truncation rule) and P(Y) the tangent-space projection:

    Y_i   = T_r(Y0 + h Σ_{j<i} a_ij P(Y_j) F(t0 + c_j h, Y_j)),   c_i = Σ_j a_ij (all j)
    Y1    = T_r(Y0 + h Σ_i b_i P(Y_i) F(t0 + c_i h, Y_i))

P(Y)F = U Uᴴ F + F V Vᴴ − U Uᴴ F V Vᴴ has rank ≤ 2r and is stored as
[U, F V] [[−Uᴴ F V, I], [I, 0]] [V, Fᴴ U]ᴴ, so F enters only through F V and Fᴴ U. The sums are
retracted by one thin QR per side and an SVD of the small core. Order p of the tableau; the step
size is limited by the stiffness of F (no robustness to stiff F).
"""
from __future__ import annotations

import numpy as np

from ..field import lowrank_indices
from ..lowrank import LowRank
from ..linalg import orth_with_r, truncated_svd
from ..tableaux import tableau as get_tableau
from ..truncation import FixedRank
from .base import Integrator, StepInfo

__all__ = ["ProjectedRK", "ProjectedEuler", "tangent_projection"]


def tangent_projection(Y, value):
    """P(Y) F as a LowRank of rank 2r (Y must have orthonormal factors)."""
    A = value.right(Y.V)            # F V
    B = value.left(Y.U)             # Fᴴ U
    C = Y.U.conj().T @ A            # Uᴴ F V
    r = Y.rank
    dtype = np.result_type(A, B, C)
    core = np.zeros((2 * r, 2 * r), dtype=dtype)
    core[:r, :r] = -C
    core[:r, r:] = np.eye(r)
    core[r:, :r] = np.eye(r)
    return LowRank(np.concatenate([Y.U, A], axis=1), core, np.concatenate([Y.V, B], axis=1))


class ProjectedRK(Integrator):
    """Projected Runge–Kutta method (Kieri & Vandereycken, CMAM 2019).

    Yᵢ = T(Y0 + h Σ_{j<i} aᵢⱼ P(Yⱼ) F(t0 + cⱼh, Yⱼ)), Y1 = T(Y0 + h Σᵢ bᵢ P(Yᵢ) F(t0 + cᵢh, Yᵢ)),
    T the truncated SVD (fixed rank by default, or ``truncation``/``theta``). ``tableau``: "euler",
    "rk2", "heun", "rk3", "rk4" or an order 1–4; the order is the tableau's. No substeps: passing
    ``substep`` raises. Not robust to stiff F or small singular values.
    """

    name = "projected_rk"
    accepts_truncation = True
    uses_substep = False

    def __init__(self, tableau="rk2", *, truncation=None, theta=None, substep=None):
        super().__init__(substep=substep, truncation=truncation, theta=theta)
        try:
            self.tableau = get_tableau(tableau)
        except ValueError as err:
            raise ValueError(f"tableau: {err}") from None
        self.method_order = self.tableau.order
        self.rank_adaptive = not isinstance(self.truncation, FixedRank)

    def __repr__(self):
        return f"{type(self).__name__}({self.tableau.name!r}, truncation={self.truncation!r})"

    def _retract(self, base, increments, rank0):
        """T(base + Σ increments) by thin QR of the stacked factors and a core SVD."""
        terms = [base] + [inc for inc in increments if inc is not None]
        total = LowRank.concatenate(terms)
        QU, RU = orth_with_r(total.U)
        QV, RV = orth_with_r(total.V)
        res = truncated_svd(RU @ total.S @ RV.conj().T, self.truncation, current_rank=rank0)
        Y = LowRank(QU @ res.left, np.diag(res.sigma).astype(total.S.dtype), QV @ res.right)
        return Y, res.discarded

    def _combine(self, items, lr, coeffs, tangents, dense_derivs, h, ranks0):
        new = list(items)
        discarded = []
        for j, k in enumerate(lr):
            incs = [(h * c) * tangents[s][j] for s, c in enumerate(coeffs) if c != 0.0]
            new[k], disc = self._retract(items[k], incs, ranks0[j])
            discarded.append(disc)
        for k in range(len(items)):
            if k in lr:
                continue
            acc = items[k]
            for s, c in enumerate(coeffs):
                if c != 0.0:
                    acc = acc + (h * c) * dense_derivs[s][k]
            new[k] = acc
        return new, discarded

    def _step_impl(self, field, t0, items, h):
        tab = self.tableau
        lr = lowrank_indices(items)
        ranks0 = [items[k].rank for k in lr]
        tangents, dense_derivs = [], []
        for i in range(tab.stages):
            if i == 0:
                Yi = items
            else:
                Yi, _ = self._combine(items, lr, tab.a[i, :i], tangents, dense_derivs, h, ranks0)
            values = field(t0 + tab.c[i] * h, Yi)
            tangents.append([tangent_projection(Yi[k], values[k]) for k in lr])
            dense_derivs.append({k: values[k].dense() for k in range(len(items)) if k not in lr})
        new, discarded = self._combine(items, lr, tab.b, tangents, dense_derivs, h, ranks0)
        return new, StepInfo.of(new, discarded)


class ProjectedEuler(ProjectedRK):
    """Projected explicit Euler Y1 = T(Y0 + h P(Y0) F(t0, Y0)) (Kieri & Vandereycken, CMAM 2019).

    First order; ``substep`` raises (the method has no substeps).
    """

    name = "projected_euler"

    def __init__(self, *, truncation=None, theta=None, substep=None):
        super().__init__("euler", truncation=truncation, theta=theta, substep=substep)
