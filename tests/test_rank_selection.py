"""Rank selection of Guo & Yu (2025): Algorithm 2's two rank rules, Algorithm 1's bisection (against
a brute-force search) and the bounds of Theorems 1-3 on small bias-free ReLU networks."""
import math

import numpy as np
import pytest

from dlra.lowrank import LowRank
from dlra.nn.rank_selection import (PosterRank, bisection_evaluations, check_theorem_assumptions, forward_with,
                                    layer_singular_values, norm_loss, output_bound, rank_rule, select_ranks,
                                    svd_rank_approx, theorem_delta)
from dlra.nn.svd_training import svd_mlp


def _net_with_spectra(sizes, spectra, seed=0, loss="cross_entropy", activation="relu"):
    """A bias-free float64 SVD network whose layers have the prescribed singular values."""
    net = svd_mlp(sizes, activation=activation, loss=loss, dtype=np.float64, rng=seed)
    rng = np.random.default_rng(seed + 100)
    for layer, sv in zip(net.layers, spectra):
        layer.set_weight(LowRank.random(layer.n_out, layer.n_in, np.asarray(sv, float), rng=rng), np.float64)
    return net


# ------------------------------------------------------------------------------ Algorithm 2
def test_rank_rules_on_a_known_spectrum():
    sigma = np.array([1.0, 0.5, 0.3, 0.2, 0.05])
    # theorem rule: keep σ_i ≥ δσ₁; poster rule: largest k with k σ_k ≥ δσ₁ (k σ_k = 1, 1, .9, .8, .25)
    expected = {0.0: (5, 5), 0.25: (3, 5), 0.3: (3, 4), 0.6: (1, 4), 0.85: (1, 3), 0.95: (1, 2), 1.0: (1, 2)}
    for delta, (k_theorem, k_poster) in expected.items():
        assert rank_rule(delta, "theorem").select_rank(sigma) == k_theorem, delta
        assert rank_rule(delta, "poster").select_rank(sigma) == k_poster, delta


def test_both_rules_satisfy_the_theorem_condition_and_theorem_rule_is_minimal():
    rng = np.random.default_rng(1)
    for _ in range(200):
        sigma = np.sort(rng.random(12) ** rng.uniform(0.5, 4))[::-1]
        delta = rng.random()
        kt = rank_rule(delta, "theorem").select_rank(sigma)
        kp = rank_rule(delta, "poster").select_rank(sigma)
        nxt = lambda k: sigma[k] if k < sigma.size else 0.0  # σ_{k+1} (0-based index k)
        assert nxt(kt) < delta * sigma[0] or (kt == sigma.size)
        assert nxt(kp) < delta * sigma[0] or (kp == sigma.size)
        assert kp >= kt
        # minimality: with one singular value fewer the condition σ_{k+1}/σ₁ < δ fails
        if kt > 1:
            assert not nxt(kt - 1) < delta * sigma[0]


def test_svd_rank_approx_is_the_truncated_svd():
    sizes = [7, 6, 5]
    net = _net_with_spectra(sizes, [[3, 2, 1, .5, .1, .01], [4, 1, .3, .2, .1]])
    weights, ranks = svd_rank_approx(net, 0.2, "theorem")
    assert ranks == [3, 2]
    for W, Wk, k in zip([layer.weight() for layer in net.layers], weights, ranks):
        P, sigma, Qh = np.linalg.svd(W.to_dense())
        best = (P[:, :k] * sigma[:k]) @ Qh[:k]
        assert np.allclose(Wk.to_dense(), best, atol=1e-12)
        assert Wk.is_orthonormal(1e-12)
        # Eckart–Young: spectral error σ_{k+1}
        assert np.linalg.norm(W.to_dense() - Wk.to_dense(), 2) == pytest.approx(sigma[k], rel=1e-10)


def test_rule_and_precision_are_checked():
    with pytest.raises(ValueError, match="rule"):
        rank_rule(0.1, "heuristic")
    with pytest.raises(ValueError, match="delta"):
        PosterRank(-1.0)
    with pytest.raises(ValueError, match="delta_precision"):
        bisection_evaluations(0.0)
    net = _net_with_spectra([4, 3, 2], [[1, .5, .1], [1, .2]])
    X = np.ones((2, 4))
    with pytest.raises(ValueError, match="epsilon"):
        select_ranks(net, X, np.array([0, 1]), epsilon=0.0)
    with pytest.raises(ValueError, match="delta_precision"):
        select_ranks(net, X, np.array([0, 1]), epsilon=0.1, delta_precision=-0.5)


# ------------------------------------------------------------------------------ Algorithm 1
def test_bisection_evaluation_count():
    # loop while u − l ≥ Δδ, halving u − l: ⌊log₂(1/Δδ)⌋ + 1 midpoints
    assert bisection_evaluations(1 / 8) == 4
    assert bisection_evaluations(0.1) == 4 == math.ceil(math.log2(10))
    assert bisection_evaluations(1 / 64) == 7
    assert bisection_evaluations(1.0) == 1
    assert bisection_evaluations(2.0) == 0


@pytest.mark.parametrize("rule", ["theorem", "poster"])
def test_bisection_finds_the_largest_admissible_delta(rule):
    """Brute force over a fine δ grid on a tiny net: the admissible set is an interval [0, δ*] and the
    bisection brackets its end within Δδ."""
    sizes = [10, 8, 8, 4]
    spectra = [np.geomspace(2, 0.02, 8), np.geomspace(1.5, 0.05, 8), np.geomspace(3, 0.3, 4)]
    net = _net_with_spectra(sizes, spectra, seed=3)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 10))
    y = np.argmax(forward_with(net, [layer.weight() for layer in net.layers], X)
                  + 0.3 * rng.standard_normal((200, 4)), axis=1)
    full = net.loss(X, y)
    weights = [layer.weight() for layer in net.layers]

    def change(delta):
        Wk, _ = svd_rank_approx(weights, delta, rule)
        out = forward_with(net, Wk, X)
        return abs(net.loss_fn.value(out, net._target(y, len(X))) - full)

    grid = np.linspace(0, 1, 801)
    changes = np.array([change(d) for d in grid])
    epsilon = 0.5 * (changes.max() + changes[changes > 1e-9].min())  # strictly inside the range
    admissible = changes < epsilon
    assert admissible[0] and not admissible[-1]
    end = np.argmin(admissible)                      # first inadmissible grid point
    assert not admissible[end:].any(), "premise: admissibility is monotone on this net"
    delta_star_lo, delta_star_hi = grid[end - 1], grid[end]
    precision = 1 / 256
    result = select_ranks(net, X, y, epsilon, precision, rule, apply=False)
    assert result.upper - result.delta < precision
    assert result.delta <= delta_star_hi and result.upper >= delta_star_lo
    assert result.loss_change < epsilon
    assert len(result.trials) == bisection_evaluations(precision)
    assert result.evaluations <= len(result.trials) + 1
    # the result is the truncation at δ = l and the network is untouched (apply=False)
    assert result.ranks == svd_rank_approx(weights, result.delta, rule)[1]
    assert net.loss(X, y) == pytest.approx(full, abs=1e-14)
    # and it is within Δδ of the brute-force answer
    assert abs(result.delta - delta_star_lo) < precision + grid[1]


def test_selection_applies_the_truncation():
    net = _net_with_spectra([6, 5, 3], [np.geomspace(1, .01, 5), [1, .5, .01]], seed=5)
    X = np.random.default_rng(6).standard_normal((50, 6))
    y = np.arange(50) % 3
    result = select_ranks(net, X, y, epsilon=1e-3, delta_precision=1 / 32)
    assert net.ranks() == result.ranks
    assert net.loss(X, y) == pytest.approx(result.loss, rel=1e-12)
    assert abs(net.loss(X, y) - result.loss_full) < 1e-3


# ------------------------------------------------------------------------------ Theorems 1-3
def _trained_like_net(seed, sizes=(12, 10, 9, 4), loss="cross_entropy"):
    rng = np.random.default_rng(seed)
    spectra = [np.sort(rng.uniform(0.01, 2.0, min(m, n)) ** 2)[::-1] for m, n in zip(sizes[:-1], sizes[1:])]
    return _net_with_spectra(list(sizes), spectra, seed=seed, loss=loss)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rule", ["theorem", "poster"])
def test_theorem1_output_bound_holds_on_every_input(seed, rule):
    net = _trained_like_net(seed)
    check_theorem_assumptions(net)
    X = np.random.default_rng(seed + 10).standard_normal((300, 12)) * np.random.default_rng(seed).uniform(0.1, 3, 300)[:, None]
    sigmas = layer_singular_values(net)
    out = net.forward(X)
    norms = np.linalg.norm(X, axis=1)
    worst = 0.0
    for delta in np.linspace(0, 1, 21):
        Wk, ranks = svd_rank_approx(net, delta, rule)
        diff = np.linalg.norm(out - forward_with(net, Wk, X), axis=1)
        bound = output_bound(net, ranks, norms, sigmas)
        roundoff = 1e-12 * (1 + np.linalg.norm(out, axis=1))   # the re-factorised weights' rounding
        assert np.all(diff <= bound * (1 + 1e-12) + roundoff)
        worst = max(worst, float(np.max(diff / np.where(bound > 0, bound, 1))))
    assert 0 < worst <= 1


def test_theorem1_bound_is_attained_by_one_linear_layer():
    """L = 1, identity activation: ‖W x − W_k x‖ = σ_{k+1}‖x‖ for x = v_{k+1}, the bound's value."""
    net = _net_with_spectra([6, 5], [[2, 1, .5, .25, .1]])   # one layer: the output layer, identity
    assert net.layers[0].activation == "identity"
    W = net.layers[0].weight()
    P, sigma, Q = W.svd()
    for k in range(1, 5):
        Wk = [W.truncate(rank=k)]
        x = 3.0 * Q[:, k][None, :]
        diff = np.linalg.norm(net.forward(x) - forward_with(net, Wk, x))
        assert diff == pytest.approx(float(output_bound(net, [k], 3.0)), rel=1e-10)


def test_bias_is_rejected_by_the_assumption_check():
    net = _trained_like_net(0)
    net.layers[1].b[0, 0] = 0.1
    with pytest.raises(ValueError, match="bias"):
        check_theorem_assumptions(net)


@pytest.mark.parametrize("seed", [0, 1])
def test_theorem2_classification_loss_bound(seed):
    net = _trained_like_net(seed)
    rng = np.random.default_rng(seed + 20)
    X = rng.standard_normal((300, 12))
    y = rng.integers(0, 4, 300)
    B = float(np.max(np.linalg.norm(X, axis=1)))
    full = net.loss(X, y)
    sigmas = layer_singular_values(net)
    scale = math.sqrt(2) * B * len(net.layers) * np.prod([s[0] for s in sigmas])
    truncated_somewhere = False
    for epsilon in scale * np.geomspace(1e-3, 1, 13):
        delta = theorem_delta(epsilon, B, net, "classification")
        assert delta == pytest.approx(epsilon / scale)
        Wk, ranks = svd_rank_approx(net, delta, "theorem")
        truncated_somewhere |= any(k < s.size for k, s in zip(ranks, sigmas))
        out = forward_with(net, Wk, X)
        change = abs(net.loss_fn.value(out, net._target(y, len(X))) - full)
        assert change < epsilon
    assert truncated_somewhere


@pytest.mark.parametrize("seed", [0, 1])
def test_theorem3_regression_loss_bound(seed):
    net = _trained_like_net(seed, loss="mse")
    rng = np.random.default_rng(seed + 30)
    X = rng.standard_normal((300, 12))
    Y = net.forward(X) + 0.1 * rng.standard_normal((300, 4))
    B = float(np.max(np.linalg.norm(X, axis=1)))
    full = norm_loss(net.forward(X), Y)
    sigmas = layer_singular_values(net)
    scale = B * len(net.layers) * np.prod([s[0] for s in sigmas])
    for epsilon in scale * np.geomspace(1e-3, 1, 13):
        delta = theorem_delta(epsilon, B, net, "regression")
        assert delta == pytest.approx(epsilon / scale)
        Wk, _ = svd_rank_approx(net, delta, "theorem")
        assert abs(norm_loss(forward_with(net, Wk, X), Y) - full) < epsilon
    with pytest.raises(ValueError, match="task"):
        theorem_delta(1.0, B, net, "ranking")
