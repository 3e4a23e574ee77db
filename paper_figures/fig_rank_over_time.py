"""Rank over time of the rank-adaptive integrators for several tolerances ϑ (Schrödinger).

Writes rank_over_time.{png,pdf} and rank_over_time.csv (t, rank, error, ε per step and run).
"""
import os
import sys

import dlra
import dlra.diagnostics as dg

NAME = "rank_over_time"


def compute(quick=False):
    N, h = (24, 0.05) if quick else (60, 0.01)
    p = dlra.problems.Schrodinger(N=N, rank=2)
    runs, records = {}, []
    for method, label in [("adaptive_bug", "rank-adaptive BUG"), ("parallel_bug", "parallel BUG")]:
        for theta in ([1e-3, 1e-5] if quick else [1e-2, 1e-4, 1e-6]):
            sol, tr = dg.record(p.F, p.Y0, p.t_span, h, method=method, theta=theta, reference=p,
                                normal=True, substep="rk4")
            name = f"{label}, ϑ = {theta:.0e}"
            runs[name] = (tr.t, tr.rank)
            records += tr.to_records(label=label, method=method, theta=theta, h=h, N=N)
    return runs, records


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    runs, records = compute(quick)
    fig, ax = plt.subplots(figsize=(6.0, 4.0), constrained_layout=True)
    dp.rank_over_time(runs, ax=ax, title=f"Schrödinger N = {records[0]['N']}, start rank 2, h = {records[0]['h']:g}")
    return save_with_csv(fig, records, out_dir, NAME)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
