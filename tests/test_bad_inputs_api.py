"""Bad API inputs get a named error, and the former silent wrong results are now correct.

Each bad input asserts the error type and that the message names the offending argument. The
second half checks the integrator contract: the public step on non-orthonormal factors, dtype
preservation, re-orthonormalisation of drifted bases, rank-deficient augmentations, the step
record, the optimiser-state keys, the blow-up detector (differential Riccati equation) and a
user-written integrator from the public building blocks.
"""
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

import dlra
from dlra.integrators import Integrator, make_integrator
from dlra.integrators.blocks import StepInfo, factors, galerkin_step, kl_steps, with_updates
from dlra.field import lowrank_indices
from dlra.linalg import augmented_basis, orth, orthonormality_drift, orthonormality_tolerance

Y0 = dlra.LowRank.random(8, 6, [1.0, 0.5], rng=0)


def field(t, Y):
    return -np.asarray(Y)


def wrong_shape_operator(t, Y):
    return sla.LinearOperator((8, 6), matvec=lambda v: np.ones(3), rmatvec=lambda v: np.ones(6),
                              matmat=lambda X: np.ones((3, X.shape[1])), dtype=float)


SOLVE_CASES = [
    (dict(max_norm=float("nan")), ValueError, "max_norm"),
    (dict(max_norm="big"), TypeError, "max_norm"),
    (dict(t_eval=[0.5, float("nan")]), ValueError, "t_eval"),
    (dict(t_eval=["a"]), TypeError, "t_eval"),
    (dict(t_eval=[]), ValueError, "t_eval"),
    (dict(h=1e-12), ValueError, "h = 1e-12"),
    (dict(h="0.1"), TypeError, "h must be"),
    (dict(h=True), TypeError, "h must be"),
    (dict(save="some"), ValueError, "save"),
    (dict(save="last", t_eval=[0.5]), ValueError, "save"),
    (dict(growth_limit=0.5), ValueError, "growth_limit"),
    (dict(growth_limit=float("nan")), ValueError, "growth_limit"),
    (dict(method="adaptive_bug"), ValueError, "truncation"),
    (dict(method="parallel_bug"), ValueError, "truncation"),
    (dict(method="projected_euler", substep="rk4"), ValueError, "substep"),
    (dict(method="projected_rk", substep="euler"), ValueError, "substep"),
    (dict(method="bug", theta=0.1), ValueError, "theta"),
    (dict(method="ksl", truncation=dlra.FixedRank()), ValueError, "truncation"),
    (dict(method="bug", scheme="strang"), TypeError, "scheme"),
    (dict(method="ksl", scheme="yoshida"), ValueError, "scheme"),
    (dict(method="projected_rk", tableau="rk9"), ValueError, "tableau"),
    (dict(method=dlra.BUG(), substep="rk4"), ValueError, "substep"),
    (dict(method=42), ValueError, "method"),
    (dict(Y0=np.ones((4, 3)), rank=10), ValueError, "rank"),
    (dict(F=wrong_shape_operator), ValueError, "F V"),
    (dict(F=lambda t, Y: None), TypeError, r"F\(t, Y\)"),
    (dict(F=lambda t, Y: np.full((8, 6), "x")), TypeError, r"F\(t, Y\)"),
]


@pytest.mark.parametrize("kwargs, error, match", SOLVE_CASES)
def test_bad_solve_arguments_name_the_argument(kwargs, error, match):
    args = dict(F=field, Y0=Y0, t_span=(0, 1), h=0.1, method="bug")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        dlra.solve(args.pop("F"), args.pop("Y0"), args.pop("t_span"), args.pop("h"), **args)


def closed_form(result):
    return dlra.ClosedForm(lambda flow, t0, t1, z0: result(z0))


CONSTRUCTOR_CASES = [
    (lambda: dlra.SGD(lr_scale=float("nan")), ValueError, "lr_scale"),
    (lambda: dlra.SGD(lr_scale="1"), TypeError, "lr_scale"),
    (lambda: dlra.SGD(momentum=float("nan")), ValueError, "momentum"),
    (lambda: dlra.Adam(eps=float("nan")), ValueError, "eps"),
    (lambda: dlra.Adam(beta1=1.0), ValueError, "beta1"),
    (lambda: dlra.RelativeTolerance(5.0), ValueError, "tau"),
    (lambda: dlra.RelativeTolerance(float("nan")), ValueError, "tau"),
    (lambda: dlra.AbsoluteTolerance(-1.0), ValueError, "theta"),
    (lambda: dlra.Energy(2.0), ValueError, "e must"),
    (lambda: dlra.FixedRank(0), ValueError, "rank"),
    (lambda: dlra.FixedRank(2.5), TypeError, "rank"),
    (lambda: dlra.ScipyIVP("NOPE"), ValueError, "method"),
    (lambda: dlra.ScipyIVP(rtol="1e-6"), TypeError, "rtol"),
    (lambda: dlra.ScipyIVP(atol=-1.0), ValueError, "atol"),
    (lambda: dlra.RungeKutta(substeps=0), ValueError, "substeps"),
    (lambda: dlra.RungeKutta("rk9"), ValueError, "method"),
    (lambda: dlra.ClosedForm(42), TypeError, "solution"),
    (lambda: dlra.LowRank.from_dense(np.ones((4, 3)), rank=10), ValueError, "rank"),
    (lambda: dlra.LowRank.from_dense(np.outer(np.arange(5.0), np.ones(4)), rank=3, pad="raise"), ValueError, "rank"),
    (lambda: dlra.LowRank.from_dense(np.ones((4, 3)), rank=1, pad="maybe"), ValueError, "pad"),
    (lambda: dlra.LowRank(np.array([["a", "b"]] * 3), np.eye(2), np.ones((4, 2))), TypeError, "U"),
    (lambda: dlra.LowRank(np.ones((3, 2)), np.eye(3), np.ones((4, 3))), ValueError, "U"),
    (lambda: dlra.BUG(theta=0.1), TypeError, "theta"),  # a fixed-rank method does not advertise theta
    (lambda: dlra.AdaptiveBUG(), ValueError, "truncation"),
    (lambda: dlra.ParallelBUG(substep="euler"), ValueError, "truncation"),
    (lambda: dlra.ProjectedEuler(substep="rk4"), ValueError, "substep"),
    (lambda: dlra.ProjectedRK("rk4", substep=dlra.SGD()), ValueError, "substep"),
    (lambda: dlra.ProjectorSplitting(scheme="yoshida"), ValueError, "scheme"),
    (lambda: make_integrator("nope"), ValueError, "method"),
    (lambda: make_integrator("bug", foo=1), TypeError, "foo"),
    (lambda: dlra.BUG().step(field, 0.0, Y0, 0.0), ValueError, "h must be"),
    (lambda: dlra.BUG().step(field, float("inf"), Y0, 0.1), ValueError, "t must be"),
    (lambda: dlra.BUG().step(field, 0.0, Y0, "0.1"), TypeError, "h must be"),
    (lambda: dlra.BUG(substep=closed_form(lambda z0: None)).step(field, 0.0, Y0, 0.1), TypeError, "ClosedForm"),
    (lambda: dlra.BUG(substep=closed_form(lambda z0: [np.ones((2, 2))] * len(z0))).step(field, 0.0, Y0, 0.1),
     ValueError, "ClosedForm"),
    (lambda: dlra.BUG(substep=closed_form(lambda z0: z0 + z0)).step(field, 0.0, Y0, 0.1), ValueError, "ClosedForm"),
]


@pytest.mark.parametrize("make, error, match", CONSTRUCTOR_CASES)
def test_bad_constructor_and_step_arguments_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_there_are_at_least_sixty_bad_inputs():
    assert len(SOLVE_CASES) + len(CONSTRUCTOR_CASES) >= 60


# ------------------------------------------------------------------ correct results
def linear_field(n_rows, n_cols, seed=3):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_rows, n_rows)) / n_rows
    B = rng.standard_normal((n_cols, n_cols)) / n_cols
    C = rng.standard_normal((n_rows, n_cols))
    return lambda t, Y: A @ np.asarray(Y) + np.asarray(Y) @ B.T + np.cos(t) * C


@pytest.mark.parametrize("method, options", [
    ("bug", {}), ("projected_euler", {}), ("ksl", {}), ("ksl", {"scheme": "strang"}),
    ("adaptive_bug", {"theta": 1e-3}), ("midpoint_bug", {}), ("parallel_bug", {"theta": 1e-3}),
])
def test_step_on_non_orthonormal_factors_equals_the_orthonormal_step(method, options):
    F = linear_field(8, 6)
    Y = dlra.LowRank.random(8, 6, [1.0, 0.5, 0.1], rng=1)
    scaled = dlra.LowRank(2 * Y.U, Y.S / 4, 2 * Y.V)  # the same matrix
    one = make_integrator(method, **options).step(F, 0.0, Y, 0.1).to_dense()
    two = make_integrator(method, **options).step(F, 0.0, scaled, 0.1).to_dense()
    assert np.linalg.norm(one - two) <= 1e-12 * np.linalg.norm(one)


def test_drifted_float32_bases_are_reorthonormalised_and_small_drift_is_kept():
    rng = np.random.default_rng(5)
    Y = dlra.LowRank.random(30, 20, [1.0, 0.3, 0.1], dtype=np.float32, rng=2)
    tol = orthonormality_tolerance(np.float32)
    assert 1e-4 < tol < 2e-4
    seen = []

    def F(t, Z):
        seen.append(Z)
        return -np.asarray(Z)

    for size, reorthonormalised in ((1e-3, True), (1e-6, False)):
        U = (Y.U + size * rng.standard_normal(Y.U.shape)).astype(np.float32)
        drifted = dlra.LowRank(U, Y.S, Y.V)
        assert (orthonormality_drift(U) > tol) == reorthonormalised
        seen.clear()
        new = dlra.BUG(substep="euler").step(F, 0.0, drifted, 0.01)
        first = seen[0]  # the state F saw first: the step's starting point
        if reorthonormalised:
            assert orthonormality_drift(first.U) <= 1e-5 < orthonormality_drift(U)
        else:
            assert np.array_equal(first.U, U)
        assert new.dtype == np.float32
        exact = 0.99 * drifted.to_dense().astype(np.float64)  # Ẏ = −Y, one Euler step of 0.01
        assert np.linalg.norm(new.to_dense() - exact) <= 1e-5 * np.linalg.norm(exact)


@pytest.mark.parametrize("method, options", [
    ("bug", {}), ("adaptive_bug", {"theta": 1e-4}), ("ksl", {}), ("projected_rk", {}), ("naive", {}),
])
def test_float32_states_keep_their_dtype(method, options):
    Y = dlra.LowRank.random(10, 7, [1.0, 0.5], dtype=np.float32, rng=0)
    F = linear_field(10, 7)  # returns float64 arrays
    sol = dlra.solve(F, Y, (0, 0.3), 0.1, method=method, **options)
    assert sol.success and all(Z.dtype == np.float32 for Z in sol.Y)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_augmented_basis_of_a_dependent_augmentation_is_orthonormal(dtype):
    U0 = np.eye(6, dtype=dtype)[:, :2]
    K = U0 @ np.array([[1.0, 2.0], [0.0, 3.0]], dtype=dtype)  # exactly inside span(U0)
    Q = augmented_basis(U0, K)
    assert Q.shape == (6, 4) and np.array_equal(Q[:, :2], U0)
    assert np.max(np.abs(Q.conj().T @ Q - np.eye(4))) <= 1e-12
    # a partly dependent one: one new direction, one inside span(U0)
    K2 = np.concatenate([U0[:, :1], np.eye(6, dtype=dtype)[:, 4:5]], axis=1)
    Q2 = augmented_basis(U0, K2)
    assert np.max(np.abs(Q2.conj().T @ Q2 - np.eye(4))) <= 1e-12
    assert np.linalg.norm(np.eye(6)[:, 4] - Q2 @ (Q2.conj().T @ np.eye(6)[:, 4])) <= 1e-12


def test_midpoint_bug_from_a_coordinate_rank_one_start_does_not_blow_up():
    """Ẏ = G, Y0 = e0 e0ᵀ, n = 6, h = 0.01: the augmentations are rank-deficient at the start."""
    n = 6
    G = np.random.default_rng(1).standard_normal((n, n))
    e0 = np.eye(n)[:, :1]
    Y0_ = dlra.LowRank(e0, np.eye(1), e0)
    sols = {m: dlra.solve(lambda t, Y: G, Y0_, (0, 1), 0.01, method=m) for m in ("midpoint_bug", "bug")}
    assert all(s.status == 0 for s in sols.values())
    target = Y0_.to_dense() + G  # the exact solution at t = 1; rank 1 keeps its best rank-1 part at most
    best = np.linalg.norm(np.linalg.svd(target, compute_uv=False)[1:])
    err = {m: np.linalg.norm(s.Y[-1].to_dense() - target) for m, s in sols.items()}
    assert best <= err["midpoint_bug"] <= 1.5 * err["bug"]


def test_step_record_counts_evaluations_and_the_contract_is_checked():
    integ = dlra.AdaptiveBUG(substep="euler", theta=1e-8)
    calls = []
    integ.step(lambda t, Y: calls.append(t) or -np.asarray(Y), 0.0, Y0, 0.1)
    assert integ.last_step.nfev == len(calls) == 1 and integ.last_step.ranks == [2]  # Ẏ = −Y keeps rank 2
    assert integ.last_step.truncation_error <= 1e-15  # the two round-off directions of the augmentation

    class Forgetful(Integrator):
        name, method_order = "forgetful", 1

        def _step_impl(self, field, t, items, h):
            return items  # no StepInfo

    with pytest.raises(TypeError, match="_step_impl must return"):
        Forgetful().step(field, 0.0, Y0, 0.1)


def test_order_accounts_for_the_substep_solver():
    assert dlra.ProjectorSplitting(scheme="strang", substep="rk4").order == 2
    assert dlra.ProjectorSplitting(scheme="strang", substep=dlra.SGD()).order == 1
    assert dlra.MidpointBUG(substep="euler").order == 1 and dlra.MidpointBUG().order == 2
    assert dlra.BUG(substep=dlra.Adam()).order is None
    assert dlra.ProjectedRK("rk3").order == 3 and dlra.FullRank(substep="rk2").order == 2


def test_strang_does_one_full_L_step():
    """K½ S½ L_h S½ K½: five substeps, one evaluation each with explicit Euler (six before)."""
    counts = []
    F = linear_field(8, 6)
    integ = dlra.ProjectorSplitting(scheme="strang", substep="euler")
    integ.step(lambda t, Y: counts.append(t) or F(t, Y), 0.0, Y0, 0.1)
    assert integ.last_step.nfev == 5
    assert np.allclose(counts, [0.0, 0.0, 0.0, 0.05, 0.05])  # K, S over [0, ½h]; L from 0; S, K from ½h


def test_midpoint_bug_keeps_separate_optimiser_states_for_its_two_s_steps():
    opt = dlra.SGD(momentum=0.9)
    dlra.MidpointBUG(substep=opt).step(linear_field(8, 6), 0.0, Y0, 0.1)
    assert {"K", "L", "S_half", "S"} <= set(opt.state)
    assert opt.state["S_half"]["moments"]["b"][0].shape != opt.state["S"]["moments"]["b"][0].shape


def test_nonfinite_and_failed_substeps_are_typed():
    assert issubclass(dlra.BlowUpError, dlra.NonFiniteError)
    assert issubclass(dlra.SubstepFailure, dlra.NonFiniteError)
    with pytest.raises(dlra.NonFiniteError):
        dlra.BUG().step(lambda t, Y: np.full((8, 6), np.nan), 0.0, Y0, 0.1)


def test_blow_up_without_max_norm_gives_status_minus_two():
    sol = dlra.solve(lambda t, Y: 50 * np.asarray(Y), Y0, (0, 1), 0.1, method="bug", max_norm=None)
    assert sol.status == -2 and "blow-up" in sol.message and "growth_limit" in sol.message


def test_save_last_keeps_one_state_and_large_runs_warn(monkeypatch):
    sol = dlra.solve(field, Y0, (0, 1), 0.1, method="bug", save="last")
    assert sol.t.tolist() == [1.0] and len(sol.Y) == 1 and sol.nsteps == 10
    every = dlra.solve(field, Y0, (0, 1), 0.1, method="bug")
    assert np.allclose(every.Y[-1].to_dense(), sol.Y[0].to_dense(), atol=0)
    monkeypatch.setattr(sys.modules["dlra.solve"], "SAVE_WARN_BYTES", 1000)  # the module, not the function
    with pytest.warns(UserWarning, match="save='last'"):
        dlra.solve(field, Y0, (0, 1), 0.1, method="bug")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dlra.solve(field, Y0, (0, 1), 0.1, method="bug", save="last")


def test_from_dense_warns_when_it_pads():
    X = np.outer(np.arange(1.0, 21.0), np.ones(15)) + np.outer(np.ones(20), np.arange(15.0))  # rank 2
    with pytest.warns(UserWarning, match="numerical rank 2"):
        Y = dlra.LowRank.from_dense(X, rank=12)
    assert Y.rank == 12 and np.allclose(Y.to_dense(), X)


# ------------------------------------------------------------------ blow-up detector (Riccati)
def riccati(n=100, s=5.0, b=1e-3, seed=0):
    """Ẏ = AᵀY + YA + C − Y B Y with A = s·tridiag(1, −2, 1), B = b·I, C = c cᵀ (rank 2), as a
    user LinearOperator callback; explicit substeps at h = 0.1 are beyond their stability limit."""
    A = s * sp.diags([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], [-1, 0, 1]).tocsr()
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n, 2))
    C = c @ c.T

    def F(t, Y):
        def mv(Z):
            Z = np.asarray(Z).reshape(n, -1)
            YZ = Y @ Z
            return A.T @ YZ + Y @ (A @ Z) + C @ Z - b * (Y @ YZ)

        def rmv(Z):
            Z = np.asarray(Z).reshape(n, -1)
            YtZ = Y.rmatmat(Z)
            return Y.rmatmat(A @ Z) + A.T @ YtZ + C @ Z - b * Y.rmatmat(YtZ)

        return sla.LinearOperator((n, n), matvec=mv, rmatvec=rmv, matmat=mv, rmatmat=rmv, dtype=float)

    G = rng.standard_normal((n, 4))
    Y0_ = dlra.LowRank.from_dense(0.1 * c[:, :1] @ c[:, :1].T + 1e-6 * G @ G.T, rank=4)
    return F, Y0_


@pytest.mark.parametrize("method, options", [("bug", {}), ("midpoint_bug", {}), ("projected_rk", {"tableau": "rk4"})])
def test_riccati_blow_up_is_detected_and_stable_runs_are_not_flagged(method, options):
    F, Y0_ = riccati()
    unstable = dlra.solve(F, Y0_, (0, 1), 0.1, method=method, save="last", **options)
    assert unstable.status == -2 and "growth_limit" in unstable.message
    # the same run without the relative detector ends with status 0 and a huge state (the old behaviour)
    silent = dlra.solve(F, Y0_, (0, 1), 0.1, method=method, save="last", growth_limit=None, **options)
    assert silent.status == 0 and silent.Y[-1].norm() > 1e4
    stable = dlra.solve(F, Y0_, (0, 1), 0.02, method=method, save="last", **options)
    assert stable.status == 0 and stable.Y[-1].norm() < 30


# ------------------------------------------------------------------ a user-written integrator
class MyBUG(Integrator):
    """The README's first-order BUG in ~15 lines from the public building blocks."""

    name, method_order = "my_bug", 1

    def _step_impl(self, field, t0, items, h):
        lr = lowrank_indices(items)
        F0 = field(t0, items)
        K1, L1, _, _ = kl_steps(self.substep, field, items, lr, t0, t0 + h, F0)
        U0, S0, V0 = factors(items, lr)
        U1, V1 = [orth(K) for K in K1], [orth(L) for L in L1]
        S_start = [(u1.conj().T @ u0) @ s0 @ (v0.conj().T @ v1) for u0, s0, v0, u1, v1 in zip(U0, S0, V0, U1, V1)]
        S1, dense = galerkin_step(self.substep, field, items, U1, V1, S_start, t0, t0 + h)
        new = with_updates(items, lr, [dlra.LowRank(*f) for f in zip(U1, S1, V1)], dense)
        return new, StepInfo.of(new)


def test_a_user_written_bug_matches_the_library_bug_to_round_off():
    F = linear_field(12, 9)
    Y = [dlra.LowRank.random(12, 9, [1.0, 0.1, 0.01], rng=4), np.ones((12, 2))]
    F2 = lambda t, Z: [F(t, Z[0]), -Z[1]]  # noqa: E731
    mine = dlra.solve(F2, Y, (0, 1), 0.1, method=MyBUG())
    ref = dlra.solve(F2, Y, (0, 1), 0.1, method="bug")
    assert mine.success and mine.nfev == ref.nfev
    for a, b in zip(mine.Y[-1], ref.Y[-1]):
        assert np.linalg.norm(np.asarray(a) - np.asarray(b)) <= 1e-13 * np.linalg.norm(np.asarray(b))
