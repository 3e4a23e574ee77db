"""Fitting the constants of the DLRT error bound to a sweep, with intervals and identifiability.

The rank-adaptive integrators satisfy (Ceruti, Kusch & Lubich, BIT 62 (2022), Thm. 2; Schotthöfer
et al., NeurIPS 2022, Thm. 1)

    ‖Yₙ − W(tₙ)‖ ≤ c0 δ + c1 ε + c2 h + c3 ϑ/h,

with δ the initial error, ε the normal component, h the step and ϑ the truncation tolerance. The
proofs bound the accumulated truncation Σₙ ‖discardedₙ‖ by nϑ ≤ Tϑ/h; the sharper measured sum can
replace ϑ/h (term ``"discarded"``, the column ``truncation_error`` of a sweep).

:func:`fit_bound` finds nonnegative constants from measured errors by nonnegative least squares
(``scipy.optimize.nnls``) on **relative** residuals: it minimises Σᵢ wᵢ (bᵢ/eᵢ − 1)² over c ≥ 0 with
bᵢ = Σⱼ cⱼ xᵢⱼ, so that errors spanning several decades weigh alike. A bound lies above the data,
so points the bound under-estimates weigh ``asymmetry`` times more (wᵢ = asymmetry where eᵢ > bᵢ;
iteratively reweighted, an expectile fit — Newey & Powell, Econometrica 55 (1987)).

What the fit can and cannot tell is reported with it:

* **uncertainty**: a percentile bootstrap interval per constant (Efron & Tibshirani, *An
  Introduction to the Bootstrap*, 1993, ch. 13): the records are resampled with replacement and
  refitted ``n_boot`` times;
* **identifiability**: the condition number of the column-scaled regression matrix A = X/e and the
  variance inflation factor VIFⱼ = 1/(1 − Rⱼ²) of every column (Rⱼ² of column j regressed on the
  others; Belsley, Kuh & Welsch, *Regression Diagnostics*, 1980). A constant is *identified* when
  its column is present (nonzero), its VIF is below ``max_vif`` and its interval excludes 0;
  otherwise the verdict says why ("collinear with ε", "interval reaches 0", "term absent") instead
  of reporting a silent 0;
* **necessity of each term**: the fit with each term dropped in turn (``BoundFit.without``); a
  needed term leaves points far above the remaining bound (large ``max_ratio``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field

import numpy as np
import scipy.optimize

__all__ = ["fit_bound", "BoundFit", "TERMS", "TERM_SYMBOLS", "DEFAULT_TERMS", "design_matrix", "collinearity"]

#: the terms of the bound and the constant that multiplies each; "discarded" (the measured
#: Σₙ ‖discardedₙ‖) is the sharper alternative to "theta_over_h" and shares its constant c3
TERMS = {"delta": "c0", "eps": "c1", "h": "c2", "theta_over_h": "c3", "discarded": "c3"}

#: how each term is written (figures, summaries)
TERM_SYMBOLS = {"delta": "δ", "eps": "ε", "h": "h", "theta_over_h": "ϑ/h", "discarded": "Σ‖disc‖"}

#: the default terms: the theorem's bound
DEFAULT_TERMS = ("delta", "eps", "h", "theta_over_h")


def _number(v):
    if v is None or v == "":
        return 0.0
    v = float(v)
    return 0.0 if math.isnan(v) else v


def _value(rec, term):
    h = float(rec.get("h_eff", rec["h"]))
    if term == "theta_over_h":
        return _number(rec.get("theta", 0.0)) / h
    if term == "h":
        return h
    if term == "discarded":
        return _number(rec.get("truncation_error", 0.0))
    return _number(rec.get(term, 0.0))


def design_matrix(records, terms=DEFAULT_TERMS):
    """Columns [δ, ε, h, ϑ/h] (or the chosen terms) of the records."""
    return np.array([[_value(r, t) for t in terms] for r in records], float).reshape(len(records), len(terms))


def collinearity(A):
    """Condition number of the column-normalised A and the VIF of each column.

    VIFⱼ = 1/(1 − Rⱼ²), Rⱼ² the uncentred coefficient of determination of column j regressed on the
    other columns (the regression of :func:`fit_bound` has no intercept). A zero column gets VIF
    ``inf``; VIF = 1 means orthogonal to the rest, VIF > 10 is the usual sign of collinearity.
    """
    A = np.asarray(A, float)
    norms = np.linalg.norm(A, axis=0)
    present = norms > 0
    An = A[:, present] / norms[present]
    cond = float(np.linalg.cond(An)) if An.shape[1] else float("nan")
    vif = np.full(A.shape[1], np.inf)
    idx = np.flatnonzero(present)
    for k, j in enumerate(idx):
        y = An[:, k]
        others = np.delete(An, k, axis=1)
        if others.shape[1] == 0:
            vif[j] = 1.0
            continue
        coef, *_ = np.linalg.lstsq(others, y, rcond=None)
        r2 = 1.0 - np.sum((y - others @ coef) ** 2) / np.sum(y ** 2)
        vif[j] = 1.0 / max(1.0 - r2, 1e-300)
    return cond, vif


def _nnls_expectile(A, asymmetry, max_iter):
    weights = np.ones(A.shape[0])
    coef = np.zeros(A.shape[1])
    for _ in range(max_iter):
        sw = np.sqrt(weights)
        coef, _ = scipy.optimize.nnls(A * sw[:, None], sw, maxiter=50 * max(1, A.shape[1]))
        new_weights = np.where(A @ coef < 1.0, asymmetry, 1.0)
        if np.array_equal(new_weights, weights):
            break
        weights = new_weights
    return coef


@dataclass
class BoundFit:
    """Result of :func:`fit_bound`.

    ``constants`` holds every constant c0..c3 (0 for a term not fitted); ``intervals`` the bootstrap
    interval of each fitted constant; ``verdicts`` a word per fitted constant ("identified", or why
    not); ``vif`` the variance inflation factor per fitted term; ``without`` the fits with each term
    dropped in turn.
    """

    terms: tuple
    constants: dict
    bound: np.ndarray
    error: np.ndarray
    ratio: np.ndarray
    r2_log: float
    slack: float
    violations: list = dc_field(default_factory=list)
    intervals: dict = dc_field(default_factory=dict)   # {"c2": (lo, hi)}
    level: float = 0.95
    vif: dict = dc_field(default_factory=dict)          # {"c2": VIF}
    condition_number: float = float("nan")
    verdicts: dict = dc_field(default_factory=dict)     # {"c2": "identified"}
    without: dict = dc_field(default_factory=dict)      # {term: BoundFit}

    @property
    def max_ratio(self):
        return float(np.max(self.ratio)) if self.ratio.size else float("nan")

    @property
    def holds(self):
        """Every point satisfies error ≤ slack · bound."""
        return not self.violations

    @property
    def identified(self):
        """{constant: bool}: the verdict is "identified"."""
        return {c: v == "identified" for c, v in self.verdicts.items()}

    @property
    def fitted(self):
        """The constants of the fitted terms, in term order."""
        return [TERMS[t] for t in self.terms]

    def describe(self, constant):
        """"c3 = 0.41 [0.32, 0.55]" or "c3 not identified (collinear with ε, VIF 48)"."""
        value = self.constants[constant]
        verdict = self.verdicts.get(constant, "identified")
        lo, hi = self.intervals.get(constant, (float("nan"), float("nan")))
        text = f"{constant} = {value:.3g}"
        if np.isfinite(lo):
            text += f" [{lo:.2g}, {hi:.2g}]"
        if verdict != "identified":
            text = f"{constant} not identified ({verdict}; fit {value:.2g})"
        return text

    def summary(self):
        cs = "; ".join(self.describe(c) for c in self.fitted)
        text = (f"{cs}; cond = {self.condition_number:.3g}; R²(log) = {self.r2_log:.3f}; "
                f"max error/bound = {self.max_ratio:.3g}; {len(self.violations)} point(s) above "
                f"{self.slack:g}× the bound")
        if self.without:
            drops = ", ".join(f"−{TERM_SYMBOLS[t]}: {f.max_ratio:.3g}" for t, f in self.without.items())
            text += f"; max ratio with a term dropped: {drops}"
        return text

    def to_records(self, records=None):
        """The fitted records (those with a finite positive error) with ``bound`` and ``ratio``
        added (``records`` is accepted for backward compatibility; the fit's own rows are used)."""
        return [dict(r, bound=float(b), ratio=float(q)) for r, b, q in zip(self._rows, self.bound, self.ratio)]

    def constants_record(self, **extra):
        """One flat dict: each constant, its interval, VIF and verdict, the fit's quality and the
        maximum ratio of each drop-one fit (for a CSV)."""
        row = dict(extra)
        for c in ("c0", "c1", "c2", "c3"):
            row[c] = self.constants.get(c, 0.0)
            lo, hi = self.intervals.get(c, (float("nan"), float("nan")))
            row[c + "_lo"], row[c + "_hi"] = lo, hi
            row[c + "_vif"] = self.vif.get(c, float("nan"))
            row[c + "_verdict"] = self.verdicts.get(c, "not fitted")
        row.update(terms="+".join(self.terms), condition_number=self.condition_number,
                   r2_log=self.r2_log, max_ratio=self.max_ratio, violations=len(self.violations),
                   points=int(self.error.size), level=self.level)
        for t, f in self.without.items():
            row[f"max_ratio_without_{t}"] = f.max_ratio
        return row

    _rows: list = dc_field(default_factory=list, repr=False)


def _verdict(column_present, vif, interval, max_vif, names, vif_row):
    if not column_present:
        return "term absent (column is zero)"
    if vif > max_vif:
        partner = names[int(np.argmax(vif_row))] if vif_row is not None and len(vif_row) else "others"
        return f"collinear with {partner}, VIF {vif:.3g}"
    if not interval[0] > 0:
        return "interval reaches 0"
    return "identified"


def fit_bound(records, terms=DEFAULT_TERMS, error="error", slack=1.5, asymmetry=10.0, max_iter=50,
              *, n_boot=200, level=0.95, max_vif=10.0, drop_each=True, rng=0):
    """Fit c ≥ 0 in  error ≤ Σ c_term · term  to the records of a sweep, with intervals.

    Parameters
    ----------
    records : list of dicts with the columns ``error``, ``delta``, ``eps``, ``h`` (or ``h_eff``),
        ``theta`` (NaN/None = no truncation) and, for the term "discarded", ``truncation_error``.
        Non-finite errors (failed runs) are skipped.
    terms : subset of ("delta", "eps", "h", "theta_over_h", "discarded"); "discarded" (the
        measured Σₙ‖discardedₙ‖) replaces "theta_over_h" (both carry c3, so not both)
    slack : a point violates the bound when error > slack · bound
    asymmetry : weight (≥ 1) of points above the fitted bound relative to points below it
    n_boot : bootstrap resamples for the intervals (0: no intervals, every verdict then rests on
        the VIF alone)
    level : coverage of the percentile intervals
    max_vif : a column with a larger variance inflation factor is "not identified"
    drop_each : also fit with each term dropped in turn (``BoundFit.without``)
    rng : seed of the bootstrap
    """
    if not asymmetry >= 1:
        raise ValueError(f"asymmetry must be >= 1, got {asymmetry!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be a nonnegative integer, got {n_boot!r}")
    terms = tuple(terms)
    for t in terms:
        if t not in TERMS:
            raise ValueError(f"unknown term {t!r}; choose from {tuple(TERMS)}")
    if len({TERMS[t] for t in terms}) != len(terms):
        raise ValueError("terms: 'theta_over_h' and 'discarded' both carry c3; choose one")
    rows = [r for r in records if np.isfinite(r[error]) and r[error] > 0]
    if not rows:
        raise ValueError("no record with a finite positive error to fit")
    e = np.array([r[error] for r in rows], float)
    X = design_matrix(rows, terms)
    A = X / e[:, None]
    coef = _nnls_expectile(A, asymmetry, max_iter)
    bound = X @ coef
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, e / bound, np.inf)
        lb = np.log(np.where(bound > 0, bound, np.nan))
    le = np.log(e)
    ok = np.isfinite(lb)
    ss = np.sum((le[ok] - le[ok].mean()) ** 2)
    r2 = 1.0 - np.sum((le[ok] - lb[ok]) ** 2) / ss if ss > 0 and ok.any() else float("nan")
    constants = {c: 0.0 for c in ("c0", "c1", "c2", "c3")}
    for t, c in zip(terms, coef):
        constants[TERMS[t]] = float(c)
    violations = [dict(r, bound=float(b), ratio=float(q)) for r, b, q in zip(rows, bound, ratio)
                  if q > slack]

    # uncertainty: percentile bootstrap over the records
    intervals = {}
    if n_boot:
        gen = np.random.default_rng(rng)
        boot = np.empty((n_boot, len(terms)))
        for b in range(n_boot):
            idx = gen.integers(0, len(rows), len(rows))
            boot[b] = _nnls_expectile(A[idx], asymmetry, max_iter)
        alpha = (1.0 - level) / 2
        lo, hi = np.quantile(boot, [alpha, 1 - alpha], axis=0)
        intervals = {TERMS[t]: (float(l), float(u)) for t, l, u in zip(terms, lo, hi)}

    # identifiability: collinearity of the columns the regression actually uses
    cond, vif = collinearity(A)
    names = [TERM_SYMBOLS[t] for t in terms]
    verdicts, vifs = {}, {}
    present = np.linalg.norm(A, axis=0) > 0
    for j, t in enumerate(terms):
        c = TERMS[t]
        vifs[c] = float(vif[j])
        partner_scores = None
        if len(terms) > 1 and present[j]:
            An = A[:, present] / np.linalg.norm(A[:, present], axis=0)
            cols = list(np.flatnonzero(present))
            k = cols.index(j)
            corr = np.abs(An.T @ An[:, k])
            corr[k] = -1
            partner_scores = np.full(len(terms), -1.0)
            partner_scores[cols] = corr
        interval = intervals.get(c, (coef[j], coef[j]))
        verdicts[c] = _verdict(present[j], vif[j], interval, max_vif, names, partner_scores)

    without = {}
    if drop_each and len(terms) > 1:
        for t in terms:
            rest = tuple(s for s in terms if s != t)
            without[t] = fit_bound(rows, terms=rest, error=error, slack=slack, asymmetry=asymmetry,
                                   max_iter=max_iter, n_boot=0, drop_each=False)
    return BoundFit(terms=terms, constants=constants, bound=bound, error=e, ratio=ratio,
                    r2_log=float(r2), slack=float(slack), violations=violations, intervals=intervals,
                    level=float(level), vif=vifs, condition_number=float(cond), verdicts=verdicts,
                    without=without, _rows=rows)
