"""Observed orders from log-log slopes over four step sizes above the plateau (±0.25).

Two settings, each where the theory gives the method's order:

* the rank-preserving problem (dlra.problems.RankPreservingCubic): F(Y) lies in the tangent space at every rank-r Y,
  so the exact solution is of rank r and there is no modelling plateau; errors are measured
  against the exact solution. The BUG-type bounds (Ceruti–Lubich; midpoint BUG) are of this kind.
* the rotating matrix with a normal component, measured against the exact DLRA solution
  Ẏ = P(Y)F (the naive factor ODEs with a tight solve_ivp, accurate here since σ_min ≈ 0.03):
  KSL splits exactly this ODE (Lie order 1, Strang 2) and the fixed-rank augmented BUG is a
  first-order method for it. (On the tangent problem Lie–Trotter and the augmented BUG are
  super-convergent, order 2, so that problem would not show their first order.)
"""
import numpy as np
import pytest

import dlra
from conftest import loglog_slope, relative_error

HS = [1 / 8, 1 / 16, 1 / 32, 1 / 64]
TIGHT = dlra.ScipyIVP("DOP853", rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method, options, order", [
    ("projected_euler", {}, 1),
    ("projected_rk", {"tableau": "rk2"}, 2),
    ("projected_rk", {"tableau": "rk3"}, 3),
    ("ksl", {"scheme": "strang"}, 2),
    ("bug", {}, 1),
    ("parallel_bug", {"truncation": dlra.FixedRank(4)}, 1),
    ("midpoint_bug", {"substep": TIGHT}, 2),
])
def test_order_on_the_tangent_problem(tangent_problem, method, options, order):
    p = tangent_problem
    errors = [relative_error(dlra.solve(p.F, p.Y0, (0, 1), h, method=method, t_eval=[1.0], **options).Y[-1],
                             p.reference(1.0)) for h in HS]
    assert min(errors) > 1e-11, "errors reached round-off: the slope would be meaningless"
    assert abs(loglog_slope(HS, errors) - order) < 0.25, errors


@pytest.fixture(scope="module")
def rotating_dlra():
    p = dlra.problems.RotatingMatrix(n=40, rank=5, decay=2.0, rotation_speed=2.0)
    ref = dlra.solve(p.F, p.Y0, (0, 1), 1.0, method="naive", substep=TIGHT).Y[-1].to_dense()
    return p, ref


@pytest.mark.parametrize("method, options, order", [
    ("projected_euler", {}, 1),
    ("ksl", {}, 1),
    ("ksl", {"scheme": "strang"}, 2),
    ("bug", {}, 1),
    ("augmented_bug", {}, 1),
    ("adaptive_bug", {"truncation": dlra.AbsoluteTolerance(1e-12, max_rank=5)}, 1),
])
def test_order_against_the_dlra_solution(rotating_dlra, method, options, order):
    p, ref = rotating_dlra
    errors = [relative_error(dlra.solve(p.F, p.Y0, (0, 1), h, method=method, t_eval=[1.0],
                                        substep=p.exact_substep() if method != "projected_euler" else None,
                                        **options).Y[-1], ref) for h in HS]
    assert abs(loglog_slope(HS, errors) - order) < 0.25, errors


def test_skipping_stage_time_column_zero_would_break_projected_rk2(tangent_problem):
    """c_i = Σ_j a_ij over all j: with c from columns j ≥ 1 only (the published bug) the explicit
    midpoint rule evaluates the time-dependent F at t0 instead of t0 + h/2 and drops to order 1."""
    from dlra.tableaux import ButcherTableau

    tab = dlra.tableaux.tableau("rk2")
    assert np.allclose(tab.c, [0.0, 0.5])

    class WrongTimes(ButcherTableau):
        @property
        def c(self):
            return self.a[:, 1:].sum(axis=1)

    wrong = WrongTimes("rk2-wrong", 2, tab.a, tab.b)
    p = tangent_problem
    errors = [relative_error(dlra.ProjectedRK(wrong).step(p.F, 0.0, p.Y0, h), p.reference(h)) for h in HS]
    local_order = loglog_slope(HS, errors) - 1   # local error h^{p+1}
    assert local_order < 1.5
