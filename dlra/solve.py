"""The front door: ``dlra.solve(F, Y0, t_span, h, method=...)`` in the style of ``solve_ivp``."""
from __future__ import annotations

import contextlib
import numbers
import time
from dataclasses import dataclass, field as dc_field

import numpy as np

from .field import NonFiniteError, VectorField, as_items, from_items, lowrank_indices
from .integrators import METHODS, Integrator
from .integrators.base import check_state
from .lowrank import LowRank
from .progress import progress_bar
from .threads import blas_threads, lowrank_step_work, resolve_threads

__all__ = ["solve", "LowRankSolution"]


@dataclass
class LowRankSolution:
    """Result of :func:`solve` (attribute names follow ``scipy.integrate.solve_ivp``).

    Attributes
    ----------
    t : ndarray
        Times at which states were saved (``t_eval``, or every step when ``t_eval`` is None).
    Y : list
        The states at ``t`` (LowRank, ndarray, or lists of them, as Y0).
    t_steps : ndarray
        Every step time, t_steps[0] = t0.
    ranks : ndarray (len(t_steps), number of low-rank matrices)
        Rank history.
    discarded : list
        Per step, per low-rank matrix, the singular values the truncation discarded.
    nfev : int
        Calls of F (one call evaluates F for every matrix of the state).
    nsteps : int
    status : int
        0 success, 1 stopped by ``step_callback``, −1 non-finite values / failed substep,
        −2 blow-up (norm above ``max_norm``).
    message : str
    wall_time, time_in_F : float
        Seconds for the whole run and inside F.
    """

    t: np.ndarray
    Y: list
    t_steps: np.ndarray
    ranks: np.ndarray
    discarded: list
    nfev: int
    nsteps: int
    status: int
    message: str
    method: str
    wall_time: float = 0.0
    time_in_F: float = 0.0
    integrator: Integrator = dc_field(default=None, repr=False)

    @property
    def success(self):
        return self.status >= 0

    @property
    def truncation_errors(self):
        """ℓ² norm of the discarded singular values per step (all matrices together)."""
        return np.array([np.sqrt(sum(float(np.sum(np.abs(d) ** 2)) for d in step)) for step in self.discarded])


def _step_grid(t0, t1, h, t_eval):
    n = max(1, int(np.ceil((t1 - t0) / h - 1e-9)))
    grid = t0 + h * np.arange(n + 1)
    grid[-1] = t1
    if t_eval is not None:
        grid = np.union1d(grid, t_eval)
    keep = np.concatenate([[True], np.diff(grid) > 1e-10 * h])
    grid = grid[keep]
    if t_eval is not None:  # snap to the requested times so that they are hit exactly
        for te in t_eval:
            grid[np.argmin(np.abs(grid - te))] = te
    return grid


def _state_norm(items, orthonormal):
    total = 0.0
    for item in items:
        if isinstance(item, LowRank):
            total += (np.linalg.norm(item.S) if orthonormal else item.norm()) ** 2
        else:
            total += np.linalg.norm(item) ** 2
    return float(np.sqrt(total))


def _make_integrator(method, substep, truncation, theta, options):
    if isinstance(method, Integrator):
        if substep is not None or truncation is not None or theta is not None or options:
            raise ValueError("pass options to the Integrator's constructor when method is an instance")
        return method
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)} or an Integrator, got {method!r}")
    cls = METHODS[method]
    kwargs = dict(options)
    if substep is not None:
        kwargs["substep"] = substep
    if truncation is not None:
        kwargs["truncation"] = truncation
    if theta is not None:
        kwargs["theta"] = theta
    if (truncation is not None or theta is not None) and not cls.accepts_truncation:
        raise ValueError(f"method {method!r} is a fixed-rank method; truncation/theta do not apply")
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise TypeError(f"bad option for method {method!r}: {err}") from None


def _state_work(items):
    """Multiply-adds of the largest product of a step on ``items`` (for the BLAS thread rule)."""
    work = 0
    for item in items:
        m, n = item.shape
        work = max(work, lowrank_step_work(m, n, item.rank) if isinstance(item, LowRank) else m * n * min(m, n))
    return work


def solve(F, Y0, t_span, h, method="adaptive_bug", *, t_eval=None, rank=None, theta=None,
          truncation=None, substep=None, progress=False, max_norm="auto", step_callback=None,
          threads=None, **options):
    """Integrate Ẏ = P(Y) F(t, Y) with a low-rank integrator and fixed step size h.

    Parameters
    ----------
    F : callable ``F(t, Y)``
        The vector field (see :mod:`dlra.field` for what it may return).
    Y0 : LowRank, ndarray, or a sequence of them
        Initial state. A dense ``ndarray`` is truncated to ``rank`` (or by ``theta``) for the
        low-rank methods; LowRank items are densified for ``method="full"``.
    t_span : (t0, t1) with t1 > t0
    h : float > 0 or StepSizeController
        Step size; steps are shortened to hit ``t_eval`` and ``t1`` exactly. A
        :class:`~dlra.adaptive.StepSizeController` selects the step size adaptively instead
        (:func:`dlra.adaptive.solve_adaptive`; it also takes ``dense_output`` and ``events``).
    method : str or Integrator
        ``"projected_euler"``, ``"projected_rk"``, ``"ksl"``, ``"bug"``, ``"augmented_bug"``,
        ``"adaptive_bug"``, ``"parallel_bug"``, ``"midpoint_bug"``, ``"naive"``, ``"full"``.
    t_eval : array_like, optional
        Times (inside t_span) at which to save the state; default every step.
    rank : int, optional
        Rank of Y0 when Y0 is dense.
    theta : float, optional
        Absolute truncation tolerance ϑ (rank-adaptive methods).
    truncation : TruncationRule, optional
        Any truncation rule (rank-adaptive methods and projected RK).
    substep : SubstepSolver or name, optional
        Solver of the substeps (default RK4).
    progress : bool
        Show a tqdm progress bar (only on a terminal).
    max_norm : float, "auto" or None
        A state whose Frobenius norm exceeds it ends the run with status −2 ("auto":
        1e8·max(1, ‖Y0‖)).
    step_callback : callable ``(t, Y, step_info) -> bool``, optional
        Called after every step; returning True stops the run (status 1).
    threads : int, optional
        BLAS threads during the run: None (default) limits BLAS to one thread when the largest
        product of a step, ≈ max(m, n)·(2r)² multiply-adds (m·n·min(m, n) for a dense item), is
        below :data:`dlra.threads.SINGLE_THREAD_WORK` (``DLRA_NUM_THREADS`` overrides); 0 leaves
        BLAS alone; n ≥ 1 limits it to n threads (:mod:`dlra.threads`).
    **options
        Passed to the integrator class (e.g. ``scheme="strang"`` for ``"ksl"``, ``tableau="rk4"``
        for ``"projected_rk"``).

    Returns
    -------
    LowRankSolution
    """
    from .adaptive import StepSizeController, solve_adaptive  # (imports this module)

    if isinstance(h, StepSizeController):
        return solve_adaptive(F, Y0, t_span, h, method, t_eval=t_eval, rank=rank, theta=theta,
                              truncation=truncation, substep=substep, progress=progress, max_norm=max_norm,
                              step_callback=step_callback, **options)
    integrator = _make_integrator(method, substep, truncation, theta, options)
    name = integrator.name
    resolve_threads(threads)  # a bad value (or DLRA_NUM_THREADS) fails here, by name

    # ---- t_span, h, t_eval
    try:
        t0, t1 = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise ValueError(f"t_span must be a pair (t0, t1) of numbers, got {t_span!r}") from None
    if not (np.isfinite(t0) and np.isfinite(t1)) or t1 <= t0:
        raise ValueError(f"t_span must satisfy t0 < t1 (both finite), got {t_span!r}")
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not np.isfinite(h) or h <= 0:
        raise ValueError(f"h must be a positive finite number, got {h!r}")
    if t_eval is not None:
        t_eval = np.atleast_1d(np.asarray(t_eval, dtype=float))
        if t_eval.ndim != 1 or np.any(np.diff(t_eval) <= 0):
            raise ValueError("t_eval must be a strictly increasing 1-D sequence")
        if t_eval[0] < t0 - 1e-12 or t_eval[-1] > t1 + 1e-12:
            raise ValueError(f"t_eval must lie inside t_span = ({t0}, {t1})")

    # ---- Y0
    items, multi = as_items(Y0, name="Y0")
    converted = []
    for k, item in enumerate(items):
        label = "Y0" if not multi else f"Y0[{k}]"
        if isinstance(item, np.ndarray) and item.ndim != 2:
            raise ValueError(f"{label} must be 2-D, got shape {item.shape}")
        if integrator.lowrank_state and isinstance(item, np.ndarray) and not multi:
            if not np.all(np.isfinite(item)):
                raise ValueError(f"{label} is not finite (NaN or inf)")
            if rank is None and theta is None:
                raise ValueError("a dense Y0 needs rank= (or theta=) to start a low-rank method")
            if rank is not None and (isinstance(rank, bool) or not isinstance(rank, numbers.Integral)
                                     or not 1 <= rank <= min(item.shape)):
                raise ValueError(f"rank must be an integer in [1, min(m, n) = {min(item.shape)}], got {rank!r}")
            item = LowRank.from_dense(item, rank=rank) if rank is not None else LowRank.from_dense(item, tol=theta)
        elif not integrator.lowrank_state and isinstance(item, LowRank):
            item = item.to_dense()
        converted.append(item)
    items = converted
    check_state(items, name="Y0", lowrank_required=integrator.lowrank_state)
    for k, item in enumerate(items):
        if isinstance(item, LowRank) and not item.is_orthonormal(atol=1e-8):
            items[k] = item.orthonormalize()

    field = VectorField(F, multi, [item.shape for item in items])
    orthonormal = getattr(integrator, "orthonormal_factors", True)
    norm0 = _state_norm(items, orthonormal=False)
    if max_norm == "auto":
        max_norm = 1e8 * max(1.0, norm0)
    elif max_norm is not None and (not isinstance(max_norm, numbers.Real) or max_norm <= 0):
        raise ValueError(f"max_norm must be positive, 'auto' or None, got {max_norm!r}")

    grid = _step_grid(t0, t1, float(h), t_eval)
    save_all = t_eval is None
    lr = lowrank_indices(items)
    t_saved, Y_saved = [], []
    if save_all or np.isclose(t_eval[0], t0, rtol=0, atol=1e-12 * max(1.0, abs(t0))):
        t_saved.append(t0)
        Y_saved.append(from_items(items, multi))
    eval_set = set() if save_all else set(t_eval.tolist())
    ranks = [[items[k].rank for k in lr]]
    discarded = []
    status, message = 0, "the solver successfully reached the end of the integration interval"
    limits = contextlib.ExitStack()
    limits.enter_context(blas_threads(threads, _state_work(items)))
    start = time.perf_counter()
    t = t0
    bar = progress_bar(total=len(grid) - 1, enabled=progress, desc=f"dlra {name}", leave=False)
    nsteps = 0
    try:
        for n in range(len(grid) - 1):
            t_next = grid[n + 1]
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    new = integrator._step_impl(field, t, items, t_next - t)
                check_state(new, name="Y", lowrank_required=integrator.lowrank_state)
            except (NonFiniteError, ValueError, np.linalg.LinAlgError) as err:
                if isinstance(err, ValueError) and "not finite" not in str(err) and "non-finite" not in str(err):
                    raise
                status = -1
                message = f"step {n + 1} from t = {t:.6g} to t = {t_next:.6g} failed: {err}"
                break
            with np.errstate(over="ignore", invalid="ignore"):
                norm = _state_norm(new, orthonormal)
            if not np.isfinite(norm) or (max_norm is not None and norm > max_norm):
                status = -2
                message = (f"blow-up at step {n + 1} (t = {t_next:.6g}): ‖Y‖ = {norm:.3g} exceeds "
                           f"max_norm = {max_norm:.3g}")
                break
            items, t = new, t_next
            nsteps += 1
            ranks.append(list(integrator.last_step.ranks))
            discarded.append(list(integrator.last_step.discarded))
            if save_all or t in eval_set:
                t_saved.append(t)
                Y_saved.append(from_items(items, multi))
            bar.update(1)
            if step_callback is not None and step_callback(t, from_items(items, multi), integrator.last_step):
                status, message = 1, f"stopped by step_callback at t = {t:.6g}"
                break
    finally:
        bar.close()
        limits.close()
    return LowRankSolution(
        t=np.array(t_saved), Y=Y_saved, t_steps=np.array([t0] + list(grid[1:nsteps + 1])),
        ranks=np.array(ranks, dtype=int), discarded=discarded, nfev=field.nfev, nsteps=nsteps,
        status=status, message=message, method=name, wall_time=time.perf_counter() - start,
        time_in_F=field.time, integrator=integrator)
