"""Plots of the diagnostics (matplotlib is imported only here, only when a function is called).

Every function draws on a given Axes (or a new figure), labels its axes with what is plotted and
in which norm, uses log scales where orders are read, names the methods in the legend, and
returns the Axes. Inputs are the tidy records of :mod:`dlra.diagnostics` (lists of dicts).
"""
from __future__ import annotations


import numpy as np

__all__ = ["error_vs_h", "v_shape", "hstar_vs_theta", "bound_fit", "error_vs_sigma_min",
           "rank_over_time", "conservation", "descent", "reference_slope", "save"]

MARKERS = "os^vD<>pPX*h"


def _axes(ax, figsize=(5.5, 4.2)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax


def _groups(records, key):
    out = {}
    for r in records:
        out.setdefault(r[key], []).append(r)
    return out


def _finite_xy(rows, x, y):
    pts = sorted((r[x], r[y]) for r in rows if np.isfinite(r[y]) and r[y] > 0)
    return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])


def reference_slope(ax, x, y0, order, label=None, **kw):
    """Draw y = y0 (x / x[0])^order over the range of x (a dashed grey reference line)."""
    x = np.asarray([np.min(x), np.max(x)], float)
    y = y0 * (x / x[0]) ** order
    kw.setdefault("color", "0.45")
    kw.setdefault("linestyle", "--")
    kw.setdefault("linewidth", 1.0)
    (line,) = ax.plot(x, y, label=label if label is not None else f"slope {order:g}", **kw)
    return line


def _finish(ax, xlabel, ylabel, title=None, ncol=1):
    """Labels, grid, optional title and legend: the common ending of every plot here."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, ncol=ncol)
    return ax


def error_vs_h(records, ax=None, key="label", h="h_eff", error="error", slopes=(1, 2), plateau=None,
               title=None, orders=None):
    """Error against step size per method (log-log), reference slopes and the plateau.

    ``plateau``: the best-approximation error ‖A(T) − T_r(A(T))‖ (a horizontal line).
    ``orders``: {label: {"order", "h_min", "h_max", "prefactor", "points", ["expected"]}} (e.g. rows
    of :func:`dlra.diagnostics.fit_order` results): the legend gives each fitted order and the fitted
    range is drawn as a thick translucent segment. Markers alternate filled/open and shrink with
    the index so that coinciding curves stay visible.
    """
    ax = _axes(ax)
    ymin, allx = np.inf, []
    for i, (name, rows) in enumerate(_groups(records, key).items()):
        x, y = _finite_xy(rows, h, error)
        if x.size == 0:
            continue
        label = name
        fit = (orders or {}).get(name)
        if fit is not None:
            label = f"{name}: order {fit['order']:.2f}"
            if "expected" in fit:
                label += f" (theory {fit['expected']:g})"
            if fit.get("points", 3) < 3:
                label += f", only {fit['points']} pts"
        (line,) = ax.loglog(x, y, marker=MARKERS[i % len(MARKERS)], label=label, linewidth=1.1,
                            markersize=7 - 0.35 * i, markerfacecolor="none" if i % 2 else None)
        if fit is not None:
            xs = np.array([fit["h_min"], fit["h_max"]])
            ax.loglog(xs, fit["prefactor"] * xs ** fit["order"], color=line.get_color(), linewidth=5,
                      alpha=0.25, solid_capstyle="butt")
        bad = [r[h] for r in rows if not (np.isfinite(r[error]) and r[error] > 0)]
        if bad:
            ax.plot(bad, [ax.get_ylim()[1]] * len(bad), "x", color=line.get_color(), markersize=8,
                    clip_on=False)
        ymin = min(ymin, y.min())
        allx.extend(x)
    if allx:
        x = np.array(sorted(allx))
        anchor = max(ymin, plateau or 0) * 3
        for k, order in enumerate(slopes):
            reference_slope(ax, x, anchor * 2 * (k + 1) * (x[0] / x[0]), order,
                            linestyle=["--", ":", "-."][k % 3])
    if plateau is not None:
        ax.axhline(plateau, color="k", linewidth=0.8, linestyle="-.", label="best rank-r error (plateau)")
    if orders:
        ax.plot([], [], color="0.5", linewidth=5, alpha=0.3, label="range of the order fit")
    return _finish(ax, "step size h", r"error $\|Y_N - Y_{ref}(T)\|_F$", title, ncol=2)


def v_shape(records, ax=None, theta="theta", h="h_eff", error="error", minima=None, title=None):
    """Error against h for several fixed ϑ > 0 (the V-shape), with each minimiser h* marked.

    ``minima``: {ϑ: {"h_star": …, "error_star": …}} (from :func:`dlra.diagnostics.vshape_minimum`).
    """
    ax = _axes(ax)
    groups = _groups(records, theta)
    for i, (th, rows) in enumerate(sorted(groups.items())):
        x, y = _finite_xy(rows, h, error)
        (line,) = ax.loglog(x, y, marker=MARKERS[i % len(MARKERS)], markersize=3.5, linewidth=1.1,
                            label=rf"$\vartheta$ = {th:.0e}")
        if minima and th in minima:
            m = minima[th]
            ax.plot([m["h_star"]], [m["error_star"]], marker="*", markersize=13, color=line.get_color(),
                    markeredgecolor="k", linestyle="none")
    ax.plot([], [], marker="*", markersize=10, color="w", markeredgecolor="k", linestyle="none",
            label=r"minimiser $h^*$")
    return _finish(ax, "step size h", r"error $\|Y_N - W(T)\|_F$", title)


def hstar_vs_theta(thetas, h_stars, law=None, ax=None):
    """h* against ϑ (log-log) with the fitted power law and the reference slope 1/2."""
    ax = _axes(ax)
    thetas, h_stars = np.asarray(thetas, float), np.asarray(h_stars, float)
    ax.loglog(thetas, h_stars, "o", color="C3", label=r"measured $h^*$")
    xs = np.geomspace(thetas.min(), thetas.max(), 50)
    if law is not None:
        ax.loglog(xs, law(xs), "-", color="C3", label=rf"fit $h^* \propto \vartheta^{{{law.exponent:.2f}}}$")
    ref = h_stars[0] * (xs / thetas[0]) ** 0.5
    ax.loglog(xs, ref, "--", color="0.45", label=r"slope 1/2 ($h^* = \sqrt{c_3\vartheta/c_2}$)")
    return _finish(ax, r"truncation tolerance $\vartheta$", r"minimising step size $h^*$")


def bound_fit(fit, ax=None, labels=None, title=None, color=None, label="fitted bound", constants=True,
              text_loc=(0.02, 0.98)):
    """Measured error against the fitted bound (log-log) with y = x and y = slack·x.

    ``labels``: one label per fitted point (``fit.to_records()``), drawn with its own marker;
    ``constants``: print each fitted constant with its bootstrap interval, or why it is not
    identified, and the condition number, in a box at ``text_loc`` (axes fraction).
    """
    ax = _axes(ax)
    b, e = fit.bound, fit.error
    ok = b > 0
    if labels is None:
        ax.loglog(b[ok], e[ok], "o", markersize=4, alpha=0.8, color=color, label=label)
    else:
        labels = np.asarray(labels)
        for i, name in enumerate(dict.fromkeys(labels[ok])):
            sel = ok & (labels == name)
            ax.loglog(b[sel], e[sel], MARKERS[i % len(MARKERS)], markersize=4, alpha=0.75, label=name,
                      color=f"C{i}")
    lo = min(b[ok].min(), e[ok].min()) / 2
    hi = max(b[ok].max(), e[ok].max()) * 2
    xs = np.array([lo, hi])
    ax.loglog(xs, xs, "k-", linewidth=0.9, label="error = bound")
    ax.loglog(xs, fit.slack * xs, "k:", linewidth=0.9, label=f"error = {fit.slack:g} × bound")
    if constants:
        decades = np.log10(hi / lo)       # headroom for the text box, so that it hides no point
        ax.set_ylim(lo, hi * 10 ** (0.075 * decades * (len(fit.fitted) + 1)))
        lines = [fit.describe(c) for c in fit.fitted]
        lines.append(f"cond = {fit.condition_number:.3g}, max error/bound = {fit.max_ratio:.3g}")
        ax.text(*text_loc, "\n".join(lines), transform=ax.transAxes, fontsize=6.5, va="top", ha="left",
                family="monospace", bbox=dict(boxstyle="round", facecolor="white", alpha=0.85,
                                              edgecolor="0.7"))
    from .diagnostics.bound_fit import TERM_SYMBOLS, TERMS
    xlabel = "fitted bound " + " + ".join(f"{TERMS[t]}{TERM_SYMBOLS[t]}" for t in fit.terms)
    ax = _finish(ax, xlabel, r"measured error $\|Y_N - W(T)\|_F$", title)
    ax.legend(fontsize=6.5, loc="lower right")
    return ax


def error_vs_sigma_min(records, ax=None, key="label", sigma="sigma_min", error="error", ceiling=None):
    """Error against the smallest singular value of the start (robustness); failed runs (non-finite
    error) are drawn as crosses on a labelled line "run failed" above the finite errors, one legend
    entry per method that failed (with the statuses)."""
    ax = _axes(ax)
    allfinite = [r[error] for r in records if np.isfinite(r[error])]
    ceiling = ceiling or (max(allfinite) * 10 if allfinite else 1.0)
    for i, (name, rows) in enumerate(_groups(records, key).items()):
        x, y = _finite_xy(rows, sigma, error)
        (line,) = ax.loglog(x, y, marker=MARKERS[i % len(MARKERS)], label=name, linewidth=1.2,
                            markersize=7 - 0.5 * i, markerfacecolor="none" if i % 2 else None)
        bad = [r for r in rows if not np.isfinite(r[error])]
        if bad:
            statuses = sorted({int(r.get("status", -1)) for r in bad})
            ax.loglog([r[sigma] for r in bad], [ceiling] * len(bad), "x", color=line.get_color(),
                      markersize=9, markeredgewidth=2,
                      label=f"{name}: run failed ({len(bad)}×, status {', '.join(map(str, statuses))})")
    if any(not np.isfinite(r[error]) for r in records):
        ax.axhline(ceiling, color="0.6", linewidth=0.6)
        ax.annotate("failed runs (no error: non-finite values or blow-up)", xy=(0.5, ceiling),
                    xycoords=("axes fraction", "data"), xytext=(0, 4), textcoords="offset points",
                    ha="center", fontsize=7, color="0.3")
    return _finish(ax, r"smallest singular value $\sigma_{\min}(Y_0)$ (smaller to the right)",
                   r"error $\|Y_N - A(T)\|_F$")


def rank_over_time(series, ax=None, title=None):
    """Rank against time; ``series`` = {label: (t, rank)}. Distinct markers, line styles and a
    small vertical offset per curve (±0.12, stated in the y label) keep equal ranks visible."""
    ax = _axes(ax)
    k = len(series)
    for i, (name, (t, r)) in enumerate(series.items()):
        offset = 0.12 * (i - (k - 1) / 2) if k > 1 else 0.0
        ax.step(t, np.asarray(r, float) + offset, where="post", label=name, linewidth=1.3,
                linestyle=["-", "--", ":", "-."][i % 4], marker=MARKERS[i % len(MARKERS)],
                markevery=max(1, len(t) // 10), markersize=4)
    ylabel = "rank r(t)" + (" (curves offset by ±0.12 for visibility)" if k > 1 else "")
    return _finish(ax, "time t", ylabel, title)


def conservation(series, ax=None, quantity="norm", floor=1e-17):
    """Relative drift |Q(Yₙ) − Q(Y₀)| / |Q(Y₀)| against time (log y); ``series`` = {label: (t, Q)}."""
    ax = _axes(ax)
    for i, (name, (t, q)) in enumerate(series.items()):
        q = np.asarray(q, float)
        drift = np.maximum(np.abs(q - q[0]) / abs(q[0]), floor)
        ax.semilogy(t[1:], drift[1:], label=name, linewidth=1.2, marker=MARKERS[i % len(MARKERS)],
                    markevery=max(1, len(t) // 8), markersize=4)
    sym = {"norm": r"\|Y\|_F", "energy": r"E(Y)"}.get(quantity, quantity)
    return _finish(ax, "time t", rf"relative drift $|{sym}(t) - {sym}(0)| / |{sym}(0)|$")


def descent(checks, ax=None, allowance=None):
    """Per-step loss increments L_{n+1} − L_n (symlog) against the allowance c5ϑ;
    ``checks`` = {label: DescentCheck}. Failed runs are marked where they stopped."""
    ax = _axes(ax)
    for i, (name, chk) in enumerate(checks.items()):
        steps = np.arange(1, chk.increments.size + 1)
        inc = np.where(np.isfinite(chk.increments), chk.increments, np.nan)
        (line,) = ax.plot(steps, inc, marker=MARKERS[i % len(MARKERS)], markersize=3, linewidth=1.0,
                          label=name + (" (run failed)" if chk.failed else ""))
        bad = chk.violating_steps
        if bad.size:
            ax.plot(bad + 1, np.nan_to_num(chk.increments[bad], nan=0.0, posinf=0.0), "x",
                    color=line.get_color(), markersize=8)
        if chk.failed:
            ax.axvline(chk.increments.size + 0.5, color=line.get_color(), linestyle=":", linewidth=1)
            ax.annotate(f"{name}: run failed after {chk.increments.size} step(s)\n({chk.message[:60]}…)",
                        xy=(0.02, 0.5), xycoords="axes fraction", fontsize=6.5, color=line.get_color())
    allow = allowance if allowance is not None else next(iter(checks.values())).allowance
    ax.axhline(allow, color="k", linestyle="--", linewidth=1, label=rf"allowance $c_5\vartheta$ = {allow:.0e}")
    ax.set_yscale("symlog", linthresh=max(abs(allow), 1e-12))
    ax.set_xlabel("step n")
    ax.set_ylabel(r"loss change $L(Y_{n+1}) - L(Y_n)$")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def save(fig, path_without_suffix, formats=("png", "pdf"), dpi=150):
    """Save a figure as PNG and PDF (atomically per file, :func:`dlra.io.save_figure`); returns the
    written paths."""
    from .io import save_figure

    return save_figure(fig, path_without_suffix, formats, dpi=dpi)
