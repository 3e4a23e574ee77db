"""Discrete Schrödinger equation in matrix form (Ceruti–Lubich 2022, Sect. 5; Kusch et al.).

    i Ẏ = H(Y),   H(Y) = ½ (D Y + Y Dᵀ) + V Y Vᵀ,
    D = tridiag(−1, 2, −1) (N×N),  V = diag(1 − cos(2πj/N)),  j = 1..N.

F(t, Y) = −i H(Y) is returned as a LinearOperator (F V_ and Fᴴ U_ cost O(N r)), or densely for
the full-rank reference. H is self-adjoint on the Frobenius inner product, so the exact flow
(and the projected flow) conserves the norm ‖Y‖_F and the energy E(Y) = Re⟨Y, H(Y)⟩.
The initial value has singular values 10⁻ⁱ (i = 1..N), normalised to ‖Y0‖_F = 1; the rank-r
starting value ``Y0`` is its best approximation, ``Y0_full`` the full matrix, and ``reference``
is exp(−itH) Y0_full computed by ``scipy.sparse.linalg.expm_multiply`` on the N²×N² Kronecker form.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from ..lowrank import LowRank, random_orthonormal
from .base import Problem, as_dense, block_operator, cached

__all__ = ["Schrodinger"]


class Schrodinger(Problem):
    name = "schrodinger"

    def __init__(self, N=100, rank=10, seed=0, t_span=(0.0, 1.0)):
        if not 1 <= rank <= N:
            raise ValueError(f"rank must be in [1, N = {N}], got {rank}")
        rng = np.random.default_rng(seed)
        self.N, self.rank, self.shape, self.t_span = N, rank, (N, N), tuple(t_span)
        self.D = scipy.sparse.diags([-np.ones(N - 1), 2 * np.ones(N), -np.ones(N - 1)], [-1, 0, 1],
                                    format="csr")
        self.v = 1.0 - np.cos(2 * np.pi * np.arange(1, N + 1) / N)
        sigma = 10.0 ** -np.arange(1.0, N + 1)
        sigma /= np.linalg.norm(sigma)
        U = random_orthonormal(N, N, rng=rng)
        V = random_orthonormal(N, N, rng=rng)
        self.Y0_full = (U * sigma) @ V.T + 0j
        self.Y0 = LowRank(U[:, :rank] + 0j, np.diag(sigma[:rank]) + 0j, V[:, :rank] + 0j)
        self._reference_cache = {}

    # H(Y) applied to a block of vectors X: H(Y) X and H(Y)ᴴ X
    def _H_times(self, Y, X):
        D, v = self.D, self.v[:, None]
        return 0.5 * (D @ (Y @ X) + Y @ (D @ X)) + v * (Y @ (v * X))

    def _Hh_times(self, Y, X):
        D, v = self.D, self.v[:, None]
        Yh = Y.H if isinstance(Y, LowRank) else Y.conj().T
        return 0.5 * (Yh @ (D @ X) + D @ (Yh @ X)) + v * (Yh @ (v * X))

    def H(self, Y):
        """H(Y) as a dense array."""
        Y = as_dense(Y)
        return 0.5 * (self.D @ Y + (self.D @ Y.T).T) + self.v[:, None] * Y * self.v[None, :]

    def F(self, t, Y):
        """F(t, Y) = −i H(Y): a LinearOperator for LowRank Y, an array for dense Y."""
        if not isinstance(Y, LowRank):
            return -1j * self.H(Y)
        N = self.N
        return block_operator((N, N), complex, lambda X: -1j * self._H_times(Y, X),
                              lambda X: 1j * self._Hh_times(Y, X))

    def norm(self, Y):
        return float(np.linalg.norm(as_dense(Y)))

    def energy(self, Y):
        """E(Y) = Re⟨Y, H(Y)⟩_F, conserved by the exact flow."""
        Y = as_dense(Y)
        return float(np.real(np.vdot(Y, self.H(Y))))

    def _generator(self):
        N = self.N
        I = scipy.sparse.identity(N, format="csr")
        Vm = scipy.sparse.diags(self.v)
        # column-major vec: vec(DY) = (I⊗D) vec Y, vec(YD) = (D⊗I) vec Y, vec(VYV) = (V⊗V) vec Y
        return (0.5 * (scipy.sparse.kron(I, self.D) + scipy.sparse.kron(self.D, I))
                + scipy.sparse.kron(Vm, Vm)).tocsr()

    def _solve_reference(self, t):
        if t == self.t_span[0]:
            return self.Y0_full
        L = getattr(self, "_L", None)
        if L is None:
            L = self._L = self._generator()
        y = scipy.sparse.linalg.expm_multiply(-1j * (t - self.t_span[0]) * L,
                                              self.Y0_full.ravel(order="F"))
        return y.reshape((self.N, self.N), order="F")

    def reference(self, t):
        """exp(−i(t − t0)H) Y0_full, exact to round-off."""
        return cached(self._reference_cache, float(t), self._solve_reference)
