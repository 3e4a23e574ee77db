"""Differential Lyapunov equation (heat-type), with its closed form.

    Ẋ = A X + X A + C,    X(t) = e^{tA} (X0 + Z) e^{tA} − Z,   A Z + Z A = C,

with A symmetric (default: the 1-D Dirichlet Laplacian −tridiag(−1, 2, −1)·scale, sparse), C of low
rank and X0 of low rank. F is returned as a LinearOperator: F V_ = A(Y V_) + Y(A V_) + C V_ and
Fᴴ U_ = A(Yᴴ U_) + Yᴴ(A U_) + Cᴴ U_, which costs O(nnz(A) r + n r²) — this is the operator problem of
the integrator benchmark (n up to 16000). The closed form needs dense n×n matrices (n ≲ 2000).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from ..lowrank import LowRank
from .base import Problem, block_operator, cached

__all__ = ["Lyapunov"]


class Lyapunov(Problem):
    name = "lyapunov"

    def __init__(self, n=100, rank=10, c_rank=2, scale=1.0, seed=0, t_span=(0.0, 1.0)):
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be in [1, n = {n}], got {rank}")
        rng = np.random.default_rng(seed)
        self.n, self.rank, self.shape, self.t_span = n, rank, (n, n), tuple(t_span)
        e = np.ones(n)
        self.A = (-scale * scipy.sparse.diags([-e[:-1], 2 * e, -e[:-1]], [-1, 0, 1])).tocsr()
        x = np.linspace(0, 1, n + 2)[1:-1]
        # smooth low-rank source and initial value (decaying singular values)
        C_cols = np.stack([np.sin((k + 1) * np.pi * x) for k in range(c_rank)], axis=1)
        C_cols /= np.linalg.norm(C_cols, axis=0)
        self.C = LowRank(C_cols, np.diag(2.0 ** -np.arange(c_rank)), C_cols)
        X0 = LowRank.random(n, rank, 2.0 ** -np.arange(1.0, rank + 1), rng=rng)
        self.Y0 = LowRank(X0.U, X0.S, X0.U)  # symmetric X0 = U S Uᵀ keeps X(t) symmetric
        self._dense_cache = None
        self._expm_cache = {}

    def F(self, t, Y):
        A, C = self.A, self.C
        if not isinstance(Y, LowRank):
            Y = np.asarray(Y)
            return A @ Y + (A.T @ Y.T).T + C.to_dense()
        n = self.n

        def matmat(X):  # F X = A (Y X) + Y (A X) + C X
            return A @ (Y @ X) + Y @ (A @ X) + C @ X

        def rmatmat(X):  # Fᴴ X = Aᴴ (Yᴴ X) + Yᴴ (Aᴴ X) + Cᴴ X
            AH = A.T.conj()
            return AH @ Y.rmatmat(X) + Y.rmatmat(AH @ X) + C.rmatmat(X)

        return block_operator((n, n), np.result_type(Y.dtype, float), matmat, rmatmat)

    def _dense(self):
        if self._dense_cache is None:
            if self.n > 3000:
                raise ValueError(f"the closed form needs dense n×n matrices; n = {self.n} is too large")
            A = self.A.toarray()
            Z = scipy.linalg.solve_sylvester(A, A, self.C.to_dense())
            self._dense_cache = (A, Z)
        return self._dense_cache

    def _expm_at(self, t):
        A, _ = self._dense()
        return scipy.linalg.expm(t * A)

    def reference(self, t):
        """X(t) = e^{(t−t0)A} (X0 + Z) e^{(t−t0)A} − Z (exact)."""
        A, Z = self._dense()
        E = cached(self._expm_cache, float(t) - self.t_span[0], self._expm_at, maxsize=64)
        return E @ (self.Y0.to_dense() + Z) @ E - Z
