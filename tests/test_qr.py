"""CholeskyQR2 for the tall-skinny bases, its Householder fallback, and the faster DLRT/Adam step
against the previous implementation (issue 13)."""
import numpy as np
import pytest

import dlra
import dlra.linalg
from dlra.nn import MLP
from dlra.qr import STATS, cholesky_qr2, householder_qr, max_condition, tall_skinny_qr, use_cholesky
from dlra.substep import optimizers


def graded(m, k, dtype, decades=3, seed=0):
    """Gaussian m × k matrix with column norms spread over ``decades`` (equilibration must cope)."""
    A = np.random.default_rng(seed).standard_normal((m, k)) * np.logspace(0, decades, k)
    return A.astype(dtype)


def ill_conditioned(m, k, cond, dtype, seed=0):
    """Unit-norm columns, singular values spread over [1/cond, 1]: equilibration cannot help."""
    rng = np.random.default_rng(seed)
    P = np.linalg.qr(rng.standard_normal((m, k)))[0]
    W = np.linalg.qr(rng.standard_normal((k, k)))[0]
    A = (P * np.logspace(0, -np.log10(cond), k)) @ W
    return (A / np.linalg.norm(A, axis=0)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k", [(200, 16), (300, 60), (120, 60)])
def test_cholesky_qr2_orthonormal_and_exact(dtype, m, k):
    A = graded(m, k, dtype)
    Q, R = cholesky_qr2(A)
    eps = np.finfo(dtype).eps
    assert Q.dtype == dtype and R.dtype == dtype
    assert np.linalg.norm(Q.T @ Q - np.eye(k)) <= 20 * np.sqrt(k) * eps
    assert np.linalg.norm(Q @ R - A) <= 10 * np.sqrt(k) * eps * np.linalg.norm(A)
    assert np.all(np.tril(R, -1) == 0)  # upper triangular: Q[:, :j] spans A[:, :j]
    # same factorisation as Householder up to the signs of Q's columns
    Qh, Rh = householder_qr(A)
    signs = np.sign(np.diagonal(Rh))
    assert np.allclose(Q, Qh * signs, atol=100 * np.sqrt(k) * eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fallback_on_ill_conditioned_input(dtype):
    limit = max_condition(dtype)
    good = ill_conditioned(150, 20, limit / 30, dtype)
    bad = ill_conditioned(150, 20, limit * 30, dtype)
    assert cholesky_qr2(good) is not None
    assert cholesky_qr2(bad) is None
    before = dict(STATS)
    Q, R = tall_skinny_qr(bad)
    assert STATS["householder"] == before["householder"] + 1
    eps = np.finfo(dtype).eps
    assert np.linalg.norm(Q.T @ Q - np.eye(20)) <= 20 * np.sqrt(20) * eps
    assert np.linalg.norm(Q @ R - bad) <= 10 * np.sqrt(20) * eps * np.linalg.norm(bad)


def test_rank_deficient_and_zero_columns_fall_back():
    A = graded(100, 20, np.float64)
    A[:, 5] = A[:, 3]  # exactly dependent
    assert cholesky_qr2(A) is None
    A[:, 5] = 0.0
    assert cholesky_qr2(A) is None
    Q, R = dlra.linalg.orth_with_r(A)
    assert np.allclose(Q @ R, A, atol=1e-13 * np.linalg.norm(A))


def test_dispatch_and_bad_input():
    assert use_cholesky((500, 40), np.float32) and use_cholesky((80, 40), np.float64)
    assert not use_cholesky((500, 8), np.float32)  # few columns: Householder
    assert not use_cholesky((500, 30), np.float32) and use_cholesky((500, 16), np.float64)  # float32 from k = 40
    assert not use_cholesky((500, 150), np.float32) and use_cholesky((300, 150), np.float64)  # float32: m ≥ 4k
    assert not use_cholesky((60, 40), np.float64)  # not tall
    assert not use_cholesky((500, 40), np.complex128)
    with pytest.raises(ValueError, match="A must be"):
        cholesky_qr2(np.ones((3, 5)))


def generic_rotation(old, new):
    """newᴴ old as a product (None = identity): the rotation before the recorded basis relations."""
    return None if old is None or new is None or old is new else new.conj().T @ old


class PreviousAdam(dlra.Adam):
    """Adam as before issue 13 (rotations formed per moment as products, the update in three temporaries)."""

    def _carried(self, flow, z0, names):
        lefts, rights = flow.left_bases, flow.right_bases
        entry = self.state.get(flow.key)
        if entry is None or len(entry["moments"][names[0]]) != len(z0):
            return {name: [np.zeros_like(z) for z in z0] for name in names}, 0
        moments = {}
        for name in names:
            carried = []
            for i, z in enumerate(z0):
                rl = generic_rotation(entry["lefts"][i], lefts[i])
                rr = generic_rotation(entry["rights"][i], rights[i])
                carried.append(optimizers._rotate(entry["moments"][name][i], rl, rr, square=(name == "v")))
            moments[name] = carried
        return moments, entry["count"]

    def integrate(self, flow, t0, t1, z0, f0=None):
        f = list(f0) if f0 is not None else flow(t0, z0)
        moments, count = self._carried(flow, z0, ["m", "v"])
        count += 1
        b1, b2 = self.beta1, self.beta2
        m = [b1 * mi + (1 - b1) * di for mi, di in zip(moments["m"], f)]
        v = [b2 * vi + (1 - b2) * (np.abs(di) ** 2) for vi, di in zip(moments["v"], f)]
        self._store(flow, {"m": m, "v": v}, count)
        step = (t1 - t0) * self.lr_scale
        c1, c2 = 1 - b1 ** count, 1 - b2 ** count
        return [z + step * (mi / c1) / (np.sqrt(vi / c2) + self.eps) for z, mi, vi in zip(z0, m, v)]


def run_dlrt(adam, truncation, steps=6):
    rng = np.random.default_rng(3)
    net = MLP.from_sizes([80, 64, 48, 5], ranks=[18, 16, None], rng=0, dtype=np.float64)
    integrator = dlra.AdaptiveBUG(substep=adam, truncation=truncation)
    for _ in range(steps):
        X, y = rng.standard_normal((32, 80)), rng.integers(0, 5, 32)
        net.set_parameters(integrator.step(net.vector_field(X, y), 0.0, net.parameters(), 1e-2))
    return net


@pytest.mark.parametrize("truncation", [dlra.FixedRank(), dlra.RelativeTolerance(0.2)],
                         ids=["fixed", "tau"])
def test_dlrt_adam_step_equals_previous_implementation(truncation, monkeypatch):
    before = STATS["cholesky"]
    fast = run_dlrt(dlra.Adam(), truncation)
    assert STATS["cholesky"] > before  # the bases went through CholeskyQR2
    monkeypatch.setattr(dlra.linalg, "use_cholesky", lambda shape, dtype: False)
    slow = run_dlrt(PreviousAdam(), truncation)
    assert fast.ranks() == slow.ranks()
    for a, b in zip(fast.parameters(), slow.parameters()):
        a = a.to_dense() if isinstance(a, dlra.LowRank) else a
        b = b.to_dense() if isinstance(b, dlra.LowRank) else b
        assert np.linalg.norm(a - b) <= 1e-11 * np.linalg.norm(b)


#: condition numbers of the remainder that put ‖U0ᴴQ‖ ≈ u·κ between round-off and √u (one projection
#: suffices) or above √u (the Cholesky normalisation is needed)
_CONDITION = {"projection": {np.float32: 1e3, np.float64: 1e4, np.complex128: 1e4},
              "cholesky": {np.float32: 1e4, np.float64: 1e9, np.complex128: 1e9}}


@pytest.mark.parametrize("path", ["projection", "cholesky"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_augmented_basis_with_an_ill_conditioned_remainder(dtype, path, monkeypatch):
    """K = U0 S0 + an ill-conditioned remainder in the m − r = k dimensions left to it (the DLRT
    shape m = 2r): the QR of the remainder leaves ‖U0ᴴQ‖ = ‖C‖ ≈ u·κ, far above round-off. With
    ‖C‖² ≤ u one more projection Q − U0 C must do; above, the Cholesky re-orthogonalisation
    R = chol(I − CᴴC), Q ← (Q − U0 C) R⁻¹. Either must give [U0, Q] orthonormal to O(u), the same span,
    and the same Q (up to column signs) as a second Householder QR of Q − U0 C."""
    m, r = 120, 60
    rng = np.random.default_rng(5)
    cplx = np.iscomplexobj(np.empty(0, dtype))
    G = rng.standard_normal((m, m)) + (1j * rng.standard_normal((m, m)) if cplx else 0)
    basis = np.linalg.qr(G)[0]
    U0, comp = basis[:, :r], basis[:, r:]
    remainder = comp @ ill_conditioned(m - r, m - r, _CONDITION[path][dtype], np.float64, seed=1)
    K = (U0 @ np.diag(np.geomspace(3, 0.3, r)) + 1e-2 * remainder).astype(dtype)
    U0 = U0.astype(dtype)
    u = np.finfo(dtype).eps

    Q0 = dlra.linalg.orth_with_r(K - U0 @ (U0.conj().T @ K), rows=m - r)[0]
    W = K - U0 @ (U0.conj().T @ K)  # what augmented_basis factors: K projected twice
    W -= U0 @ (U0.conj().T @ W)
    size = np.linalg.norm(U0.conj().T @ dlra.linalg.orth_with_r(W, rows=m - r)[0])
    assert size > 100 * u  # the case the re-orthogonalisation is for
    assert (size ** 2 <= u) == (path == "projection") and size < 0.5
    calls = []
    original = dlra.linalg._reorthogonalized
    monkeypatch.setattr(dlra.linalg, "_reorthogonalized", lambda *a: calls.append(1) or original(*a))
    Qhat = dlra.linalg.augmented_basis(U0, K)
    assert bool(calls) == (path == "cholesky")  # the path taken
    assert np.array_equal(Qhat[:, :r], U0)
    defect = np.abs(Qhat.conj().T @ Qhat - np.eye(2 * r)).max()
    assert defect <= 20 * np.sqrt(2 * r) * u
    # the same span: K is reproduced by its projection onto [U0, Q]
    assert np.linalg.norm(K - Qhat @ (Qhat.conj().T @ K)) <= 100 * u * np.linalg.norm(K)
    # the same Q as a Householder QR of the projected Q (up to column phases)
    Q = Qhat[:, r:]
    Qh = householder_qr(Q0 - U0 @ (U0.conj().T @ Q0))[0]
    phases = np.sum(Qh.conj() * Q, axis=0)
    assert np.allclose(np.abs(phases), 1, atol=1e3 * u)
    # (the two normalisations of an ill-conditioned P differ by a fraction of its Gram defect ‖C‖²/‖C‖)
    assert np.abs(Q - Qh * phases).max() <= max(1e3 * u, 0.05 * size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotations_from_the_truncation_equal_the_products(dtype):
    """After U1 = Û P_r (recorded by the integrator) the optimiser's rotations newᴴ old of the K-, L-
    and augmented S-substeps come from P_r, Q_r and half a product; they must equal the products to
    round-off, and the relations must actually be used for all three substeps."""
    from dlra.lineage import known_rotation
    rng = np.random.default_rng(4)
    net = MLP.from_sizes([60, 40, 30, 5], ranks=[9, 7, None], rng=0, dtype=dtype)
    adam = dlra.Adam()
    integrator = dlra.AdaptiveBUG(substep=adam, truncation=dlra.RelativeTolerance(0.1))
    used = set()
    for step in range(5):
        X, y = rng.standard_normal((16, 60)).astype(dtype), rng.integers(0, 5, 16)
        before = {key: (list(e["lefts"]), list(e["rights"])) for key, e in adam.state.items()}
        net.set_parameters(integrator.step(net.vector_field(X, y), 0.0, net.parameters(), 1e-2))
        for key, entry in adam.state.items():
            if key not in before:
                continue
            for old_list, new_list in zip(before[key], (entry["lefts"], entry["rights"])):
                for old, new in zip(old_list, new_list):
                    if old is None or new is None:
                        continue
                    known = known_rotation(old, new)
                    if known is None:
                        continue
                    used.add(key)
                    exact = new.T @ old
                    assert known.shape == exact.shape and known.dtype == exact.dtype
                    assert np.abs(known - exact).max() <= 50 * np.finfo(dtype).eps
    assert used == {"K", "L", "S"}
    assert any(r < 9 for r in net.ranks())  # the ranks changed on the way (rank-adaptive relations)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("r", [8, 40])
def test_times_core_equals_the_product(dtype, r):
    """A·S with a diagonal core (every S after a truncation) is a column scaling: the same values as
    the product, bit for bit; a core with one off-diagonal entry goes through the product."""
    from dlra.linalg import times_core
    rng = np.random.default_rng(r)
    A = rng.standard_normal((70, r)).astype(dtype)
    S = np.diag(rng.standard_normal(r)).astype(dtype)
    S[3, 3] = 0  # a zero singular value
    if np.iscomplexobj(A):
        A = A + 1j * rng.standard_normal(A.shape)
        S = S * np.exp(1j * rng.uniform(0, 6, r))
    for core in (S, S.conj().T, S.T):
        assert np.array_equal(times_core(A, core), A @ core)
        assert times_core(A, core).dtype == (A @ core).dtype
    S[1, 2] = 0.5
    assert np.array_equal(times_core(A, S), A @ S)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_direct_lapack_qr_equals_scipy(dtype):
    """Single-precision Householder QR calls ?geqrf/?orgqr directly with workspace sizes kept per
    shape: the same Q and R as scipy.linalg.qr(mode="economic"), bit for bit, input untouched
    (tall, square, repeated shape, and a wide matrix through scipy)."""
    import scipy.linalg
    rng = np.random.default_rng(2)
    for shape in ((50, 7), (9, 9), (50, 7), (4, 6)):
        A = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else 0)
        A = A.astype(dtype)
        A0 = A.copy()
        Q, R = householder_qr(A)
        Qs, Rs = scipy.linalg.qr(A, mode="economic")
        np.testing.assert_array_equal(A, A0)
        np.testing.assert_array_equal(Q, Qs)
        np.testing.assert_array_equal(R, Rs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_augmented_basis_projects_the_increment(dtype):
    """K = K0 + Δ with K0 = U0 S0 (the K-step's start) 10⁵ times larger than Δ: projecting the
    increment K − K0 once gives [U0, Q] orthonormal to O(u) and Q equal (up to signs) to the QR of
    the exact remainder (I − U0U0ᴴ)(K − K0) to u·κ, while projecting K itself loses u‖K‖/σ_min."""
    from dlra.linalg import augmented_basis
    rng = np.random.default_rng(3)
    m, r = 120, 40
    U0 = np.linalg.qr(rng.standard_normal((m, r)))[0].astype(dtype)
    K0 = U0 @ np.diag(np.geomspace(100, 1, r)).astype(dtype)
    K = K0 + (1e-3 * rng.standard_normal((m, r))).astype(dtype)
    u = np.finfo(dtype).eps
    D = K.astype(np.float64) - K0.astype(np.float64)  # the increment the rounded K carries
    U64 = U0.astype(np.float64)
    W = D - U64 @ (U64.T @ D)
    Qref = np.linalg.qr(W)[0]
    sv = np.linalg.svd(W, compute_uv=False)
    kappa = sv[0] / sv[-1]

    def error(Qhat):
        Q = Qhat[:, r:].astype(np.float64)
        return np.abs(Q - Qref * np.sign(np.sum(Q * Qref, axis=0))).max()

    Qhat = augmented_basis(U0, K, K0=K0)
    assert np.array_equal(Qhat[:, :r], U0)
    assert np.abs(Qhat.astype(np.float64).T @ Qhat - np.eye(2 * r)).max() <= 20 * np.sqrt(2 * r) * u
    assert error(Qhat) <= 50 * u * kappa
    assert error(augmented_basis(U0, K)) > 100 * error(Qhat)  # what projecting K itself loses


def _full_space_steps(dtype, substep, use_complement, steps=4, monkeypatch=None):
    """A network whose hidden layers are 24×24 at rank 12 (2r = m: the augmented bases span the whole
    space) and a 24×40 first layer, stepped by the fixed-rank DLRT step; returns the weights."""
    if not use_complement:
        monkeypatch.setattr(dlra.linalg, "complement", lambda a: None)
    rng = np.random.default_rng(7)
    net = MLP.from_sizes([40, 24, 24, 5], ranks=[12, 12, None], rng=0, dtype=dtype)
    integrator = dlra.AdaptiveBUG(substep=substep, truncation=dlra.FixedRank())
    for _ in range(steps):
        X, y = rng.standard_normal((16, 40)).astype(dtype), rng.integers(0, 5, 16)
        net.set_parameters(integrator.step(net.vector_field(X, y), 0.0, net.parameters(), 5e-2))
    if not use_complement:
        monkeypatch.undo()
    return [p.to_dense() if isinstance(p, dlra.LowRank) else p for p in net.parameters()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_space_augmented_basis_takes_the_truncation_complement(dtype, monkeypatch):
    """When 2r ≥ m the augmented basis spans the whole space; after a truncation U1 = Û P_r of a square
    Û it is taken as [U1, Û P_⊥] with no QR. It must be orthonormal with U1 as its leading columns, its
    rotation from Û must be Pᴴ to round-off (the rest coefficients used, no product), and an SGD step
    (whose result depends only on the spans) must give the weights of the QR path to round-off."""
    from dlra.lineage import _relation, complement, known_rotation
    eps = np.finfo(dtype).eps
    calls = []
    original = dlra.linalg.orth_with_r
    monkeypatch.setattr(dlra.linalg, "orth_with_r", lambda *a, **k: calls.append(a[0].shape) or original(*a, **k))
    rng = np.random.default_rng(3)
    net = MLP.from_sizes([40, 24, 24, 5], ranks=[12, 12, None], rng=0, dtype=dtype)
    integrator = dlra.AdaptiveBUG(substep=dlra.SGD(), truncation=dlra.FixedRank())
    previous = None
    for step in range(4):
        X, y = rng.standard_normal((16, 40)).astype(dtype), rng.integers(0, 5, 16)
        calls.clear()
        net.set_parameters(integrator.step(net.vector_field(X, y), 0.0, net.parameters(), 5e-2))
        U1 = net.layers[1].Y.U
        found = complement(U1)
        assert found is not None and found[0].shape == (24, 24) and found[1].shape == (24, 12)
        if step:
            # only the V side of the 24×40 layer (40 > 2r) needs a QR from the second step on
            assert calls == [(40, 12)]
        U_full = np.concatenate([U1, found[0] @ found[1]], axis=1)
        assert np.abs(U_full.T.conj() @ U_full - np.eye(24)).max() <= 50 * eps
        if previous is not None:
            Uhat_prev, U_prev = previous
            kind, head, rest = _relation(Uhat_prev)
            assert kind == "prefix" and head is U_prev and rest is not None
        K = np.zeros_like(U1)
        Uhat = dlra.linalg.augmented_basis(U1, K)
        assert np.array_equal(Uhat[:, :12], U1)
        assert np.abs(Uhat.T.conj() @ Uhat - np.eye(24)).max() <= 50 * eps
        R = known_rotation(found[0], Uhat)
        assert R is not None and np.abs(R - Uhat.T.conj() @ found[0]).max() <= 50 * eps
        previous = (Uhat, U1)
    qr_path = _full_space_steps(dtype, dlra.SGD(), use_complement=False, monkeypatch=monkeypatch)
    complement_path = _full_space_steps(dtype, dlra.SGD(), use_complement=True)
    for a, b in zip(qr_path, complement_path):
        assert np.abs(a - b).max() <= 1e3 * eps * max(1.0, np.abs(a).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_frobenius_shortcut_equals_numpy_norm_bitwise(dtype):
    """augmented_basis decides between its re-orthogonalisation paths on ‖U0ᴴQ‖_F: the shortcut must
    give np.linalg.norm's value exactly, or trajectories would change with it."""
    from dlra.linalg import _frobenius

    rng = np.random.default_rng(2)
    cplx = np.iscomplexobj(np.empty(0, dtype))
    for shape in [(30, 30), (7, 60), (1, 1), (0, 4)]:
        C = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if cplx else 0)
        C = (1e-4 * C).astype(dtype)
        assert _frobenius(C) == (float(np.linalg.norm(C)) if C.size else 0.0)
    C = rng.standard_normal((40, 20)).astype(dtype)
    assert _frobenius(C.T) == float(np.linalg.norm(C.T))  # a transposed view
    assert _frobenius(C[::2]) == float(np.linalg.norm(C[::2]))  # a strided view
