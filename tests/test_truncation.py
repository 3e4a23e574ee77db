import numpy as np
import pytest

import dlra

SIGMA = np.array([1.0, 0.5, 0.1, 0.01, 1e-3, 1e-6])


def tail(r):
    return np.linalg.norm(SIGMA[r:])


@pytest.mark.parametrize("r", range(6))
def test_absolute_tolerance_is_the_smallest_rank_with_small_tail(r):
    theta = tail(r) * (1 + 1e-9)
    rule = dlra.AbsoluteTolerance(theta)
    k = rule.select_rank(SIGMA)
    assert tail(k) <= theta and (k == 1 or tail(k - 1) > theta) and k == max(r, 1)


def test_relative_tolerance_scales_with_the_norm():
    rule = dlra.RelativeTolerance(0.05)
    assert rule.select_rank(SIGMA) == rule.select_rank(1e3 * SIGMA)
    assert tail(rule.select_rank(SIGMA)) <= 0.05 * np.linalg.norm(SIGMA)


def test_other_rules_and_caps():
    assert dlra.FixedRank(3).select_rank(SIGMA) == 3
    assert dlra.FixedRank().select_rank(SIGMA, current_rank=2) == 2
    assert dlra.RelativeSingularValue(0.05).select_rank(SIGMA) == 3  # 1, .5, .1 ≥ .05
    assert dlra.Energy(1e-3).select_rank(SIGMA) == 3
    assert dlra.AbsoluteTolerance(0.0).select_rank(SIGMA) == 6
    assert dlra.AbsoluteTolerance(10.0, min_rank=2).select_rank(SIGMA) == 2
    assert dlra.AbsoluteTolerance(0.0, max_rank=4).select_rank(SIGMA) == 4
    assert dlra.FixedRank(10).select_rank(SIGMA) == 6  # never more than available


def test_rank_decreases_as_the_tolerance_grows():
    ranks = [dlra.AbsoluteTolerance(t).select_rank(SIGMA) for t in np.logspace(-8, 0, 30)]
    assert all(a >= b for a, b in zip(ranks, ranks[1:]))


@pytest.mark.parametrize("bad, match", [
    (lambda: dlra.AbsoluteTolerance(-1e-3), "theta must be finite and nonnegative"),
    (lambda: dlra.RelativeTolerance(np.nan), "tau must be finite"),
    (lambda: dlra.FixedRank(0), "rank must be >= 1"),
    (lambda: dlra.AbsoluteTolerance(0.1, min_rank=3, max_rank=2), "max_rank"),
    (lambda: dlra.Energy(2.0), "e must be in"),
    (lambda: dlra.RelativeSingularValue("x"), "delta must be a real number"),
])
def test_bad_rules_are_rejected_with_the_argument_named(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()
