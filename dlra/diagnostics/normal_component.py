"""The normal component εₙ = ‖(I − P(Yₙ)) F(tₙ, Yₙ)‖_F of the DLRT error bound
(Ceruti, Kusch & Lubich, BIT 62 (2022), Thm. 2).

For Y = U S Vᴴ with orthonormal U, V the tangent-space projection is

    P(Y) Z = U Uᴴ Z + Z V Vᴴ − U Uᴴ Z V Vᴴ,   so   (I − P(Y)) Z = (I − U Uᴴ) Z (I − V Vᴴ).

*Exact* evaluation (dense arrays, sparse matrices, low-rank values of F): the doubly projected
matrix is formed and its Frobenius norm taken (for a LowRank F through its factors, in
O((m + n) k²)). Forming ``F − P(Y)F`` the same way agrees to round-off.

*Randomised* evaluation (``LinearOperator`` values, or ``method="randomized"``): with k Gaussian
probes g ~ N(0, Iₙ) (Hutchinson/Girard trace estimator, see Avron & Toledo, J. ACM 58 (2011)),

    ε² = ‖N‖_F² = E ‖N g‖²,   N = (I − UUᴴ) F (I − VVᴴ),   N g = (I − UUᴴ) F ((I − VVᴴ) g),

so it needs only the products F X that the integrators use (:meth:`FieldValue.right`).
**Accuracy:** the estimate ε̂² = (1/k) Σ ‖N gᵢ‖² is unbiased and its relative standard deviation is
``sqrt(2 Σ λᵢ² / (k (Σ λᵢ)²)) ≤ sqrt(2/k)`` (λᵢ the squared singular values of N; equality when N
has rank one). Hence ε̂ = sqrt(ε̂²) has relative standard deviation ≲ sqrt(1/(2k)); this module
documents and tests the conservative statement

    |ε̂ − ε| ≤ 3 sqrt(2/k) ε   (with overwhelming probability; k = 200 gives 30 %).

:data:`RANDOMIZED_RELATIVE_TOLERANCE` returns this tolerance for a given k.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from ..field import FieldValue
from ..lowrank import LowRank

__all__ = ["normal_component", "tangent_projection_dense", "normal_part_dense",
           "randomized_relative_tolerance", "DEFAULT_PROBES"]

DEFAULT_PROBES = 64


def randomized_relative_tolerance(probes):
    """Documented relative tolerance 3·sqrt(2/k) of the randomised estimate with k probes."""
    return 3.0 * np.sqrt(2.0 / probes)


def _orthonormal(Y):
    if not isinstance(Y, LowRank):
        raise TypeError(f"Y must be a LowRank, got {type(Y).__name__}")
    return Y if Y.is_orthonormal(atol=1e-10) else Y.orthonormalize()


def tangent_projection_dense(Y, F):
    """P(Y) F = UUᴴF + FVVᴴ − UUᴴFVVᴴ formed densely (reference implementation for tests)."""
    Y = _orthonormal(Y)
    F = FieldValue(F, Y.shape, 0).dense() if not isinstance(F, np.ndarray) else F
    U, V = Y.U, Y.V
    UhF = U.conj().T @ F
    FV = F @ V
    return U @ UhF + FV @ V.conj().T - U @ (UhF @ V) @ V.conj().T


def normal_part_dense(Y, F):
    """(I − UUᴴ) F (I − VVᴴ) as an array (F dense)."""
    Y = _orthonormal(Y)
    F = np.asarray(F)
    R = F - Y.U @ (Y.U.conj().T @ F)
    return R - (R @ Y.V) @ Y.V.conj().T


def _exact_lowrank(Y, F):
    A = F.U - Y.U @ (Y.U.conj().T @ F.U)
    B = F.V - Y.V @ (Y.V.conj().T @ F.V)
    return LowRank(A, F.S, B).norm()


def _randomized(Y, value, probes, rng):
    n = Y.shape[1]
    rng = np.random.default_rng(rng)
    G = rng.standard_normal((n, probes))
    G = G - Y.V @ (Y.V.conj().T @ G)               # (I − VVᴴ) g
    X = value.right(G)                              # F (I − VVᴴ) g
    X = X - Y.U @ (Y.U.conj().T @ X)                # (I − UUᴴ) ...
    return float(np.sqrt(np.sum(np.abs(X) ** 2) / probes))


def normal_component(F, Y, *, method="auto", probes=DEFAULT_PROBES, rng=0):
    """ε = ‖(I − P(Y)) F‖_F for one value F of the vector field at the state Y.

    Parameters
    ----------
    F : ndarray, sparse matrix, LinearOperator or LowRank
        A value returned by the user's ``F(t, Y)`` (any format of the contract).
    Y : LowRank
        The state (factors need not be orthonormal; they are orthonormalised if not).
    method : "auto", "exact" or "randomized"
        "auto": exact for arrays, sparse matrices and LowRank values, randomised for operators.
        "exact" on an operator densifies it with n products (fine for small n).
    probes : int
        Number k of Gaussian probes of the randomised estimate (relative accuracy ≈ sqrt(2/k),
        see the module docstring).
    rng : seed or Generator
        For the probes (a fixed default makes the estimate reproducible).
    """
    if method not in ("auto", "exact", "randomized"):
        raise ValueError(f"method must be 'auto', 'exact' or 'randomized', got {method!r}")
    if isinstance(probes, bool) or not isinstance(probes, (int, np.integer)) or probes < 1:
        raise ValueError(f"probes must be a positive integer, got {probes!r}")
    Y = _orthonormal(Y)
    value = F if isinstance(F, FieldValue) else FieldValue(F, Y.shape, 0)
    raw = value.value
    is_operator = not (isinstance(raw, (np.ndarray, LowRank)) or scipy.sparse.issparse(raw))
    if method == "randomized" or (method == "auto" and is_operator):
        return _randomized(Y, value, int(probes), rng)
    if isinstance(raw, LowRank):
        return _exact_lowrank(Y, raw)
    return float(np.linalg.norm(normal_part_dense(Y, value.dense())))
