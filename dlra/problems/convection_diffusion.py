"""Differential Lyapunov equation of a convection–diffusion operator (non-symmetric A).

    Ẋ = A X + X Aᴴ + C,    X(t) = e^{tA} (X0 + Z) e^{tAᴴ} − Z,   A Z + Z Aᴴ = C,

with A = ν D₂ − a D₁ the centred finite-difference discretisation of ν u'' − a u' on (0, 1) with
homogeneous Dirichlet conditions (non-symmetric when a ≠ 0; its eigenvalues have negative real
parts), C = c cᴴ of low rank and X0 = U S Uᴴ of low rank. This is the Lyapunov equation of
balanced truncation for the convection–diffusion system ẋ = A x + c u (Benner, Mena &
Saak, "On the parameter selection problem in the Newton-ADI iteration for large-scale Riccati
equations", ETNA 29, 2008). The field is a :class:`~dlra.fields.LinearMatrixField` with B = A; the
closed form needs dense n×n matrices (n ≲ 2000).

Unlike the symmetric heat case, A ≠ Aᴴ: an integrator (or substep) that confuses A with Aᵀ/Aᴴ in
the L-step or in the Sylvester solves of the exponential substeps is wrong here.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse

from ..fields import LinearMatrixField
from ..lowrank import LowRank
from .base import Problem, cached

__all__ = ["ConvectionDiffusionLyapunov", "convection_diffusion_matrix"]


def convection_diffusion_matrix(n, nu, a):
    """A = ν D₂ − a D₁: centred differences of ν u'' − a u' on n interior points of (0, 1), Dirichlet."""
    dx = 1.0 / (n + 1)
    e = np.ones(n)
    D2 = scipy.sparse.diags([e[:-1], -2 * e, e[:-1]], [-1, 0, 1]) / dx ** 2
    D1 = scipy.sparse.diags([-e[:-1], e[:-1]], [-1, 1]) / (2 * dx)
    return (nu * D2 - a * D1).tocsr()


class ConvectionDiffusionLyapunov(Problem):
    """Ẋ = A X + X Aᴴ + C with A = ν D₂ − a D₁ (grid of n interior points)."""

    name = "convection_diffusion"

    def __init__(self, n=100, rank=8, nu=1.0, a=20.0, seed=0, t_span=(0.0, 0.1)):
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be in [1, n = {n}], got {rank}")
        if nu <= 0:
            raise ValueError(f"nu must be positive, got {nu}")
        rng = np.random.default_rng(seed)
        self.n, self.rank, self.shape, self.t_span = n, rank, (n, n), tuple(t_span)
        self.A = convection_diffusion_matrix(n, nu, a)
        x = np.linspace(0, 1, n + 2)[1:-1]
        c = np.exp(-50 * (x - 0.3) ** 2)[:, None]
        c /= np.linalg.norm(c)
        self.C = LowRank(c, np.eye(1), c)
        X0 = LowRank.random(n, rank, 2.0 ** -np.arange(1.0, rank + 1), rng=rng)
        self.Y0 = LowRank(X0.U, X0.S, X0.U)
        self.field = LinearMatrixField(A=self.A, B=self.A, C=self.C)
        self._dense = None
        self._expm_cache = {}

    def F(self, t, Y):
        """F(t, Y) = A Y + Y Aᴴ + C (the structured field called as a callback)."""
        return self.field(t, Y)

    def _closed_form(self):
        if self._dense is None:
            if self.n > 3000:
                raise ValueError(f"the closed form needs dense n×n matrices; n = {self.n} is too large")
            A = self.A.toarray()
            self._dense = (A, scipy.linalg.solve_sylvester(A, A.conj().T, self.C.to_dense()))
        return self._dense

    def reference(self, t):
        """X(t) = e^{(t−t0)A} (X0 + Z) e^{(t−t0)Aᴴ} − Z (exact)."""
        A, Z = self._closed_form()
        E = cached(self._expm_cache, float(t) - self.t_span[0], lambda s: scipy.linalg.expm(s * A), maxsize=64)
        return E @ (self.Y0.to_dense() + Z) @ E.conj().T - Z
