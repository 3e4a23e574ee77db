"""Two-dimensional Allen–Cahn equation as a matrix ODE (Rodgers & Venturi 2022 test case).

    u_t = ε Δu + u − u³ on the periodic square [0, 2π)²,
    X(t) ∈ R^{n×n} on the grid x_j = 2πj/n:   Ẋ = A X + X A + X − X∘X∘X,   A = ε D₂ (periodic),

u0(x, y) = (e^{−tan²x} + e^{−tan²y}) sin x sin y / (1 + e^{|csc(−x/2)|} + e^{|csc(−y/2)|}),
ε = 0.01 (Rodgers & Venturi, "Implicit step-truncation integration of nonlinear PDEs on low-rank
tensor manifolds", J. Sci. Comput. 2022; the matrix form of Carrel & Vandereycken 2023).

The field is a :class:`~dlra.fields.LinearMatrixField` with A = B = ε D₂ and N(X) = X − X∘³ (the
Hadamard cube is formed densely: O(n² r) per product). It is the gradient flow Ẋ = −∇E(X) of

    E(X) = −½⟨X, A X + X A⟩ + ¼ Σ_ij (X_ij² − 1)²,

so the exact and the projected flows decrease E (dE/dt = −‖P(Y)F‖² ≤ 0). The reference solution
is the full-rank ODE integrated by ``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-11).
"""
from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.sparse

from ..fields import LinearMatrixField
from ..lowrank import LowRank
from .base import Problem, as_dense

__all__ = ["AllenCahn"]


def _initial_value(x):
    X, Yg = np.meshgrid(x, x, indexing="ij")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        num = (np.exp(-np.tan(X) ** 2) + np.exp(-np.tan(Yg) ** 2)) * np.sin(X) * np.sin(Yg)
        den = 1 + np.exp(np.abs(1 / np.sin(-X / 2))) + np.exp(np.abs(1 / np.sin(-Yg / 2)))
        u = num / den
    return np.nan_to_num(u, nan=0.0, posinf=0.0, neginf=0.0)  # x = 0: csc → ∞, u → 0


class AllenCahn(Problem):
    """Ẋ = εD₂X + XεD₂ + X − X∘³ on an n×n periodic grid; ``Y0`` is the rank-``rank`` truncation of u0."""

    name = "allen_cahn"

    def __init__(self, n=64, rank=10, epsilon=0.01, t_span=(0.0, 10.0)):
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be in [1, n = {n}], got {rank}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.n, self.rank, self.shape, self.t_span, self.epsilon = n, rank, (n, n), tuple(t_span), epsilon
        self.x = 2 * np.pi * np.arange(n) / n
        dx = 2 * np.pi / n
        e = np.ones(n)
        D2 = scipy.sparse.diags([e[:-1], -2 * e, e[:-1]], [-1, 0, 1], format="lil")
        D2[0, n - 1] = D2[n - 1, 0] = 1.0
        self.A = (epsilon * D2 / dx ** 2).tocsr()
        self.X0 = _initial_value(self.x)
        self.Y0 = LowRank.from_dense(self.X0, rank=rank)
        self.field = LinearMatrixField(A=self.A, B=self.A, nonlinear=self.reaction)
        self._reference = None

    @staticmethod
    def reaction(t, Y):
        """N(X) = X − X∘X∘X (dense)."""
        X = as_dense(Y)
        return X - X ** 3

    def F(self, t, Y):
        return self.field(t, Y)

    def energy(self, Y):
        """E(X) = −½⟨X, AX + XA⟩ + ¼ Σ (X_ij² − 1)² (decreases along the flow)."""
        X = as_dense(Y)
        L = self.A @ X + (self.A @ X.T).T
        return float(-0.5 * np.sum(X * L) + 0.25 * np.sum((X ** 2 - 1) ** 2))

    def reference(self, t):
        if self._reference is None:
            n = self.n

            def rhs(_, x):
                X = x.reshape(n, n)
                return (self.A @ X + (self.A @ X.T).T + X - X ** 3).ravel()

            self._reference = scipy.integrate.solve_ivp(rhs, self.t_span, self.X0.ravel(), method="DOP853",
                                                        rtol=1e-11, atol=1e-13, dense_output=True)
        return self._reference.sol(t).reshape(self.shape)
