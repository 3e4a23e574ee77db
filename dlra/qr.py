"""Thin QR of tall-skinny matrices by CholeskyQR2, with a Householder fallback.

The augmented bases of the rank-adaptive BUG (m × r remainders, m × 2r blocks) are tall and
skinny. LAPACK's Householder QR (``?geqrf`` + ``?orgqr``) works column panel by column panel,
partly in matrix–vector operations; CholeskyQR does the same job with two matrix products and a
k × k Cholesky factorisation:

    G = Aᴴ A = R₁ᴴ R₁,   Q₁ = A R₁⁻¹,        (CholeskyQR)
    Q₁ᴴ Q₁ = R₂ᴴ R₂,     Q = Q₁ R₂⁻¹,  R = R₂ R₁   (second pass: CholeskyQR2).

One pass loses orthogonality like κ(A)² u; the second pass restores ‖QᴴQ − I‖ = O(u) as long as
κ(A) ≲ u^{-1/2} (Yamamoto, Nakatsukasa, Yanagisawa & Fukaya, "Roundoff error analysis of the
CholeskyQR2 algorithm", ETNA 44 (2015) 306–326; Fukaya et al., "CholeskyQR2: a simple and
communication-avoiding algorithm for computing a tall-skinny QR factorization", ScalA 2014).
The columns are equilibrated first (G is scaled to unit diagonal; the scaling is folded into R₁),
so only the condition number of the column-normalised A counts. That condition number is
estimated from R₁ by LAPACK's ``?trcon`` (O(k²)); above :func:`max_condition` — or when the
Cholesky factorisation fails, or a column is zero — :func:`tall_skinny_qr` falls back to
Householder QR. Both produce R upper triangular with A = Q R, so the first j columns of Q span the
first j columns of A in either case (what the augmented bases rely on); the signs of Q's columns
may differ between the two (Cholesky gives R a positive diagonal).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack

__all__ = ["cholesky_qr2", "tall_skinny_qr", "householder_qr", "max_condition", "use_cholesky", "STATS"]

#: how many tall-skinny QRs took each path (diagnostics for benchmarks and tests)
STATS = {"cholesky": 0, "householder": 0}


def max_condition(dtype):
    """Largest estimated κ₁ of the column-equilibrated A accepted by CholeskyQR2: 1/(10 √u)
    (u the unit round-off: ≈ 290 in single, ≈ 6.7·10⁶ in double precision)."""
    return 0.1 / np.sqrt(np.finfo(dtype).eps)


def use_cholesky(shape, dtype):
    """Whether :func:`dlra.linalg.orth_with_r` sends an m × k matrix to :func:`tall_skinny_qr`:
    real dtype (complex Gram products were slower than Householder QR here); in double precision
    k ≥ 16 columns and m ≥ 2k rows; in single precision k ≥ 40 and m ≥ 4k. Measured side by side
    on the AMD EPYC of BENCHMARKS.md (scipy's ``?geqrf``/``?orgqr`` called directly in single
    precision, numpy's QR in double): float32 CholeskyQR2 took 1.4–1.6× the Householder time at
    k = 20–30, 0.6–0.9× for k = 40–160 with m ≥ 5k, 1.2–1.6× at m ≤ 3k; float64 CholeskyQR2 wins
    from k = 16, m ≥ 2k."""
    m, k = shape
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return False
    if dtype.itemsize == 4:
        return k >= 40 and m >= 4 * k
    return k >= 16 and m >= 2 * k


def householder_qr(A, with_r=True):
    """Thin Householder QR (LAPACK ``?geqrf``/``?orgqr``; scipy's LAPACK in single precision, which
    numpy would compute in double, numpy's LAPACK in double precision). ``with_r=False`` may return
    None for R when only Q is wanted (saves forming the triangle)."""
    if A.dtype in (np.dtype(np.float32), np.dtype(np.complex64)):
        if A.ndim == 2 and A.shape[0] >= A.shape[1] > 0:
            return _householder_single(A, with_r)
        return scipy.linalg.qr(A, mode="economic", check_finite=False)
    return np.linalg.qr(A, mode="reduced")


#: (dtype, shape) → (?geqrf, ?orgqr / ?ungqr, their workspace sizes), queried once per shape
_GEQRF = {}


def _householder_single(A, with_r=True):
    """``?geqrf`` + ``?orgqr`` (``?ungqr``) called directly for a tall single-precision A: the
    routines of ``scipy.linalg.qr(A, mode="economic")``, without its two workspace queries and
    argument checks per call (as much time as the factorisation for the m × 10–30 bases of DLRT
    at small ranks)."""
    key = (A.dtype.char, A.shape)
    entry = _GEQRF.get(key)
    if entry is None:
        geqrf, orgqr = lapack.get_lapack_funcs(("geqrf", "ungqr" if A.dtype.kind == "c" else "orgqr"), (A,))
        qr, tau, work, info = geqrf(A, lwork=-1)
        lwork_qr = int(np.real(work[0]) * (1 + 1e-6)) + 1
        _, work, info2 = orgqr(A, tau, lwork=-1)
        if info != 0 or info2 != 0:
            raise ValueError(f"?geqrf/?orgqr workspace query failed (info = {info}, {info2})")
        entry = (geqrf, orgqr, lwork_qr, int(np.real(work[0]) * (1 + 1e-6)) + 1)
        if len(_GEQRF) < 1024:
            _GEQRF[key] = entry
    geqrf, orgqr, lwork_qr, lwork_q = entry
    qr, tau, _, info = geqrf(A, lwork=lwork_qr, overwrite_a=0)
    if info != 0:
        raise ValueError(f"illegal value in argument {-info} of ?geqrf")
    R = np.triu(qr[:A.shape[1]]) if with_r else None
    Q, _, info = orgqr(qr, tau, lwork=lwork_q, overwrite_a=1)
    if info != 0:
        raise ValueError(f"illegal value in argument {-info} of ?orgqr")
    return Q, R


def _cholesky_pass(A, G, scale):
    """R with G / (scale scaleᴴ) = R̃ᴴ R̃, R = R̃ diag(scale), and Q = A R⁻¹; None if not positive definite."""
    Gs = G / np.outer(scale, scale)
    potrf, trsm = lapack.get_lapack_funcs("potrf", (Gs,)), blas.get_blas_funcs("trsm", (Gs,))
    Rt, info = potrf(Gs, lower=False, clean=True, overwrite_a=True)
    if info != 0:
        return None, None, None
    R = Rt * scale[np.newaxis, :]
    Q = trsm(1.0, R, A, side=1, lower=False)  # A R⁻¹ (BLAS triangular solve from the right)
    return Q, R, Rt


def cholesky_qr2(A):
    """``(Q, R)`` with A = Q R by CholeskyQR2 (see the module docstring), or None when A is too
    ill-conditioned for it (a zero column, a failed Cholesky factorisation, or an estimated
    condition number of the column-equilibrated A above :func:`max_condition`)."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] < A.shape[1] or A.dtype.kind not in "fc":
        raise ValueError(f"A must be a tall (m ≥ k) floating 2-D array, got shape {A.shape}, dtype {A.dtype}")
    A = np.asfortranarray(A)
    G = A.conj().T @ A
    d = np.sqrt(np.abs(np.diagonal(G).real))
    if not np.all(d > 0) or not np.all(np.isfinite(d)):
        return None
    Q1, R1, Rt = _cholesky_pass(A, G, d.astype(A.dtype))
    if Q1 is None:
        return None
    trcon = lapack.get_lapack_funcs("trcon", (Rt,))
    rcond, info = trcon(Rt, norm="1", uplo="U", diag="N")
    if info != 0 or not rcond * max_condition(A.dtype) >= 1:
        return None
    G2 = Q1.conj().T @ Q1
    Q, R2, _ = _cholesky_pass(Q1, G2, np.ones(G2.shape[0], dtype=A.dtype))
    if Q is None:
        return None
    trmm = blas.get_blas_funcs("trmm", (R2,))
    R = trmm(1.0, R2, R1, side=0, lower=False)  # R₂ R₁ (both upper triangular)
    return Q, R


def tall_skinny_qr(A):
    """Thin QR ``(Q, R)`` of a tall-skinny A: CholeskyQR2 when A is well enough conditioned,
    Householder QR otherwise (the path taken is counted in :data:`STATS`)."""
    result = cholesky_qr2(A)
    if result is None:
        STATS["householder"] += 1
        return householder_qr(np.asarray(A))
    STATS["cholesky"] += 1
    return result
