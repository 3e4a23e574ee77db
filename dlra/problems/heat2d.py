"""Two-dimensional heat equation as a matrix ODE (stiff test problem).

    u_t = Δu on (0, 1)², u = 0 on the boundary;   U(t) ∈ R^{n×n} on the interior grid,
    U̇ = A U + U A,   A = tridiag(1, −2, 1)/Δx²,   Δx = 1/(n + 1),
    U(t) = e^{tA} U0 e^{tA}   (exact; computed by the eigen-decomposition of A).

The eigenvalues of A are λ_k = −4 sin²(kπΔx/2)/Δx², so the spectrum of the field reaches
2|λ_n| ≈ 8/Δx²: explicit substeps need h ≲ 2.8/(8/Δx²) while exponential substeps are exact in the
linear part at any h. The exact solution keeps the rank of U0 (F(U) = AU + UA lies in the tangent
space of the rank-r manifold at U), so a rank-r method has no modelling error: what remains is the
splitting/substep error. U0 = separable Gaussian bumps of rank ``rank``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from ..fields import LinearMatrixField
from ..lowrank import LowRank
from .base import Problem

__all__ = ["Heat2D"]


class Heat2D(Problem):
    """2-D heat equation U̇ = A U + U A on an n×n interior grid, U0 of rank ``rank``."""

    name = "heat2d"

    def __init__(self, n=63, rank=3, t_span=(0.0, 0.05)):
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be in [1, n = {n}], got {rank}")
        self.n, self.rank, self.shape, self.t_span = n, rank, (n, n), tuple(t_span)
        dx = 1.0 / (n + 1)
        e = np.ones(n)
        self.A = (scipy.sparse.diags([e[:-1], -2 * e, e[:-1]], [-1, 0, 1]) / dx ** 2).tocsr()
        self.field = LinearMatrixField(A=self.A, B=self.A)
        x = np.linspace(0, 1, n + 2)[1:-1]
        centres = np.linspace(0.25, 0.75, rank)
        P = np.stack([np.exp(-40 * (x - c) ** 2) * np.sin(np.pi * x) for c in centres], axis=1)
        Q = np.stack([np.exp(-40 * (x - 1 + c) ** 2) * np.sin(np.pi * x) for c in centres], axis=1)
        self.Y0 = LowRank(P, np.diag(2.0 ** -np.arange(rank)), Q).orthonormalize()
        k = np.arange(1, n + 1)
        self.eigenvalues = -4 * np.sin(k * np.pi * dx / 2) ** 2 / dx ** 2
        self._eigvecs = np.sqrt(2 * dx) * np.sin(np.outer(x, k) * np.pi)  # orthonormal eigenvectors

    @property
    def lambda_max(self):
        """Largest modulus of an eigenvalue of the linear operator Y ↦ AY + YA (= 2 max|λ_k|)."""
        return float(2 * np.max(np.abs(self.eigenvalues)))

    def F(self, t, Y):
        return self.field(t, Y)

    def reference(self, t):
        W, lam = self._eigvecs, self.eigenvalues
        E = (W * np.exp((t - self.t_span[0]) * lam)) @ W.T
        return E @ self.Y0.to_dense() @ E
