"""The descent check of DLRT: per step  L(Y_{n+1}) ≤ L(Y_n) − c4 h + c5 ϑ
(Schotthöfer et al., NeurIPS 2022).

For a gradient flow F = −∇L the rank-adaptive BUG integrator decreases the loss at every step up
to the truncation allowance c5 ϑ (Schotthöfer et al., NeurIPS 2022, Thm. 2; with c4 ≥ 0 the check
``ΔL_n ≤ c5 ϑ`` is the necessary part). :func:`descent_check` applies it to a sequence of losses;
:func:`descent_run` runs an integrator and checks it; a failed run (status < 0: non-finite values
or blow-up, as the naive factor ODEs produce for small singular values) counts as a violation.

:func:`descent_sweep` runs methods × h × ϑ and reports, per run, the **allowance ratio**
max_n ΔL_n / (c5 ϑ − c4 h): ≤ 1 where the inequality holds, near 1 where the allowance is tight,
above 1 (or ``inf`` for a failed run) where it is violated — e.g. an explicit Euler (SGD) substep
beyond its stability limit h > 2/Lip(∇L), or the naive factor ODEs with small singular values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["descent_check", "descent_run", "descent_sweep", "DescentCheck"]


@dataclass
class DescentCheck:
    """Per-step increments ΔL_n = L_{n+1} − L_n against the allowance c5 ϑ − c4 h."""

    t: np.ndarray
    loss: np.ndarray
    increments: np.ndarray
    allowance: float
    violating_steps: np.ndarray      # indices n (0-based step numbers) with ΔL_n > allowance
    status: int = 0
    message: str = ""

    @property
    def failed(self):
        """The run itself failed (non-finite values or blow-up)."""
        return self.status < 0

    @property
    def holds(self):
        """Every step satisfies the descent inequality and the run completed."""
        return (not self.failed) and self.violating_steps.size == 0

    @property
    def max_increment(self):
        return float(np.max(self.increments)) if self.increments.size else float("-inf")

    @property
    def ratio(self):
        """Allowance ratio max_n ΔL_n / allowance (``inf`` for a failed run or a non-finite loss;
        for a nonpositive allowance: +inf if some step increases the loss, else 0)."""
        if self.failed or not np.all(np.isfinite(self.increments)):
            return float("inf")
        if self.allowance <= 0:
            return float("inf") if self.max_increment > self.allowance else 0.0
        return self.max_increment / self.allowance

    def to_records(self, **extra):
        """One record per step: t, loss after the step, increment, allowance, ok."""
        return [dict(extra, step=n + 1, t=float(self.t[n + 1]), loss=float(self.loss[n + 1]),
                     increment=float(self.increments[n]), allowance=self.allowance,
                     ok=bool(self.increments[n] <= self.allowance))
                for n in range(self.increments.size)]


def descent_check(loss, theta, h=0.0, c5=1.0, c4=0.0, t=None, status=0, message=""):
    """Check L_{n+1} − L_n ≤ c5 ϑ − c4 h for every step of a loss sequence.

    A non-finite loss counts as a violation at that step.
    """
    loss = np.asarray(loss, float)
    inc = np.diff(loss)
    allowance = float(c5 * (theta or 0.0) - c4 * h)
    bad = np.flatnonzero(~np.isfinite(inc) | (inc > allowance))
    t = np.arange(loss.size, dtype=float) if t is None else np.asarray(t, float)
    return DescentCheck(t=t, loss=loss, increments=inc, allowance=allowance, violating_steps=bad,
                        status=int(status), message=message)


def descent_run(F, loss, Y0, t_span, h, method="adaptive_bug", *, theta=None, c5=1.0, c4=0.0,
                **solve_kwargs):
    """Integrate the gradient flow and check the descent inequality at every step.

    ``theta`` is the truncation tolerance (rank-adaptive methods; the allowance uses it even for
    fixed-rank methods, for a like-for-like comparison, and 0 when None).
    """
    from ..solve import solve
    kwargs = dict(solve_kwargs)
    from ..integrators import METHODS

    accepts = isinstance(method, str) and METHODS[method].accepts_truncation
    if theta is not None and accepts and "truncation" not in kwargs:
        kwargs["theta"] = theta
    sol = solve(F, Y0, t_span, h, method=method, **kwargs)
    losses = [loss(Y) for Y in sol.Y]
    return descent_check(losses, theta, h=h, c5=c5, c4=c4, t=sol.t, status=sol.status,
                         message=sol.message)


def descent_sweep(F, loss, Y0, t_span, methods, hs, thetas, *, c5=1.0, c4=0.0, progress=False,
                  **solve_kwargs):
    """:func:`descent_run` over methods × h × ϑ; one record per run.

    ``methods``: names or ``(label, name)`` pairs; ``Y0``: a start or a callable ``Y0(theta)``.
    Each record: label, method, h, theta, steps, max_increment, allowance, ratio (the allowance
    ratio, see :attr:`DescentCheck.ratio`), holds, failed, violations, final_loss.
    """
    import itertools

    from .sweep import _progress

    pairs = [(m, m) if isinstance(m, str) else tuple(m) for m in methods]
    grid = list(itertools.product(pairs, hs, thetas))
    records = []
    for (label, method), h, theta in _progress(grid, len(grid), progress, "descent sweep"):
        start = Y0(theta) if callable(Y0) else Y0
        chk = descent_run(F, loss, start, t_span, h, method=method, theta=theta, c5=c5, c4=c4,
                          **solve_kwargs)
        records.append(dict(label=label, method=method, h=float(h), theta=float(theta),
                            steps=int(chk.increments.size), max_increment=chk.max_increment,
                            allowance=chk.allowance, ratio=chk.ratio, holds=chk.holds,
                            failed=chk.failed, violations=int(chk.violating_steps.size),
                            final_loss=float(chk.loss[-1]) if chk.loss.size else float("nan")))
    return records
