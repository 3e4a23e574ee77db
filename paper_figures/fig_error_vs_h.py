"""Error against step size for every integrator on the discrete Schrödinger equation.

Observed orders (slopes): 1 for projected Euler, KSL Lie, BUG and the rank-adaptive BUGs; 2 for
KSL Strang, midpoint BUG and projected RK2 — until the error reaches the plateau of the best
rank-r approximation. Writes error_vs_h.{png,pdf,csv} and error_vs_h_orders.csv.
"""
import os
import sys

import numpy as np

import dlra
import dlra.diagnostics as dg

NAME = "error_vs_h"


def methods():
    spec = dg.method_spec
    return [spec("projected_euler", "projected Euler"), spec("ksl", "KSL Lie"),
            spec("ksl", "KSL Strang", scheme="strang"), spec("bug", "BUG"),
            spec("adaptive_bug", "rank-adaptive BUG"), spec("parallel_bug", "parallel BUG"),
            spec("midpoint_bug", "midpoint BUG"), spec("projected_rk", "projected RK2", tableau="rk2")]


def compute(quick=False):
    N, rank = (24, 10) if quick else (60, 12)
    problem = dlra.problems.Schrodinger(N=N, rank=rank)
    hs = [0.1, 0.05, 0.025] if quick else [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125]
    theta = 1e-9     # rank-adaptive methods: truncation well below the h-errors
    records = []
    for spec in methods():
        adaptive = spec["method"] in ("adaptive_bug", "parallel_bug", "midpoint_bug")
        records += dg.convergence_sweep(problem, [spec], hs, thetas=[theta] if adaptive else [None],
                                        substep="rk4", eps_samples=0, max_rank=rank,
                                        extra={"problem": f"schrodinger N={N}", "start_rank": rank})
    plateau = problem.best_approximation_error(problem.t_span[1], rank)
    return records, plateau


def make(out_dir, quick=False):
    from _common import setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    records, plateau = compute(quick)
    orders = dg.orders_by(records, h="h_eff", h_min=None)
    for r in records:
        r["plateau"] = plateau
    fig, ax = plt.subplots(figsize=(6.4, 4.6), constrained_layout=True)
    dp.error_vs_h(records, ax=ax, plateau=plateau,
                  title=f"Schrödinger, rank {records[0]['start_rank']} (rank ≤ r for adaptive methods), T = 1")
    base = os.path.join(out_dir, NAME)
    paths = dp.save(fig, base)
    plt.close(fig)
    paths.append(dg.to_csv(records, base + ".csv"))
    paths.append(dg.to_csv([{"label": k, "order": v.exponent, "r2": v.r2, "points": v.n}
                            for k, v in orders.items()], base + "_orders.csv"))
    return paths


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
