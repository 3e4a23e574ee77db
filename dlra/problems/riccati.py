"""Differential Riccati equation of linear-quadratic control, with an exact reference.

    Ẋ = Aᵀ X + X A + Cᵀ C − X B Bᵀ X,    X(0) = X0 = Z0 Z0ᵀ (low rank),

with A = ν D₂ − a D₁ the convection–diffusion matrix of
:class:`~dlra.problems.ConvectionDiffusionLyapunov` (non-symmetric), B (n×p) and C (q×n) smooth
input/output profiles (Mena, Ostermann, Pfurtscheller & Piazzola, "Numerical low-rank approximation
of matrix differential equations", J. Comput. Appl. Math. 340, 2018, §5). As a
:class:`~dlra.fields.LinearMatrixField`: left operator Aᵀ, right operator B_field = Aᵀ (so X B_fieldᴴ
= X A), source CᵀC (rank q) and N(X) = −X B Bᵀ X, which is of rank ≤ r for X of rank r.

Reference (Radon's lemma): X = Q P⁻¹ with d/dt [P; Q] = [[−A, BBᵀ], [CᵀC, Aᵀ]] [P; Q], so over a
step δ, [P; Q] = e^{δH} [I; X(t)] and X(t + δ) = Q P⁻¹; steps with δ‖H‖ ≤ 2 keep it accurate to
round-off. As t → ∞, X(t) tends to the stabilising solution of the algebraic Riccati equation.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ..fields import LinearMatrixField
from ..lowrank import LowRank
from .base import Problem, cached
from .convection_diffusion import convection_diffusion_matrix

__all__ = ["Riccati"]


class Riccati(Problem):
    name = "riccati"

    def __init__(self, n=60, rank=6, nu=0.05, a=1.0, t_span=(0.0, 0.5)):
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be in [1, n = {n}], got {rank}")
        self.n, self.rank, self.shape, self.t_span = n, rank, (n, n), tuple(t_span)
        self.A = convection_diffusion_matrix(n, nu, a)
        x = np.linspace(0, 1, n + 2)[1:-1]
        self.B = np.stack([np.exp(-60 * (x - 0.25) ** 2), np.exp(-60 * (x - 0.6) ** 2)], axis=1)
        self.C = np.exp(-60 * (x - 0.75) ** 2)[None, :] * 3.0
        rng = np.random.default_rng(0)
        Q = np.linalg.qr(rng.standard_normal((n, rank)))[0]
        self.Y0 = LowRank(Q, np.diag(4.0 ** -np.arange(rank)), Q)  # X0 = Z0 Z0ᵀ, Z0 = Q diag(2⁻ʲ)
        AT = self.A.T.tocsr()
        source = LowRank(self.C.T, np.eye(1), self.C.T)
        self.field = LinearMatrixField(A=AT, B=AT, C=source, nonlinear=self.quadratic)
        self._cache = {}

    def quadratic(self, t, Y):
        """N(X) = −X B Bᵀ X (rank ≤ r for a low-rank X)."""
        if isinstance(Y, LowRank):
            core = Y.S @ (Y.V.conj().T @ self.B) @ (self.B.T @ Y.U) @ Y.S
            return LowRank(Y.U, -core, Y.V)
        Y = np.asarray(Y)
        return -(Y @ self.B) @ (self.B.T @ Y)

    def F(self, t, Y):
        return self.field(t, Y)

    def _H(self):
        A = self.A.toarray()
        G = self.B @ self.B.T
        Q = self.C.T @ self.C
        return np.block([[-A, G], [Q, A.T]])

    def _advance(self, X, delta):
        n = self.n
        E = cached(self._cache, ("E", delta), lambda key: scipy.linalg.expm(key[1] * self._H()), maxsize=16)
        PQ = E @ np.vstack([np.eye(n), X])
        P, Q = PQ[:n], PQ[n:]
        Xn = np.linalg.solve(P.T, Q.T).T  # Q P⁻¹
        return 0.5 * (Xn + Xn.T)

    def reference(self, t):
        """X(t) by Radon's lemma in steps δ with δ‖H‖₁ ≤ 2 (exact up to round-off)."""
        span = float(t) - self.t_span[0]
        if span == 0:
            return self.Y0.to_dense()
        norm = np.abs(self._H()).sum(axis=0).max()
        steps = max(1, int(np.ceil(span * norm / 2)))
        delta = span / steps
        X = self.Y0.to_dense()
        for _ in range(steps):
            X = self._advance(X, delta)
        return X

    def steady_state(self):
        """The stabilising solution of Aᵀ X + X A + CᵀC − X B Bᵀ X = 0 (limit of X(t))."""
        return scipy.linalg.solve_continuous_are(self.A.toarray(), self.B, self.C.T @ self.C, np.eye(self.B.shape[1]))
