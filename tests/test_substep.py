import numpy as np
import pytest

import dlra
from conftest import loglog_slope


class ScalarFlow:
    """z' = [λ z0 + cos t, −z1²] for lists of arrays; exact solutions known."""
    kind = key = "test"
    left_bases = right_bases = [None, None]

    def __init__(self):
        self.calls = 0

    def __call__(self, t, z):
        self.calls += 1
        return [-0.7 * z[0] + np.cos(t), -z[1] ** 2]


def exact(t):
    # z0' = -0.7 z0 + cos t, z0(0) = 1 ; z1' = -z1², z1(0) = 2
    a = 0.7
    part = (a * np.cos(t) + np.sin(t)) / (1 + a ** 2)
    z0 = (1 - a / (1 + a ** 2)) * np.exp(-a * t) + part
    return np.array([z0, 2 / (1 + 2 * t)])


@pytest.mark.parametrize("method, order", [("euler", 1), ("rk2", 2), ("heun", 2), ("rk3", 3), ("rk4", 4)])
def test_runge_kutta_substeps_have_their_order(method, order):
    errors = []
    ns = [8, 16, 32, 64]
    for k in ns:
        solver = dlra.RungeKutta(method, substeps=k)
        z = solver.integrate(ScalarFlow(), 0.0, 1.0, [np.array([1.0]), np.array([2.0])])
        errors.append(np.abs(np.concatenate(z) - exact(1.0)).max())
    assert abs(loglog_slope(1 / np.array(ns), errors) - order) < 0.25


def test_f0_replaces_the_first_evaluation():
    flow = ScalarFlow()
    z0 = [np.array([1.0]), np.array([2.0])]
    a = dlra.RungeKutta("rk4").integrate(flow, 0.0, 0.1, z0)
    assert flow.calls == 4
    flow2 = ScalarFlow()
    b = dlra.RungeKutta("rk4").integrate(flow2, 0.0, 0.1, z0, f0=ScalarFlow()(0.0, z0))
    assert flow2.calls == 3
    assert np.allclose(np.concatenate(a), np.concatenate(b), rtol=0, atol=1e-15)


def test_solve_ivp_substep_is_accurate():
    z = dlra.ScipyIVP("DOP853", rtol=1e-12, atol=1e-14).integrate(
        ScalarFlow(), 0.0, 1.0, [np.array([1.0]), np.array([2.0])])
    assert np.abs(np.concatenate(z) - exact(1.0)).max() < 1e-10


def test_sgd_is_one_euler_step():
    z0 = [np.array([1.0]), np.array([2.0])]
    a = dlra.SGD().integrate(ScalarFlow(), 0.0, 0.1, z0)
    b = dlra.ExplicitEuler().integrate(ScalarFlow(), 0.0, 0.1, z0)
    assert np.allclose(np.concatenate(a), np.concatenate(b), rtol=0, atol=0)


class BasisFlow:
    """A K-type flow z' = G R (G fixed) whose variable is expressed in a right basis R."""
    kind = key = "K"

    def __init__(self, G, R):
        self.G, self.R = G, R
        self.left_bases, self.right_bases = [None], [R]

    def __call__(self, t, z):
        return [self.G @ self.R]


@pytest.mark.parametrize("optimizer", [dlra.SGD(momentum=0.9), dlra.Adam()])
def test_optimizer_state_is_carried_into_new_bases(optimizer):
    """The full-space iterate z Rᴴ must not depend on which orthonormal basis R of the same
    subspace expresses the variable (momentum/Adam first moments rotate with the basis)."""
    rng = np.random.default_rng(0)
    G = rng.standard_normal((8, 10))
    R0 = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    ref = type(optimizer)() if isinstance(optimizer, dlra.Adam) else dlra.SGD(momentum=0.9)
    z_ref = np.zeros((8, 3))
    z = np.zeros((8, 3))
    R = R0
    for step in range(5):
        z_ref = ref.integrate(BasisFlow(G, R0), 0.0, 0.1, [z_ref])[0]
        z = optimizer.integrate(BasisFlow(G, R), 0.0, 0.1, [z])[0]
        # change basis (same span) and re-express the variable
        R_new = R @ Q
        z = z @ (R.T @ R_new)
        R = R_new
    full_ref = z_ref @ R0.T
    full = z @ R.T
    if isinstance(optimizer, dlra.SGD):
        assert np.allclose(full, full_ref, atol=1e-12)
    else:  # Adam's second moment is not rotation-covariant: only close, documented as heuristic
        assert np.linalg.norm(full - full_ref) < 0.5 * np.linalg.norm(full_ref)


def test_closed_form_for_data_refuses_nonlinear_flows():
    p = dlra.problems.RotatingMatrix(n=10, rank=2)
    with pytest.raises(ValueError, match="naive"):
        dlra.solve(p.F, p.Y0, (0, 0.1), 0.1, method="naive", substep=p.exact_substep())


@pytest.mark.parametrize("bad, match", [
    (lambda: dlra.RungeKutta("rk9"), "unknown Runge"),
    (lambda: dlra.RungeKutta("rk4", substeps=0), "substeps must be"),
    (lambda: dlra.ScipyIVP(rtol=-1), "rtol must be positive"),
    (lambda: dlra.SGD(momentum=1.5), "momentum must be"),
    (lambda: dlra.Adam(beta1=1.0), "beta1 must be"),
])
def test_bad_substep_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def adam_textbook(z, f, m, v, beta1, beta2, step, count, eps):
    """Kingma & Ba (2015), Algorithm 1, written out with the bias-corrected moments."""
    m = beta1 * m + (1 - beta1) * f
    v = beta2 * v + (1 - beta2) * np.abs(f) ** 2
    m_hat, v_hat = m / (1 - beta1 ** count), v / (1 - beta2 ** count)
    return z + step * m_hat / (np.sqrt(v_hat) + eps), m, v


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("layout", ["contiguous", "strided", "column"])
def test_fused_adam_update_equals_the_numpy_expressions_bit_for_bit(dtype, layout):
    """The numba loop (real, contiguous) must give exactly the numpy path's values, which must be
    Adam's update; strided and complex arrays go the numpy way and must give the same update."""
    from dlra.substep import adam_update as au

    rng = np.random.default_rng(11)
    shape = {"contiguous": (37, 23), "strided": (37, 46), "column": (41, 1)}[layout]

    def sample():
        a = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if dtype == np.complex128 else 0)
        return a.astype(dtype)[:, ::2] if layout == "strided" else a.astype(dtype)

    z, f, m = sample(), sample(), sample()
    v = np.abs(sample()) ** 2
    if layout == "strided":
        assert not au._fusable(z, f, m, v)
    elif dtype != np.complex128:
        assert au._fusable(z, f, m, v)
    count, step, b1, b2, eps = 7, 3e-3, 0.9, 0.999, 1e-8
    a, b = step / (1 - b1 ** count), 1 / (1 - b2 ** count)
    before = [x.copy() for x in (z, f, m, v)]
    out = au.adam_update(z, f, m, v, b1, b2, a, b, eps)
    ref = au._numpy_update(z, f, m, v, b1, b2, a, b, eps)
    for x, y in zip(before, (z, f, m, v)):
        assert np.array_equal(x, y)  # inputs untouched
    cache = {}  # the per-step cache of rounded coefficients gives the same values, first and second use
    for again in (au.adam_update(z, f, m, v, b1, b2, a, b, eps, cache) for _ in range(2)):
        assert all(np.array_equal(x, y) for x, y in zip(again, out))
    for got, want in zip(out, ref):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want)
    book = adam_textbook(z, f, m, v, b1, b2, step, count, eps)
    tol = 50 * np.finfo(dtype).eps
    for got, want in zip(out, book):
        assert np.linalg.norm(got - want) <= tol * np.linalg.norm(want)
    # NaN in the gradient reaches the result (the step's finite check then reports it)
    f_bad = f.copy()
    f_bad[0, 0] = np.nan
    with np.errstate(invalid="ignore"):  # as inside Integrator.step
        assert np.isnan(au.adam_update(z, f_bad, m, v, b1, b2, a, b, eps)[0][0, 0])
