"""Robustness to small singular values: error against σ_min of the start.

Lubich–Oseledets matrix (exact rank r, ε = 0) with the spectrum of A1 geometric from 1 down to σ_min;
fixed step h. KSL and BUG are exact here whatever σ_min (robust error bounds); the naive factor
ODEs (Koch–Lubich) need h ≲ σ_min and fail (non-finite values or blow-up: crosses on a labelled
"failed runs" line, with their status) or
lose accuracy as σ_min → 0. Writes robustness.{png,pdf,csv}.
"""
import os
import sys

import numpy as np

import dlra
import dlra.diagnostics as dg

NAME = "robustness"


def compute(quick=False):
    n, r, h = (30, 5, 0.05) if quick else (60, 8, 0.02)
    sigma_mins = np.logspace(-1, -10, 4 if quick else 10)
    specs = [dg.method_spec("ksl", "KSL Lie"), dg.method_spec("ksl", "KSL Strang", scheme="strang"),
             dg.method_spec("bug", "BUG"), dg.method_spec("naive", "naive factor ODEs (RK4)")]
    records = []
    for s in sigma_mins:
        p = dlra.problems.LubichOseledets(n=n, rank=r, spectrum=np.geomspace(1.0, s, r), eps=0.0)
        rows = dg.convergence_sweep(p, specs, [h], substep="rk4", eps_samples=0,
                                    extra={"sigma_min": float(s), "n": n, "start_rank": r})
        records += rows
    return records


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    records = compute(quick)
    fig, ax = plt.subplots(figsize=(8.5, 4.3), constrained_layout=True)
    dp.error_vs_sigma_min(records, ax=ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.invert_xaxis()
    ax.set_title(f"Lubich–Oseledets, exact rank {records[0]['start_rank']}, h = {records[0]['h']:g}, T = 1")
    return save_with_csv(fig, records, out_dir, NAME)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
