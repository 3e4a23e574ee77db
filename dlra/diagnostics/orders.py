"""Observed orders of convergence and the minimiser of the V-shaped error curve.

* :func:`local_orders`: slopes log(e_{i+1}/e_i) / log(h_{i+1}/h_i) between neighbouring step sizes.
* :func:`fit_order`: least-squares slope of log e against log h on the *asymptotic range*, chosen
  automatically (the longest run of consecutive step sizes whose local slopes agree with the fitted
  slope within ``tol``, so that an error floor — plateau, round-off, initial error — at small h and
  a blow-up or pre-asymptotic regime at large h are left out), or on a given [h_min, h_max]. The
  range used, R² and the number of points are reported; fewer than 3 points raise a warning.
* :func:`vshape_minimum`: for e(h) ≈ c2 h + c3 ϑ/h (rank-adaptive integrators, DLRT bound), the
  minimiser h* = (c3 ϑ / c2)^{1/2}; estimated from the discrete minimum refined by a parabola in
  (log h, log e) through the neighbouring points.
* :func:`fit_power_law`: y ≈ C x^p by least squares in log-log (e.g. h* against ϑ).
* :func:`vshape_law`: the V-shape of one method as a prediction to test — right-branch order p,
  left-branch slope q, error ∝ ϑ^a, h* ∝ ϑ^x, against balancing x = a/(p + q) and the bound's
  x = 1/(p + 1).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["local_orders", "fit_order", "vshape_minimum", "fit_power_law", "PowerLaw", "orders_by",
           "OrderFitWarning", "asymptotic_range", "vshape_law"]


class OrderFitWarning(UserWarning):
    """An observed order rests on fewer than 3 points (the rest lie on a floor or a blow-up)."""


def _sorted(h, e):
    h = np.asarray(h, float)
    e = np.asarray(e, float)
    idx = np.argsort(h)
    return h[idx], e[idx]


def local_orders(h, error):
    """Slopes between consecutive step sizes (sorted by h): an array of len(h) − 1."""
    h, e = _sorted(h, error)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diff(np.log(e)) / np.diff(np.log(h))


@dataclass
class PowerLaw:
    """y ≈ prefactor · x^exponent fitted in log-log; ``r2`` is the coefficient of determination,
    ``n`` the number of points used, [``x_min``, ``x_max``] their range, ``n_total`` the number of
    finite points offered (``n_total − n`` were left out of the range)."""

    exponent: float
    prefactor: float
    r2: float
    n: int
    x_min: float = float("nan")
    x_max: float = float("nan")
    n_total: int = 0

    def __call__(self, x):
        return self.prefactor * np.asarray(x, float) ** self.exponent


def fit_power_law(x, y):
    """Least-squares fit of log y = log C + p log x over the finite positive points."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("fit_power_law needs at least two finite positive points")
    lx, ly = np.log(x[ok]), np.log(y[ok])
    p, c = np.polyfit(lx, ly, 1)
    resid = ly - (p * lx + c)
    ss = np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - np.sum(resid ** 2) / ss if ss > 0 else 1.0
    return PowerLaw(exponent=float(p), prefactor=float(np.exp(c)), r2=float(r2), n=int(ok.sum()),
                    x_min=float(x[ok].min()), x_max=float(x[ok].max()), n_total=int(ok.sum()))


def asymptotic_range(h, error, tol=0.3, min_slope=0.25):
    """Indices (into h sorted ascending, finite positive errors only) of the asymptotic range.

    The longest run of consecutive points whose local slopes all lie within ``tol`` of the
    least-squares slope over the run, and whose slope is at least ``min_slope`` (the error must
    fall with h); ties go to the run at smaller h (closer to the limit h → 0). Returns the index
    array (possibly of length 2 when no longer run is consistent; empty with < 2 points).
    """
    h, e = _sorted(h, error)
    ok = np.isfinite(e) & (e > 0) & np.isfinite(h) & (h > 0)
    idx = np.flatnonzero(ok)
    h, e = np.log(h[ok]), np.log(e[ok])
    n = h.size
    if n < 2:
        return idx[:0]
    best = None
    for length in range(n, 1, -1):
        for start in range(0, n - length + 1):
            x, y = h[start:start + length], e[start:start + length]
            slope = np.polyfit(x, y, 1)[0]
            local = np.diff(y) / np.diff(x)
            if slope >= min_slope and np.all(np.abs(local - slope) <= tol):
                best = (start, length)
                break
        if best:
            break
    if best is None:       # nothing consistent: the steepest decreasing pair
        local = np.diff(e) / np.diff(h)
        k = int(np.argmax(local))
        best = (k, 2)
    return idx[best[0]:best[0] + best[1]]


def fit_order(h, error, h_min=None, h_max=None, auto=None, tol=0.3, min_slope=0.25):
    """Observed order: the slope of the power law e ≈ C h^p.

    With ``h_min``/``h_max`` the fit uses [h_min, h_max]; otherwise (or with ``auto=True``) the
    asymptotic range of :func:`asymptotic_range`. Failed runs (non-finite errors) never enter.
    The returned :class:`PowerLaw` carries the range used (``x_min``, ``x_max``), ``n`` and R²;
    an :class:`OrderFitWarning` is issued when fewer than 3 points remain.
    """
    h, e = _sorted(h, error)
    if auto is None:
        auto = h_min is None and h_max is None
    keep = np.isfinite(e) & (e > 0)
    if h_min is not None:
        keep &= h >= h_min
    if h_max is not None:
        keep &= h <= h_max
    n_total = int(keep.sum())
    if auto:
        sel = asymptotic_range(h[keep], e[keep], tol=tol, min_slope=min_slope)
        hk, ek = h[keep][sel], e[keep][sel]
    else:
        hk, ek = h[keep], e[keep]
    law = fit_power_law(hk, ek)
    law.n_total = n_total
    if law.n < 3:
        warnings.warn(f"observed order {law.exponent:.2f} rests on {law.n} points (h in "
                      f"[{law.x_min:.3g}, {law.x_max:.3g}]); the other {n_total - law.n} lie on a floor, "
                      f"a blow-up or outside the range", OrderFitWarning, stacklevel=2)
    return law


def vshape_minimum(h, error, refine=True):
    """Minimiser (h*, e*) of a V-shaped error curve.

    The discrete minimum of the sampled curve, refined (``refine=True``) by the vertex of the
    parabola through it and its two neighbours in (log h, log e); the vertex is kept inside the
    neighbours' interval. An interior minimum is reported by ``interior``.

    Returns a dict: ``h_star``, ``error_star``, ``index``, ``interior`` (False when the minimum sits
    at the end of the h grid).
    """
    h, e = _sorted(h, error)
    ok = np.isfinite(e) & (e > 0)
    h, e = h[ok], e[ok]
    i = int(np.argmin(e))
    interior = 0 < i < h.size - 1
    h_star, e_star = h[i], e[i]
    if refine and interior:
        x = np.log(h[i - 1:i + 2])
        y = np.log(e[i - 1:i + 2])
        a, b, c = np.polyfit(x, y, 2)
        if a > 0:
            xv = float(np.clip(-b / (2 * a), x[0], x[2]))
            h_star, e_star = float(np.exp(xv)), float(np.exp(a * xv ** 2 + b * xv + c))
    return {"h_star": float(h_star), "error_star": float(e_star), "index": i, "interior": bool(interior)}


def orders_by(records, key="label", h="h", error="error", h_min=None, h_max=None, auto=None):
    """Observed order per group of a sweep's records: {group: PowerLaw} (see :func:`fit_order`)."""
    groups = {}
    for r in records:
        groups.setdefault(r[key], []).append(r)
    out = {}
    for name, rows in groups.items():
        hh = [r[h] for r in rows]
        ee = [r[error] for r in rows]
        try:
            out[name] = fit_order(hh, ee, h_min=h_min, h_max=h_max, auto=auto)
        except ValueError:
            pass
    return out


def vshape_law(records, theta="theta", h="h_eff", error="error", branch_gap=1.5, span=10.0,
               min_slope=0.25):
    """The V-shape of one method on one problem, measured as a prediction to test.

    For every ϑ: the minimiser h* (:func:`vshape_minimum`), the right-branch order p (slope of the
    points with branch_gap·h* ≤ h ≤ span·h*, where the branches balance) and the left-branch slope
    q (error ∝ h^{−q} on h*/span ≤ h ≤ h*/branch_gap). Across ϑ: the exponent a of error ∝ ϑ^a at
    the smallest h (on the left branch), the exponent x of h* ∝ ϑ^x over the ϑ with a *V* (an
    interior minimum and a left branch, q ≥ ``min_slope``; a flat left branch is a plateau whose
    "minimum" means nothing), the exponent b of error ∝ ϑ^b on the right branch (at the first step
    size right of every minimum; the bound assumes b = 0), and the two predictions of x: balancing
    C ϑ^b h^p against D ϑ^a h^{−q} gives x = (a − b)/(p + q) (= a/(p + q) for a ϑ-independent right
    branch); the DLRT bound c2 h^p + c3 ϑ/h (a = q = 1, b = 0) gives x = 1/(p + 1). The ϑ/h term is
    *sharp* when the measured q and a are both within 0.25 of 1.

    Returns a dict with per-ϑ lists (``thetas``, ``h_star``, ``interior`` (a V: interior minimum
    with a left branch), ``p``, ``q``) and the
    summary numbers ``p``, ``q`` (medians over the ϑ with a V), ``a``, ``b``, ``x``, ``x_balance``,
    ``x_theorem``,
    ``all_interior``, ``sharp``; NaN where a number cannot be measured.
    """
    groups = {}
    for r in records:
        groups.setdefault(float(r[theta]), []).append(r)
    thetas = sorted(groups)
    out = {"thetas": thetas, "h_star": [], "interior": [], "p": [], "q": [], "e_min_h": []}
    h_common = None
    for th in thetas:
        rows = groups[th]
        hh = np.array([r[h] for r in rows], float)
        ee = np.array([r[error] for r in rows], float)
        m = vshape_minimum(hh, ee)
        out["h_star"].append(m["h_star"])
        out["interior"].append(m["interior"])
        ok = np.isfinite(ee) & (ee > 0)
        hs_ = m["h_star"]
        right = ok & (hh >= branch_gap * hs_) & (hh <= span * hs_)
        left = ok & (hh <= hs_ / branch_gap) & (hh >= hs_ / span)
        p = fit_power_law(hh[right], ee[right]).exponent if right.sum() >= 2 else float("nan")
        q = -fit_power_law(hh[left], ee[left]).exponent if left.sum() >= 2 else float("nan")
        out["interior"][-1] = bool(m["interior"] and np.isfinite(q) and q >= min_slope)
        out["p"].append(p)
        out["q"].append(q)
        hmin = hh[ok].min() if ok.any() else float("nan")
        h_common = hmin if h_common is None else max(h_common, hmin)
    # a: error ∝ ϑ^a at the smallest step size run for every ϑ
    e_at = []
    for th in thetas:
        rows = [r for r in groups[th] if np.isclose(r[h], h_common) and np.isfinite(r[error])]
        e_at.append(rows[0][error] if rows else float("nan"))
    out["e_min_h"] = e_at
    out["h_for_a"] = float(h_common) if h_common is not None else float("nan")
    try:
        a = fit_power_law(thetas, e_at).exponent
    except ValueError:
        a = float("nan")
    interior = np.array(out["interior"], bool)
    try:
        x = fit_power_law(np.array(thetas)[interior], np.array(out["h_star"])[interior]).exponent \
            if interior.sum() >= 2 else float("nan")
    except ValueError:
        x = float("nan")
    # b: error ∝ ϑ^b at the first step size on the right of every minimum
    b = 0.0
    all_h = np.unique([float(r[h]) for r in records])
    right_h = all_h[all_h >= branch_gap * max(out["h_star"])] if out["h_star"] else all_h[:0]
    if right_h.size and len(thetas) >= 2:
        e_right = []
        for th in thetas:
            rows = [r for r in groups[th] if np.isclose(r[h], right_h[0]) and np.isfinite(r[error])]
            e_right.append(rows[0][error] if rows else float("nan"))
        try:
            b = fit_power_law(thetas, e_right).exponent
        except ValueError:
            b = float("nan")
    out["b"] = float(b)
    p = float(np.nanmedian(out["p"])) if np.isfinite(out["p"]).any() else float("nan")
    q = float(np.nanmedian(out["q"])) if np.isfinite(out["q"]).any() else float("nan")
    if interior.any():        # the branches of the V curves, not of the plateaus
        p = float(np.nanmedian(np.array(out["p"])[interior]))
        q = float(np.nanmedian(np.array(out["q"])[interior]))
    out.update(p=p, q=q, a=float(a), x=float(x),
               x_balance=float((a - b) / (p + q)) if p + q > 0 else float("nan"),
               x_theorem=float(1.0 / (p + 1.0)), all_interior=bool(interior.all()),
               sharp=bool(abs(q - 1) <= 0.25 and abs(a - 1) <= 0.25))
    return out
