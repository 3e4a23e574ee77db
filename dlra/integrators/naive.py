"""Naive factor ODEs of dynamical low-rank approximation (for comparison only).

Koch & Lubich, "Dynamical low-rank approximation", SIAM J. Matrix Anal. Appl. 29 (2007) 434–454:

    U̇ = (I − UUᴴ) F V S⁻¹,   V̇ = (I − VVᴴ) Fᴴ U S⁻ᴴ,   Ṡ = Uᴴ F V.

S⁻¹ makes the equations stiff when S has small singular values: explicit substeps need
h ≲ σ_min, which is the failure the robust integrators (KSL, BUG) avoid. Kept to show it.
"""
from __future__ import annotations

from ..field import lowrank_indices
from ..flows import naive_flow
from ..lowrank import LowRank
from .base import Integrator, StepInfo

__all__ = ["NaiveFactorODE"]


class NaiveFactorODE(Integrator):
    """Koch–Lubich factor ODEs U̇ = (I − UUᴴ) F V S⁻¹, V̇ = (I − VVᴴ) Fᴴ U S⁻ᴴ, Ṡ = Uᴴ F V
    integrated by the substep solver over each step (SIAM J. Matrix Anal. Appl. 2007).

    Its order is the substep solver's, but only for h below σ_min(S): kept to show that failure.
    """

    name = "naive"
    method_order = float("inf")
    orthonormal_factors = False  # the method as published: U, V drift with the substeps

    def __init__(self, *, substep=None):
        super().__init__(substep=substep)

    def _step_impl(self, field, t0, items, h):
        lr = lowrank_indices(items)
        flow = naive_flow(field, items)
        z0 = []
        for k in lr:
            z0.extend([items[k].U, items[k].S, items[k].V])
        z0.extend(items[k] for k in flow.dense)
        z1 = self.substep.integrate(flow, t0, t0 + h, z0)
        new = list(items)
        for j, k in enumerate(lr):
            new[k] = LowRank(z1[3 * j], z1[3 * j + 1], z1[3 * j + 2])
        for j, k in enumerate(flow.dense):
            new[k] = z1[3 * len(lr) + j]
        return new, StepInfo.of(new)
