"""Tests of dlra.diagnostics: ε, recording, sweeps, the bound fit, orders, the V-shape, descent."""
import math

import numpy as np
import pytest
import scipy.sparse.linalg

import dlra
import dlra.diagnostics as dg


# ----------------------------------------------------------------------------- normal component
def _dense_normal(Y, F):
    U, V = Y.orthonormalize().U, Y.orthonormalize().V
    PF = U @ U.conj().T @ F + F @ V @ V.conj().T - U @ U.conj().T @ F @ V @ V.conj().T
    return np.linalg.norm(F - PF)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_normal_component_exact_matches_dense(dtype):
    rng = np.random.default_rng(1)
    Y = dlra.LowRank.random(30, 20, [3.0, 1.0, 0.1, 1e-3], dtype=dtype, rng=rng)
    F = rng.standard_normal((30, 20)).astype(dtype)
    if np.iscomplexobj(F):
        F = F + 1j * rng.standard_normal((30, 20))
    eps = dg.normal_component(F, Y)
    assert abs(eps - _dense_normal(Y, F)) <= 1e-10
    assert np.allclose(dg.tangent_projection_dense(Y, F), F - dg.normal_part_dense(Y, F), atol=1e-12)
    # non-orthonormal factors give the same answer
    Yn = dlra.LowRank(Y.U @ np.diag([2.0, 1.0, 1.0, 0.5]), np.diag([0.5, 1.0, 1.0, 2.0]) @ Y.S, Y.V)
    assert abs(dg.normal_component(F, Yn) - eps) <= 1e-10


def test_normal_component_lowrank_and_sparse_values_exact():
    rng = np.random.default_rng(2)
    Y = dlra.LowRank.random(25, 25, [1.0, 0.5, 0.2], rng=rng)
    Fl = dlra.LowRank.random(25, 25, [2.0, 1.0, 0.3, 0.1], rng=rng)
    assert abs(dg.normal_component(Fl, Y) - _dense_normal(Y, Fl.to_dense())) <= 1e-10
    Fs = scipy.sparse.random(25, 25, density=0.2, random_state=3, format="csr")
    assert abs(dg.normal_component(Fs, Y) - _dense_normal(Y, Fs.toarray())) <= 1e-10


def test_normal_component_on_problem_matches_dense():
    p = dlra.problems.RotatingMatrix(n=40, rank=5)
    Y = p.Y0
    F = p.F(0.3, Y)
    assert abs(dg.normal_component(F, Y) - _dense_normal(Y, F)) <= 1e-10


def test_randomized_estimate_within_documented_tolerance():
    p = dlra.problems.Schrodinger(N=30, rank=4)
    Y = p.Y0
    F_op = p.F(0.0, Y)                       # LinearOperator -> randomised by default
    exact = dg.normal_component(F_op, Y, method="exact")
    dense = _dense_normal(Y, p.F(0.0, Y.to_dense()))
    assert abs(exact - dense) <= 1e-10 * max(1.0, dense)
    k = 200
    tol = dg.randomized_relative_tolerance(k)
    assert math.isclose(tol, 3 * math.sqrt(2 / k))
    for seed in range(5):
        est = dg.normal_component(F_op, Y, probes=k, rng=seed)
        assert abs(est - exact) <= tol * exact
    # the estimator is unbiased in ε²: averaging many seeds gets much closer
    many = np.mean([dg.normal_component(F_op, Y, probes=k, rng=s) ** 2 for s in range(40)])
    assert abs(math.sqrt(many) - exact) <= 0.05 * exact


def test_normal_component_bad_arguments():
    Y = dlra.LowRank.random(10, 10, [1.0, 0.5], rng=0)
    with pytest.raises(ValueError, match="method"):
        dg.normal_component(np.eye(10), Y, method="magic")
    with pytest.raises(ValueError, match="probes"):
        dg.normal_component(np.eye(10), Y, probes=0)
    with pytest.raises(TypeError, match="LowRank"):
        dg.normal_component(np.eye(10), np.eye(10))


# ----------------------------------------------------------------------------- recording
def test_record_trace_against_exact_and_solve_ivp_reference():
    p = dlra.problems.RotatingMatrix(n=30, rank=6)
    sol, tr = dg.record(p.F, p.Y0, (0.0, 0.5), 0.05, method="adaptive_bug", theta=1e-6,
                        reference=p, substep=p.exact_substep())
    assert sol.status == 0
    assert tr.t.size == sol.nsteps + 1 and tr.t[0] == 0.0 and math.isclose(tr.t[-1], 0.5)
    assert abs(tr.error[-1] - p.error(sol.Y[-1], 0.5)) <= 1e-12
    assert np.all(tr.eps >= 0) and np.all(np.isfinite(tr.eps))
    assert np.array_equal(tr.rank[1:], sol.ranks[1:, 0])
    assert np.allclose(tr.truncation_error[1:], sol.truncation_errors)
    # a tight solve_ivp reference agrees with the exact one
    ref = dg.reference_solution(p.F, p.reference(0.0), (0.0, 0.5), t_eval=[0.5])
    assert np.linalg.norm(ref(0.5) - p.reference(0.5)) <= 1e-8 * np.linalg.norm(p.reference(0.5))
    recs = tr.to_records(method="adaptive_bug")
    assert recs[0]["method"] == "adaptive_bug" and set(recs[0]) >= {"t", "error", "eps", "rank", "loss"}


def test_recorder_loss_for_gradient_flow():
    p = dlra.problems.LeastSquares(m=20, n=15, p=25, rank=3)
    sol, tr = dg.record(p.F, p.Y0, (0.0, 1.0), 0.1, method="adaptive_bug", theta=1e-8, loss=p.loss,
                        reference=p, every=2)
    assert np.all(np.isfinite(tr.loss))
    assert tr.loss[-1] < tr.loss[0]
    assert math.isclose(tr.t[-1], 1.0)


# ----------------------------------------------------------------------------- sweeps and tables
def _square(x, y):
    return {"z": x * y}


def test_run_sweep_joblib_backends_agree(tmp_path):
    points = dg.grid(x=[1, 2, 3], y=[0.5, 2.0])
    seq = dg.run_sweep(_square, points)
    thr = dg.run_sweep(_square, points, n_jobs=2, backend="threading")
    assert seq == thr and len(seq) == 6 and seq[0] == {"x": 1, "y": 0.5, "z": 0.5}
    path = dg.to_csv(seq, tmp_path / "sub" / "table.csv")
    back = dg.from_csv(path)
    assert back == seq
    arr = dg.to_structured(seq)
    assert arr.dtype.names == ("x", "y", "z") and np.allclose(arr["z"], [r["z"] for r in seq])
    assert not [f for f in (tmp_path / "sub").iterdir() if f.name.startswith(".tmp")]


def test_convergence_sweep_records_are_tidy_and_parallel_matches():
    p = dlra.problems.RotatingMatrix(n=30, rank=4)
    kw = dict(hs=[0.1, 0.05], thetas=[1e-4], substep="euler", eps_samples=1)
    rec = dg.convergence_sweep(p, ["adaptive_bug", dg.method_spec("parallel_bug", "parallel")], **kw)
    assert len(rec) == 4
    need = {"label", "method", "h", "h_eff", "theta", "rank", "error", "delta", "eps", "final_rank",
            "status", "nfev", "best_error"}
    assert all(need <= set(r) for r in rec)
    assert {r["label"] for r in rec} == {"adaptive_bug", "parallel"}
    par = dg.convergence_sweep(p, ["adaptive_bug", dg.method_spec("parallel_bug", "parallel")],
                               n_jobs=2, backend="threading", **kw)
    assert [r["error"] for r in par] == pytest.approx([r["error"] for r in rec], rel=1e-12)


# ----------------------------------------------------------------------------- the bound fit
def _check_bound_fit(records):
    fit = dg.fit_bound(records)
    assert all(c >= 0 for c in fit.constants.values())
    assert fit.holds and fit.max_ratio <= 1.5, fit.summary()
    assert np.all(records_error(records) <= 1.5 * fit.bound)
    no_h = dg.fit_bound(records, terms=("delta", "eps", "theta_over_h"))
    assert no_h.constants["c2"] == 0.0
    assert no_h.max_ratio > 3.0 and not no_h.holds, no_h.summary()
    return fit, no_h


def records_error(records):
    return np.array([r["error"] for r in records])


def test_bound_fit_rotating_matrix():
    p = dlra.problems.RotatingMatrix(n=40, rank=6)
    rec = dg.convergence_sweep(p, ["adaptive_bug"], [0.2, 0.1, 0.05, 0.025, 0.0125], thetas=[1e-5, 1e-3],
                               ranks=[4, 8], substep="euler", eps_samples=2)
    fit, no_h = _check_bound_fit(rec)
    assert fit.constants["c2"] > 0 and fit.r2_log > 0.9


def test_bound_fit_schrodinger():
    p = dlra.problems.Schrodinger(N=30, rank=5)
    rec = dg.convergence_sweep(p, ["parallel_bug"], [0.1, 0.05, 0.025, 0.0125], thetas=[1e-6, 1e-4],
                               ranks=[3, 5], substep="rk4", eps_samples=2)
    fit, no_h = _check_bound_fit(rec)
    assert fit.constants["c2"] > 0


def test_fit_bound_recovers_known_constants():
    rng = np.random.default_rng(0)
    rec = [dict(delta=d, eps=e, h=h, theta=t, error=0.5 * d + 2 * e + 3 * h + 0.1 * t / h)
           for d, e, h, t in rng.uniform(0.01, 1, size=(30, 4))]
    fit = dg.fit_bound(rec)
    assert fit.constants == pytest.approx({"c0": 0.5, "c1": 2.0, "c2": 3.0, "c3": 0.1}, rel=1e-8)
    assert fit.max_ratio == pytest.approx(1.0) and fit.r2_log == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown term"):
        dg.fit_bound(rec, terms=("h", "gamma"))


def test_fit_bound_intervals_cover_known_constants_and_verdicts():
    """Noisy data from known constants: the intervals are near the truth (a 95 % interval may miss
    it by a little; the relative-residual fit has an O(noise²) bias) and exclude 0."""
    rng = np.random.default_rng(1)
    true = {"c1": 2.0, "c2": 3.0, "c3": 0.1}
    rec = []
    for e, h, t in rng.uniform(0.01, 1, size=(60, 3)):
        clean = true["c1"] * e + true["c2"] * h + true["c3"] * t / h
        rec.append(dict(eps=e, h=h, theta=t, error=clean * (1 + 0.05 * rng.standard_normal())))
    fit = dg.fit_bound(rec, terms=("eps", "h", "theta_over_h"), asymmetry=1.0, n_boot=300)
    for c, value in true.items():
        lo, hi = fit.intervals[c]
        width = hi - lo
        assert 0 < lo and lo - 0.5 * width <= value <= hi + 0.5 * width, (c, lo, value, hi)
        assert width < 0.2 * value
        assert fit.verdicts[c] == "identified" and fit.vif[c] < 10
    assert fit.constants["c0"] == 0.0 and "c0" not in fit.verdicts
    assert set(fit.without) == {"eps", "h", "theta_over_h"}
    assert fit.without["h"].max_ratio > 1.5 and fit.without["h"].constants["c2"] == 0.0
    row = fit.constants_record(problem="synthetic")
    assert row["c2_lo"] <= row["c2"] <= row["c2_hi"] and row["c2_verdict"] == "identified"
    assert row["max_ratio_without_h"] == fit.without["h"].max_ratio
    assert "[" in fit.describe("c2")


def test_fit_bound_says_not_identified_for_collinear_and_absent_terms():
    """ε proportional to ϑ/h (the rank falls as ϑ/h grows): c1 and c3 cannot be separated."""
    rng = np.random.default_rng(2)
    rec = []
    for h, t, z, w in rng.uniform(0.01, 1, size=(50, 4)):
        eps = 0.5 * t / h * (1 + 1e-3 * z)
        rec.append(dict(delta=0.0, eps=eps, h=h, theta=t, error=(eps + 3 * h) * (1 + 0.05 * w)))
    fit = dg.fit_bound(rec)
    assert "collinear" in fit.verdicts["c1"] and "collinear" in fit.verdicts["c3"]
    assert fit.vif["c1"] > 100 and fit.condition_number > 100
    assert not fit.identified["c1"] and not fit.identified["c3"] and fit.identified["c2"]
    assert fit.verdicts["c0"].startswith("term absent")
    assert "not identified" in fit.summary()
    cond, vif = dg.collinearity(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert vif == pytest.approx([4 / 3, 4 / 3]) and cond == pytest.approx(np.sqrt(3))


def test_fit_bound_with_measured_discarded_in_place_of_theta_over_h():
    rng = np.random.default_rng(3)
    rec = [dict(h=h, theta=t, truncation_error=d, error=0.8 * d + 2 * h)
           for h, t, d in rng.uniform(0.01, 1, size=(30, 3))]
    fit = dg.fit_bound(rec, terms=("h", "discarded"))
    assert fit.constants["c3"] == pytest.approx(0.8) and fit.constants["c2"] == pytest.approx(2.0)
    assert fit.max_ratio == pytest.approx(1.0)
    assert fit.without["discarded"].max_ratio > 1.5
    with pytest.raises(ValueError, match="both carry c3"):
        dg.fit_bound(rec, terms=("h", "theta_over_h", "discarded"))
    with pytest.raises(ValueError, match="n_boot"):
        dg.fit_bound(rec, terms=("h",), n_boot=-1)
    with pytest.raises(ValueError, match="level"):
        dg.fit_bound(rec, terms=("h",), level=1.5)


# ----------------------------------------------------------------------------- orders and V-shape
def test_observed_orders_first_order_and_local_slopes():
    p = dlra.problems.Schrodinger(N=30, rank=8)
    rec = dg.convergence_sweep(p, ["projected_euler"], [0.04, 0.02, 0.01], substep="rk4", eps_samples=0)
    orders = dg.orders_by(rec)
    assert orders["projected_euler"].exponent == pytest.approx(1.0, abs=0.25)
    lo = dg.local_orders([0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4])
    assert lo == pytest.approx([2.0, 2.0])
    assert dg.fit_order([0.1, 0.05, 0.025, 0.01], [1e-2, 2.5e-3, 6.25e-4, 1e-9], h_min=0.02).exponent \
        == pytest.approx(2.0)


def test_fit_order_selects_the_asymptotic_range_and_refuses_floors_and_blowups():
    h = np.geomspace(1e-3, 0.5, 12)
    clean = 0.3 * h ** 2
    floor = 1e-8
    e = np.where(clean > floor, clean, floor * (1 + 0.01 * np.arange(12)))   # a floor at small h
    e[-2:] = [1e2, 1e6]                                                     # a blow-up at large h
    e = np.append(e, np.inf)                                                # a failed run
    hh = np.append(h, 1.0)
    law = dg.fit_order(hh, e)
    assert law.exponent == pytest.approx(2.0, abs=1e-8) and law.r2 == pytest.approx(1.0)
    on_slope = h[(clean > floor)][:-2]
    assert law.x_min == pytest.approx(on_slope.min()) and law.x_max == pytest.approx(on_slope.max())
    assert law.n == on_slope.size and law.n_total == 12
    naive = dg.fit_power_law(h, e[:-1])                 # what a fit across everything reports
    assert abs(naive.exponent - 2) > 0.5
    with pytest.warns(dg.OrderFitWarning, match="rests on 2 points"):
        dg.fit_order([0.1, 0.05, 0.025, 0.0125], [1e-2, 2.5e-3, 2.4e-3, 2.45e-3])
    rec = [dict(label="m", h=x, error=y) for x, y in zip(h, 0.3 * h)]
    assert dg.orders_by(rec)["m"].exponent == pytest.approx(1.0)


def test_vshape_minimum_and_power_law_on_synthetic_curve():
    h = np.geomspace(1e-4, 1e-1, 31)
    for theta in [1e-6, 1e-4]:
        m = dg.vshape_minimum(h, 2 * h + 0.5 * theta / h)
        assert m["interior"] and m["h_star"] == pytest.approx(np.sqrt(0.25 * theta), rel=0.05)
    law = dg.fit_power_law([1e-6, 1e-5, 1e-4], [1e-3, np.sqrt(10) * 1e-3, 1e-2])
    assert law.exponent == pytest.approx(0.5) and law.r2 == pytest.approx(1.0)


def test_vshape_law_recovers_balancing_on_synthetic_branches():
    """e = C ϑ^b h^p + D ϑ^a h^{−q}: the measured p, q, a, b give x = (a − b)/(p + q), and the
    minimiser follows it; a flat left branch (plateau) is not counted as a V."""
    h = np.geomspace(1e-4, 1e-1, 40)
    rec = [dict(theta=th, h_eff=x, error=2 * th ** 0.2 * x ** 2 + 0.5 * th ** 0.9 / x ** 0.8)
           for th in [1e-7, 1e-6, 1e-5] for x in h]
    v = dg.vshape_law(rec)
    assert v["all_interior"] and v["q"] == pytest.approx(0.8, abs=0.1) and v["a"] == pytest.approx(0.9, abs=0.05)
    # p and b are read near the crossing, where the other branch still contributes a little
    assert v["b"] == pytest.approx(0.2, abs=0.15) and v["p"] == pytest.approx(2.0, abs=0.35)
    assert v["x"] == pytest.approx(0.7 / 2.8, abs=0.03) and abs(v["x"] - v["x_balance"]) <= 0.03
    assert v["x_theorem"] == pytest.approx(1 / (v["p"] + 1))
    plateau = [dict(theta=th, h_eff=x, error=th + x ** 2) for th in [1e-6, 1e-5] for x in h]
    assert not any(dg.vshape_law(plateau)["interior"])


# ----------------------------------------------------------------------------- descent
def _small_singular_start(prob, rank=5, smallest=1e-8, seed=3):
    m, n = prob.shape
    return dlra.LowRank.random(m, n, np.geomspace(1.0, smallest, rank), rng=seed)


def test_descent_bug_holds_naive_violates():
    p = dlra.problems.LeastSquares(m=30, n=20, p=40, rank=5)
    Y0 = _small_singular_start(p)
    theta, h = 1e-6, 0.1
    bug = dg.descent_run(p.F, p.loss, Y0, (0.0, 2.0), h, method="adaptive_bug", theta=theta)
    assert bug.holds, (bug.max_increment, bug.allowance)
    assert bug.loss[-1] < bug.loss[0]
    naive = dg.descent_run(p.F, p.loss, Y0, (0.0, 2.0), h, method="naive", theta=theta)
    assert not naive.holds
    assert naive.failed or naive.violating_steps.size > 0
    recs = bug.to_records(method="adaptive_bug")
    assert len(recs) == bug.increments.size and all(r["ok"] for r in recs)


def test_descent_check_counts_nonfinite_as_violation():
    chk = dg.descent_check([3.0, 2.0, np.nan, 1.0], theta=0.1)
    assert list(chk.violating_steps) == [1, 2]
    assert dg.descent_check([3.0, 3.05, 2.0], theta=0.1).holds
    assert not dg.descent_check([3.0, 3.2, 2.0], theta=0.1).holds
    assert dg.descent_check([3.0, 3.05, 2.0], theta=0.1).ratio == pytest.approx(0.5)
    assert dg.descent_check([3.0, 3.2, 2.0], theta=0.1).ratio == pytest.approx(2.0)
    assert dg.descent_check([3.0, 2.0], theta=0.1, status=-1).ratio == math.inf


def test_descent_sweep_unstable_sgd_step_violates():
    """Explicit Euler (SGD) substeps on L = ½‖W − M‖² + c: stable for h < 2, the loss grows beyond."""
    p = dlra.problems.LeastSquares(m=12, n=10, p=15, rank=3)
    Y0 = _small_singular_start(p, rank=3, smallest=1e-3)
    rec = dg.descent_sweep(p.F, p.loss, Y0, (0.0, 3.0), ["adaptive_bug"], [0.5, 3.0], [1e-2],
                           substep="euler")
    by_h = {r["h"]: r for r in rec}
    assert by_h[0.5]["holds"] and by_h[0.5]["ratio"] <= 1.0
    assert not by_h[3.0]["holds"] and by_h[3.0]["ratio"] > 1.0 and by_h[3.0]["violations"] >= 1
