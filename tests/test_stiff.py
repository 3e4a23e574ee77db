"""Exponential substeps for structured (stiff) fields: orders by slopes, exactness for affine fields,
stability on the 2-D heat equation far beyond the explicit step-size limit."""
import numpy as np
import pytest
import scipy.sparse

import dlra
from conftest import loglog_slope
from dlra.field import VectorField
from dlra.fields import LinearMatrixField
from dlra.flows import k_flow, s_flow
from dlra.lowrank import LowRank
from dlra.substep import Exponential


def _semilinear_flow(kind):
    """A K- or S-flow of Ẏ = AY + YBᴴ + sin(1+t)C − 0.5 Y Yᴴ Y with moderately stiff A (‖A‖ ≈ 40)."""
    rng = np.random.default_rng(0)
    m, n, r = 24, 20, 3
    e = np.ones(m)
    A = scipy.sparse.diags([10 * e[:-1], -20 * e, 8 * e[:-1]], [-1, 0, 1]).tocsr()
    B = rng.standard_normal((n, n)) / 3
    C = LowRank(rng.standard_normal((m, 1)), np.eye(1), rng.standard_normal((n, 1)))
    field = LinearMatrixField(A=A, B=B, C=lambda t: np.sin(1 + t) * C,
                              nonlinear=lambda t, Y: -0.5 * (Y @ Y.H @ Y))
    Y0 = LowRank.random(m, n, [1.0, 0.5, 0.25], rng=2)
    vf = VectorField(field, False, [Y0.shape])
    if kind == "K":
        return k_flow(vf, [Y0], [Y0.V]), [Y0.U @ Y0.S]
    return s_flow(vf, [Y0], [Y0.U], [Y0.V]), [Y0.S]


@pytest.mark.parametrize("kind", ["K", "S"])
@pytest.mark.parametrize("solver, order", [
    (lambda k: Exponential("euler", substeps=k), 1),
    (lambda k: Exponential("etd2", substeps=k), 2),
    (lambda k: Exponential("lawson", tableau="rk2", substeps=k), 2),
    (lambda k: Exponential("lawson", tableau="rk4", substeps=k), 4),
])
def test_exponential_substeps_have_their_order(kind, solver, order):
    flow, z0 = _semilinear_flow(kind)
    ref = dlra.ScipyIVP("DOP853", rtol=1e-13, atol=1e-15).integrate(flow, 0.0, 0.4, z0)[0]
    ks = [4, 8, 16, 32]
    errors = [np.linalg.norm(solver(k).integrate(flow, 0.0, 0.4, z0)[0] - ref) for k in ks]
    assert abs(loglog_slope(0.4 / np.array(ks), errors) - order) < 0.3, errors


@pytest.mark.parametrize("method", ["ksl", "bug", "adaptive_bug"])
def test_exponential_euler_is_the_closed_form_for_affine_fields(method):
    """Ẋ = AX + XA + C (constant C): each substep is a linear Sylvester ODE that exponential Euler
    solves exactly, so the step equals the one with a tight solve_ivp substep to round-off."""
    p = dlra.problems.Lyapunov(n=30, rank=6, scale=300.0)
    field = LinearMatrixField(A=p.A, B=p.A, C=p.C)
    opts = {"theta": 1e-8} if method == "adaptive_bug" else {}
    a = dlra.solve(field, p.Y0, (0, 0.02), 0.01, method=method, substep="exponential", **opts).Y[-1].to_dense()
    b = dlra.solve(field, p.Y0, (0, 0.02), 0.01, method=method,
                   substep=dlra.ScipyIVP("DOP853", rtol=1e-13, atol=1e-16), **opts).Y[-1].to_dense()
    assert np.linalg.norm(a - b) <= 1e-11 * np.linalg.norm(b)


@pytest.mark.parametrize("method, bound", [("bug", 2e-3), ("adaptive_bug", 3e-4), ("midpoint_bug", 3e-5),
                                           ("ksl", 1e-10)])
def test_heat2d_stable_far_beyond_the_explicit_limit(method, bound):
    """2-D heat, n = 63, h = 0.01: hλ_max ≈ 327. RK4 substeps blow up; exponential substeps stay
    accurate (relative errors measured 1.2e-3, 1.5e-4, 1.2e-5 and 2e-13 — KSL is exact here: the
    field AY + YA is tangent to the rank-r manifold and each substep is solved exactly)."""
    p = dlra.problems.Heat2D(n=63, rank=3, t_span=(0.0, 0.05))
    h = 0.01
    assert h * p.lambda_max >= 100
    opts = {"theta": 1e-10} if method == "adaptive_bug" else {}
    explicit = dlra.solve(p.field, p.Y0, p.t_span, h, method=method, substep="rk4", **opts)
    assert explicit.status == -2  # blow-up detected
    sol = dlra.solve(p.field, p.Y0, p.t_span, h, method=method, substep="exponential", **opts)
    assert sol.success
    ref = p.reference(p.t_span[1])
    assert p.error(sol.Y[-1], p.t_span[1]) <= bound * np.linalg.norm(ref)


def test_heat2d_rank_adaptive_bug_converges_at_least_at_first_order_while_stiff():
    """hλ_max from 130 down to 33: the rank-adaptive BUG with exponential substeps converges (measured
    slope 1.6; its first-order bound is not spoiled by the stiffness)."""
    p = dlra.problems.Heat2D(n=63, rank=3, t_span=(0.0, 0.04))
    hs = [0.004, 0.002, 0.001]
    errors = [p.error(dlra.solve(p.field, p.Y0, p.t_span, h, method="adaptive_bug", theta=1e-10,
                                 substep="etd2").Y[-1], 0.04) for h in hs]
    assert loglog_slope(hs, errors) > 0.9, errors


def test_exponential_substeps_need_a_structured_field():
    p = dlra.problems.Heat2D(n=15, rank=2)
    with pytest.raises(ValueError, match="structured field"):
        dlra.solve(lambda t, Y: p.field(t, Y), p.Y0, (0, 0.01), 0.01, method="bug", substep="exponential")
    with pytest.raises(ValueError, match="scheme"):
        Exponential("implicit")
    with pytest.raises(ValueError, match="substeps"):
        Exponential(substeps=0)


def test_large_sparse_path_equals_dense_path(monkeypatch):
    """Operators above DENSE_LIMIT use expm_multiply and sparse Bartels–Stewart: same step."""
    import dlra.fields as fields
    p = dlra.problems.ConvectionDiffusionLyapunov(n=30, rank=4, nu=0.1, a=5.0)
    dense = dlra.solve(p.field, p.Y0, (0, 0.01), 0.005, method="bug", substep="etd2").Y[-1].to_dense()
    monkeypatch.setattr(fields, "DENSE_LIMIT", 10)
    field = LinearMatrixField(A=p.A, B=p.A, C=p.C)
    sparse = dlra.solve(field, p.Y0, (0, 0.01), 0.005, method="bug", substep="etd2").Y[-1].to_dense()
    assert not field.A.small
    assert np.linalg.norm(sparse - dense) <= 1e-10 * np.linalg.norm(dense)
