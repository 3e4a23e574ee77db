"""Loss decrease on the least-squares gradient flow against the descent bound.

L(W) = ½‖XW − B‖²; start with singular values geometric from 1 down to 1e-8. The rank-adaptive BUG
satisfies L(Y_{n+1}) ≤ L(Y_n) + c5 ϑ at every step (c5 = 1); the naive factor ODEs, at the same
step size, violate it or fail. Writes descent.{png,pdf}, descent.csv (per step) and
descent_summary.csv (holds, failed, worst increment per method).
"""
import os
import sys

import numpy as np

import dlra
import dlra.diagnostics as dg

NAME = "descent"


def compute(quick=False):
    p = dlra.problems.LeastSquares(m=30, n=20, p=40, rank=5) if quick else \
        dlra.problems.LeastSquares(m=60, n=40, p=80, rank=8)
    m, n = p.shape
    Y0 = dlra.LowRank.random(m, n, np.geomspace(1.0, 1e-8, p.rank), rng=3)
    theta, h, T = 1e-6, 0.1, 2.0 if quick else 5.0
    checks = {}
    for method, label in [("adaptive_bug", "rank-adaptive BUG"), ("parallel_bug", "parallel BUG"),
                          ("naive", "naive factor ODEs (RK4)")]:
        checks[label] = dg.descent_run(p.F, p.loss, Y0, (0.0, T), h, method=method, theta=theta)
    return checks, theta, h


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    checks, theta, h = compute(quick)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.9), constrained_layout=True)
    for i, (label, chk) in enumerate(checks.items()):
        steps = np.arange(chk.loss.size)
        a1.semilogy(steps, chk.loss, marker="os^"[i], markersize=3, label=label + (" (failed)" if chk.failed else ""))
    a1.set_xlabel("step n")
    a1.set_ylabel(r"loss $L(Y_n) = \frac{1}{2}\|XY_n - B\|_F^2$")
    a1.set_title(rf"least squares, $\sigma_{{\min}}(Y_0) = 10^{{-8}}$, h = {h:g}")
    a1.grid(True, alpha=0.3)
    a1.legend(fontsize=7)
    dp.descent(checks, ax=a2)
    a2.set_title(r"per-step change vs the allowance $c_5\vartheta$ (crosses: violations)")
    rows, summary = [], []
    for label, chk in checks.items():
        rows += chk.to_records(label=label, theta=theta, h=h)
        summary.append(dict(label=label, holds=chk.holds, failed=chk.failed, status=chk.status,
                            violations=int(chk.violating_steps.size), steps=int(chk.increments.size),
                            max_increment=chk.max_increment, allowance=chk.allowance, theta=theta, h=h))
    return save_with_csv(fig, rows, out_dir, NAME, extra={"_summary": summary})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
