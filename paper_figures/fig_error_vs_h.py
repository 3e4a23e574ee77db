"""Error against step size for every integrator: observed orders, and the plateau.

(a) The rank-preserving cubic problem Ẏ = (1 + t)(AY + YB) − YYᵀY (ε = 0: the exact solution has
    rank r, no plateau), tight solve_ivp substeps: projected Euler, BUG and parallel BUG show order 1,
    KSL Strang, midpoint BUG and projected RK2 order 2. KSL Lie and the (rank-adaptive) augmented
    BUG are super-convergent (order 2) on this problem; tests/test_orders.py shows their first
    order against the DLRA solution of a problem with a normal component.
(b) The discrete Schrödinger equation against its exact solution: the same slopes until the error
    reaches the plateau of the best rank-r approximation.
Writes error_vs_h.{png,pdf,csv} and error_vs_h_orders.csv (fitted slopes per panel).
"""
import os
import sys


import dlra
import dlra.diagnostics as dg

NAME = "error_vs_h"


def methods():
    spec = dg.method_spec
    return [spec("projected_euler", "projected Euler"), spec("ksl", "KSL Lie"),
            spec("ksl", "KSL Strang", scheme="strang"), spec("bug", "BUG"),
            spec("adaptive_bug", "rank-adaptive BUG"), spec("parallel_bug", "parallel BUG"),
            spec("midpoint_bug", "midpoint BUG"), spec("projected_rk", "projected RK2", tableau="rk2")]


def _sweep(problem, hs, rank, substep, name):
    theta = 1e-9     # rank-adaptive methods: truncation well below the h-errors, rank capped at r
    records = []
    for spec in methods():
        adaptive = spec["method"] in ("adaptive_bug", "parallel_bug", "midpoint_bug")
        records += dg.convergence_sweep(problem, [spec], hs, thetas=[theta] if adaptive else [None],
                                        substep=substep, eps_samples=0, max_rank=rank,
                                        extra={"problem": name, "start_rank": rank})
    return records


def compute(quick=False):
    hs_a = [1 / 8, 1 / 16, 1 / 32] if quick else [1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128]
    cubic = dlra.problems.RankPreservingCubic(n=20 if quick else 30)
    tight = dlra.ScipyIVP("DOP853", rtol=1e-12, atol=1e-14)
    cubic_records = _sweep(cubic, hs_a, cubic.rank, tight, "rank-preserving cubic")
    N, rank = (24, 10) if quick else (60, 12)
    schrodinger = dlra.problems.Schrodinger(N=N, rank=rank)
    hs_b = [0.1, 0.05, 0.025] if quick else [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125]
    schrodinger_records = _sweep(schrodinger, hs_b, rank, "rk4", f"schrodinger N={N}")
    plateau = schrodinger.best_approximation_error(schrodinger.t_span[1], rank)
    for r in schrodinger_records:
        r["plateau"] = plateau
    return cubic_records, schrodinger_records, plateau


def make(out_dir, quick=False):
    from _common import setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    cubic_records, schrodinger_records, plateau = compute(quick)
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11.5, 4.6), constrained_layout=True)
    dp.error_vs_h(cubic_records, ax=ax_a,
                  title=f"(a) rank-preserving cubic ODE (ε = 0), rank {cubic_records[0]['start_rank']}, "
                        "exact substeps")
    dp.error_vs_h(schrodinger_records, ax=ax_b, plateau=plateau,
                  title=f"(b) Schrödinger, rank {schrodinger_records[0]['start_rank']}, RK4 substeps")
    base = os.path.join(out_dir, NAME)
    paths = dp.save(fig, base)
    plt.close(fig)
    records = cubic_records + schrodinger_records
    paths.append(dg.to_csv(records, base + ".csv"))
    orders = []
    for rows in (cubic_records, schrodinger_records):
        for label, fit in dg.orders_by(rows, h="h_eff", h_min=None).items():
            orders.append({"problem": rows[0]["problem"], "label": label, "order": fit.exponent,
                           "r2": fit.r2, "points": fit.n})
    paths.append(dg.to_csv(orders, base + "_orders.csv"))
    return paths


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
