"""Norm and energy drift of the discrete Schrödinger equation along the integrators.

The exact (and the projected) flow conserves ‖Y‖_F and E(Y) = Re⟨Y, H(Y)⟩; the figure shows the
relative drift per step. Like is compared with like: every method runs at the same rank r (the
rank-adaptive BUG with ϑ = 1e-8 capped at rank r; without the cap it grows to rank ≈ 4r and would
be compared with rank-r methods silently); the legend states the ranks each run used. Writes
schrodinger_conservation.{png,pdf,csv}.
"""
import os
import sys

import numpy as np

import dlra

NAME = "schrodinger_conservation"


def compute(quick=False):
    N, r, h = (24, 6, 0.05) if quick else (100, 10, 0.01)
    p = dlra.problems.Schrodinger(N=N, rank=r)
    specs = [("ksl", "KSL Strang", {"scheme": "strang"}), ("bug", "BUG", {}),
             ("adaptive_bug", f"rank-adaptive BUG (ϑ = 1e-8, rank ≤ {r})",
              {"truncation": dlra.AbsoluteTolerance(1e-8, max_rank=r)}),
             ("projected_euler", "projected Euler", {})]
    series, records = {"norm": {}, "energy": {}}, []
    for method, label, opts in specs:
        substep = "rk4" if dlra.METHODS[method].uses_substep else None  # projected Euler has none
        sol = dlra.solve(p.F, p.Y0, p.t_span, h, method=method, substep=substep, **opts)
        norms = np.array([p.norm(Y) for Y in sol.Y])
        energies = np.array([p.energy(Y) for Y in sol.Y])
        lo, hi = int(sol.ranks[:, 0].min()), int(sol.ranks[:, 0].max())
        label = f"{label}: rank {lo}" + (f"–{hi}" if hi != lo else "")
        series["norm"][label] = (sol.t, norms)
        series["energy"][label] = (sol.t, energies)
        for t, nv, ev, rk in zip(sol.t, norms, energies, sol.ranks[:, 0]):
            records.append(dict(label=label, method=method, t=float(t), norm=float(nv), energy=float(ev),
                                norm_drift=float(abs(nv - norms[0]) / norms[0]),
                                energy_drift=float(abs(ev - energies[0]) / abs(energies[0])), rank=int(rk),
                                N=N, h=h, r=r))
    return series, records


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    series, records = compute(quick)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.9), constrained_layout=True)
    dp.conservation(series["norm"], ax=a1, quantity="norm")
    dp.conservation(series["energy"], ax=a2, quantity="energy")
    a1.set_title(f"norm, Schrödinger N = {records[0]['N']}, rank {records[0]['r']}, h = {records[0]['h']:g}, "
                 "RK4 substeps")
    a2.set_title("energy E(Y) = Re⟨Y, H(Y)⟩")
    return save_with_csv(fig, records, out_dir, NAME)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
