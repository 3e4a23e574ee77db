"""Gradient checks of the numba MLP (dlra.nn) and its vector-field contract.

Central differences in float64: ⟨∇L, D⟩ ≈ (L(θ + εD) − L(θ − εD)) / 2ε for random directions D,
relative error < 1e-6; for low-rank layers the gradient is the factored operator A Bᵀ and
⟨A Bᵀ, D⟩ = trace(Aᵀ D B) (FactoredGradient.inner).
"""
import numpy as np
import pytest

from dlra.field import FieldValue
from dlra.lowrank import LowRank
from dlra.nn import MLP, DenseLayer, FactoredGradient, LowRankLayer, geometric_decay

EPS = 1e-5
RTOL = 1e-6


def _data(n_batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_batch, n_in))
    y = rng.integers(0, n_out, n_batch)
    return X, y


def _perturbed(item, D, eps):
    """item + eps·D for a LowRank (kept factored, rank grows) or an array."""
    if isinstance(item, LowRank):
        m, n = item.shape
        return LowRank.concatenate([item, LowRank(D, np.eye(n), np.eye(n))], weights=[1.0, eps])
    return item + eps * D


def _inner(G, D):
    if isinstance(G, FactoredGradient):
        return G.inner(D)
    return float(np.sum(G * D))


def _check_gradients(net, X, y, seed=0, n_dirs=2):
    rng = np.random.default_rng(seed)
    items = net.parameters()
    F = net.vector_field(X, y)
    neg = F(0.0, items)
    assert len(neg) == len(items)
    for k, item in enumerate(items):
        for _ in range(n_dirs):
            D = rng.standard_normal(item.shape)
            analytic = -_inner(neg[k], D)
            plus = list(items)
            plus[k] = _perturbed(item, D, EPS)
            minus = list(items)
            minus[k] = _perturbed(item, D, -EPS)
            net.set_parameters(plus)
            lp = net.loss(X, y)
            net.set_parameters(minus)
            lm = net.loss(X, y)
            net.set_parameters(items)
            fd = (lp - lm) / (2 * EPS)
            err = abs(fd - analytic) / max(abs(fd), abs(analytic), 1e-12)
            assert err < RTOL, f"item {k} ({type(item).__name__}, shape {item.shape}): fd={fd}, analytic={analytic}"


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
def test_dense_gradients_fd(loss, activation):
    X, y = _data(7, 6, 3, seed=1)
    layers = [DenseLayer(6, 5, activation, rng=2), DenseLayer(5, 4, activation, rng=3),
              DenseLayer(4, 3, "identity", rng=4)]
    for layer in layers:  # nonzero biases so that they matter
        layer.b = np.random.default_rng(5).standard_normal((layer.n_out, 1)) * 0.1
    net = MLP(layers, loss=loss, dtype=np.float64)
    _check_gradients(net, X, y)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
def test_lowrank_gradients_fd(loss, activation):
    X, y = _data(9, 7, 3, seed=11)
    layers = [LowRankLayer(7, 6, 3, activation, rng=12), LowRankLayer(6, 5, 2, activation, rng=13),
              DenseLayer(5, 3, "tanh", rng=14)]
    net = MLP(layers, loss=loss, dtype=np.float64)
    items = net.parameters()
    rng = np.random.default_rng(15)
    for k in range(1, len(items), 2):
        items[k] = 0.1 * rng.standard_normal(items[k].shape)
    net.set_parameters(items)
    _check_gradients(net, X, y, seed=16)


def test_mse_with_float_targets():
    rng = np.random.default_rng(20)
    X = rng.standard_normal((5, 4))
    T = rng.standard_normal((5, 2))
    net = MLP([LowRankLayer(4, 3, 2, "tanh", rng=21), DenseLayer(3, 2, "identity", rng=22)], loss="mse",
              dtype=np.float64)
    _check_gradients(net, X, T)
    out = net.forward(X)
    assert np.isclose(net.loss(X, T), 0.5 * np.mean(np.sum((out - T) ** 2, axis=1)))


def test_cross_entropy_value_and_stability():
    rng = np.random.default_rng(30)
    X = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, 6)
    net = MLP([DenseLayer(4, 3, "identity", rng=31)], dtype=np.float64)
    Z = net.forward(X)
    ref = np.mean(np.log(np.sum(np.exp(Z), axis=1)) - Z[np.arange(6), y])
    assert np.isclose(net.loss(X, y), ref, rtol=1e-12)
    net.layers[0].W *= 1e4  # huge logits: log-sum-exp must not overflow
    assert np.isfinite(net.loss(X, y))
    assert np.all(np.isfinite(net.gradients(X, y)[0]))


def test_factored_gradient_products_match_dense():
    X, y = _data(8, 7, 4, seed=40)
    net = MLP([LowRankLayer(7, 6, 2, "tanh", rng=41), DenseLayer(6, 4, "identity", rng=42)], dtype=np.float64)
    G = net.vector_field(X, y)(0.0, net.parameters())[0]
    assert isinstance(G, FactoredGradient) and G.shape == (6, 7)
    # the dense −Δᵀ X from an equivalent dense network
    dense = MLP([DenseLayer(7, 6, "tanh", W=net.layers[0].Y.to_dense(), b=net.layers[0].b),
                 DenseLayer(6, 4, "identity", W=net.layers[1].W, b=net.layers[1].b)], dtype=np.float64)
    Gd = dense.vector_field(X, y)(0.0, dense.parameters())[0]
    np.testing.assert_allclose(G.to_dense(), Gd, rtol=1e-12, atol=1e-14)
    rng = np.random.default_rng(43)
    V = rng.standard_normal((7, 3))
    U = rng.standard_normal((6, 3))
    np.testing.assert_allclose(G.matmat(V), Gd @ V, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G.rmatmat(U), Gd.T @ U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G.H.matmat(U), Gd.T @ U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G.matvec(V[:, 0]), Gd @ V[:, 0], rtol=1e-12, atol=1e-14)
    # through the core's contract
    fv = FieldValue(G, (6, 7), 0)
    np.testing.assert_allclose(fv.right(V), Gd @ V, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fv.left(U), Gd.T @ U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fv.dense(), Gd, rtol=1e-12, atol=1e-14)
    # biases and the dense layer agree too; losses agree
    Gall = net.vector_field(X, y)(0.0, net.parameters())
    Gdall = dense.vector_field(X, y)(0.0, dense.parameters())
    for a, b in zip(Gall[1:], Gdall[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.isclose(net.loss(X, y), dense.loss(X, y), rtol=1e-13)


def test_nonorthonormal_factors_give_same_gradient():
    X, y = _data(10, 8, 3, seed=50)
    net = MLP([LowRankLayer(8, 7, 3, "relu", rng=51), LowRankLayer(7, 6, 2, "tanh", rng=52),
               DenseLayer(6, 3, "identity", rng=53)], dtype=np.float64)
    items = net.parameters()
    F = net.vector_field(X, y)
    ref = [g.to_dense() if isinstance(g, FactoredGradient) else g for g in F(0.0, items)]
    loss_ref = net.last_loss
    rng = np.random.default_rng(54)
    # K-step form LowRank(K, I, V) and an arbitrary (non-orthonormal, non-diagonal) representation
    k_form = list(items)
    general = list(items)
    for k in (0, 2):
        Y = items[k]
        r = Y.rank
        k_form[k] = LowRank(Y.U @ Y.S, np.eye(r), Y.V)
        R1 = rng.standard_normal((r, r)) + 3 * np.eye(r)
        R2 = rng.standard_normal((r, r)) + 3 * np.eye(r)
        general[k] = LowRank(Y.U @ R1, np.linalg.solve(R1, Y.S) @ np.linalg.inv(R2).T, Y.V @ R2)
    for state in (k_form, general):
        out = F(0.0, state)
        assert np.isclose(net.last_loss, loss_ref, rtol=1e-12)
        for g, g0 in zip(out, ref):
            g = g.to_dense() if isinstance(g, FactoredGradient) else g
            np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-13)


def test_rank_may_change_between_calls():
    X, y = _data(6, 8, 3, seed=60)
    net = MLP([LowRankLayer(8, 7, 3, "relu", rng=61), DenseLayer(7, 3, "identity", rng=62)], dtype=np.float64)
    F = net.vector_field(X, y)
    items = net.parameters()
    for r in (1, 5, 2):
        items[0] = LowRank.random(7, 8, np.linspace(1, 0.5, r), rng=r)
        out = F(0.0, items)
        assert net.ranks() == [r]
        assert out[0].shape == (7, 8)
        assert out[0].matmat(np.ones((8, r))).shape == (7, r)


def test_float32_forward_matches_float64():
    rng = np.random.default_rng(70)
    X = rng.standard_normal((16, 20))
    y = rng.integers(0, 5, 16)
    net64 = MLP.from_sizes([20, 15, 12, 5], ranks=[4, None, None], activation="tanh", dtype=np.float64, rng=71)
    net32 = MLP.from_sizes([20, 15, 12, 5], ranks=[4, None, None], activation="tanh", dtype=np.float32, rng=71)
    net32.set_parameters(net64.parameters())
    out64 = net64.forward(X)
    out32 = net32.forward(X)
    assert out32.dtype == np.float32
    assert np.linalg.norm(out32 - out64) / np.linalg.norm(out64) < 1e-5
    assert abs(net32.loss(X, y) - net64.loss(X, y)) / net64.loss(X, y) < 1e-5
    g32 = net32.vector_field(X, y)(0.0, net32.parameters())
    assert g32[0].dtype == np.float32 and all(g.dtype == np.float32 for g in g32[1:])


def test_passes_count_one_per_call():
    X, y = _data(5, 6, 3, seed=80)
    net = MLP.from_sizes([6, 5, 3], ranks=2, dtype=np.float64, rng=81)
    F = net.vector_field(X, y)
    assert net.passes == 0
    for k in range(1, 4):
        F(0.0, net.parameters())
        assert net.passes == k
    net.forward(X)
    net.loss(X, y)
    assert net.passes == 3 and net.forward_passes == 2


def test_parameter_shapes_and_counts():
    net = MLP.from_sizes([784, 500, 500, 10], ranks=20, dtype=np.float32, rng=90)
    items = net.parameters()
    assert [type(p).__name__ for p in items] == ["LowRank", "ndarray", "LowRank", "ndarray", "ndarray", "ndarray"]
    assert all(p.ndim == 2 for p in items)
    assert items[1].shape == (500, 1)
    counts = net.parameter_counts()
    assert counts["dense"] == 784 * 500 + 500 + 500 * 500 + 500 + 500 * 10 + 10
    assert counts["inference"] == 20 * (784 + 500) + 500 + 20 * 1000 + 500 + 500 * 10 + 10
    assert counts["compression_inference"] == pytest.approx(1 - counts["inference"] / counts["dense"])
    assert counts["ranks"] == [20, 20]


def test_initialisations():
    layer = LowRankLayer(30, 20, 5, "relu", rng=100)  # spectral init: orthonormal, diagonal S
    assert layer.Y.is_orthonormal(1e-10)
    sv = geometric_decay(5, 1.0, 0.1)
    layer = LowRankLayer(30, 20, 5, "relu", init_singular_values=sv, rng=101)
    np.testing.assert_allclose(layer.Y.singular_values(), sv, rtol=1e-10)
    with pytest.raises(ValueError, match="rank"):
        LowRankLayer(30, 20, 21)
    with pytest.raises(ValueError, match="activation"):
        DenseLayer(3, 2, "sigmoid")
    with pytest.raises(ValueError, match="n_in"):
        MLP([DenseLayer(3, 2), DenseLayer(3, 2)])


def test_set_parameters_validation():
    net = MLP.from_sizes([6, 5, 3], ranks=2, dtype=np.float64, rng=110)
    items = net.parameters()
    with pytest.raises(ValueError, match="items"):
        net.set_parameters(items[:-1])
    bad = list(items)
    bad[0] = np.zeros((5, 6))
    with pytest.raises(TypeError, match=r"items\[0\]"):
        net.set_parameters(bad)
    bad = list(items)
    bad[3] = np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"items\[3\]"):
        net.set_parameters(bad)


def test_adaptive_bug_sgd_step_trains():
    """The network plugs into the core integrator: DLRT steps reduce the loss."""
    from dlra.integrators import AdaptiveBUG
    from dlra.substep import SGD

    rng = np.random.default_rng(120)
    X = rng.standard_normal((64, 10))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    net = MLP.from_sizes([10, 8, 8, 2], ranks=3, activation="tanh", dtype=np.float64, rng=121)
    integrator = AdaptiveBUG(substep=SGD(), theta=1e-3)
    F = net.vector_field(X, y)
    items = net.parameters()
    net.set_parameters(items)
    loss0 = net.loss(X, y)
    t = 0.0
    for _ in range(20):
        items = integrator.step(F, t, items, 0.2)
        t += 0.2
    net.set_parameters(items)
    assert net.loss(X, y) < loss0
    assert net.passes >= 20
