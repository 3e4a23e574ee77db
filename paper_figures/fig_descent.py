"""The descent check L(Y_{n+1}) ≤ L(Y_n) + c5 ϑ as a check that can fail: the allowance ratio.

Least-squares gradient flow L(W) = ½‖XW − B‖² (Lip(∇L) = 1, flat spectrum of XᵀB from 1 to 0.5),
start with singular values geometric from 1 down to 1e-8, explicit Euler substeps (one SGD step of
learning rate h per substep). Sweep h × ϑ for the rank-adaptive and the parallel BUG and report
the allowance ratio max_n ΔL_n / (c5 ϑ) with c5 = 1 (Schotthöfer et al., NeurIPS 2022, Thm. 2):

(a, b) the ratio against h, one curve per ϑ: below 1 for h ≤ 1/Lip (the guaranteed regime; the
    ratio approaches the allowance as ϑ grows), far above 1 for h > 2/Lip (the Euler/SGD substep is
    unstable: the loss grows);
(c) the loss along three runs: a guaranteed one, an unstable one and the naive factor ODEs (which
    fail with σ_min = 1e-8 at every h: drawn where they stopped, labelled).

Writes descent.{png,pdf}, descent.csv (one row per run of the sweep) and descent_steps.csv (the loss
per step of the runs of panel c).
"""
import os
import sys

import numpy as np

import dlra
import dlra.diagnostics as dg

NAME = "descent"
METHODS = [("rank-adaptive BUG", "adaptive_bug"), ("parallel BUG", "parallel_bug"),
           ("naive factor ODEs", "naive")]


def setting(quick=False):
    p = dlra.problems.LeastSquares(m=30, n=20, p=40, rank=5, spectrum=np.linspace(1.0, 0.5, 20))
    Y0 = dlra.LowRank.random(30, 20, np.geomspace(1.0, 1e-8, 5), rng=3)
    hs = [0.1, 0.5, 1.0, 2.2] if quick else [0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 1.9, 2.2, 3.0]
    thetas = [1e-3, 1e-1, 1.0] if quick else [1e-4, 1e-3, 1e-2, 1e-1, 0.3, 1.0]
    T = 4.0 if quick else 8.0
    return p, Y0, hs, thetas, T


def compute(quick=False):
    p, Y0, hs, thetas, T = setting(quick)
    records = dg.descent_sweep(p.F, p.loss, Y0, (0.0, T), METHODS, hs, thetas, substep="euler")
    for r in records:
        r.update(T=T, lipschitz=1.0, c5=1.0, problem="least squares 30x20, rank-5 start, sigma_min 1e-8")
    runs = {}
    for label, method, h, theta in [("rank-adaptive BUG", "adaptive_bug", 1.0, thetas[-1]),
                                    ("rank-adaptive BUG", "adaptive_bug", 2.2, thetas[-1]),
                                    ("naive factor ODEs", "naive", 0.1, thetas[-1])]:
        runs[f"{label}, h = {h:g}, ϑ = {theta:g}"] = dg.descent_run(
            p.F, p.loss, Y0, (0.0, T), h, method=method, theta=theta, substep="euler")
    return records, runs


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()

    records, runs = compute(quick)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.3), constrained_layout=True)
    for ax, (label, _) in zip(axes[:2], METHODS[:2]):
        rows = [r for r in records if r["label"] == label]
        for i, theta in enumerate(sorted({r["theta"] for r in rows})):
            sel = sorted((r for r in rows if r["theta"] == theta), key=lambda r: r["h"])
            ax.plot([r["h"] for r in sel], [r["ratio"] for r in sel], marker="os^vDp"[i % 6],
                    markersize=6 - 0.5 * i, markerfacecolor="none" if i % 2 else None,
                    label=f"ϑ = {theta:g}")
        ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="allowance c5ϑ (ratio 1)")
        ax.axvspan(2.0, max(r["h"] for r in rows) * 1.05, color="C3", alpha=0.08,
                   label="h > 2/Lip: unstable SGD step")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xscale("log")
        held = [r["ratio"] for r in rows if r["h"] <= 1.0]
        ax.set_title(f"({'ab'[METHODS.index((label, _))]}) {label}: max ratio for h ≤ 1/Lip = "
                     f"{max(held):.2g}")
        ax.set_xlabel("step size h (= SGD learning rate)")
        ax.set_ylabel(r"allowance ratio $\max_n \Delta L_n / (c_5\vartheta)$, $c_5 = 1$")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left")
    ax = axes[2]
    steps_rows = []
    for i, (name, chk) in enumerate(runs.items()):
        n = np.arange(chk.loss.size)
        label = name + (f" — FAILED after {chk.increments.size} step(s)" if chk.failed else
                        (" — holds" if chk.holds else f" — violated at {chk.violating_steps.size} step(s)"))
        ax.semilogy(n, chk.loss, marker="os^"[i], markersize=4, label=label)
        if chk.failed:
            ax.plot(n[-1:], chk.loss[-1:], "x", color="C2", markersize=10)
        steps_rows += [dict(r, run=name) for r in chk.to_records()]
    ax.set_xlabel("step n")
    ax.set_ylabel(r"loss $L(Y_n)$")
    ax.set_title("(c) loss along three runs")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5)
    fig.suptitle(f"least squares 30×20, start rank 5 with σ_min = 1e-8, Euler (SGD) substeps, "
                 f"T = {records[0]['T']:g}; naive factor ODEs failed in "
                 f"{sum(r['failed'] for r in records if r['method'] == 'naive')} of "
                 f"{sum(r['method'] == 'naive' for r in records)} runs", fontsize=8.5)
    return save_with_csv(fig, records, out_dir, NAME, extra={"_steps": steps_rows})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
