import numpy as np
import pytest
import scipy.sparse.linalg

import dlra
from dlra.linalg import orth, truncated_svd
from dlra.lowrank import orthonormality_defect


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_from_dense_is_best_approximation(dtype):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 20)) + (1j * rng.standard_normal((30, 20)) if dtype == np.complex128 else 0)
    sigma = np.linalg.svd(A, compute_uv=False)
    Y = dlra.LowRank.from_dense(A, rank=5)
    assert Y.rank == 5 and Y.shape == (30, 20) and Y.dtype == dtype
    # Eckart–Young: the error is the ℓ² tail of the singular values
    assert np.isclose(np.linalg.norm(A - Y.to_dense()), np.linalg.norm(sigma[5:]), rtol=1e-12)
    assert np.allclose(Y.singular_values(), sigma[:5], rtol=1e-12)
    # tolerance form keeps the smallest rank with tail ≤ tol
    tol = np.linalg.norm(sigma[7:]) * 1.0001
    assert dlra.LowRank.from_dense(A, tol=tol).rank == 7


def test_random_has_prescribed_spectrum_and_orthonormal_factors():
    s = [3.0, 1.0, 1e-3, 1e-9]
    Y = dlra.LowRank.random(40, 25, s, rng=1, dtype=np.complex128)
    assert np.allclose(Y.singular_values(), s, rtol=1e-8, atol=1e-15)
    assert orthonormality_defect(Y.U) < 1e-13 and orthonormality_defect(Y.V) < 1e-13


def test_products_adjoint_and_arithmetic():
    rng = np.random.default_rng(2)
    Y = dlra.LowRank(rng.standard_normal((12, 3)) + 1j * rng.standard_normal((12, 3)),
                     rng.standard_normal((3, 3)), rng.standard_normal((9, 3)))
    D = Y.to_dense()
    X = rng.standard_normal((9, 4))
    W = rng.standard_normal((12, 2))
    assert np.allclose(Y @ X, D @ X)
    assert np.allclose(Y.matvec(X[:, 0]), D @ X[:, 0])
    assert np.allclose(Y.rmatmat(W), D.conj().T @ W)
    assert np.allclose(W.T @ Y, W.T @ D)
    assert np.allclose(Y.H.to_dense(), D.conj().T)
    assert np.allclose(Y.T.to_dense(), D.T)
    assert np.allclose((Y + 2.0 * Y - Y).to_dense(), 2 * D)
    assert np.allclose(np.asarray(Y), D)
    assert np.isclose(Y.norm(), np.linalg.norm(D))
    Z = Y.truncate(rank=2)
    assert Z.rank == 2 and Z.is_orthonormal()
    # as a LinearOperator-like object for scipy
    op = scipy.sparse.linalg.aslinearoperator(Y)
    assert np.allclose(op.matmat(X), D @ X)


def test_truncated_svd_right_vectors_have_the_right_orientation():
    """core = left diag(σ) rightᴴ must hold exactly with nothing truncated (the DLRT-code pitfall)."""
    rng = np.random.default_rng(3)
    core = rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))
    res = truncated_svd(core, dlra.AbsoluteTolerance(0.0))
    assert res.rank == 6
    assert np.allclose(res.left @ np.diag(res.sigma) @ res.right.conj().T, core, atol=1e-13)
    wrong = res.left @ np.diag(res.sigma) @ res.right  # the reference codes' orientation
    assert not np.allclose(wrong, core, atol=1e-3)


def test_orth_keeps_the_first_block_span():
    rng = np.random.default_rng(4)
    U0 = orth(rng.standard_normal((20, 3)))
    Q = orth(U0, rng.standard_normal((20, 3)))
    assert orthonormality_defect(Q) < 1e-13
    assert np.allclose(np.abs(Q[:, :3].T @ U0), np.eye(3), atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (lambda: dlra.LowRank(np.ones((4, 2)), np.ones((3, 3)), np.ones((5, 3))), "U must have r = 3"),
    (lambda: dlra.LowRank(np.ones((4, 3)), np.ones((3, 2)), np.ones((5, 3))), "V must have r = 2"),
    (lambda: dlra.LowRank(np.ones((4, 3)), np.ones((3, 3)), np.ones((5, 2))), "V must have r = 3"),
    (lambda: dlra.LowRank(np.ones(4), np.ones((1, 1)), np.ones((5, 1))), "U must be a 2-D"),
    (lambda: dlra.LowRank(np.full((4, 1), np.nan), np.ones((1, 1)), np.ones((5, 1)), check_finite=True), "U contains non-finite"),
    (lambda: dlra.LowRank.random(3, 4, [1, 1, 1, 1]), "exceeds min"),
    (lambda: dlra.LowRank.random(3, 4, [1, -1]), "nonnegative"),
    (lambda: dlra.LowRank.from_dense(np.ones((3, 3)), rank=2, tol=0.1), "only one of"),
    (lambda: dlra.LowRank.from_dense(np.full((3, 3), np.inf), rank=1), "non-finite"),
])
def test_bad_input_is_named(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.complex128, 1e-13), (np.float32, 1e-5)])
@pytest.mark.parametrize("dependent", [0, 2, 4])
def test_augmented_basis_is_orthonormal_even_when_K_lies_in_range_U0(dtype, tol, dependent):
    """[U0, Q] must be orthonormal and span [U0, K] also when some columns of K lie in range U0
    (exact-rank problems): there the projected remainder is round-off, which the QR normalises."""
    from dlra.linalg import augmented_basis
    rng = np.random.default_rng(dependent)
    U0 = orth(rng.standard_normal((40, 4)) + (1j * rng.standard_normal((40, 4)) if dtype == np.complex128 else 0)).astype(dtype)
    K = rng.standard_normal((40, 4)).astype(dtype)
    K[:, :dependent] = U0 @ rng.standard_normal((4, dependent)).astype(dtype)
    Q = augmented_basis(U0, K)
    assert Q.shape == (40, 8) and Q.dtype == dtype
    assert np.allclose(Q[:, :4], U0)
    assert orthonormality_defect(Q) < tol
    assert np.linalg.norm(K - Q @ (Q.conj().T @ K)) < tol * np.linalg.norm(K) * 10
    # more columns than rows: the complement comes from a full QR
    U_small = orth(rng.standard_normal((6, 4))).astype(dtype)
    Q = augmented_basis(U_small, K[:6])
    assert Q.shape == (6, 6) and orthonormality_defect(Q) < tol
