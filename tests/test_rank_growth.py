"""Rank growth: the per-unit-time tolerance ϑ = τ h ‖Ŝ‖ (RateTolerance) lets a DLRT run that starts
at too small a rank grow to the rank its data need; the step-independent ϑ = τ‖Ŝ‖ does not."""
import numpy as np
import pytest

import dlra
from dlra.nn import MLP, Trainer
from dlra.nn.layers import LowRankLayer


def least_squares_data(rank=14, n_in=30, n_out=24, n=400, seed=0):
    """y = B x with B of rank 14: the gradient flow of ½‖W x − y‖² needs rank 14 to fit."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    B = rng.standard_normal((n_out, rank)) @ rng.standard_normal((rank, n_in)) / np.sqrt(n_in)
    return X, X @ B.T


def train(rule, epochs=30, lr=0.01):
    X, Y = least_squares_data()
    net = MLP([LowRankLayer(30, 24, 2, "identity", rng=1)], loss="mse", dtype=np.float64)
    loss0 = net.loss(X, Y)
    trainer = Trainer(net, dlra.AdaptiveBUG(substep=dlra.SGD(), truncation=rule), lr=lr, batch_size=50,
                      progress=False)
    trainer.fit({"x_train": X, "y_train": Y}, epochs)
    return net.ranks()[0], net.loss(X, Y) / loss0


def test_rate_tolerance_grows_from_rank_2_to_fit_rank_14_data():
    rank, rel_loss = train(dlra.RateTolerance())          # documented default τ = 0.1
    assert rank >= 14
    assert rel_loss < 0.02


@pytest.mark.parametrize("tau", [0.05, 0.1])
def test_relative_tolerance_stays_at_the_initial_rank(tau):
    """New directions of size ≈ h‖(I − P)F‖ fall below τ‖Ŝ‖ at every step: stuck at rank 2."""
    rank, rel_loss = train(dlra.RelativeTolerance(tau))
    assert rank < 10
    assert rel_loss > 0.5


def test_rate_tolerance_scales_with_the_step_and_needs_it():
    rule = dlra.RateTolerance(0.5)
    sigma = np.array([1.0, 0.1, 0.01, 0.001])
    with pytest.raises(ValueError, match="step size"):
        rule.select_rank(sigma)
    norm = np.linalg.norm(sigma)
    rule.set_step_size(1.0)                    # ϑ = 0.5 ‖σ‖ ≈ 0.5: keeps 1
    assert rule.select_rank(sigma) == 1
    rule.set_step_size(0.01)                   # ϑ = 0.005 ‖σ‖ ≈ 0.005: ‖(0.01, 0.001)‖ > ϑ ≥ 0.001
    assert np.linalg.norm(sigma[2:]) > 0.005 * norm >= sigma[3]
    assert rule.select_rank(sigma) == 3
    with pytest.raises(ValueError, match="tau"):
        dlra.RateTolerance(-1.0)
    with pytest.raises(ValueError, match="h"):
        rule.set_step_size(float("nan"))


def test_integrators_pass_the_step_size_to_the_rule():
    X, Y = least_squares_data()
    rule = dlra.RateTolerance(0.1)
    net = MLP([LowRankLayer(30, 24, 2, "identity", rng=1)], loss="mse", dtype=np.float64)
    integrator = dlra.AdaptiveBUG(substep=dlra.SGD(), truncation=rule)
    integrator.step(net.vector_field(X, Y), 0.0, net.parameters(), 0.0125)
    assert rule.h == 0.0125
