"""Full-rank reference: the dense ODE Ẏ = F(t, Y) with the same substep solvers.

For a tight reference use ``substep=ScipyIVP("DOP853", rtol=1e-12, atol=1e-14)``. The callback
receives dense ndarrays here (and may return any format of the contract).
"""
from __future__ import annotations

from ..flows import full_flow
from .base import Integrator

__all__ = ["FullRank"]


class FullRank(Integrator):
    name = "full"
    lowrank_state = False

    def __init__(self, substep=None):
        super().__init__(substep=substep)

    @property
    def order(self):
        return self.substep.order

    def _step_impl(self, field, t0, items, h):
        flow = full_flow(field, items)
        new = self.substep.integrate(flow, t0, t0 + h, list(items))
        self._record(new)
        return new
