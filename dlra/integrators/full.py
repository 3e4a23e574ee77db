"""Full-rank reference: the dense ODE Ẏ = F(t, Y) with the same substep solvers.

For a tight reference use ``substep=ScipyIVP("DOP853", rtol=1e-12, atol=1e-14)``. The callback
receives dense ndarrays here (and may return any format of the contract).
"""
from __future__ import annotations

from ..flows import full_flow
from .base import Integrator, StepInfo

__all__ = ["FullRank"]


class FullRank(Integrator):
    """Full-rank reference: Ẏ = F(t, Y) on dense matrices with the substep solver over each step.

    Its order is the substep solver's. Fixed "rank" (dense): ``truncation``/``theta`` raise.
    """

    name = "full"
    method_order = float("inf")
    lowrank_state = False

    def __init__(self, *, substep=None):
        super().__init__(substep=substep)

    def _step_impl(self, field, t0, items, h):
        flow = full_flow(field, items)
        new = self.substep.integrate(flow, t0, t0 + h, list(items))
        return new, StepInfo.of(new)
