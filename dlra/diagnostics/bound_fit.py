"""Fitting the constants of the DLRT error bound to a sweep.

The rank-adaptive integrators satisfy (Ceruti, Kusch & Lubich, BIT 62 (2022), Thm. 2; DESIGN.md §1)

    ‖Yₙ − W(tₙ)‖ ≤ c0 δ + c1 ε + c2 h + c3 ϑ/h,

with δ the initial error, ε the normal component, h the step and ϑ the truncation tolerance.
:func:`fit_bound` finds nonnegative c0..c3 from measured errors by nonnegative least squares
(``scipy.optimize.nnls``) on **relative** residuals, i.e. it minimises Σᵢ wᵢ (bᵢ/eᵢ − 1)² over c ≥ 0
with bᵢ = Σⱼ cⱼ xᵢⱼ, so that errors spanning several decades weigh alike. Since a bound should lie
above the data, points the bound under-estimates weigh ``asymmetry`` times more (wᵢ = asymmetry
where eᵢ > bᵢ, else 1; iteratively reweighted, an expectile fit — Newey & Powell, Econometrica 1987);
``asymmetry=1`` is the plain least-squares fit. A model missing a needed term still fails: no
nonnegative constants of the remaining terms follow the data's shape. It reports the constants,
the goodness of fit (R² of log e against log b), the ratios e/b, their maximum, and the points
where the measured error exceeds the fitted bound times a slack factor.

Terms can be dropped (``terms=("delta", "eps", "theta_over_h")``) to test that one is needed:
without the c2 h term a sweep over h can no longer be bounded (the maximum ratio blows up).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field

import numpy as np
import scipy.optimize

__all__ = ["fit_bound", "BoundFit", "TERMS", "design_matrix"]

#: the four terms of the bound and the constant that multiplies each
TERMS = {"delta": "c0", "eps": "c1", "h": "c2", "theta_over_h": "c3"}


def _value(rec, term):
    if term == "theta_over_h":
        theta = rec.get("theta", 0.0)
        theta = 0.0 if theta is None or (isinstance(theta, float) and math.isnan(theta)) else float(theta)
        return theta / float(rec.get("h_eff", rec["h"]))
    if term == "h":
        return float(rec.get("h_eff", rec["h"]))
    v = rec.get(term, 0.0)
    return 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def design_matrix(records, terms=tuple(TERMS)):
    """Columns [δ, ε, h, ϑ/h] (or the chosen terms) of the records."""
    return np.array([[_value(r, t) for t in terms] for r in records], float).reshape(len(records), len(terms))


@dataclass
class BoundFit:
    """Result of :func:`fit_bound`."""

    terms: tuple
    constants: dict                 # {"c0": …, "c2": …} for the fitted terms (dropped ones are 0)
    bound: np.ndarray               # fitted bound per record
    error: np.ndarray               # measured error per record
    ratio: np.ndarray               # error / bound
    r2_log: float                   # R² of log(error) against log(bound)
    slack: float
    violations: list = dc_field(default_factory=list)   # records with error > slack · bound

    @property
    def max_ratio(self):
        return float(np.max(self.ratio)) if self.ratio.size else float("nan")

    @property
    def holds(self):
        """Every point satisfies error ≤ slack · bound."""
        return not self.violations

    def summary(self):
        cs = ", ".join(f"{k} = {v:.3g}" for k, v in self.constants.items())
        return (f"{cs}; R²(log) = {self.r2_log:.3f}; max error/bound = {self.max_ratio:.3g}; "
                f"{len(self.violations)} point(s) above {self.slack:g}× the bound")

    def to_records(self, records):
        """The input records with the columns ``bound`` and ``ratio`` added."""
        return [dict(r, bound=float(b), ratio=float(q)) for r, b, q in zip(records, self.bound, self.ratio)]


def fit_bound(records, terms=tuple(TERMS), error="error", slack=1.5, asymmetry=10.0, max_iter=50):
    """Fit c ≥ 0 in  error ≤ Σ c_term · term  to the records of a sweep.

    Parameters
    ----------
    records : list of dicts with the columns ``error``, ``delta``, ``eps``, ``h`` (or ``h_eff``) and
        ``theta`` (NaN/None = no truncation). Non-finite errors (failed runs) are skipped.
    terms : subset of ("delta", "eps", "h", "theta_over_h")
    slack : a point violates the bound when error > slack · bound
    asymmetry : weight (≥ 1) of points above the fitted bound relative to points below it
    """
    if not asymmetry >= 1:
        raise ValueError(f"asymmetry must be >= 1, got {asymmetry!r}")
    terms = tuple(terms)
    for t in terms:
        if t not in TERMS:
            raise ValueError(f"unknown term {t!r}; choose from {tuple(TERMS)}")
    rows = [r for r in records if np.isfinite(r[error]) and r[error] > 0]
    if not rows:
        raise ValueError("no record with a finite positive error to fit")
    e = np.array([r[error] for r in rows], float)
    X = design_matrix(rows, terms)
    A = X / e[:, None]
    weights = np.ones(len(rows))
    for _ in range(max_iter):
        sw = np.sqrt(weights)
        coef, _ = scipy.optimize.nnls(A * sw[:, None], sw, maxiter=50 * max(1, A.shape[1]))
        new_weights = np.where(A @ coef < 1.0, asymmetry, 1.0)
        if np.array_equal(new_weights, weights):
            break
        weights = new_weights
    bound = X @ coef
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, e / bound, np.inf)
        lb = np.log(np.where(bound > 0, bound, np.nan))
    le = np.log(e)
    ok = np.isfinite(lb)
    ss = np.sum((le[ok] - le[ok].mean()) ** 2)
    r2 = 1.0 - np.sum((le[ok] - lb[ok]) ** 2) / ss if ss > 0 and ok.any() else float("nan")
    constants = {c: 0.0 for c in TERMS.values()}
    for t, c in zip(terms, coef):
        constants[TERMS[t]] = float(c)
    violations = [dict(r, bound=float(b), ratio=float(q)) for r, b, q in zip(rows, bound, ratio)
                  if q > slack]
    return BoundFit(terms=terms, constants=constants, bound=bound, error=e, ratio=ratio,
                    r2_log=float(r2), slack=float(slack), violations=violations)
