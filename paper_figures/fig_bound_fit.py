"""Measured error against the fitted DLRT bound c0 δ + c1 ε + c2 h + c3 ϑ/h.

Two sweeps (h × ϑ × starting rank): the rotating matrix (rank-adaptive BUG, explicit Euler
substeps) and the Schrödinger equation (rank-adaptive parallel BUG, RK4 substeps). Nonnegative
constants by NNLS on relative residuals (:func:`dlra.diagnostics.fit_bound`). Left: the full fit —
every point lies below 1.5 × the bound. Right: the same fit without the c2 h term — the slope-1
behaviour in h can no longer be bounded. Writes bound_fit.{png,pdf}, bound_fit.csv (every point with
its bound and ratio, for both fits) and bound_fit_constants.csv.
"""
import os
import sys


import dlra
import dlra.diagnostics as dg

NAME = "bound_fit"


def sweeps(quick=False):
    out = {}
    rot = dlra.problems.RotatingMatrix(n=40, rank=6)
    hs = [0.2, 0.1, 0.05, 0.025, 0.0125] if quick else [0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625]
    out["rotating matrix"] = dg.convergence_sweep(
        rot, [dg.method_spec("adaptive_bug", "rank-adaptive BUG")], hs, thetas=[1e-5, 1e-3],
        ranks=[4, 8] if quick else [4, 6, 8], substep="euler", eps_samples=2,
        extra={"problem": "rotating matrix n=40"})
    sch = dlra.problems.Schrodinger(N=30, rank=5)
    hs = [0.1, 0.05, 0.025, 0.0125] if quick else [0.1, 0.05, 0.025, 0.0125, 0.00625]
    out["Schrödinger"] = dg.convergence_sweep(
        sch, [dg.method_spec("parallel_bug", "parallel BUG")], hs, thetas=[1e-6, 1e-4],
        ranks=[3, 5], substep="rk4", eps_samples=2, extra={"problem": "schrodinger N=30"})
    return out


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    data = sweeps(quick)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.2), constrained_layout=True)
    rows, consts = [], []
    for variant, terms, ax in [("full", tuple(dg.TERMS), axes[0]),
                               ("without c2 h", ("delta", "eps", "theta_over_h"), axes[1])]:
        for i, (name, records) in enumerate(data.items()):
            fit = dg.fit_bound(records, terms=terms)
            dp.bound_fit(fit, ax=ax, color=f"C{i}",
                         label=f"{name}: max ratio {fit.max_ratio:.2g}")
            consts.append(dict(problem=name, fit=variant, **fit.constants, r2_log=fit.r2_log,
                               max_ratio=fit.max_ratio, violations=len(fit.violations),
                               points=len(records)))
            rows += [dict(r, fit=variant) for r in fit.to_records(records)]
        # drop the repeated y = x lines from the legend
        handles, labels = ax.get_legend_handles_labels()
        keep = dict(zip(labels, handles))
        ax.legend(keep.values(), keep.keys(), fontsize=7)
    axes[0].set_title(r"fit of $c_0\delta + c_1\varepsilon + c_2h + c_3\vartheta/h$ (NNLS, $c_i \geq 0$)")
    axes[1].set_title(r"the same fit with $c_2 = 0$: the $O(h)$ error is not bounded")
    axes[1].set_xlabel(r"fitted bound $c_0\delta + c_1\varepsilon + c_3\vartheta/h$")
    return save_with_csv(fig, rows, out_dir, NAME, extra={"_constants": consts})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
