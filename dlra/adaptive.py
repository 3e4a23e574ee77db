"""Adaptive step size, dense output and events for the low-rank integrators.

The local error of a step of an integrator of order p is estimated by **step doubling**
(Richardson): one step of length h gives Y_h, two steps of length h/2 give Y_{h/2}; then

    err_loc ≈ ‖Y_{h/2} − Y_h‖_F / (2^p − 1),

measured in the scaled norm of ``scipy.integrate.solve_ivp`` (root mean square over the m·n
entries, tolerance atol + rtol·|Y|, taken in the Frobenius norm since Y is never formed):

    err = ‖Y_{h/2} − Y_h‖_F / ((2^p − 1) (atol·√(mn) + rtol·max(‖Y_n‖_F, ‖Y_{h/2}‖_F))).

The step is accepted when err ≤ 1 (the state continues from the more accurate Y_{h/2}) and the
next step is h·min(max_factor, max(min_factor, safety·err^{−1/(p+1)})) (Hairer, Nørsett & Wanner,
Solving ODEs I, §II.4). The difference of two low-rank matrices of ranks r₁, r₂ is exact (rank
r₁ + r₂, a QR and a small SVD), so rank-adaptive integrators (ranks changing from step to step)
and step-size adaptivity work together; with a truncation tolerance ϑ the estimate contains the
truncation noise (≈ ϑ), so choose atol·√(mn) above ϑ.

Dense output: between accepted steps the cubic Hermite interpolant of Y_n, Y_{n+1} and the
derivatives Ẏ = P(Y)F(t, Y) at both nodes (one extra evaluation of F per node, on first use),
retracted to rank max(r_n, r_{n+1}) by a truncated SVD (Absil & Oseledets, "Low-rank retractions:
a survey and new results", Comput. Optim. Appl. 62, 2015): exact at the nodes, O(h⁴) interpolation
error in between; ``dense_output_kind="linear"`` gives the retracted secant (O(h²), no
evaluations). The interpolation error is not part of the step-size control: inside long steps
of a stiff problem it can exceed the tolerance (use ``h_max`` to bound the steps). Events follow ``solve_ivp``: functions
``event(t, Y)`` with optional attributes ``terminal`` and ``direction``, located by ``brentq``
on the dense output.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field as dc_field

import numpy as np
import scipy.optimize

from .errors import NonFiniteError
from .field import VectorField, as_items, from_items, lowrank_indices
from .integrators import make_integrator
from .lowrank import LowRank
from .progress import progress_bar
from .solve import LowRankSolution, _check_t_eval, _check_t_span, _initial_state

__all__ = ["StepSizeController", "LowRankDenseOutput", "solve_adaptive", "AdaptiveSolution"]


def _positive(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'nonnegative' if allow_zero else 'positive'} finite number, "
                         f"got {value!r}")
    return float(value)


class StepSizeController:
    """Step-size control in the style of ``scipy.integrate.solve_ivp``.

    Parameters
    ----------
    rtol, atol : float
        Relative and absolute tolerances of the scaled local-error norm (module docstring).
    safety : float in (0, 1]
    min_factor, max_factor : float
        Bounds of the step-size change per step (0 < min_factor < 1 < max_factor).
    h0 : float, optional
        First step; default 0.01·‖Y0‖ / ‖P(Y0)F(t0, Y0)‖ (one evaluation of F), capped by h_max.
    h_min, h_max : float
        A step below h_min ends the run with status −1; steps never exceed h_max.

    After a run, ``naccepted`` and ``nrejected`` count the steps.
    """

    def __init__(self, rtol=1e-3, atol=1e-6, *, safety=0.9, min_factor=0.2, max_factor=5.0, h0=None,
                 h_min=0.0, h_max=np.inf):
        self.rtol = _positive("rtol", rtol)
        self.atol = _positive("atol", atol, allow_zero=True)
        self.safety = _positive("safety", safety)
        if self.safety > 1:
            raise ValueError(f"safety must be in (0, 1], got {safety!r}")
        self.min_factor = _positive("min_factor", min_factor)
        self.max_factor = _positive("max_factor", max_factor) if np.isfinite(max_factor) else None
        if not self.min_factor < 1 or (self.max_factor is not None and not self.max_factor > 1):
            raise ValueError(f"need 0 < min_factor < 1 < max_factor, got {min_factor!r}, {max_factor!r}")
        self.h0 = None if h0 is None else _positive("h0", h0)
        self.h_min = _positive("h_min", h_min, allow_zero=True)
        if not (isinstance(h_max, numbers.Real) and h_max > 0):
            raise ValueError(f"h_max must be positive, got {h_max!r}")
        self.h_max = float(h_max)
        self.naccepted = self.nrejected = 0

    def __repr__(self):
        return (f"StepSizeController(rtol={self.rtol:g}, atol={self.atol:g}, safety={self.safety:g}, "
                f"min_factor={self.min_factor:g}, max_factor={self.max_factor})")

    def factor(self, err, order):
        """Step-size factor after a step with scaled error ``err`` of a method of order ``order``."""
        top = self.max_factor if self.max_factor is not None else np.inf
        if err == 0:
            return top
        return float(min(top, max(self.min_factor, self.safety * err ** (-1.0 / (order + 1)))))

    def scale(self, items_old, items_new):
        """The denominator atol·√(mn) + rtol·max(‖Y_old‖, ‖Y_new‖) (all matrices together)."""
        size = sum(np.prod(item.shape) for item in items_new)
        norm = max(_norm(items_old), _norm(items_new))
        return self.atol * np.sqrt(size) + self.rtol * norm


def _item_norm(item):
    return item.norm() if isinstance(item, LowRank) else float(np.linalg.norm(item))


def _norm(items):
    return float(np.sqrt(sum(_item_norm(item) ** 2 for item in items)))


def _difference_norm(a_items, b_items):
    total = 0.0
    for a, b in zip(a_items, b_items):
        if isinstance(a, LowRank):
            total += LowRank.concatenate([a, b], weights=[1.0, -1.0]).norm() ** 2
        else:
            total += float(np.linalg.norm(a - b)) ** 2
    return float(np.sqrt(total))


def _hermite(a_items, b_items, da_items, db_items, theta, h):
    """Cubic Hermite interpolant at θ ∈ [0, 1], retracted to rank max(r_a, r_b) (linear when no
    derivatives are given)."""
    if da_items is None:
        weights = [1.0 - theta, theta]
    else:
        t2, t3 = theta * theta, theta ** 3
        weights = [2 * t3 - 3 * t2 + 1, -2 * t3 + 3 * t2, h * (t3 - 2 * t2 + theta), h * (t3 - t2)]
    out = []
    for k, (a, b) in enumerate(zip(a_items, b_items)):
        if theta == 0.0:
            out.append(a)
        elif theta == 1.0:
            out.append(b)
        else:
            terms = [a, b] if da_items is None else [a, b, da_items[k], db_items[k]]
            if isinstance(a, LowRank):
                mix = LowRank.concatenate(terms, weights=weights)
                out.append(mix.truncate(rank=max(a.rank, b.rank)))
            else:
                out.append(sum(w * x for w, x in zip(weights, terms)))
    return out


def tangent_derivative(field):
    """(t, items) ↦ the derivative of the projected flow, P(Y) F(t, Y) per low-rank item (rank 2r)."""
    from .integrators import tangent_projection

    def derivative(t, items):
        values = field(t, items)
        return [tangent_projection(item, values[k]) if isinstance(item, LowRank) else values[k].dense()
                for k, item in enumerate(items)]

    return derivative


class LowRankDenseOutput:
    """``sol(t)``: the state at any t in the integrated interval (scalar t → state, array → list).

    Piecewise cubic Hermite interpolation of the accepted steps with the derivatives P(Y)F(t, Y) of
    the projected flow at the nodes (``derivative``, evaluated on first use and cached), retracted to
    the larger rank of the two nodes; piecewise linear when ``derivative`` is None (module docstring).
    """

    def __init__(self, ts, states, multi, derivative=None):
        self.ts = np.asarray(ts, dtype=float)
        self.states = states
        self.multi = multi
        self.derivative = derivative
        self._derivs = {}
        self.t_min, self.t_max = float(self.ts[0]), float(self.ts[-1])

    def _at(self, t):
        if not np.isfinite(t) or t < self.t_min - 1e-12 * max(1.0, abs(self.t_min)) \
                or t > self.t_max + 1e-12 * max(1.0, abs(self.t_max)):
            raise ValueError(f"t = {t!r} lies outside the integrated interval [{self.t_min}, {self.t_max}]")
        j = int(np.clip(np.searchsorted(self.ts, t, side="right") - 1, 0, len(self.ts) - 2)) \
            if len(self.ts) > 1 else 0
        if len(self.ts) == 1:
            return from_items(self.states[0], self.multi)
        t0, t1 = self.ts[j], self.ts[j + 1]
        theta = float(np.clip((t - t0) / (t1 - t0), 0.0, 1.0))
        if self.derivative is None or theta in (0.0, 1.0):
            da = db = None
        else:
            da, db = self._node_derivative(j), self._node_derivative(j + 1)
        return from_items(_hermite(self.states[j], self.states[j + 1], da, db, theta, t1 - t0), self.multi)

    def _node_derivative(self, j):
        if j not in self._derivs:
            self._derivs[j] = self.derivative(float(self.ts[j]), self.states[j])
        return self._derivs[j]

    def __call__(self, t):
        if np.ndim(t) == 0:
            return self._at(float(t))
        return [self._at(float(s)) for s in np.asarray(t, dtype=float).ravel()]


@dataclass
class AdaptiveSolution(LowRankSolution):
    """Result of :func:`solve_adaptive`: the attributes of :class:`dlra.solve.LowRankSolution` plus
    ``nrejected`` (rejected step attempts), ``h_steps`` (accepted step sizes), ``sol`` (the dense
    output, with ``dense_output=True``), ``t_events``/``Y_events`` (with ``events``) and the
    ``controller``."""

    nrejected: int = 0
    h_steps: np.ndarray = None
    sol: LowRankDenseOutput = None
    t_events: list = None
    Y_events: list = None
    controller: StepSizeController = dc_field(default=None, repr=False)


def _check_events(events):
    if events is None:
        return []
    if callable(events):
        events = [events]
    events = list(events)
    for k, ev in enumerate(events):
        if not callable(ev):
            raise TypeError(f"events[{k}] must be callable event(t, Y), got {type(ev).__name__}")
    return events


def _initial_step(field, integrator, t0, items, span):
    from .integrators import tangent_projection

    values = field(t0, items)
    total = 0.0
    for k, item in enumerate(items):
        if isinstance(item, LowRank):
            total += tangent_projection(item, values[k]).norm() ** 2
        else:
            total += float(np.linalg.norm(values[k].dense())) ** 2
    d0, d1 = _norm(items), np.sqrt(total)
    h = span * 1e-3 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    return float(min(h, span))


def solve_adaptive(F, Y0, t_span, controller=None, method="midpoint_bug", *, t_eval=None, dense_output=False,
                   events=None, dense_output_kind="hermite", rank=None, theta=None, truncation=None,
                   substep=None, progress=False,
                   max_steps=100000, max_norm="auto", step_callback=None, **options):
    """Integrate Ẏ = P(Y) F(t, Y) with step-size control by step doubling (module docstring).

    Usually called as ``dlra.solve(F, Y0, t_span, h=StepSizeController(rtol, atol), method=...)``.
    The remaining arguments are those of :func:`dlra.solve`; in addition ``dense_output=True`` gives
    ``sol.sol(t)`` and ``events`` (callables ``event(t, Y)``, attributes ``terminal``/``direction``
    as in ``solve_ivp``) fills ``sol.t_events`` / ``sol.Y_events``. Without ``t_eval`` the states at
    the accepted steps are returned. ``max_norm`` and ``step_callback`` (called after every accepted
    step) act as in :func:`dlra.solve`.
    """
    if controller is None:
        controller = StepSizeController()
    if not isinstance(controller, StepSizeController):
        raise TypeError(f"h must be a positive number or a StepSizeController, got {type(controller).__name__}")
    integrator = make_integrator(method, substep=substep, truncation=truncation, theta=theta, **options)
    order = getattr(integrator, "order", None)
    if not isinstance(order, numbers.Real) or order < 1:
        raise ValueError(f"method {integrator.name!r} has no classical order; step doubling needs one")
    events = _check_events(events)
    if dense_output_kind not in ("hermite", "linear"):
        raise ValueError(f"dense_output_kind must be 'hermite' or 'linear', got {dense_output_kind!r}")
    t0, t1 = _check_t_span(t_span)
    if t_eval is not None:
        t_eval = _check_t_eval(t_eval, t0, t1)
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")

    items, multi = _initial_state(Y0, integrator, rank, theta)
    items = [item.orthonormalize() if isinstance(item, LowRank) and not item.is_orthonormal(atol=1e-8)
             else item for item in items]
    if max_norm == "auto":
        max_norm = 1e8 * max(1.0, _norm(items))
    elif max_norm is not None and (isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real)
                                   or not max_norm > 0):
        raise ValueError(f"max_norm must be positive, 'auto' or None, got {max_norm!r}")
    if step_callback is not None and not callable(step_callback):
        raise TypeError(f"step_callback must be callable (t, Y, step_info), got {type(step_callback).__name__}")
    field = VectorField(F, multi, [item.shape for item in items])
    lr = lowrank_indices(items)
    span = t1 - t0
    h = controller.h0 if controller.h0 is not None else _initial_step(field, integrator, t0, items, span)
    h = min(h, controller.h_max, span)
    controller.naccepted = controller.nrejected = 0
    factor_p = 2.0 ** order - 1.0
    derivative = tangent_derivative(field) if dense_output_kind == "hermite" else None

    ts, states = [t0], [items]
    ranks = [[items[k].rank for k in lr]]
    discarded, h_steps = [], []
    t_events = [[] for _ in events]
    Y_events = [[] for _ in events]
    ev_values = [float(ev(t0, from_items(items, multi))) for ev in events]
    status, message = 0, "the solver successfully reached the end of the integration interval"
    start = time.perf_counter()
    t = t0
    bar = progress_bar(total=span, enabled=progress, desc=f"dlra adaptive {integrator.name}", leave=False)
    try:
        while t < t1 and status == 0:
            if len(ts) > max_steps:
                status, message = -1, f"max_steps = {max_steps} reached at t = {t:.6g}"
                break
            h = min(h, t1 - t)
            if t + h >= t1 - 1e-12 * max(1.0, abs(t1)):
                h = t1 - t
            if h < controller.h_min or t + h == t:
                status, message = -1, f"step size {h:.3g} fell below h_min at t = {t:.6g}"
                break
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    big = as_items(integrator.step(field, t, from_items(items, multi), h))[0]
                    half = as_items(integrator.step(field, t, from_items(items, multi), h / 2))[0]
                    info_half = integrator.last_step
                    fine = as_items(integrator.step(field, t + h / 2, from_items(half, multi), h / 2))[0]
                    info_fine = integrator.last_step
                    err = _difference_norm(fine, big) / factor_p / controller.scale(items, fine)
            except (NonFiniteError, np.linalg.LinAlgError):
                err = np.inf
            if not np.isfinite(err) or err > 1.0:
                controller.nrejected += 1
                h *= controller.min_factor if not np.isfinite(err) else \
                    min(1.0, controller.factor(err, order))
                continue
            if max_norm is not None and _norm(fine) > max_norm:
                status, message = -2, f"blow-up at t = {t + h:.6g}: ‖Y‖ exceeds max_norm = {max_norm:.3g}"
                break
            controller.naccepted += 1
            t_new = t + h
            if t_new >= t1 - 1e-12 * max(1.0, abs(t1)):
                t_new = t1
            ts.append(t_new)
            states.append(fine)
            ranks.append([fine[k].rank for k in lr])
            discarded.append([np.concatenate([a, b]) for a, b in zip(info_half.discarded, info_fine.discarded)])
            h_steps.append(h)
            bar.update(t_new - t)
            # events on the dense output of this step
            if events:
                piece = LowRankDenseOutput([t, t_new], [items, fine], multi, derivative)
                stop_at = None
                for k, ev in enumerate(events):
                    new_value = float(ev(t_new, from_items(fine, multi)))
                    old_value = ev_values[k]
                    ev_values[k] = new_value
                    direction = getattr(ev, "direction", 0)
                    crosses = (old_value < 0 < new_value or old_value > 0 > new_value or new_value == 0 != old_value)
                    wrong_way = (direction > 0 and new_value < old_value) or (direction < 0 and new_value > old_value)
                    if not crosses or wrong_way:
                        continue
                    root = t_new if new_value == 0 else scipy.optimize.brentq(
                        lambda s: float(ev(s, piece(s))), t, t_new, xtol=1e-12 * max(1.0, abs(t_new)))
                    t_events[k].append(root)
                    Y_events[k].append(piece(root))
                    if getattr(ev, "terminal", False) and (stop_at is None or root < stop_at):
                        stop_at = root
                if stop_at is not None:
                    if stop_at < t_new:
                        ts[-1] = stop_at
                        states[-1] = as_items(piece(stop_at))[0]
                    t_new = stop_at
                    status, message = 1, f"a terminal event occurred at t = {stop_at:.6g}"
            items, t = states[-1], t_new
            if status == 0 and step_callback is not None and step_callback(t, from_items(items, multi), info_fine):
                status, message = 1, f"stopped by step_callback at t = {t:.6g}"
                break
            h *= controller.factor(err, order)
            h = min(h, controller.h_max)
    finally:
        bar.close()

    dense = LowRankDenseOutput(ts, states, multi, derivative)
    if t_eval is not None:
        keep = t_eval[t_eval <= ts[-1] + 1e-12 * max(1.0, abs(ts[-1]))]
        t_out, Y_out = keep, dense(keep) if len(keep) else []
    else:
        t_out, Y_out = np.array(ts), [from_items(s, multi) for s in states]
    return AdaptiveSolution(
        t=np.asarray(t_out), Y=list(Y_out), t_steps=np.array(ts), ranks=np.array(ranks, dtype=int),
        discarded=discarded, nfev=field.nfev, nsteps=len(ts) - 1, status=status, message=message,
        method=integrator.name, wall_time=time.perf_counter() - start, time_in_F=field.time,
        nrejected=controller.nrejected, h_steps=np.array(h_steps), sol=dense if dense_output else None,
        t_events=[np.array(e) for e in t_events] if events else None,
        Y_events=Y_events if events else None, integrator=integrator, controller=controller)
