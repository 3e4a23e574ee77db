"""A nonlinear matrix ODE whose solution keeps its rank: no modelling error (ε = 0).

    Ẏ = (1 + t)(A Y + Y B) − Y Yᵀ Y,    Y(0) = Y0 of rank r.

For Y = U S Vᵀ every term lies in the tangent space T_Y M_r (A Y = (A U S) Vᵀ, Y B = U (S Vᵀ B),
Y Yᵀ Y = U (S Sᵀ S) Vᵀ), so P(Y)F(t, Y) = F(t, Y): the exact solution stays of rank r and equals the
DLRA solution. Errors of the integrators against it show their orders with no plateau from a
normal component (the plateau is round-off). The explicit time dependence checks stage times.
The reference is ``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-13) on the dense equation.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ..lowrank import LowRank
from .base import Problem, as_dense, cached

__all__ = ["RankPreservingCubic"]


class RankPreservingCubic(Problem):
    name = "rank_preserving_cubic"

    def __init__(self, n=30, spectrum=(1.0, 0.5, 0.1, 0.01), scale=0.5, seed=1, t_span=(0.0, 1.0)):
        rng = np.random.default_rng(seed)
        spectrum = np.asarray(spectrum, dtype=float)
        if spectrum.size > n:
            raise ValueError(f"len(spectrum) = {spectrum.size} exceeds n = {n}")
        self.n, self.rank, self.shape, self.t_span = n, spectrum.size, (n, n), tuple(t_span)
        self.A = scale * rng.standard_normal((n, n)) / np.sqrt(n)
        self.B = scale * rng.standard_normal((n, n)) / np.sqrt(n)
        self.Y0 = LowRank.random(n, n, spectrum, rng=rng)
        self._reference_cache = {}

    def F(self, t, Y):
        """F(t, Y) as a dense array (Y is densified: n is small)."""
        Yd = as_dense(Y)
        return (1 + t) * (self.A @ Yd + Yd @ self.B) - Yd @ (Yd.T @ Yd)

    def _solve_reference(self, t):
        n = self.n
        sol = solve_ivp(lambda s, y: self.F(s, y.reshape(n, n)).ravel(), (self.t_span[0], t),
                        self.Y0.to_dense().ravel(), method="DOP853", rtol=1e-13, atol=1e-15)
        return sol.y[:, -1].reshape(n, n)

    def reference(self, t):
        if t == self.t_span[0]:
            return self.Y0.to_dense()
        return cached(self._reference_cache, float(t), self._solve_reference)
