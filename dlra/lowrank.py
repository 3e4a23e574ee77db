"""Low-rank matrices stored as factors ``Y = U S Vᴴ``.

``U`` is m×r, ``S`` is r×r (not necessarily diagonal) and ``V`` is n×r. Inside a step the core may
be rectangular (r1×r2, e.g. augmented bases of different sizes when 2r exceeds min(m, n)). The integrators keep
``U`` and ``V`` orthonormal between steps; inside a substep they may hand the vector field
non-orthonormal factors (for instance ``K Vᴴ`` is stored as ``LowRank(K, I, V)``), so nothing in
this class assumes orthonormality unless a method says so.

Real and complex dtypes are supported; ``ᴴ`` is the conjugate transpose throughout.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .lineage import inherit
from .linalg import orth_with_r, truncated_svd

__all__ = ["LowRank"]


def _as_factor(a, name, ndim=2):
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array: {err}") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "fc":  # real or complex floating (kind checks: issubdtype costs µs per call)
        arr = arr.astype(np.float64)
    return arr


class LowRank:
    """The matrix ``U @ S @ V.conj().T`` kept in factored form.

    Parameters
    ----------
    U : (m, r) array
    S : (r, r) array, or a 1-D array of length r taken as a diagonal
    V : (n, r) array
    check_finite : bool
        Raise ``ValueError`` (naming the factor) when a factor holds NaN or inf.
    """

    __array_priority__ = 20  # so that ndarray @ LowRank defers to __rmatmul__

    def __init__(self, U, S, V, *, check_finite=False):
        U = _as_factor(U, "U")
        V = _as_factor(V, "V")
        S = np.asarray(S)
        if S.ndim == 1:
            S = np.diag(S)
        S = _as_factor(S, "S")
        r1, r2 = S.shape
        if U.shape[1] != r1:
            raise ValueError(f"U must have r = {r1} columns to match S, got shape {U.shape}")
        if V.shape[1] != r2:
            raise ValueError(f"V must have r = {r2} columns to match S {S.shape}, got shape {V.shape}")
        if check_finite:
            for name, a in (("U", U), ("S", S), ("V", V)):
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"{name} contains non-finite values")
        self.U, self.S, self.V = U, S, V

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dense(cls, A, rank=None, tol=None, truncation=None, *, pad="warn"):
        """Best approximation of a dense matrix by truncated SVD (Eckart–Young).

        Give exactly one of ``rank`` (keep r singular values, 1 ≤ r ≤ min(m, n)), ``tol``
        (absolute ℓ² tail ``(Σ_{j>r} σⱼ²)^{1/2} ≤ tol``) or a
        :class:`~dlra.truncation.TruncationRule`. With none of them the full SVD is kept.

        ``pad`` says what happens when the kept rank exceeds the numerical rank of A (singular
        values ≤ max(m, n)·ε·σ₁ are kept as zeros): ``"warn"`` (default) warns, ``"raise"`` raises
        ``ValueError``, ``"ignore"`` keeps them silently. Zero singular values leave the extra
        basis directions arbitrary; a higher-order method started from them may run at order 1.
        To start properly, add small random directions (``Y0 + LowRank.random(m, n, δ·ones(k))``
        with δ well below the accuracy wanted, then truncate to the rank), or start a
        rank-adaptive method (``theta=``) at the numerical rank and let it grow.
        """
        from .truncation import as_truncation_rule

        if pad not in ("warn", "raise", "ignore"):
            raise ValueError(f"pad must be 'warn', 'raise' or 'ignore', got {pad!r}")
        A = _as_factor(A, "A")
        if not np.all(np.isfinite(A)):
            raise ValueError("A contains non-finite values")
        if rank is not None and not (isinstance(rank, bool) or not isinstance(rank, numbers.Integral)) \
                and rank > min(A.shape):
            raise ValueError(f"rank must be <= min(m, n) = {min(A.shape)} for A of shape {A.shape}, got {rank}")
        rule = as_truncation_rule(rank=rank, theta=tol, truncation=truncation, required=False)
        P, sigma, Qh = np.linalg.svd(A, full_matrices=False)
        if rule is None:
            r = sigma.size
        else:
            r = rule.select_rank(sigma, current_rank=sigma.size)
        if pad != "ignore" and sigma.size and rank is not None:
            numerical = int(np.count_nonzero(sigma > max(A.shape) * np.finfo(sigma.dtype).eps * sigma[0]))
            if r > numerical:
                message = (f"rank: A has numerical rank {numerical}; rank={r} pads it with {r - numerical} "
                           "zero singular values (their directions are arbitrary; see the docstring "
                           "of LowRank.from_dense for how to start a higher-order method)")
                if pad == "raise":
                    raise ValueError(message)
                warnings.warn(message, stacklevel=2)
        return cls(P[:, :r], np.diag(sigma[:r]).astype(A.dtype if np.iscomplexobj(A) else sigma.dtype),
                   Qh[:r].conj().T)

    @classmethod
    def random(cls, m, n, singular_values, *, dtype=np.float64, rng=None):
        """Random matrix ``U diag(σ) Vᴴ`` with Haar-distributed orthonormal U, V.

        Parameters
        ----------
        m, n : int
            Shape.
        singular_values : sequence of float
            The prescribed spectrum (its length is the rank).
        dtype : float64, float32, complex128 or complex64
        rng : numpy Generator, int seed or None
        """
        rng = np.random.default_rng(rng)
        sigma = np.asarray(singular_values, dtype=float)
        r = sigma.size
        if sigma.ndim != 1 or r == 0:
            raise ValueError("singular_values must be a non-empty 1-D sequence")
        if r > min(m, n):
            raise ValueError(f"rank {r} (len(singular_values)) exceeds min(m, n) = {min(m, n)}")
        if np.any(sigma < 0) or not np.all(np.isfinite(sigma)):
            raise ValueError("singular_values must be finite and nonnegative")
        dtype = np.dtype(dtype)
        U = random_orthonormal(m, r, dtype=dtype, rng=rng)
        V = random_orthonormal(n, r, dtype=dtype, rng=rng)
        return cls(U, np.diag(sigma).astype(dtype), V)

    # ------------------------------------------------------------------ basic properties
    @property
    def shape(self):
        return (self.U.shape[0], self.V.shape[0])

    @property
    def rank(self):
        """Representation rank: the size of the core (min of its sides when rectangular)."""
        return min(self.S.shape)

    @property
    def dtype(self):
        return np.result_type(self.U, self.S, self.V)

    @property
    def ndim(self):
        return 2

    @property
    def H(self):
        """Conjugate transpose ``V Sᴴ Uᴴ`` (no copy of the big factors)."""
        return LowRank(self.V, self.S.conj().T, self.U)

    @property
    def T(self):
        return LowRank(self.V.conj(), self.S.T, self.U.conj())

    def conj(self):
        return LowRank(self.U.conj(), self.S.conj(), self.V.conj())

    def copy(self):
        """A copy of the factors (which keep the relations to earlier bases that
        :mod:`dlra.lineage` records for optimisers)."""
        U, V = self.U.copy(), self.V.copy()
        inherit(U, self.U)
        inherit(V, self.V)
        return LowRank(U, self.S.copy(), V)

    def astype(self, dtype):
        return LowRank(self.U.astype(dtype), self.S.astype(dtype), self.V.astype(dtype))

    def to_dense(self):
        """The m×n array ``U S Vᴴ``."""
        return (self.U @ self.S) @ self.V.conj().T

    def __array__(self, dtype=None, copy=None):
        A = self.to_dense()
        return A if dtype is None else A.astype(dtype)

    def __repr__(self):
        return f"LowRank(shape={self.shape}, rank={self.rank}, dtype={self.dtype})"

    # ------------------------------------------------------------------ products
    def matmat(self, X):
        """``Y @ X`` for an n×k array (or vector), in O((m + n) r k)."""
        X = np.asarray(X)
        return self.U @ (self.S @ (self.V.conj().T @ X))

    def rmatmat(self, X):
        """``Yᴴ @ X`` for an m×k array (or vector): the adjoint product used for Fᴴ U."""
        X = np.asarray(X)
        return self.V @ (self.S.conj().T @ (self.U.conj().T @ X))

    matvec = matmat
    rmatvec = rmatmat

    def __matmul__(self, other):
        if isinstance(other, LowRank):
            return LowRank(self.U, self.S @ (self.V.conj().T @ other.U) @ other.S, other.V)
        return self.matmat(other)

    def __rmatmul__(self, other):
        # other @ U S Vᴴ
        other = np.asarray(other)
        return ((other @ self.U) @ self.S) @ self.V.conj().T

    def __neg__(self):
        return LowRank(self.U, -self.S, self.V)

    def __mul__(self, scalar):
        if not isinstance(scalar, numbers.Number):
            return NotImplemented
        return LowRank(self.U, scalar * self.S, self.V)

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        if not isinstance(scalar, numbers.Number):
            return NotImplemented
        return LowRank(self.U, self.S / scalar, self.V)

    def __add__(self, other):
        if not isinstance(other, LowRank):
            return NotImplemented
        if other.shape != self.shape:
            raise ValueError(f"shape mismatch in LowRank addition: {self.shape} and {other.shape}")
        return LowRank.concatenate([self, other])

    def __sub__(self, other):
        if not isinstance(other, LowRank):
            return NotImplemented
        return self + (-other)

    @staticmethod
    def concatenate(terms, weights=None):
        """``Σ wᵢ Yᵢ`` as one LowRank with stacked factors and a block-diagonal core.

        The rank is the sum of the ranks; recompress with :meth:`truncate`.
        """
        terms = list(terms)
        if not terms:
            raise ValueError("terms must not be empty")
        if weights is None:
            weights = [1.0] * len(terms)
        U = np.concatenate([Y.U for Y in terms], axis=1)
        V = np.concatenate([Y.V for Y in terms], axis=1)
        dtype = np.result_type(*[Y.S for Y in terms], *weights)
        S = np.zeros((U.shape[1], V.shape[1]), dtype=dtype)
        i = j = 0
        for w, Y in zip(weights, terms):
            r1, r2 = Y.S.shape
            S[i:i + r1, j:j + r2] = w * Y.S
            i, j = i + r1, j + r2
        return LowRank(U, S, V)

    # ------------------------------------------------------------------ factorisations
    def orthonormalize(self):
        """Same matrix with orthonormal U, V (thin QR of both factors, the core absorbs R)."""
        QU, RU = orth_with_r(self.U)
        QV, RV = orth_with_r(self.V)
        return LowRank(QU, RU @ self.S @ RV.conj().T, QV)

    def svd(self):
        """Thin SVD ``(P, σ, Q)`` of the represented matrix with ``Y = P diag(σ) Qᴴ``."""
        QU, RU = orth_with_r(self.U)
        QV, RV = orth_with_r(self.V)
        Pc, sigma, Qch = np.linalg.svd(RU @ self.S @ RV.conj().T)
        return QU @ Pc, sigma, QV @ Qch.conj().T

    def singular_values(self):
        """Singular values of ``U S Vᴴ`` in decreasing order (exact, O((m + n) r²))."""
        QU, RU = orth_with_r(self.U)
        QV, RV = orth_with_r(self.V)
        return np.linalg.svd(RU @ self.S @ RV.conj().T, compute_uv=False)

    def truncate(self, rank=None, tol=None, truncation=None):
        """Recompress by truncated SVD; same rules as :meth:`from_dense`.

        Returns a LowRank with orthonormal factors and a diagonal core.
        """
        from .truncation import as_truncation_rule

        rule = as_truncation_rule(rank=rank, theta=tol, truncation=truncation, required=True)
        QU, RU = orth_with_r(self.U)
        QV, RV = orth_with_r(self.V)
        result = truncated_svd(RU @ self.S @ RV.conj().T, rule, current_rank=self.rank)
        return LowRank(QU @ result.left, np.diag(result.sigma).astype(self.S.dtype), QV @ result.right)

    def norm(self):
        """Frobenius norm (exact for any factors)."""
        return float(np.linalg.norm(self.singular_values()))

    def is_orthonormal(self, atol=1e-10):
        """True when UᴴU = I and VᴴV = I to ``atol`` in the max norm."""
        return orthonormality_defect(self.U) <= atol and orthonormality_defect(self.V) <= atol


def orthonormality_defect(Q):
    """‖QᴴQ − I‖ in the spectral norm."""
    G = Q.conj().T @ Q
    return float(np.linalg.norm(G - np.eye(G.shape[0]), 2)) if G.size else 0.0


def random_orthonormal(m, r, *, dtype=np.float64, rng=None):
    """m×r matrix with orthonormal columns, Haar-distributed (QR of a Gaussian with sign fix)."""
    rng = np.random.default_rng(rng)
    dtype = np.dtype(dtype)
    G = rng.standard_normal((m, r))
    if np.issubdtype(dtype, np.complexfloating):
        G = G + 1j * rng.standard_normal((m, r))
    Q, R = np.linalg.qr(G)
    d = np.diag(R)
    Q = Q * (d / np.abs(d))
    return Q.astype(dtype)
