"""Rotating-matrix data problems F(t, Y) = Ȧ(t) (Koch–Lubich 2007; Lubich–Oseledets 2014).

    A(t) = Q1(t) C(t) Q2(t)ᵀ,  Q_i(t) = exp(t W_i),  W_i skew-symmetric,
    Koch–Lubich:       C(t) = eᵗ D,  D = diag(decay⁻ʲ), j = 1..n,
    Lubich–Oseledets:  C(t) = A1 + eᵗ ε A2,  A1 of exact rank r, A2 random (‖A2‖_F = 1).

Ȧ(t) = W1 A(t) + Q1(t) Ċ(t) Q2(t)ᵀ + A(t) W2ᵀ with Ċ = eᵗ D or eᵗ ε A2. F does not depend on Y, so
the DLRA solution approximates A(t); with ε = 0 A(t) has rank r and the exact integrators (KSL,
BUG, rank-adaptive BUG with exact substeps, :meth:`exact_substep`) reproduce it to round-off.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg

from ..lowrank import LowRank, random_orthonormal
from ..substep import ClosedForm
from .base import Problem, cached

__all__ = ["RotatingMatrix", "LubichOseledets"]


def _skew(n, rng, scale):
    G = rng.standard_normal((n, n))
    W = G - G.T
    return scale * W / np.linalg.norm(W, 2)


class _Rotating(Problem):
    field_formats = ("dense", "operator")

    def __init__(self, n, rank, rng, rotation_speed, field_format):
        if field_format not in self.field_formats:
            raise ValueError(f"field_format must be one of {self.field_formats}, got {field_format!r}")
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be in [1, n = {n}], got {rank}")
        self.n, self.rank, self.shape = n, rank, (n, n)
        self.field_format = field_format
        self.W1 = _skew(n, rng, rotation_speed)
        self.W2 = _skew(n, rng, rotation_speed)
        # W = Z diag(iλ) Zᴴ (W skew-symmetric, i.e. iW Hermitian): exp(tW) = Re(Z e^{itλ} Zᴴ)
        self._eig = [np.linalg.eigh(1j * W) for W in (self.W1, self.W2)]
        self._cache = {}

    def _Q(self, t):
        """(Q1(t), Q2(t)) = (exp(tW1), exp(tW2)), from the eigendecompositions (cached by t)."""
        # iW = Z diag(μ) Zᴴ with μ real, so W = Z diag(−iμ) Zᴴ and exp(tW) = Z e^{−itμ} Zᴴ
        return cached(self._cache, t, lambda t: tuple(np.real((Z * np.exp(-1j * t * mu)) @ Z.conj().T)
                                                      for mu, Z in self._eig), maxsize=64)

    # C(t) = C_const + eᵗ C_exp
    def _core(self, t):
        return self.C_const + np.exp(t) * self.C_exp

    def reference(self, t):
        """A(t) (dense, exact)."""
        Q1, Q2 = self._Q(float(t))
        return Q1 @ self._core(t) @ Q2.T

    def derivative(self, t):
        """Ȧ(t) (dense)."""
        Q1, Q2 = self._Q(float(t))
        A = Q1 @ self._core(t) @ Q2.T
        return self.W1 @ A + Q1 @ (np.exp(t) * self.C_exp) @ Q2.T + A @ self.W2.T

    def F(self, t, Y):
        """F(t, Y) = Ȧ(t) as a dense array or a LinearOperator (``field_format``)."""
        Adot = self.derivative(t)
        if self.field_format == "dense":
            return Adot
        return scipy.sparse.linalg.aslinearoperator(Adot)

    def exact_substep(self):
        """Exact substeps: every substep integrates Π Ȧ(t), so z(t1) = z0 + Π (A(t1) − A(t0))."""
        return ClosedForm.for_data(lambda t0, t1: self.reference(t1) - self.reference(t0))

    def initial_value(self, rank=None):
        """Best rank-r approximation of A(0) (the usual starting value)."""
        return LowRank.from_dense(self.reference(0.0), rank=rank or self.rank)


class RotatingMatrix(_Rotating):
    """Koch–Lubich rotating matrix with singular values eᵗ decay⁻ʲ (rank 16 at decay 2 has σ_min ≈ 1.5e-5).

    Parameters
    ----------
    n : int
    rank : int
        Rank of the starting value ``Y0`` (best approximation of A(0)).
    decay : float > 1
        D = diag(decay⁻ʲ), j = 1..n.
    rotation_speed : float
        ‖W_i‖₂.
    """

    name = "rotating_matrix"

    def __init__(self, n=100, rank=10, decay=2.0, rotation_speed=1.0, seed=0, field_format="dense"):
        if decay <= 1:
            raise ValueError(f"decay must be > 1, got {decay}")
        rng = np.random.default_rng(seed)
        super().__init__(n, rank, rng, rotation_speed, field_format)
        self.decay = float(decay)
        self.C_const = np.zeros((n, n))
        self.C_exp = np.diag(self.decay ** -np.arange(1.0, n + 1))
        self.Y0 = self.initial_value()

    def singular_values(self, t):
        return np.exp(t) * self.decay ** -np.arange(1.0, self.n + 1)

    def best_approximation_error(self, t, r):
        return float(np.linalg.norm(self.singular_values(t)[r:]))


class LubichOseledets(_Rotating):
    """Lubich–Oseledets test matrix A(t) = Q1(t)(A1 + eᵗ ε A2)Q2(t)ᵀ; ε = 0 gives exact rank r.

    A1 has rank ``rank`` with singular values ``spectrum`` (default 2⁻ʲ, j = 1..r); A2 is a
    Gaussian matrix normalised to ‖A2‖_F = 1.
    """

    name = "lubich_oseledets"
    field_formats = ("dense", "operator", "lowrank")

    def __init__(self, n=100, rank=10, eps=0.0, spectrum=None, rotation_speed=1.0, seed=0,
                 field_format="dense"):
        rng = np.random.default_rng(seed)
        super().__init__(n, rank, rng, rotation_speed, field_format)
        if field_format == "lowrank" and eps != 0:
            raise ValueError("field_format='lowrank' needs eps = 0 (A(t) of exact rank r)")
        self.eps = float(eps)
        sigma = 2.0 ** -np.arange(1.0, rank + 1) if spectrum is None else np.asarray(spectrum, float)
        self.A1 = LowRank(random_orthonormal(n, rank, rng=rng), np.diag(sigma), random_orthonormal(n, rank, rng=rng))
        A2 = rng.standard_normal((n, n))
        self.C_const = self.A1.to_dense()
        self.C_exp = self.eps * A2 / np.linalg.norm(A2)
        self.Y0 = self.initial_value()

    def F(self, t, Y):
        if self.field_format != "lowrank":
            return super().F(t, Y)
        # Ȧ = W1 A + A W2ᵀ with A = (Q1 U) S (Q2 V)ᵀ: rank 2r, [W1 QU, QU] [[S, 0], [0, S]] [QV, W2 QV]ᵀ
        Q1, Q2 = self._Q(float(t))
        QU, QV, S = Q1 @ self.A1.U, Q2 @ self.A1.V, self.A1.S
        r = self.rank
        core = np.zeros((2 * r, 2 * r))
        core[:r, :r] = S
        core[r:, r:] = S
        return LowRank(np.concatenate([self.W1 @ QU, QU], axis=1), core,
                       np.concatenate([QV, self.W2 @ QV], axis=1))
