"""A least-squares gradient flow with a known best rank-r minimiser.

    L(W) = ½ ‖X W − B‖_F²,   ∇L(W) = Xᵀ (X W − B),   Ẇ = −∇L(W),

with X (p×m, p ≥ m) having orthonormal columns. Then L(W) = ½‖W − M‖_F² + const with M = XᵀB, the
flow is W(t) = M + e^{−t}(W0 − M), and the best rank-r minimiser over the rank-r matrices is the
truncated SVD T_r(M) (Eckart–Young). M is built with prescribed singular values (default 2⁻ʲ,
j = 0..m−1) so that T_r(M) is unique.
"""
from __future__ import annotations

import numpy as np

from ..field import gradient_flow
from ..lowrank import LowRank, random_orthonormal
from .base import Problem, as_dense

__all__ = ["LeastSquares"]


class LeastSquares(Problem):
    name = "least_squares"

    def __init__(self, m=60, n=40, p=80, rank=5, spectrum=None, init_scale=1.0, seed=0, t_span=(0.0, 5.0)):
        if p < m:
            raise ValueError(f"p must be >= m for orthonormal columns, got p = {p}, m = {m}")
        k = min(m, n)
        if not 1 <= rank <= k:
            raise ValueError(f"rank must be in [1, min(m, n) = {k}], got {rank}")
        rng = np.random.default_rng(seed)
        self.shape, self.rank, self.t_span = (m, n), rank, tuple(t_span)
        self.X = random_orthonormal(p, m, rng=rng)
        sigma = 2.0 ** -np.arange(k) if spectrum is None else np.asarray(spectrum, float)
        self.M = LowRank.random(m, n, sigma, rng=rng)           # M = XᵀB
        B_perp = rng.standard_normal((p, n))
        B_perp -= self.X @ (self.X.T @ B_perp)                   # part of B outside range(X)
        self.B = self.X @ self.M.to_dense() + 0.1 * B_perp
        self.Y0 = LowRank.random(m, n, init_scale * np.linspace(1.0, 0.5, rank), rng=rng)
        self.F = gradient_flow(self.grad)

    def loss(self, W):
        return 0.5 * float(np.linalg.norm(self.X @ as_dense(W) - self.B) ** 2)

    def grad(self, W):
        """∇L(W) = W − M (X has orthonormal columns), as a LowRank of rank r + rank(M) or densely."""
        if isinstance(W, LowRank):
            return W - self.M
        return np.asarray(W) - self.M.to_dense()

    def minimizer(self, r=None):
        """Best rank-r minimiser T_r(XᵀB)."""
        return self.M.truncate(rank=r or self.rank)

    def reference(self, t):
        """W(t) = M + e^{−(t−t0)}(W0 − M) (the full-rank gradient flow from Y0)."""
        M = self.M.to_dense()
        return M + np.exp(-(t - self.t_span[0])) * (self.Y0.to_dense() - M)
