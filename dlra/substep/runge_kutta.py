"""Explicit Runge–Kutta substeps: explicit Euler with k substeps and classical RK of order 2–4."""
from __future__ import annotations

import numbers

from ..tableaux import tableau
from .base import SubstepSolver, axpy

__all__ = ["RungeKutta", "ExplicitEuler"]


class RungeKutta(SubstepSolver):
    """``substeps`` equal steps of an explicit Runge–Kutta method over [t0, t1].

    Parameters
    ----------
    method : "euler", "rk2" (explicit midpoint), "heun", "rk3" (Kutta) or "rk4" (classical), or
        an order 1–4.
    substeps : int ≥ 1
    """

    def __init__(self, method="rk4", substeps=1):
        try:
            self.tableau = tableau(method)
        except ValueError as err:
            raise ValueError(f"method: {err}") from None
        if isinstance(substeps, bool) or not isinstance(substeps, numbers.Integral) or substeps < 1:
            raise ValueError(f"substeps must be an integer >= 1, got {substeps!r}")
        self.substeps = int(substeps)
        self.order = self.tableau.order

    def __repr__(self):
        return f"RungeKutta({self.tableau.name!r}, substeps={self.substeps})"

    def integrate(self, flow, t0, t1, z0, f0=None):
        tab = self.tableau
        dt = (t1 - t0) / self.substeps
        z = list(z0)
        for k in range(self.substeps):
            t = t0 + k * dt
            stages = []
            for i in range(tab.stages):
                if i == 0 and k == 0 and f0 is not None:
                    stages.append(list(f0))
                    continue
                zi = axpy(z, [dt * a for a in tab.a[i, :i]], stages) if i else z
                stages.append(flow(t + tab.c[i] * dt, zi))
            z = axpy(z, [dt * b for b in tab.b], stages)
        return z


class ExplicitEuler(RungeKutta):
    """Explicit Euler with ``substeps`` equal substeps (one substep = one SGD step of rate h)."""

    def __init__(self, substeps=1):
        super().__init__("euler", substeps)

    def __repr__(self):
        return f"ExplicitEuler(substeps={self.substeps})"
