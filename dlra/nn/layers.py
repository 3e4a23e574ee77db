"""Layers of the MLP: dense ``x ↦ φ(W x + b)`` and low-rank ``x ↦ φ(U (S (Vᵀ x)) + b)``.

Batches are row-major, X is (batch, n_in), so a dense layer computes ``Z = X Wᵀ + bᵀ`` and a
low-rank layer ``Z = ((X V) Sᵀ) Uᵀ + bᵀ`` in O(batch · r · (m + n)) without forming W = U S Vᵀ.
Biases are stored as (n_out, 1) **columns**, so that every item of the network's state
(:meth:`dlra.nn.MLP.parameters`) is 2-D as the core's state contract requires.

The low-rank factors are applied generically: U and V need not be orthonormal and S need not be
diagonal (inside a DLRA substep the state is e.g. ``LowRank(K, I, V)``), and the rank may change
between steps (rank-adaptive integrators).

Gradients (Schotthöfer et al., "Low-rank lottery tickets", NeurIPS 2022, §3): with Δ = ∂L/∂Z
(batch × m) and X the layer input (batch × n), ∇_W L = Δᵀ X, which is kept **factored** as
:class:`FactoredGradient`; then ∇_K L = ∇_W L · V = Δᵀ (X V) and ∇_L L = ∇_W Lᵀ U = Xᵀ (Δ U) cost
O(batch · r · (m + n)).
"""
from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse.linalg

from ..linalg import times_core
from ..lowrank import LowRank
from .factorized import INITS, factor_init
from .kernels import RELU, activation_code

__all__ = ["DenseLayer", "LowRankLayer", "FactoredGradient", "dense_init", "geometric_decay"]


class FactoredGradient(scipy.sparse.linalg.LinearOperator):
    """The m×n matrix ``A Bᵀ`` (A m×k, B n×k) as a LinearOperator, never formed.

    For a layer's gradient A = ±Δᵀ (m×batch) and B = Xᵀ (n×batch). Products:
    ``matmat(V) = A (Bᵀ V)`` and ``rmatmat(U) = conj(B) (Aᴴ U)``, each O(k · r · (m + n)).
    """

    def __init__(self, A, B):
        A = np.asarray(A)
        B = np.asarray(B)
        if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
            raise ValueError(f"A (m×k) and B (n×k) must share k, got shapes {A.shape} and {B.shape}")
        self.A, self.B = A, B
        # products already computed by the network's pass: (V, Bᵀ V) from the forward pass and
        # (U, Aᴴ U) from the backward pass; reused when matmat/rmatmat get that very array (`is`)
        self._known_right = None
        self._known_left = None
        super().__init__(dtype=np.result_type(A, B), shape=(A.shape[0], B.shape[0]))

    def _matmat(self, X):
        known = self._known_right
        if known is not None and X is known[0]:
            return self.A @ known[1]
        return self.A @ (self.B.T @ X)

    def _matvec(self, x):
        return self.A @ (self.B.T @ x)

    def _rmatmat(self, X):
        known = self._known_left
        if known is not None and X is known[0]:
            return self.B.conj() @ known[1]
        return self.B.conj() @ (self.A.conj().T @ X)

    def _rmatvec(self, x):
        return self.B.conj() @ (self.A.conj().T @ x)

    def _adjoint(self):
        return FactoredGradient(self.B.conj(), self.A.conj())

    def _transpose(self):
        return FactoredGradient(self.B, self.A)

    def to_dense(self):
        """``A Bᵀ`` as an m×n array (for tests and diagnostics; costs O(m n k))."""
        return self.A @ self.B.T

    def toarray(self):
        return self.to_dense()

    def inner(self, D):
        """Frobenius inner product ⟨A Bᵀ, D⟩ = trace(Aᵀ D B) (real case), O(m n k) without forming A Bᵀ."""
        D = np.asarray(D)
        return float(np.sum(self.A * (D @ self.B)))

    def __neg__(self):
        return FactoredGradient(-self.A, self.B)

    def __repr__(self):
        return f"FactoredGradient(shape={self.shape}, inner={self.A.shape[1]}, dtype={self.dtype})"


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def dense_init(n_in, n_out, activation="relu", *, rng=None, dtype=np.float64, scale=1.0):
    """Dense weight (n_out × n_in): He-normal for ReLU (std √(2/n_in)), Glorot-normal otherwise
    (std √(2/(n_in + n_out))), times ``scale``. He et al. 2015; Glorot & Bengio 2010.
    (PyTorch's default ``nn.Linear`` initialisation has std 1/√(3 n_in) ≈ 0.41 × He.)"""
    rng = np.random.default_rng(rng)
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    code = activation_code(activation)
    std = scale * (np.sqrt(2.0 / n_in) if code == RELU else np.sqrt(2.0 / (n_in + n_out)))
    return (std * rng.standard_normal((n_out, n_in))).astype(dtype)


def geometric_decay(rank, sigma_max=1.0, ratio=0.5):
    """Singular values ``σ_j = sigma_max · ratio^j``, j = 0..rank−1 (for robustness experiments)."""
    rank = _check_int(rank, "rank")
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    return sigma_max * ratio ** np.arange(rank, dtype=float)


class _Layer:
    """Shared parts: sizes, activation, bias column."""

    lowrank = False
    #: whether ``linear(X, keep=True)`` remembers products for the backward pass of a gradient pass
    keeps_forward = False

    def __init__(self, n_in, n_out, activation):
        self.n_in = _check_int(n_in, "n_in")
        self.n_out = _check_int(n_out, "n_out")
        self.activation = str(activation).lower()
        self.act = activation_code(activation)
        self.b = np.zeros((self.n_out, 1))

    # ---------------------------------------------------------------- state
    def _set_bias(self, b, dtype, where="bias"):
        b = np.asarray(b)
        if b.shape == (self.n_out,):
            b = b.reshape(self.n_out, 1)
        if b.shape != (self.n_out, 1):
            raise ValueError(f"{where} must have shape ({self.n_out}, 1), got {b.shape}")
        self.b = np.ascontiguousarray(b, dtype=dtype)

    def astype(self, dtype):
        self._cast(np.dtype(dtype))
        return self

    def parameter_shapes(self):
        return [self.weight_shape, (self.n_out, 1)]

    @property
    def weight_shape(self):
        return (self.n_out, self.n_in)

    def dense_parameter_count(self):
        """Parameters of the full dense layer (m n + m)."""
        return self.n_out * self.n_in + self.n_out


class DenseLayer(_Layer):
    """``x ↦ φ(W x + b)`` with W (n_out × n_in) and b (n_out × 1).

    Parameters
    ----------
    n_in, n_out : int
    activation : {"relu", "tanh", "identity"}
    W : array, optional
        Initial weight; default :func:`dense_init`.
    rng : Generator, int or None
    """

    lowrank = False

    def __init__(self, n_in, n_out, activation="relu", *, W=None, b=None, rng=None, init_scale=1.0):
        super().__init__(n_in, n_out, activation)
        self.W = (dense_init(self.n_in, self.n_out, self.activation, rng=rng, scale=init_scale)
                  if W is None else None)
        if W is not None:
            self.set_weight(W, np.float64)
        if b is not None:
            self._set_bias(b, np.float64)

    def __repr__(self):
        return f"DenseLayer({self.n_in}, {self.n_out}, activation={self.activation!r})"

    @property
    def rank(self):
        return min(self.n_in, self.n_out)

    def set_weight(self, W, dtype, where="W"):
        if isinstance(W, LowRank):
            raise TypeError(f"{where}: a dense layer takes an ndarray weight, got a LowRank")
        W = np.asarray(W)
        if W.shape != self.weight_shape:
            raise ValueError(f"{where} must have shape {self.weight_shape}, got {W.shape}")
        self.W = np.asarray(W, dtype=dtype)

    def _cast(self, dtype):
        self.W = np.asarray(self.W, dtype=dtype)
        self.b = np.ascontiguousarray(self.b, dtype=dtype)

    def weight(self):
        return self.W

    def linear(self, X):
        """``X Wᵀ`` (batch × n_out), the pre-activation without the bias."""
        return X @ self.W.T

    def linear_backward(self, D):
        """``D W`` (batch × n_in): the gradient passed to the layer below."""
        return D @ self.W

    def weight_gradient(self, D, X):
        """``Dᵀ X`` (n_out × n_in) as a dense array."""
        return D.T @ X

    def inference_parameter_count(self):
        return self.n_out * self.n_in + self.n_out

    training_parameter_count = inference_parameter_count


class LowRankLayer(_Layer):
    """``x ↦ φ(U (S (Vᵀ x)) + b)`` with W = U S Vᵀ a :class:`~dlra.lowrank.LowRank` (never formed).

    Parameters
    ----------
    n_in, n_out : int
    rank : int
        1 ≤ rank ≤ min(n_in, n_out).
    activation : {"relu", "tanh", "identity"}
    init : one of :data:`dlra.nn.factorized.INITS`
        ``"spectral"`` (default): truncated SVD of a dense :func:`dense_init` (W = P_r Σ_r Q_rᵀ,
        orthonormal U = P_r, V = Q_r, diagonal S = Σ_r). ``"random_directions"``: Haar-random
        orthonormal U, V with the singular values ``init_singular_values`` (default: those of the
        spectral init). ``"random"`` (independent Gaussian factors), ``"random_values"``,
        ``"flat_values"``: see :func:`dlra.nn.factorized.factor_init`. A layer with more than
        :data:`~dlra.nn.factorized.FACTORED_INIT_ENTRIES` weights is initialised without forming W.
    init_singular_values : array of length rank, optional
        Prescribed spectrum (implies ``init="random_directions"`` unless init is given), e.g.
        :func:`geometric_decay` for robustness experiments with small singular values.
    weight : LowRank, optional
        Initial weight (overrides init).
    rng : Generator, int or None
    """

    lowrank = True
    keeps_forward = True

    def __init__(self, n_in, n_out, rank, activation="relu", *, init=None, init_singular_values=None,
                 weight=None, b=None, rng=None, init_scale=1.0):
        super().__init__(n_in, n_out, activation)
        rank = _check_int(rank, "rank")
        if rank > min(self.n_in, self.n_out):
            raise ValueError(f"rank must be ≤ min(n_in, n_out) = {min(self.n_in, self.n_out)}, got {rank}")
        if init is None:
            init = "spectral" if init_singular_values is None else "random_directions"
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        if weight is not None:
            self.set_weight(weight, np.float64)
        else:
            self.set_weight(factor_init(self.n_in, self.n_out, rank, init, self.activation, rng=rng,
                                        scale=init_scale, singular_values=init_singular_values), np.float64)
        if b is not None:
            self._set_bias(b, np.float64)

    def __repr__(self):
        return f"LowRankLayer({self.n_in}, {self.n_out}, rank={self.rank}, activation={self.activation!r})"

    @property
    def rank(self):
        return self.Y.rank

    def set_weight(self, Y, dtype, where="W"):
        """Store a LowRank weight (any factors, any rank ≤ min(n_in, n_out)); cast to ``dtype``."""
        if not isinstance(Y, LowRank):
            raise TypeError(f"{where}: a low-rank layer takes a LowRank weight, got {type(Y).__name__}")
        if Y.shape != self.weight_shape:
            raise ValueError(f"{where} must have shape {self.weight_shape}, got {Y.shape}")
        if np.iscomplexobj(Y.U) or np.iscomplexobj(Y.S) or np.iscomplexobj(Y.V):
            raise TypeError(f"{where}: the network is real; got complex factors")
        U, S, V = (np.asarray(a, dtype=dtype) for a in (Y.U, Y.S, Y.V))
        if U is Y.U and S is Y.S and V is Y.V:
            self.Y = Y
        else:
            self.Y = LowRank(U, S, V)

    def _cast(self, dtype):
        self.set_weight(self.Y, dtype)
        self.b = np.ascontiguousarray(self.b, dtype=dtype)

    def weight(self):
        return self.Y

    _kept = None  # (X, V, X V) of the last forward pass with keep=True

    def linear(self, X, keep=False):
        """``((X V) Sᵀ) Uᵀ`` (batch × n_out), O(batch · r · (m + n)).

        ``keep=True`` (gradient passes) remembers ``X V`` for :meth:`weight_gradient`: the K-step's
        product ∇_W L · V = Dᵀ (X V) then costs one product less.
        """
        Y = self.Y
        XV = X @ Y.V
        self._kept = (X, Y.V, XV) if keep else None
        return times_core(XV, Y.S.T) @ Y.U.T

    def linear_backward(self, D, gradient=None):
        """``((D U) S) Vᵀ`` (batch × n_in) = D W.

        ``gradient``: the :class:`FactoredGradient` built from this same D by :meth:`weight_gradient`;
        it is handed ``D U``, so that the L-step's product (∇_W L)ᵀ U = Xᵀ (D U) reuses it.
        """
        Y = self.Y
        DU = D @ Y.U
        if gradient is not None:
            gradient._known_left = (Y.U, DU)
        return times_core(DU, Y.S) @ Y.V.T

    def weight_gradient(self, D, X):
        """``Dᵀ X`` as a :class:`FactoredGradient` (A = Dᵀ, B = Xᵀ), with ``X V`` if the forward pass kept it."""
        G = FactoredGradient(D.T, X.T)
        kept, self._kept = self._kept, None
        if kept is not None and kept[0] is X and kept[1] is self.Y.V:
            G._known_right = (kept[1], kept[2])
        return G

    def inference_parameter_count(self):
        """r (m + n) + m: U S is absorbed into one m×r factor for inference."""
        r = self.rank
        return r * (self.n_out + self.n_in) + self.n_out

    def training_parameter_count(self):
        """DLRT storage: bases U, V and the K, L factors (2 r (m + n)), the core S (r²), the bias."""
        r = self.rank
        return 2 * r * (self.n_out + self.n_in) + r * r + self.n_out
