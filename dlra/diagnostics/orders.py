"""Observed orders of convergence and the minimiser of the V-shaped error curve.

* :func:`local_orders`: slopes log(e_{i+1}/e_i) / log(h_{i+1}/h_i) between neighbouring step sizes.
* :func:`fit_order`: least-squares slope of log e against log h (optionally on [h_min, h_max]).
* :func:`vshape_minimum`: for e(h) ≈ c2 h + c3 ϑ/h (rank-adaptive integrators, DLRT bound), the
  minimiser h* = (c3 ϑ / c2)^{1/2}; estimated from the discrete minimum refined by a parabola in
  (log h, log e) through the neighbouring points.
* :func:`fit_power_law`: y ≈ C x^p by least squares in log-log (e.g. h* against ϑ, p ≈ 1/2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["local_orders", "fit_order", "vshape_minimum", "fit_power_law", "PowerLaw", "orders_by"]


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
    """y ≈ prefactor · x^exponent fitted in log-log; ``r2`` is the coefficient of determination."""

    exponent: float
    prefactor: float
    r2: float
    n: int

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
    return PowerLaw(exponent=float(p), prefactor=float(np.exp(c)), r2=float(r2), n=int(ok.sum()))


def fit_order(h, error, h_min=None, h_max=None):
    """Observed order: the slope of the power law e ≈ C h^p on [h_min, h_max]."""
    h, e = _sorted(h, error)
    keep = np.ones(h.size, bool)
    if h_min is not None:
        keep &= h >= h_min
    if h_max is not None:
        keep &= h <= h_max
    return fit_power_law(h[keep], e[keep])


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


def orders_by(records, key="label", h="h", error="error", h_min=None, h_max=None):
    """Observed order per group of a sweep's records: {group: PowerLaw}."""
    groups = {}
    for r in records:
        groups.setdefault(r[key], []).append(r)
    out = {}
    for name, rows in groups.items():
        hh = [r[h] for r in rows]
        ee = [r[error] for r in rows]
        try:
            out[name] = fit_order(hh, ee, h_min=h_min, h_max=h_max)
        except ValueError:
            pass
    return out
