"""The front door: ``dlra.solve(F, Y0, t_span, h, method=...)`` in the style of ``solve_ivp``."""
from __future__ import annotations

import contextlib
import math
import numbers
import time
import warnings
from dataclasses import dataclass, field as dc_field

import numpy as np

from .blowup import BlowUpDetector
from .errors import BlowUpError, NonFiniteError
from .field import VectorField, as_items, from_items, lowrank_indices
from .integrators import Integrator, make_integrator
from .integrators.base import check_real, check_state
from .lowrank import LowRank
from .progress import progress_bar
from .threads import blas_threads, lowrank_step_work, resolve_threads

__all__ = ["solve", "LowRankSolution", "MAX_STEPS", "SAVE_WARN_BYTES"]

#: more steps than this is an error naming ``h`` (the step grid alone would need gigabytes)
MAX_STEPS = 10_000_000
#: saving states whose estimated size exceeds this many bytes warns before the run starts
SAVE_WARN_BYTES = 1 << 30


@dataclass
class LowRankSolution:
    """Result of :func:`solve` (attribute names follow ``scipy.integrate.solve_ivp``).

    Attributes
    ----------
    t : ndarray
        Times at which states were saved (``t_eval``; else every step, or only the last time
        with ``save="last"``).
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
        −2 blow-up (norm above ``max_norm``, or sustained geometric growth: ``growth_limit``).
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


def _state_bytes(items):
    return sum(sum(a.nbytes for a in (item.U, item.S, item.V)) if isinstance(item, LowRank) else item.nbytes
               for item in items)


def _state_work(items):
    """Multiply-adds of the largest product of a step on ``items`` (for the BLAS thread rule)."""
    work = 0
    for item in items:
        m, n = item.shape
        work = max(work, lowrank_step_work(m, n, item.rank) if isinstance(item, LowRank) else m * n * min(m, n))
    return work


def _check_t_span(t_span):
    try:
        t0, t1 = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise ValueError(f"t_span must be a pair (t0, t1) of numbers, got {t_span!r}") from None
    if not (np.isfinite(t0) and np.isfinite(t1)) or t1 <= t0:
        raise ValueError(f"t_span must satisfy t0 < t1 (both finite), got {t_span!r}")
    return t0, t1


def _check_t_eval(t_eval, t0, t1):
    try:
        t_eval = np.atleast_1d(np.asarray(t_eval, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"t_eval must be a 1-D sequence of real numbers, got {t_eval!r}") from None
    if t_eval.ndim != 1 or t_eval.size == 0:
        raise ValueError("t_eval must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(t_eval)):
        raise ValueError(f"t_eval must hold finite times, got {t_eval.tolist()}")
    if np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be a strictly increasing 1-D sequence")
    if t_eval[0] < t0 - 1e-12 or t_eval[-1] > t1 + 1e-12:
        raise ValueError(f"t_eval must lie inside t_span = ({t0}, {t1})")
    return t_eval


def _initial_state(Y0, integrator, rank, theta):
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
    check_state(converted, name="Y0", lowrank_required=integrator.lowrank_state)
    return converted, multi


def _work_items(Y0):
    """Y0's items for the thread rule (no validation: an unusable Y0 counts as no work and fails
    later with its own message)."""
    try:
        return [item for item in as_items(Y0, name="Y0")[0] if hasattr(item, "shape") and len(item.shape) == 2]
    except (TypeError, ValueError):
        return []


def solve(F, Y0, t_span, h, method="adaptive_bug", *, t_eval=None, save=None, rank=None, theta=None,
          truncation=None, substep=None, progress=False, max_norm="auto", growth_limit="auto",
          step_callback=None, threads=None, **options):
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
        Step size; steps are shortened to hit ``t_eval`` and ``t1`` exactly. More than
        :data:`MAX_STEPS` steps is an error. A :class:`~dlra.adaptive.StepSizeController`
        selects the step size adaptively instead (:func:`dlra.adaptive.solve_adaptive`; it also
        takes ``dense_output`` and ``events``).
    method : str or Integrator
        ``"projected_euler"``, ``"projected_rk"``, ``"ksl"``, ``"bug"``, ``"augmented_bug"``,
        ``"adaptive_bug"`` (the default), ``"parallel_bug"``, ``"midpoint_bug"``, ``"naive"``,
        ``"full"``. The rank-adaptive ``"adaptive_bug"`` and ``"parallel_bug"`` need ``theta``
        or ``truncation`` (``truncation=FixedRank()`` for a fixed rank); a call without them is
        a ``ValueError`` rather than a silently fixed rank.
    t_eval : array_like, optional
        Times (inside t_span) at which to save the state.
    save : "all" or "last", optional
        Without ``t_eval``: keep every step's state (``"all"``, the default) or only the final one
        (``"last"``). A run whose saved states are estimated above :data:`SAVE_WARN_BYTES` warns
        before it starts. Not allowed together with ``t_eval``.
    rank : int, optional
        Rank of Y0 when Y0 is dense.
    theta : float, optional
        Absolute truncation tolerance ϑ (rank-adaptive methods).
    truncation : TruncationRule, optional
        Any truncation rule (rank-adaptive methods and projected RK).
    substep : SubstepSolver or name, optional
        Solver of the substeps (default RK4); methods without substeps raise.
    progress : bool
        Show a tqdm progress bar (only on a terminal).
    max_norm : float, "auto" or None
        A state whose Frobenius norm exceeds it ends the run with status −2 ("auto":
        1e8·max(1, ‖Y0‖); None: no absolute limit).
    growth_limit : float, "auto" or None
        Relative blow-up detection (:class:`dlra.blowup.BlowUpDetector`): status −2 when the
        norm has at least doubled on each of the last 3 steps and exceeds ``growth_limit`` times
        max(‖Y0‖, ‖Y1‖) ("auto": 100; None: off).
    step_callback : callable ``(t, Y, step_info) -> bool``, optional
        Called after every step; returning True stops the run (status 1).
    threads : int, optional
        BLAS threads during the run: None (default) limits BLAS to one thread when the largest
        product of a step, ≈ max(m, n)·(2r)² multiply-adds (m·n·min(m, n) for a dense item), is
        below :data:`dlra.threads.SINGLE_THREAD_WORK` (``DLRA_NUM_THREADS`` overrides); 0 leaves
        BLAS alone; n ≥ 1 limits it to n threads (:mod:`dlra.threads`).
    **options
        Passed to the integrator class (e.g. ``scheme="strang"`` for ``"ksl"``, ``tableau="rk4"``
        for ``"projected_rk"``); an option the method does not take is an error.

    Returns
    -------
    LowRankSolution
    """
    from .adaptive import StepSizeController, solve_adaptive  # (imports this module)

    if isinstance(h, StepSizeController):
        resolve_threads(threads)  # a bad value (or DLRA_NUM_THREADS) fails here, by name
        with blas_threads(threads, _state_work(_work_items(Y0))):
            return solve_adaptive(F, Y0, t_span, h, method, t_eval=t_eval, rank=rank, theta=theta,
                                  truncation=truncation, substep=substep, progress=progress, max_norm=max_norm,
                                  step_callback=step_callback, **options)
    integrator = make_integrator(method, substep=substep, truncation=truncation, theta=theta, **options)
    name = integrator.name
    resolve_threads(threads)  # a bad value (or DLRA_NUM_THREADS) fails here, by name

    # ---- t_span, h, t_eval, save
    t0, t1 = _check_t_span(t_span)
    h = check_real(h, "h", positive=True)
    if (t1 - t0) / h > MAX_STEPS:
        raise ValueError(f"h = {h:g} needs {math.ceil((t1 - t0) / h):.3g} steps on t_span = ({t0:g}, {t1:g}), "
                         f"more than {MAX_STEPS:,}: h is too small")
    if t_eval is not None:
        t_eval = _check_t_eval(t_eval, t0, t1)
    if save is not None:
        if save not in ("all", "last"):
            raise ValueError(f"save must be 'all' or 'last', got {save!r}")
        if t_eval is not None:
            raise ValueError("save: give either t_eval or save, not both")
    if not (max_norm is None or isinstance(max_norm, str) and max_norm == "auto"):
        max_norm = check_real(max_norm, "max_norm", positive=True)

    # ---- Y0
    items, multi = _initial_state(Y0, integrator, rank, theta)
    field = VectorField(F, multi, [item.shape for item in items])
    norm0 = _state_norm(items, orthonormal=False)
    detector = BlowUpDetector(norm0, max_norm=max_norm, growth_limit=growth_limit)

    grid = _step_grid(t0, t1, h, t_eval)
    save_all = t_eval is None and save != "last"
    if save_all and (len(grid) * _state_bytes(items)) > SAVE_WARN_BYTES:
        warnings.warn(f"save: keeping all {len(grid)} states needs about "
                      f"{len(grid) * _state_bytes(items) / 2**30:.1f} GiB (more at higher ranks); "
                      "pass t_eval= or save='last' to keep only what you need", stacklevel=2)
    lr = lowrank_indices(items)
    t_saved, Y_saved = [], []
    if save_all or (t_eval is not None and np.isclose(t_eval[0], t0, rtol=0, atol=1e-12 * max(1.0, abs(t0)))):
        t_saved.append(t0)
        Y_saved.append(from_items(items, multi))
    eval_set = set() if t_eval is None else set(t_eval.tolist())
    ranks = [[items[k].rank for k in lr]]
    discarded = []
    status, message = 0, "the solver successfully reached the end of the integration interval"
    limits = contextlib.ExitStack()
    limits.enter_context(blas_threads(threads, _state_work(items)))
    start = time.perf_counter()
    t = t0
    Y = from_items(items, multi)
    bar = progress_bar(total=len(grid) - 1, enabled=progress, desc=f"dlra {name}", leave=False)
    nsteps = 0
    orthonormal = integrator.orthonormal_factors
    try:
        for n in range(len(grid) - 1):
            t_next = grid[n + 1]
            try:
                new = integrator.step(field, t, Y, t_next - t)
                new_items, _ = as_items(new, name="Y")
                with np.errstate(over="ignore", invalid="ignore"):
                    detector.check(_state_norm(new_items, orthonormal), n + 1, t_next)
            except BlowUpError as err:
                status, message = -2, f"blow-up at step {n + 1} (t = {t_next:.6g}): {err}"
                break
            except (NonFiniteError, np.linalg.LinAlgError) as err:
                status = -1
                message = f"step {n + 1} from t = {t:.6g} to t = {t_next:.6g} failed: {err}"
                break
            Y, t = new, t_next
            nsteps += 1
            record = integrator.last_step
            ranks.append(list(record.ranks))
            discarded.append(list(record.discarded))
            if save_all or t in eval_set:
                t_saved.append(t)
                Y_saved.append(Y)
            bar.update(1)
            if step_callback is not None and step_callback(t, Y, record):
                status, message = 1, f"stopped by step_callback at t = {t:.6g}"
                break
    finally:
        bar.close()
        limits.close()
    if save == "last" and (not t_saved or t_saved[-1] != t):
        t_saved.append(t)
        Y_saved.append(Y)
    return LowRankSolution(
        t=np.array(t_saved), Y=Y_saved, t_steps=np.array([t0] + list(grid[1:nsteps + 1])),
        ranks=np.array(ranks, dtype=int), discarded=discarded, nfev=field.nfev, nsteps=nsteps,
        status=status, message=message, method=name, wall_time=time.perf_counter() - start,
        time_in_F=field.time, integrator=integrator)
