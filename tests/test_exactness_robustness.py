import numpy as np
import pytest

import dlra


@pytest.fixture(scope="module")
def exact_rank_problem():
    # A(t) = Q1(t) A1 Q2(t)ᵀ of exact rank 6 (Lubich–Oseledets with ε = 0)
    return dlra.problems.LubichOseledets(n=40, rank=6, eps=0.0, rotation_speed=1.5)


@pytest.mark.parametrize("method, options", [
    ("ksl", {}), ("ksl", {"scheme": "strang"}), ("bug", {}), ("augmented_bug", {}),
    ("adaptive_bug", {"theta": 1e-12}),
])
def test_exactness_for_a_rank_r_data_problem(exact_rank_problem, method, options):
    """KSL (Lubich–Oseledets Thm 4.1) and the BUG family (Ceruti–Lubich Thm 4) reproduce A(t)
    when A(t) has rank r and the substeps are exact, with a step far too big for accuracy."""
    p = exact_rank_problem
    sol = dlra.solve(p.F, p.Y0, (0, 1), 0.25, method=method, substep=p.exact_substep(), **options)
    for t, Y in zip(sol.t, sol.Y):
        A = p.reference(t)
        assert np.linalg.norm(np.asarray(Y) - A) <= 1e-10 * np.linalg.norm(A)
    assert sol.ranks[-1][0] == 6


def test_projected_euler_is_not_exact(exact_rank_problem):
    p = exact_rank_problem
    sol = dlra.solve(p.F, p.Y0, (0, 1), 0.25, method="projected_euler")
    assert p.error(sol.Y[-1], 1.0) > 1e-4 * np.linalg.norm(p.reference(1.0))


def test_robustness_to_small_singular_values():
    """Rotating matrix, σ_j = eᵗ 2⁻ʲ: as the rank grows to 16 (σ_min ≈ 1.5e-5) the errors of KSL and
    BUG at a fixed h do not grow (they follow the best-approximation error down), while the naive
    factor ODEs with the same substeps fail at that h."""
    p_ranks = [6, 10, 16]
    h = 0.05
    errs = {"ksl": [], "bug": [], "naive": []}
    for r in p_ranks:
        p = dlra.problems.RotatingMatrix(n=60, rank=r, decay=2.0)
        assert r != 16 or p.Y0.singular_values()[-1] < 2e-5
        for method in errs:
            sol = dlra.solve(p.F, p.Y0, (0, 1), h, method=method, substep=dlra.RungeKutta("rk4"), t_eval=[1.0])
            if sol.status < 0:
                errs[method].append(np.inf)
            else:
                errs[method].append(p.error(sol.Y[-1], 1.0))
        best = p.best_approximation_error(1.0, r)
        assert errs["ksl"][-1] < 3 * best + 1e-3 and errs["bug"][-1] < 3 * best + 1e-3
    for method in ("ksl", "bug"):
        assert all(b <= 1.05 * a for a, b in zip(errs[method], errs[method][1:])), errs[method]
    assert errs["naive"][-1] > 1 or not np.isfinite(errs["naive"][-1]), errs["naive"]
    # and the naive method was fine where σ_min is not small: the failure is caused by σ_min
    assert errs["naive"][0] < 0.1


def test_robustness_at_fixed_rank_as_the_decay_steepens():
    """Rank 16, σ_min from 1.5e-5 (decay 2) to 2.3e-8 (decay 3): KSL/BUG errors do not grow."""
    for method in ("ksl", "bug"):
        errors = []
        for decay in (2.0, 2.5, 3.0):
            p = dlra.problems.RotatingMatrix(n=60, rank=16, decay=decay)
            sol = dlra.solve(p.F, p.Y0, (0, 1), 0.05, method=method, t_eval=[1.0])
            errors.append(p.error(sol.Y[-1], 1.0))
        assert all(b <= 1.05 * a for a, b in zip(errors, errors[1:])), (method, errors)
