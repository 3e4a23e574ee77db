import numpy as np
import pytest

import dlra
from dlra.lowrank import orthonormality_defect


@pytest.mark.parametrize("method, options", [
    ("bug", {}), ("adaptive_bug", {"theta": 1e-8}), ("parallel_bug", {"theta": 1e-8}), ("ksl", {}),
    ("ksl", {"scheme": "strang"}), ("augmented_bug", {}), ("projected_rk", {}), ("midpoint_bug", {}),
])
def test_bases_stay_orthonormal_over_1000_steps(method, options):
    p = dlra.problems.Schrodinger(N=24, rank=4)
    worst = []

    def check(t, Y, info):
        worst.append(max(orthonormality_defect(Y.U), orthonormality_defect(Y.V)))

    substep = None if not dlra.METHODS[method].uses_substep else "euler" if method != "midpoint_bug" else "rk2"
    sol = dlra.solve(p.F, p.Y0, (0, 10), 0.01, method=method, substep=substep,
                     t_eval=[10.0], step_callback=check, **options)
    assert sol.success and sol.nsteps == 1000
    assert max(worst) <= 1e-12


def test_schrodinger_norm_is_conserved_to_the_theta_level():
    """The augmented S-step is a Hamiltonian flow in S (norm-preserving); only the truncation (≤ ϑ in
    norm per step) and the RK4 substep error change ‖Y‖: |‖Yₙ‖ − ‖Y₀‖| ≤ n ϑ."""
    p = dlra.problems.Schrodinger(N=60, rank=5)
    for theta in (1e-4, 1e-6):
        sol = dlra.solve(p.F, p.Y0, (0, 1), 0.01, method="adaptive_bug", theta=theta)
        norms = np.array([p.norm(Y) for Y in sol.Y])
        steps = np.arange(len(norms))
        drift = np.abs(norms - norms[0])
        assert np.all(drift <= steps * theta + 1e-12), (theta, drift.max())
        # the bound is not vacuous: truncation does happen
        assert np.max(sol.truncation_errors) > theta / 100
    # against the exact solution, the error is at the ϑ/h level plus the initial truncation δ
    ref = p.reference(1.0)
    assert np.linalg.norm(np.asarray(sol.Y[-1]) - ref) < 1e-3


def test_schrodinger_energy_drift_is_small():
    p = dlra.problems.Schrodinger(N=60, rank=5)
    sol = dlra.solve(p.F, p.Y0, (0, 1), 0.01, method="adaptive_bug", theta=1e-8)
    energies = np.array([p.energy(Y) for Y in sol.Y])
    assert np.max(np.abs(energies - energies[0])) < 1e-6 * max(1.0, abs(energies[0]))


def test_full_rank_reference_matches_the_exact_lyapunov_solution():
    p = dlra.problems.Lyapunov(n=40, rank=4)
    sol = dlra.solve(p.F, p.Y0, (0, 1), 0.02, method="full", t_eval=[1.0])
    assert np.linalg.norm(sol.Y[-1] - p.reference(1.0)) < 1e-7 * np.linalg.norm(p.reference(1.0))


def test_least_squares_flow_converges_to_the_best_rank_r_minimiser():
    # near the minimiser the projected flow contracts like exp(−(1 − σ_{r+1}/σ_r) t) = exp(−t/2)
    p = dlra.problems.LeastSquares(m=30, n=20, p=40, rank=4, t_span=(0, 60))
    target = p.minimizer().to_dense()
    for method in ("bug", "ksl", "adaptive_bug"):
        fixed = {"truncation": dlra.FixedRank()} if method == "adaptive_bug" else {}
        sol = dlra.solve(p.F, p.Y0, p.t_span, 0.5, method=method, t_eval=[60.0], **fixed)
        assert np.linalg.norm(np.asarray(sol.Y[-1]) - target) < 1e-8 * np.linalg.norm(target), method
