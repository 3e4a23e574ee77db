import numpy as np
import pytest

import dlra
from dlra.linalg import orth


def untruncated_augmented_update(F, Y0, h):
    """The augmented BUG update with one Euler substep, formed independently and densely:
    K1 = U0S0 + hF0V0, L1 = V0S0ᴴ + hF0ᴴU0, Û = orth([K1, U0]), V̂ = orth([L1, V0]),
    Y1 = Û (ÛᴴY0V̂ + hÛᴴF0V̂) V̂ᴴ."""
    F0 = np.asarray(F(0.0, Y0))
    U0, S0, V0 = Y0.U, Y0.S, Y0.V
    K1 = U0 @ S0 + h * F0 @ V0
    L1 = V0 @ S0.conj().T + h * F0.conj().T @ U0
    Uh, Vh = orth(K1, U0), orth(L1, V0)
    Y0d = Y0.to_dense()
    return Uh @ (Uh.conj().T @ (Y0d + h * F0) @ Vh) @ Vh.conj().T


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_nothing_truncated_reproduces_the_untruncated_update(dtype):
    rng = np.random.default_rng(5)
    m, n, r = 25, 18, 4
    Y0 = dlra.LowRank.random(m, n, [1.0, 0.3, 1e-2, 1e-6], rng=rng, dtype=dtype)
    G = rng.standard_normal((m, n)) + (1j * rng.standard_normal((m, n)) if dtype == np.complex128 else 0)

    def F(t, Y):
        return G - 0.5 * np.asarray(Y)

    integrator = dlra.AdaptiveBUG(substep=dlra.ExplicitEuler(), theta=0.0)
    Y1 = integrator.step(F, 0.0, Y0, 0.1)
    expected = untruncated_augmented_update(F, Y0, 0.1)
    assert Y1.rank == 2 * r
    assert np.linalg.norm(Y1.to_dense() - expected) <= 1e-13 * np.linalg.norm(expected)
    assert Y1.is_orthonormal(atol=1e-12)


def test_rank_follows_theta_on_a_known_spectrum():
    """Rotating matrix with σ_j(t) = eᵗ 2⁻ʲ, exact substeps, started at rank 30 (tail ≈ 1e-9): after
    the first step the rank is the Eckart–Young rank r(ϑ, h) = min{r : ‖σ_{>r}(A(h))‖ ≤ ϑ}; later it
    lags r(ϑ, t) by at most 2, since directions dropped earlier come back only through h·Ȧ (the ϑ/h
    term of the bound). The rank falls as ϑ grows and each step discards at most ϑ."""
    p = dlra.problems.RotatingMatrix(n=60, rank=30, decay=2.0)

    def eckart_young_rank(t, theta):
        sigma = p.singular_values(t)
        return next(r for r in range(len(sigma)) if np.linalg.norm(sigma[r:]) <= theta)

    first_ranks = []
    for theta in [1e-2, 1e-3, 1e-4, 1e-5, 1e-6]:
        sol = dlra.solve(p.F, p.Y0, (0, 1), 0.05, method="adaptive_bug", theta=theta, substep=p.exact_substep())
        assert sol.ranks[1][0] == eckart_young_rank(sol.t_steps[1], theta)
        for t, (r,) in zip(sol.t_steps[1:], sol.ranks[1:]):
            assert 0 <= eckart_young_rank(t, theta) - r <= 2
        assert np.max(sol.truncation_errors) <= theta * (1 + 1e-12)
        first_ranks.append(sol.ranks[1][0])
    assert first_ranks == sorted(first_ranks) and first_ranks[0] < first_ranks[-1]


def test_relative_tolerance_and_rank_caps_are_honoured():
    p = dlra.problems.RotatingMatrix(n=60, rank=2, decay=1.5)
    sol = dlra.solve(p.F, p.Y0, (0, 1), 0.1, method="adaptive_bug",
                     truncation=dlra.RelativeTolerance(1e-8, max_rank=7))
    assert sol.ranks.max() == 7
    sol = dlra.solve(p.F, p.Y0, (0, 1), 0.1, method="parallel_bug", truncation=dlra.Energy(1e-4, min_rank=3))
    assert sol.ranks[1:].min() >= 3
