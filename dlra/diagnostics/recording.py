"""Recording the quantities of the DLRT error bound along a run
(Ceruti, Kusch & Lubich, BIT 62 (2022), Thm. 2).

Along ``dlra.solve`` (through its ``step_callback``) a :class:`Recorder` stores per step

* ``error``: ‖Yₙ − W(tₙ)‖_F against a reference W (an exact solution, or a tight full-rank
  ``solve_ivp`` solution from :func:`reference_solution`),
* ``eps``: the normal component εₙ = ‖(I − P(Yₙ)) F(tₙ, Yₙ)‖_F (:func:`normal_component`),
* ``discarded`` / ``truncation_error``: the singular values each truncation discarded, and their
  ℓ² norm,
* ``rank``,
* ``loss``: L(Yₙ), when F = −∇L and the loss is given.

Quantities are recorded at t₀ too (before the first step). A single-matrix state is assumed.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import numpy as np
import scipy.integrate

from ..field import FieldValue
from ..lowrank import LowRank
from ..problems.base import as_dense
from .normal_component import DEFAULT_PROBES, normal_component

__all__ = ["Recorder", "Trace", "record", "reference_solution", "ReferenceSolution"]


class ReferenceSolution:
    """A dense full-rank reference W(t) of Ẇ = F(t, W) computed by ``scipy.integrate.solve_ivp``.

    Call it as ``W(t)``; values at the times in ``t_eval`` are the solver's own (to ``rtol``),
    other times use the solver's dense output.
    """

    def __init__(self, F, W0, t_span, *, rtol=1e-12, atol=1e-14, method="DOP853", t_eval=None):
        W0 = as_dense(W0)
        self.shape = W0.shape
        complex_ = np.iscomplexobj(W0)
        dtype = complex if complex_ else float

        def rhs(t, w):
            W = w.reshape(self.shape)
            return FieldValue(F(t, W), self.shape, 0).dense().astype(dtype, copy=False).ravel()

        self.t_span = (float(t_span[0]), float(t_span[1]))
        sol = scipy.integrate.solve_ivp(rhs, self.t_span, W0.astype(dtype).ravel(), method=method,
                                        rtol=rtol, atol=atol, dense_output=True,
                                        t_eval=None if t_eval is None else np.asarray(t_eval, float))
        if sol.status < 0:
            raise RuntimeError(f"reference solve_ivp failed: {sol.message}")
        self._sol = sol.sol
        self._cache = {}
        if t_eval is not None:
            for t, y in zip(sol.t, sol.y.T):
                self._cache[float(t)] = y.reshape(self.shape)
        self._cache[self.t_span[0]] = W0.astype(dtype)

    def __call__(self, t):
        t = float(t)
        if t in self._cache:
            return self._cache[t]
        return self._sol(t).reshape(self.shape)


def reference_solution(F, W0, t_span, *, rtol=1e-12, atol=1e-14, method="DOP853", t_eval=None):
    """Tight full-rank reference W(t) (see :class:`ReferenceSolution`)."""
    return ReferenceSolution(F, W0, t_span, rtol=rtol, atol=atol, method=method, t_eval=t_eval)


def _as_reference(reference):
    if reference is None:
        return None
    if callable(getattr(reference, "reference", None)):
        return reference.reference
    if callable(reference):
        return reference
    raise TypeError("reference must be a callable reference(t) or an object with .reference(t)")


@dataclass
class Trace:
    """Per-step record of one run; arrays are indexed like ``t`` (``t[0]`` = t₀)."""

    t: np.ndarray
    error: np.ndarray
    eps: np.ndarray
    rank: np.ndarray
    truncation_error: np.ndarray
    loss: np.ndarray
    discarded: list = dc_field(default_factory=list)

    @property
    def final_error(self):
        return float(self.error[-1]) if self.error.size else float("nan")

    @property
    def max_eps(self):
        finite = self.eps[np.isfinite(self.eps)]
        return float(finite.max()) if finite.size else float("nan")

    def to_records(self, **extra):
        """One dict per recorded time (tidy format), with ``extra`` columns added to each."""
        out = []
        for k in range(self.t.size):
            out.append(dict(extra, t=float(self.t[k]), error=float(self.error[k]), eps=float(self.eps[k]),
                            rank=int(self.rank[k]), truncation_error=float(self.truncation_error[k]),
                            loss=float(self.loss[k])))
        return out


class Recorder:
    """A ``step_callback`` for :func:`dlra.solve` that records the bound's quantities.

    Parameters
    ----------
    F : callable, optional
        The vector field; needed for ``eps`` (evaluated once more per recorded step, outside the
        solver's evaluation count).
    reference : callable ``reference(t)`` or a problem with ``.reference``, optional
        The exact or reference solution, for ``error``.
    loss : callable ``loss(Y)``, optional
        For gradient flows F = −∇L.
    normal : bool
        Record ε (needs F).
    normal_method, probes, rng
        Passed to :func:`normal_component` ("auto": exact for dense F, randomised for operators).
    every : int
        Record every ``every``-th step (the last step is always recorded by :func:`record`).

    Use ``rec.start(t0, Y0)`` before the run to record the initial state (:func:`record` does).
    """

    def __init__(self, F=None, reference=None, loss=None, normal=True, normal_method="auto",
                 probes=DEFAULT_PROBES, rng=0, every=1):
        if normal and F is None:
            raise ValueError("normal=True needs F")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.F, self.reference, self.loss = F, _as_reference(reference), loss
        self.normal, self.normal_method, self.probes, self.rng = normal, normal_method, probes, rng
        self.every = int(every)
        self._rows = []
        self._count = 0

    def _measure(self, t, Y, discarded):
        err = float(np.linalg.norm(as_dense(Y) - self.reference(t))) if self.reference else np.nan
        eps = np.nan
        if self.normal and isinstance(Y, LowRank):
            eps = normal_component(self.F(t, Y), Y, method=self.normal_method, probes=self.probes,
                                   rng=self.rng)
        loss = float(self.loss(Y)) if self.loss is not None else np.nan
        rank = Y.rank if isinstance(Y, LowRank) else min(np.shape(Y))
        disc = np.concatenate([np.abs(np.ravel(d)) for d in discarded]) if discarded else np.zeros(0)
        self._rows.append((float(t), err, eps, int(rank), float(np.linalg.norm(disc)), loss, disc))

    def start(self, t0, Y0):
        """Record the initial state."""
        self._rows.clear()
        self._count = 0
        self._measure(t0, Y0, [])

    def __call__(self, t, Y, step_info):
        self._count += 1
        if self._count % self.every == 0:
            self._measure(t, Y, getattr(step_info, "discarded", []))
        return False

    def finish(self, t, Y):
        """Record the final state if the last step was skipped by ``every``."""
        if not self._rows or self._rows[-1][0] != float(t):
            self._measure(t, Y, [])

    @property
    def trace(self):
        cols = list(zip(*self._rows)) if self._rows else [()] * 7
        return Trace(t=np.array(cols[0], float), error=np.array(cols[1], float),
                     eps=np.array(cols[2], float), rank=np.array(cols[3], int),
                     truncation_error=np.array(cols[4], float), loss=np.array(cols[5], float),
                     discarded=list(cols[6]))


def record(F, Y0, t_span, h, method="adaptive_bug", *, reference=None, loss=None, normal=True,
           normal_method="auto", probes=DEFAULT_PROBES, every=1, **solve_kwargs):
    """Run :func:`dlra.solve` with a :class:`Recorder`; returns ``(solution, trace)``.

    ``solve_kwargs`` go to :func:`dlra.solve` (``theta``, ``substep``, ``truncation``, …). The
    solution keeps only the final state (``t_eval=[t1]``) unless ``t_eval`` is given.
    """
    from ..solve import solve

    rec = Recorder(F=F, reference=reference, loss=loss, normal=normal, normal_method=normal_method,
                   probes=probes, every=every)
    Y0_lr = Y0
    if isinstance(Y0, np.ndarray):
        rank, theta = solve_kwargs.get("rank"), solve_kwargs.get("theta")
        Y0_lr = LowRank.from_dense(Y0, rank=rank) if rank is not None else LowRank.from_dense(Y0, tol=theta)
    rec.start(float(t_span[0]), Y0_lr)
    solve_kwargs.setdefault("t_eval", [float(t_span[1])])
    sol = solve(F, Y0, t_span, h, method=method, step_callback=rec, **solve_kwargs)
    if sol.Y:
        rec.finish(sol.t[-1], sol.Y[-1])
    return sol, rec.trace
