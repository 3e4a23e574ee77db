"""The V-shape per method and problem, as a prediction to test.

For fixed truncation tolerance ϑ > 0 the error of a rank-adaptive method against h is V-shaped:
a right branch C h^p (time discretisation, p the method's order) and a left branch that the DLRT
bound estimates by c3 ϑ/h (Ceruti–Kusch–Lubich 2022; Schotthöfer et al. 2022). Writing the left
branch as D ϑ^a h^{−q} and the right one as C ϑ^b h^p, balancing predicts h* ∝ ϑ^x with
x = (a − b)/(p + q) (a/(p + q) when the right branch does not depend on ϑ); the bound's own law
(a = q = 1, b = 0) is x = 1/(p + 1). :func:`dlra.diagnostics.vshape_law` measures p, q, a and x.

Methods: rank-adaptive BUG, parallel BUG, midpoint BUG and projected RK2 with truncation ϑ.
Problems: Schrödinger (start T_ϑ(Y0), RK4 substeps), the differential Lyapunov equation (start
T_ϑ(X0), RK4 substeps) and the Koch–Lubich rotating matrix (start T_ϑ(A(0)), RK4 substeps).

Rows 1–3: the V-curves (one panel per problem × method, the minimisers starred; the panel title
gives p, q, a, b and x). Row 4: the measured x against the balancing prediction and against
the theorem's 1/(p + 1); the left slopes q and the exponents a against 1 (where the ϑ/h term is
sharp). Writes v_shape.{png,pdf}, v_shape.csv (every run) and v_shape_summary.csv (per problem and
method: p, q, a, x, both predictions, interior, sharp, and the h range relative to h*).
"""
import os
import sys

import numpy as np

import dlra
import dlra.diagnostics as dg

NAME = "v_shape"
METHODS = [("adaptive_bug", "rank-adaptive BUG", {}), ("parallel_bug", "parallel BUG", {}),
           ("midpoint_bug", "midpoint BUG", {}), ("projected_rk", "projected RK2 (ϑ)", {"tableau": "rk2"})]


def _start(full):
    return lambda p, rank, theta: dlra.LowRank.from_dense(full(p), tol=theta)


def problems(quick=False):
    n = 16 if quick else 24
    return [
        (f"Schrödinger N={n}", dlra.problems.Schrodinger(N=n, rank=10), _start(lambda p: p.Y0_full)),
        (f"Lyapunov n={n}", dlra.problems.Lyapunov(n=n, rank=n, c_rank=2, scale=1.0),
         _start(lambda p: p.reference(p.t_span[0]))),
        (f"rotating matrix n={n}", dlra.problems.RotatingMatrix(n=n, rank=n, decay=2.0),
         _start(lambda p: p.reference(0.0))),
    ]


def compute(quick=False):
    thetas = [1e-6, 1e-5, 1e-4] if quick else [1e-7, 1e-6, 1e-5, 1e-4]
    hs = np.geomspace(5e-3, 0.4, 8) if quick else np.geomspace(2e-3, 0.5, 14)
    records, laws = [], {}
    for pname, problem, start in problems(quick):
        for method, label, options in METHODS:
            rows = dg.convergence_sweep(problem, [dg.method_spec(method, label, **options)], hs,
                                        thetas=thetas, substep="rk4", eps_samples=0, Y0=start,
                                        extra={"problem": pname})
            records += rows
            laws[(pname, label)] = dg.vshape_law(rows)
    return records, laws


def summary_rows(laws):
    out = []
    for (pname, label), v in laws.items():
        hs = [r for r in v["h_star"]]
        out.append(dict(problem=pname, label=label, p=v["p"], q=v["q"], a=v["a"], b=v["b"], x=v["x"],
                        x_balance=v["x_balance"], x_balance_b0=v["a"] / (v["p"] + v["q"]),
                        x_theorem=v["x_theorem"],
                        all_interior=v["all_interior"], sharp=v["sharp"],
                        n_theta=len(v["thetas"]), theta_min=min(v["thetas"]), theta_max=max(v["thetas"]),
                        h_star_min=min(hs), h_star_max=max(hs), h_for_a=v["h_for_a"]))
    return out


def make(out_dir, quick=False):
    from _common import save_with_csv, setup_matplotlib
    plt = setup_matplotlib()
    import dlra.plotting as dp

    records, laws = compute(quick)
    pnames = list(dict.fromkeys(r["problem"] for r in records))
    fig, axes = plt.subplots(len(pnames) + 1, len(METHODS), figsize=(15, 3.2 * (len(pnames) + 1)),
                             constrained_layout=True)
    for i, pname in enumerate(pnames):
        for j, (_, label, _) in enumerate(METHODS):
            v = laws[(pname, label)]
            rows = [r for r in records if r["problem"] == pname and r["label"] == label]
            minima = {th: {"h_star": hs, "error_star": es} for th, hs, es in
                      zip(v["thetas"], v["h_star"], [dg.vshape_minimum(
                          [r["h_eff"] for r in rows if r["theta"] == th],
                          [r["error"] for r in rows if r["theta"] == th])["error_star"] for th in v["thetas"]])}
            dp.v_shape(rows, ax=axes[i, j], minima=minima,
                       title=f"{pname}, {label}\np = {v['p']:.2f}, q = {v['q']:.2f}, a = {v['a']:.2f}, "
                             f"b = {v['b']:.2f}, x = {v['x']:.2f}" + ("" if v["all_interior"] else " (no V)"))
            axes[i, j].legend(fontsize=6)
    summary = summary_rows(laws)
    ax_b, ax_t, ax_q, ax_a = axes[-1]
    for k, pname in enumerate(pnames):
        rows = [s for s in summary if s["problem"] == pname]
        for s in rows:
            j = [m[1] for m in METHODS].index(s["label"])
            style = dict(marker=dp.MARKERS[j], color=f"C{k}", markersize=7,
                         markerfacecolor=None if s["all_interior"] else "none", linestyle="none")
            ax_b.plot(s["x_balance"], s["x"], **style)
            ax_t.plot(s["x_theorem"], s["x"], **style)
            ax_q.plot(j + 0.12 * k, s["q"], **style)
            ax_a.plot(j + 0.12 * k, s["a"], **style)
    for ax, xlabel in [(ax_b, "balancing prediction (a − b)/(p + q)"), (ax_t, "theorem's law 1/(p + 1)")]:
        lim = [0, 1.0]
        ax.plot(lim, lim, "k-", linewidth=0.8, label="measured = predicted")
        ax.fill_between(lim, [l - 0.1 for l in lim], [l + 0.1 for l in lim], color="0.85", label="±0.1")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"measured exponent x of $h^* \propto \vartheta^x$")
        ax.grid(True, alpha=0.3)
    ax_b.set_title("x against balancing (open: no V for some ϑ)")
    ax_t.set_title("x against the theorem's 1/(p + 1)")
    for ax, name in [(ax_q, "left-branch slope q (error ∝ h^−q)"), (ax_a, "ϑ-exponent a (error ∝ ϑ^a)")]:
        ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="ϑ/h sharp: 1")
        ax.axhspan(0.75, 1.25, color="C2", alpha=0.1)
        ax.set_xticks(range(len(METHODS)), [m[1] for m in METHODS], rotation=20, fontsize=7)
        ax.set_ylabel(name)
        ax.set_title(name.split(" (")[0] + ": shaded = within 0.25 of 1")
        ax.grid(True, alpha=0.3)
    for k, pname in enumerate(pnames):
        ax_b.plot([], [], "s", color=f"C{k}", label=pname)
    for j, (_, label, _) in enumerate(METHODS):
        ax_b.plot([], [], dp.MARKERS[j], color="0.3", label=label)
    ax_b.legend(fontsize=6)
    fig.suptitle(f"V-shape per method and problem, T = 1, RK4 substeps, start T_ϑ(Y0), "
                 f"ϑ ∈ [{min(r['theta'] for r in records):.0e}, {max(r['theta'] for r in records):.0e}], "
                 f"h ∈ [{min(r['h_eff'] for r in records):.1e}, {max(r['h_eff'] for r in records):.2g}]",
                 fontsize=9)
    return save_with_csv(fig, records, out_dir, NAME, extra={"_summary": summary})


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
