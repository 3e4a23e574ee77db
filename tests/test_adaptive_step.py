"""Adaptive step size (step doubling), dense output and events."""
import numpy as np
import pytest
import scipy.optimize

import dlra
from dlra.adaptive import StepSizeController


def _heat():
    return dlra.problems.Heat2D(n=31, rank=3, t_span=(0.0, 0.04))


def _convection():
    return dlra.problems.ConvectionDiffusionLyapunov(n=30, rank=6, nu=0.1, a=5.0, t_span=(0.0, 0.1))


@pytest.mark.parametrize("make, rtol, theta, budgets", [
    # heat: no fixed N ≤ 36 steps (≤ 216 F evaluations) reaches 1e-6; measured adaptive 217 evaluations
    (_heat, 1e-5, 1e-12, range(36, 3, -4)),
    # convection–diffusion Lyapunov (rank 6 → 11 on the way): measured adaptive 163 evaluations, error
    # 4.9e-9; fixed h stays above 2e-4 even with 40 steps (240 evaluations)
    (_convection, 1e-6, 1e-9, (27, 24, 20, 16, 12, 10, 8, 6, 4)),
])
def test_adaptive_reaches_1e6_with_fewer_evaluations_than_fixed_h(make, rtol, theta, budgets):
    p = make()
    T = p.t_span[1]
    ref = np.linalg.norm(p.reference(T))
    kw = dict(method="midpoint_bug", substep="exponential", theta=theta)
    sol = dlra.solve(p.field, p.Y0, p.t_span, StepSizeController(rtol=rtol, atol=1e-12), **kw)
    assert sol.success
    assert p.error(sol.Y[-1], T) <= 1e-6 * ref
    for N in budgets:  # every fixed step count within the adaptive run's F-evaluation budget
        fixed = dlra.solve(p.field, p.Y0, p.t_span, T / N, **kw)
        assert fixed.nfev <= sol.nfev + 6
        assert p.error(fixed.Y[-1], T) > 1e-6 * ref, N


def test_step_sizes_grow_after_the_transient_and_ranks_adapt():
    p = _convection()
    sol = dlra.solve(p.field, p.Y0, p.t_span, StepSizeController(rtol=1e-6, atol=1e-12),
                     method="midpoint_bug", substep="exponential", theta=1e-9)
    assert sol.h_steps[-2] > 20 * sol.h_steps[0]
    assert sol.ranks.max() > sol.ranks[0, 0]  # the source adds rank on the way
    assert len(sol.t_steps) == sol.nsteps + 1 and np.isclose(sol.t_steps[-1], p.t_span[1])


def test_rejected_steps_are_counted_and_the_run_still_meets_the_tolerance():
    p = _heat()
    ctrl = StepSizeController(rtol=1e-6, atol=1e-12, h0=0.04)  # far too large a first step
    sol = dlra.solve(p.field, p.Y0, p.t_span, ctrl, method="midpoint_bug", substep="exponential", theta=1e-12)
    assert sol.nrejected >= 1 and ctrl.nrejected == sol.nrejected and ctrl.naccepted == sol.nsteps
    assert p.error(sol.Y[-1], 0.04) <= 1e-6 * np.linalg.norm(p.reference(0.04))


def test_dense_output_interpolates_at_second_order(tangent_problem):
    """sol.sol(t) equals the step states at the nodes and is O(h²) between them (Strang KSL, order 2,
    steps pinned by h0 = h_max = h and loose tolerances): halving h divides the midpoint error by ≈ 4
    (measured 3.9)."""
    p = tangent_problem
    errs = []
    for h in (0.02, 0.01):
        ctrl = StepSizeController(rtol=0.1, atol=1.0, h0=h, h_max=h)
        sol = dlra.solve(p.F, p.Y0, (0.0, 0.2), ctrl, method="ksl", scheme="strang", dense_output=True)
        assert sol.nsteps == round(0.2 / h) and sol.nrejected == 0
        for t, Y in zip(sol.t, sol.Y):
            assert np.allclose(sol.sol(t).to_dense(), Y.to_dense(), rtol=0, atol=1e-14)
        mids = 0.5 * (sol.t_steps[1:] + sol.t_steps[:-1])
        errs.append(max(np.linalg.norm(Y.to_dense() - p.reference(t)) for Y, t in zip(sol.sol(mids), mids)))
    assert 3.5 < errs[0] / errs[1] < 4.5, errs
    with pytest.raises(ValueError, match="outside"):
        sol.sol(1.0)


def test_events_are_located_and_terminal_events_stop():
    """Event ‖Y(t)‖ = ½‖Y0‖ on the heat equation, located by brentq on the Hermite dense output:
    relative error of the event time measured 2.6e-6 (the retracted secant gives 3.6e-3)."""
    p = _heat()
    half = 0.5 * p.Y0.norm()

    def event(t, Y):
        return Y.norm() - half

    event.terminal = True
    event.direction = -1
    exact = scipy.optimize.brentq(lambda t: np.linalg.norm(p.reference(t)) - half, 0.0, 0.04, xtol=1e-14)
    located = {}
    for kind in ("hermite", "linear"):
        # ETD2 substeps keep midpoint BUG's order 2 (with exponential Euler its order is 1, and the
        # step-doubling estimate uses the method's order)
        sol = dlra.solve(p.field, p.Y0, (0.0, 0.04), StepSizeController(rtol=1e-6, atol=1e-12),
                         method="midpoint_bug", substep="etd2", theta=1e-12, events=event,
                         dense_output_kind=kind)
        assert sol.status == 1 and len(sol.t_events[0]) == 1
        assert np.isclose(sol.t_steps[-1], sol.t_events[0][0]) and sol.t_steps[-1] < 0.04
        assert abs(sol.Y_events[0][0].norm() - half) < 1e-9
        located[kind] = abs(sol.t_events[0][0] - exact) / exact
    assert located["hermite"] < 2e-5
    assert located["linear"] > 10 * located["hermite"]


def test_controller_factor_and_bad_arguments():
    c = StepSizeController(rtol=1e-4, atol=0.0, safety=0.9, min_factor=0.2, max_factor=5.0)
    assert c.factor(0.0, 2) == 5.0
    assert np.isclose(c.factor(1.0, 2), 0.9)
    assert np.isclose(c.factor(1e-3, 1), min(5.0, 0.9 * 1e-3 ** -0.5))
    assert c.factor(1e9, 2) == 0.2
    for kwargs, name in [({"rtol": -1}, "rtol"), ({"atol": np.nan}, "atol"), ({"safety": 1.5}, "safety"),
                         ({"min_factor": 2.0}, "min_factor"), ({"h0": 0}, "h0"), ({"h_max": -1}, "h_max")]:
        with pytest.raises(ValueError, match=name):
            StepSizeController(**kwargs)
    p = _heat()
    with pytest.raises(TypeError, match="events"):
        dlra.solve(p.field, p.Y0, p.t_span, StepSizeController(), method="bug", events=[1])
    with pytest.raises(ValueError, match="max_steps"):
        dlra.solve(p.field, p.Y0, p.t_span, StepSizeController(), method="bug", max_steps=0)


def test_t_eval_states_come_from_the_dense_output():
    """States at t_eval are the dense output's. The interpolation error is not controlled by the
    step-doubling estimate: inside the long late steps (hλ ≈ 4 for the slowest modes kept) it is
    6.6e-5 relative at t = 0.02 (measured), against ≤ 1e-6 at the nodes."""
    p = _heat()
    t_eval = [0.0, 0.005, 0.02, 0.04]
    kw = dict(method="midpoint_bug", substep="exponential", theta=1e-12)
    sol = dlra.solve(p.field, p.Y0, p.t_span, StepSizeController(rtol=1e-6, atol=1e-12), t_eval=t_eval,
                     dense_output=True, **kw)
    assert np.array_equal(sol.t, t_eval) and len(sol.Y) == 4
    ref = [np.linalg.norm(p.reference(t)) for t in t_eval]
    for t, Y, r in zip(t_eval, sol.Y, ref):
        assert np.allclose(Y.to_dense(), sol.sol(t).to_dense(), rtol=0, atol=1e-14)
        assert p.error(Y, t) <= 2e-4 * r


def test_step_callback_and_max_norm_act_as_in_fixed_step_solve():
    p = _heat()
    seen = []

    def callback(t, Y, info):
        seen.append(t)
        return len(seen) == 3

    ctrl = StepSizeController(rtol=1e-6, atol=1e-12)
    sol = dlra.solve(p.field, p.Y0, p.t_span, ctrl, method="ksl", substep="exponential", step_callback=callback)
    assert sol.status == 1 and sol.nsteps == 3 and np.allclose(seen, sol.t_steps[1:])
    grow = dlra.LinearMatrixField(A=100.0 * np.eye(31))  # Ẏ = 100 Y: ‖Y‖ grows like e^{100t}
    sol = dlra.solve(grow, p.Y0, (0, 1), StepSizeController(rtol=1e-3), method="ksl", substep="exponential",
                     max_norm=1e3)
    assert sol.status == -2 and "max_norm" in sol.message
    with pytest.raises(ValueError, match="max_norm"):
        dlra.solve(grow, p.Y0, (0, 1), StepSizeController(), method="ksl", max_norm=-1.0)
