"""Rank over time of the rank-adaptive integrators for several tolerances ϑ (Schrödinger).

Rank-adaptive BUG and parallel BUG (Ceruti–Kusch–Lubich 2022, 2024) on the discrete Schrödinger
equation, start rank 2, RK4 substeps, fixed h. One panel per method (rank against time, each ϑ
with its own marker and a small offset so that equal ranks stay visible; the legend gives each
run's final error), and a third panel with the error ‖Yₙ − W(tₙ)‖_F of every run against time, so
that a small rank is seen together with what it costs. Writes rank_over_time.{png,pdf} and
rank_over_time.csv (t, rank, error, ε per step and run).
"""
import os
import sys

import numpy as np

import dlra
import dlra.diagnostics as dg

NAME = "rank_over_time"
METHODS = [("adaptive_bug", "rank-adaptive BUG"), ("parallel_bug", "parallel BUG")]


def compute(quick=False):
    N, h = (24, 0.05) if quick else (60, 0.01)
    p = dlra.problems.Schrodinger(N=N, rank=2)
    traces, records = {}, []
    for method, label in METHODS:
        for theta in ([1e-3, 1e-5] if quick else [1e-2, 1e-4, 1e-6]):
            sol, tr = dg.record(p.F, p.Y0, p.t_span, h, method=method, theta=theta, reference=p,
                                normal=True, substep="rk4")
            traces[(label, theta)] = tr
            records += tr.to_records(label=label, method=method, theta=theta, h=h, N=N,
                                     status=sol.status)
    return traces, records, N, h


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    traces, records, N, h = compute(quick)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), constrained_layout=True)
    for ax, (method, label) in zip(axes[:2], METHODS):
        series = {f"ϑ = {theta:.0e}: final error {tr.final_error:.1e}": (tr.t, tr.rank)
                  for (lab, theta), tr in traces.items() if lab == label}
        dp.rank_over_time(series, ax=ax, title=f"{label}")
    ax = axes[2]
    for i, ((label, theta), tr) in enumerate(traces.items()):
        every = max(1, tr.t.size // 10)       # staggered markers: coinciding curves stay visible
        ax.semilogy(tr.t, np.maximum(tr.error, 1e-16), marker=dp.MARKERS[i % len(dp.MARKERS)],
                    markevery=(i * every // len(traces), every), markersize=5 - 0.3 * i,
                    linestyle="-" if label == METHODS[0][1] else "--", label=f"{label}, ϑ = {theta:.0e}")
    ax.set_xlabel("time t")
    ax.set_ylabel(r"error $\|Y_n - W(t_n)\|_F$")
    ax.set_title("error of every run")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5)
    fig.suptitle(f"Schrödinger N = {N}, start rank 2, h = {h:g}, RK4 substeps, T = 1", fontsize=9)
    return save_with_csv(fig, records, out_dir, NAME)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
