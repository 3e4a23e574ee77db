"""Dense linear-algebra kernels shared by every integrator: thin QR and the truncated core SVD.

Every rank decision in the package goes through :func:`truncated_svd`, so a truncation rule
behaves the same in every integrator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack

from .errors import NonFiniteError
from .lineage import complement, record_prefix
from .qr import householder_qr, tall_skinny_qr, use_cholesky
from .timing import timed

__all__ = ["orth", "orth_with_r", "augmented_basis", "truncated_svd", "TruncatedSVD", "all_finite", "times_core",
           "orthonormality_drift", "orthonormality_tolerance"]


def orth_with_r(A, rows=None, with_r=True):
    """Thin QR ``A = Q R`` with Q m×k orthonormal (k = number of columns).

    Uses LAPACK's Householder QR without pivoting, which is what the augmented bases need: the
    first columns of Q span the first columns of A. Double precision (float64, complex128) goes
    through numpy's LAPACK: numpy and scipy ship their own OpenBLAS with separate thread pools,
    and alternating between them (numpy products, scipy QR) costs milliseconds per switch when
    BLAS is multithreaded. Single precision (networks) goes through scipy's ``?geqrf``, because
    ``numpy.linalg`` computes float32 in float64 (a 5120×40 QR: 5.1 ms against 1.0 ms).
    Tall-skinny A (:func:`dlra.qr.use_cholesky`) goes through CholeskyQR2 (two Gram products and
    k × k Cholesky factorisations), with Householder QR as the fallback when A is ill-conditioned
    (:func:`dlra.qr.tall_skinny_qr`). ``rows`` is the dimension of the space the columns live in
    when it is smaller than m (a remainder projected against r orthonormal columns lives in
    m − r dimensions): the tall-skinny test uses it, since a remainder with k ≈ m − r columns is
    as ill-conditioned as a square matrix and CholeskyQR2 would only be tried to be rejected.
    ``with_r=False``: R may come back as None (callers that need Q only).
    """
    A = np.asarray(A)
    if A.shape[1] == 0:
        return A.copy(), np.zeros((0, 0), dtype=A.dtype)
    shape = A.shape if rows is None else (min(rows, A.shape[0]), A.shape[1])
    with timed("linalg"):
        if use_cholesky(shape, A.dtype):  # tall-skinny: CholeskyQR2, Householder when ill-conditioned
            Q, R = tall_skinny_qr(A)
        else:
            Q, R = householder_qr(A, with_r=with_r)
    return Q, R


_SINGLE = (np.dtype(np.float32), np.dtype(np.complex64))


def augmented_basis(U0, K, K0=None):
    """Orthonormal ``[U0, Q]`` spanning the columns of ``[U0, K]``, with U0 (orthonormal) kept as is.

    Q is an orthonormal basis of the part of K orthogonal to U0, found by projecting twice
    (classical Gram–Schmidt with reorthogonalisation, "twice is enough": Giraud, Langou, Rozložník,
    Comput. Math. Appl. 50 (2005)) and a thin QR of the m×k remainder W — cheaper than a Householder
    QR of the m×2r matrix [U0, K], since the projections are matrix products. When U0 and K together
    have more columns than rows the complement is taken from a full QR instead.

    The QR of W loses orthogonality to U0 like ‖U0ᴴQ‖ ≈ u·κ(W) (the remainder is orthogonal to U0
    to u‖W‖, and Q = W R⁻¹ amplifies that by ‖R⁻¹‖); κ(W) is large when W has about as many
    columns as the m − r dimensions left to it (κ ≈ 10³–10⁵ at m = 2r). Then Q is projected once
    more, P = Q − U0 C with C = U0ᴴQ. Its Gram matrix is PᴴP = QᴴQ − CᴴC = I − CᴴC (exact up to the
    QR's O(u) defect): when ‖C‖² ≤ u, P is orthonormal to working precision as it is (the usual
    case: ‖C‖ ≈ 3·10⁻⁵–10⁻⁴ in single precision at the ranks of a trained network); otherwise P is
    normalised by the Cholesky factor R = chol(I − CᴴC), Q ← P R⁻¹, an O(k³) factorisation and one
    triangular solve instead of a second QR of an m × k matrix. For ‖C‖ ≤ 1/2 this restores
    ‖U0ᴴQ‖ = O(u) and QᴴQ = I + O(u) (‖R⁻¹‖ ≤ 2/√3).

    ``K0``: a matrix in range U0 with K = K0 + increment — the start K(t0) = U0 S0 of the K-step.
    Then the increment K − K0, which carries every new direction, is projected **once**: its
    remainder is orthogonal to U0 to u‖K − K0‖ instead of u‖K‖, as good as the second projection
    of K (which cannot remove the u‖K‖ error that the first one left in the other directions
    either), and the Cholesky step above restores the orthogonality of Q when κ(W) amplifies it.

    When U0 and K together have at least as many columns as rows, [U0, Q] spans the whole space
    whatever K is, and Q is any orthonormal basis of the complement of U0: the one that the previous
    truncation recorded (U0 = Û P_r with Û square: Q = Û P_⊥, one product, see :mod:`dlra.lineage`),
    else the trailing columns of a Householder QR of [U0, K].

    The result's leading columns are U0 (recorded in :mod:`dlra.lineage`, which optimisers use to
    rotate their state without products with m rows).
    """
    m, r = U0.shape
    k = K.shape[1]
    if r + k >= m:
        known = complement(U0)
        if known is not None and known[0].shape[0] == m and known[1].shape[1] == m - r:
            with timed("linalg"):
                Q = known[0] @ known[1]
            return _with_prefix(U0, Q, rest=known[1])
        if r + k > m:
            return _with_prefix(U0, orth(U0, K)[:, r:])
    with timed("linalg"):
        if K0 is None:
            W = K - U0 @ (U0.conj().T @ K)
            W -= U0 @ (U0.conj().T @ W)
        else:
            D = K - K0
            W = D - U0 @ (U0.conj().T @ D)
    Q = orth_with_r(W, rows=m - r, with_r=False)[0]
    eps = _unit_roundoff(Q.dtype)
    tol = 10 * eps * math.sqrt(m)
    with timed("linalg"):
        C = U0.conj().T @ Q
        size = _frobenius(C)
    if size <= tol:
        return _with_prefix(U0, Q)
    if size * size <= eps:  # one projection: U0ᴴP = O(u‖C‖), PᴴP = I − CᴴC = I + O(u)
        with timed("linalg"):
            return _with_prefix(U0, Q - U0 @ C)
    if size <= 0.5:
        Q1 = _reorthogonalized(U0, Q, C)
        if Q1 is not None:
            return _with_prefix(U0, Q1)
    # Directions of K (almost) inside range U0 leave a remainder of round-off size, and the QR
    # normalises it: those columns of Q are not orthogonal to U0 (Gram–Schmidt guarantees
    # orthogonality relative to ‖K‖, not to ‖W‖). They are arbitrary directions anyway; make them
    # orthogonal by projecting the normalised Q again.
    # Projecting the orthonormal Q leaves QᴴQ = I − CᴴC (C = U0ᴴQ): when ‖C‖² is below the unit
    # round-off no new QR is needed.
    for attempt in range(4):
        if attempt:
            with timed("linalg"):
                C = U0.conj().T @ Q
                size = _frobenius(C)
            if size <= tol:
                break
        with timed("linalg"):
            P = Q - U0 @ C
        # A column of Q that lay (almost) inside range U0 — e.g. K exactly in span(U0), where W = 0
        # and the QR returns coordinate vectors — has little left after the projection: its
        # direction is arbitrary, so it is replaced by a fixed pseudo-random direction ⟂ U0, which
        # keeps [U0, Q] orthonormal with the same number of columns.
        weak = np.linalg.norm(P, axis=0) < 0.5
        if weak.any():
            P[:, weak] = _complement_directions(U0, int(weak.sum()), P.dtype)
        elif size ** 2 <= eps:
            Q = P
            break
        Q = orth_with_r(P, with_r=False)[0]
    return _with_prefix(U0, Q)


#: dtype → machine epsilon (np.finfo costs microseconds per call)
_EPS = {}


def _unit_roundoff(dtype):
    eps = _EPS.get(dtype)
    if eps is None:
        eps = _EPS[dtype] = float(np.finfo(dtype).eps)
    return eps


def _frobenius(C):
    """‖C‖_F as a float, the value of ``np.linalg.norm(C)`` (for real C the square root, in C's
    precision, of the flattened C's dot product with itself — what np.linalg.norm computes — without
    its dispatch; np.linalg.norm itself for complex C)."""
    if C.size == 0:
        return 0.0
    if C.dtype.kind == "f":
        flat = C.ravel(order="K")
        return float(np.sqrt(flat.dot(flat)))
    return float(np.linalg.norm(C))


def _with_prefix(U0, Q, rest=None):
    """``[U0, Q]``, recorded in :mod:`dlra.lineage` as starting with the columns of U0 (and, with
    ``rest`` = C, as Q = B C for the B of U0's recorded product)."""
    out = np.concatenate([U0, Q], axis=1)
    record_prefix(out, U0, rest)
    return out


def _reorthogonalized(U0, Q, C):
    """``P R⁻¹`` with P = Q − U0 C and R = chol(I − CᴴC) (Q orthonormal, C = U0ᴴQ, ‖C‖ < 1), or None
    when the Cholesky factorisation fails. See :func:`augmented_basis`."""
    with timed("linalg"):
        P = Q - U0 @ C
        G = -(C.conj().T @ C)
        G.flat[::G.shape[0] + 1] += 1  # + I (np.diag_indices_from costs 14 µs, this 2.6 µs)
        potrf, trsm = lapack.get_lapack_funcs("potrf", (G,)), blas.get_blas_funcs("trsm", (G,))
        R, info = potrf(G, lower=False, clean=True, overwrite_a=True)
        if info != 0:
            return None
        return trsm(1.0, R, P, side=1, lower=False, overwrite_b=True)


def _complement_directions(U0, count, dtype):
    """``count`` fixed pseudo-random directions orthogonal to range U0 (projected twice)."""
    rng = np.random.default_rng(20220131)
    G = rng.standard_normal((U0.shape[0], count))
    if np.iscomplexobj(np.empty(0, dtype=dtype)):
        G = G + 1j * rng.standard_normal(G.shape)
    G = G.astype(dtype)
    with timed("linalg"):
        G -= U0 @ (U0.conj().T @ G)
        G -= U0 @ (U0.conj().T @ G)
    return G


def orth(*blocks):
    """Orthonormal basis ``Q`` (thin QR) of the columns of ``[B1, B2, ...]``.

    The span of the first block's columns is the span of the first columns of Q; this is how
    the parallel BUG keeps U0 as the leading columns of its augmented basis.
    """
    A = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
    return orth_with_r(A, with_r=False)[0]


def times_core(A, S):
    """``A @ S`` for a small square core S; a column scaling A · diag(S) when S is diagonal.

    After every truncation S = Σ is diagonal, and K(t0) = U0 S0, the S-product of a low-rank
    layer's pass etc. then cost O(m r) instead of O(m r²). The values are those of the product: a
    product's sum Σ_k A_ik S_kj adds only exact zeros to A_ij S_jj (A finite). Checked only from
    r = 16 on, below which the product is as cheap as the check, and for real A and S only (complex
    BLAS products round the real and imaginary parts differently from an elementwise product).
    """
    if S.shape[0] >= 16 and A.dtype.kind == "f" and S.dtype.kind == "f":
        d = np.diagonal(S)
        if np.count_nonzero(S) == np.count_nonzero(d):
            return A * d
    return A @ S


def all_finite(a):
    """``np.all(np.isfinite(a))`` with a cheap first pass: a finite Σ|a_ij|² has no NaN or inf in it.

    Any NaN or ±inf entry makes the sum of squares NaN or inf, so a finite one proves the check;
    only when it is not finite (a bad entry, or an overflow of large finite entries) is the exact
    elementwise test run. The sum is BLAS's dot product (``np.vdot``), 2–3× faster than
    ``a.sum()`` (numpy's pairwise summation) for the m × r factors of a DLRT step.
    """
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        return bool(np.all(np.isfinite(a)))
    if math.isfinite(np.vdot(a, a).real):
        return True
    return bool(np.all(np.isfinite(a)))


@dataclass
class TruncatedSVD:
    """Result of :func:`truncated_svd` of a core matrix ``Ŝ = P Σ Qᴴ``.

    ``left`` = P[:, :r], ``sigma`` = σ₁..σ_r, ``right`` = Q[:, :r] (already conjugate-transposed
    back from numpy's ``Qᴴ``), ``discarded`` = σ_{r+1}, … (what the rule cut away);
    ``left_rest`` = P[:, r:] and ``right_rest`` = Q[:, r:], the remaining singular vectors of the thin
    SVD (views, no copy).
    """

    left: np.ndarray
    sigma: np.ndarray
    right: np.ndarray
    discarded: np.ndarray
    left_rest: np.ndarray = None
    right_rest: np.ndarray = None

    @property
    def rank(self):
        return self.sigma.size

    @property
    def error(self):
        """ℓ² norm of the discarded singular values = Frobenius error of the truncation."""
        return float(np.linalg.norm(self.discarded))


def truncated_svd(core, rule, current_rank=None):
    """SVD of a small core matrix truncated by a :class:`~dlra.truncation.TruncationRule`.

    numpy's ``svd`` returns ``(P, σ, Qh)`` with ``core = P diag(σ) Qh``; the right singular
    vectors are the columns of ``Qh.conj().T``. Every 2022 DLRT reference code forms the new
    V basis from ``Qh`` in the wrong orientation; here the conversion happens once, in this
    function, and ``right`` is the matrix of right singular vectors.
    """
    core = np.asarray(core)
    if not all_finite(core):
        raise NonFiniteError("truncated_svd: the core matrix holds NaN or inf")
    with timed("linalg"):
        try:
            if core.dtype in _SINGLE:  # numpy.linalg would compute single precision in double
                P, sigma, Qh = _gesdd(core)
            else:
                P, sigma, Qh = np.linalg.svd(core, full_matrices=False)
        except np.linalg.LinAlgError:  # rare LAPACK gesdd failure: use the QR-iteration driver
            P, sigma, Qh = scipy.linalg.svd(core, full_matrices=False, lapack_driver="gesvd")
    r = rule.select_rank(sigma, current_rank=current_rank)
    return TruncatedSVD(left=P[:, :r], sigma=sigma[:r], right=Qh[:r].conj().T, discarded=sigma[r:],
                        left_rest=P[:, r:], right_rest=Qh[r:].conj().T)


#: (dtype, shape) → (LAPACK ?gesdd, its workspace size): the workspace query is made once per shape
_GESDD = {}


def _gesdd(core):
    """Thin SVD ``(P, σ, Qh)`` of a single-precision core by LAPACK ``?gesdd`` called directly.

    The same routine as ``scipy.linalg.svd`` (default driver) without its per-call argument
    checks, copy and workspace query, which cost as much as the factorisation itself for the
    20×20–60×60 cores of a DLRT step at small ranks. Raises ``LinAlgError`` when it does not converge.
    """
    key = (core.dtype.char, core.shape)
    entry = _GESDD.get(key)
    if entry is None:
        gesdd, gesdd_lwork = lapack.get_lapack_funcs(("gesdd", "gesdd_lwork"), (core,))
        work, info = gesdd_lwork(*core.shape, compute_uv=1, full_matrices=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"?gesdd workspace query failed (info = {info})")
        # the size comes back as a float of the working precision: round up, never down
        entry = (gesdd, int(np.ceil(float(np.real(work)) * (1 + 1e-6))) + 1)
        if len(_GESDD) < 1024:
            _GESDD[key] = entry
    gesdd, lwork = entry
    P, sigma, Qh, info = gesdd(core, compute_uv=1, full_matrices=0, lwork=lwork)
    if info != 0:
        raise np.linalg.LinAlgError(f"?gesdd did not converge (info = {info})")
    return P, sigma, Qh


def orthonormality_drift(Q):
    """max |QᴴQ − I| (entrywise): how far the columns of Q are from orthonormal (O(m k²))."""
    Q = np.asarray(Q)
    if Q.shape[1] == 0:
        return 0.0
    with timed("linalg"):
        G = Q.conj().T @ Q
    G.flat[::G.shape[0] + 1] -= 1  # − I (np.diag_indices_from costs 14 µs, this 2.6 µs)
    return float(np.max(np.abs(G)))


def orthonormality_tolerance(dtype):
    """Drift of max |QᴴQ − I| above which a basis is re-orthonormalised: 1000 unit round-offs.

    ≈ 2.2e-13 in double and 1.2e-4 in single precision — far above the defect of one thin QR
    (a few ε·√k) and far below what changes a step's result visibly.
    """
    return 1000.0 * _unit_roundoff(np.dtype(dtype))
