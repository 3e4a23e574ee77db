"""Parameter sweeps (methods × h × ϑ × rank or ε), run in parallel through ``joblib``.

Every point of a sweep is independent, so a sweep is one ``joblib.Parallel`` map. The default follows
joblib's configuration (sequential outside one); ``n_jobs=-1`` uses every core with joblib's process
backend (pass a problem *factory*, e.g. ``functools.partial(dlra.problems.RotatingMatrix, n=100)``, so that each
worker builds its own problem). On a cluster, switch the backend without touching the sweep::

    import joblib
    from dask.distributed import Client
    client = Client("scheduler-address:8786")
    with joblib.parallel_config(backend="dask"):
        records = dlra.diagnostics.convergence_sweep(...)

(or pass ``backend="dask"``). Results are a *tidy table*: a list of dicts, one per point, with
the parameters and the measured numbers; :func:`to_csv` writes it (atomically),
:func:`to_structured` turns it into a numpy structured array.
"""
from __future__ import annotations

import csv
import itertools
import math
import os
import time

import numpy as np

from ..lowrank import LowRank
from ..problems.base import as_dense

__all__ = ["grid", "run_sweep", "convergence_sweep", "method_spec", "to_csv", "from_csv",
           "to_structured", "select"]


def grid(**axes):
    """Cartesian product of the axes as a list of dicts: ``grid(h=[.1, .05], theta=[1e-3])``."""
    names = list(axes)
    values = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v] for v in axes.values()]
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def _progress(iterable, total, progress, desc):
    from ..progress import progress_bar

    return progress_bar(iterable, enabled=progress, total=total, desc=desc, leave=False)


def run_sweep(fun, points, *, n_jobs=None, backend=None, progress=False, desc="sweep"):
    """``[dict(p, **fun(**p)) for p in points]`` evaluated through ``joblib.Parallel``.

    ``fun(**point)`` returns a dict of measured values. ``n_jobs`` and ``backend`` ("loky",
    "threading", "multiprocessing", "dask", …) default to joblib's current configuration, so that
    ``with joblib.parallel_config(backend="dask"): ...`` sends the points to a Dask cluster (outside
    any configuration the points run one after the other in this process).
    """
    import joblib

    points = list(points)
    parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
    results = list(_progress(parallel(joblib.delayed(fun)(**p) for p in points), len(points),
                             progress, desc))
    return [dict(p, **r) for p, r in zip(points, results)]


def method_spec(method, label=None, **options):
    """A method of a sweep: ``method_spec("ksl", "KSL Strang", scheme="strang")``."""
    return {"label": label or method, "method": method, "options": options}


def _normalise_methods(methods):
    out = []
    for m in methods:
        if isinstance(m, str):
            out.append(method_spec(m))
        elif isinstance(m, dict):
            out.append({"label": m.get("label", m["method"]), "method": m["method"],
                        "options": dict(m.get("options", {}))})
        else:
            raise TypeError(f"a method must be a name or a method_spec dict, got {type(m).__name__}")
    return out


_PROBLEM_CACHE = {}


def _get_problem(problem):
    if callable(problem) and not hasattr(problem, "F"):
        key = repr(problem)
        if key not in _PROBLEM_CACHE:
            _PROBLEM_CACHE.clear()
            _PROBLEM_CACHE[key] = problem()
        return _PROBLEM_CACHE[key]
    return problem


def _run_point(problem, spec, h, theta, rank, T, substep, Y0, eps_samples, exact_substep, max_rank):
    """One sweep point: solve, then measure error, δ, ε, discarded, ranks."""
    from ..solve import solve
    from ..truncation import AbsoluteTolerance
    from .normal_component import normal_component

    p = _get_problem(problem)
    t0 = float(p.t_span[0]) if hasattr(p, "t_span") else 0.0
    t1 = t0 + T
    if Y0 is None:
        Y0 = p.Y0
    elif callable(Y0):
        Y0 = Y0(p, rank=rank, theta=theta)
    if rank is not None and isinstance(Y0, LowRank) and Y0.rank != rank:
        # the best rank-r approximation of the true initial value (not of the rank-r0 Y0, which
        # would pad a higher rank with zero singular values)
        full = p.Y0_full if hasattr(p, "Y0_full") else p.reference(t0) if hasattr(p, "reference") \
            else as_dense(Y0)
        Y0 = LowRank.from_dense(full, rank=rank)
    elif rank is not None and not isinstance(Y0, LowRank):
        Y0 = LowRank.from_dense(Y0, rank=rank)
    kwargs = dict(spec["options"])
    from ..integrators import METHODS
    # the projected Runge–Kutta methods have no substeps: the sweep's substep applies to the others
    takes_substep = not isinstance(spec["method"], str) or METHODS[spec["method"]].uses_substep
    if substep is not None and takes_substep:
        kwargs["substep"] = substep
    if exact_substep and takes_substep:
        kwargs["substep"] = p.exact_substep()
    if theta is not None and not (isinstance(theta, float) and math.isnan(theta)):
        kwargs["truncation"] = AbsoluteTolerance(theta, max_rank=max_rank)
    n_steps = max(1, int(round(T / h)))
    h_eff = T / n_steps
    eval_times = np.linspace(t0, t1, eps_samples + 1)[1:] if eps_samples else [t1]
    start = time.perf_counter()
    sol = solve(p.F, Y0, (t0, t1), h_eff, method=spec["method"], t_eval=eval_times, **kwargs)
    wall = time.perf_counter() - start
    ref = p.reference
    delta = float(np.linalg.norm(as_dense(Y0) - ref(t0)))
    out = {"h_eff": h_eff, "steps": n_steps, "status": int(sol.status), "nfev": int(sol.nfev),
           "wall_time": wall, "delta": delta}
    if sol.status < 0 or not sol.Y or sol.t[-1] < t1 - 1e-12:
        out.update(error=float("inf"), eps=float("nan"), final_rank=-1, max_rank=-1,
                   truncation_error=float("nan"), best_error=float("nan"))
        return out
    Y1 = sol.Y[-1]
    out["error"] = float(np.linalg.norm(as_dense(Y1) - ref(t1)))
    eps = [normal_component(p.F(t, Y), Y) for t, Y in zip(sol.t, sol.Y)] if eps_samples else []
    out["eps"] = float(max(eps)) if eps else float("nan")
    out["final_rank"] = int(sol.ranks[-1].max())
    out["max_rank"] = int(sol.ranks.max())
    te = sol.truncation_errors
    out["truncation_error"] = float(te.sum()) if te.size else 0.0
    r_best = out["final_rank"]
    out["best_error"] = float(p.best_approximation_error(t1, r_best))
    return out


def convergence_sweep(problem, methods, hs, *, thetas=(None,), ranks=(None,), T=None, substep=None,
                      exact_substep=False, Y0=None, eps_samples=4, max_rank=None, n_jobs=None,
                      backend=None, progress=False, extra=None):
    """Sweep methods × h × ϑ × rank on a reference problem; returns the tidy list of records.

    Parameters
    ----------
    problem : Problem, or a zero-argument factory returning one (use a factory for process
        backends: each worker builds and caches its own problem)
    methods : list of names or :func:`method_spec` dicts
    hs : step sizes (each is rounded to T/round(T/h) so that the steps hit T exactly; the
        record keeps the requested ``h`` and the used ``h_eff``)
    thetas : truncation tolerances ϑ (``AbsoluteTolerance``, capped at ``max_rank``); None for
        fixed-rank methods
    ranks : ranks of the starting value (None: the problem's Y0)
    T : length of the time interval (default: the problem's t_span)
    substep : substep solver for every method, or ``exact_substep=True`` for the problem's
        closed form (data problems)
    Y0 : optional start (LowRank) or ``Y0(problem, rank=, theta=)`` callable
    eps_samples : the normal component ε is the maximum over this many equally spaced times
        (0: not measured)
    extra : dict of constant columns added to every record (e.g. the problem's name)

    Each record holds: label, method, h, h_eff, theta, rank, error (‖Y_N − A(T)‖_F), delta
    (‖Y0 − A(t0)‖_F), eps, truncation_error (Σ of per-step discarded norms), final_rank,
    max_rank, best_error (‖A(T) − T_r(A(T))‖ at the final rank), status, nfev, steps, wall_time.
    """
    probe = _get_problem(problem)
    if T is None:
        T = float(probe.t_span[1] - probe.t_span[0])
    specs = _normalise_methods(methods)
    points = []
    for spec in specs:
        for h, theta, rank in itertools.product(hs, thetas, ranks):
            points.append(dict(spec=spec, h=float(h), theta=theta, rank=rank))

    def fun(spec, h, theta, rank):
        return _run_point(problem, spec, h, theta, rank, T, substep, Y0, eps_samples, exact_substep,
                          max_rank)

    records = run_sweep(fun, points, n_jobs=n_jobs, backend=backend, progress=progress,
                        desc="convergence sweep")
    out = []
    for r in records:
        spec = r.pop("spec")
        row = dict(extra or {})
        row.update(label=spec["label"], method=spec["method"])
        row.update(r)
        row["theta"] = float("nan") if r["theta"] is None else float(r["theta"])
        row["rank"] = -1 if r["rank"] is None else int(r["rank"])
        out.append(row)
    return out


def select(records, **conditions):
    """The records whose columns equal the given values (NaN matches NaN)."""
    def match(rec, key, value):
        v = rec.get(key)
        if isinstance(value, float) and math.isnan(value):
            return isinstance(v, float) and math.isnan(v)
        return v == value
    return [r for r in records if all(match(r, k, v) for k, v in conditions.items())]


# ------------------------------------------------------------------------- tables
def _columns(records):
    cols = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def to_csv(records, path, columns=None):
    """Write the records as CSV (header = union of keys; floats at full precision), atomically
    (:func:`dlra.io.write_csv`); returns the path."""
    from ..io import write_csv

    records = list(records)
    columns = list(columns) if columns is not None else _columns(records)
    path = os.fspath(path)
    write_csv(path, ({k: _fmt(r.get(k, "")) for k in columns} for r in records), columns)
    return path


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def _parse(s):
    if s == "":
        return s
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    if s in ("True", "False"):
        return s == "True"
    return s


def from_csv(path):
    """Read a CSV written by :func:`to_csv` back into records (numbers parsed)."""
    with open(path, newline="") as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def to_structured(records, columns=None):
    """The records as a numpy structured array (numbers as float64/int64, others as str)."""
    records = list(records)
    columns = list(columns) if columns is not None else _columns(records)
    dtypes = []
    for c in columns:
        vals = [r.get(c) for r in records]
        if all(isinstance(v, (bool, np.bool_)) for v in vals):
            dtypes.append((c, bool))
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
            dtypes.append((c, np.int64))
        elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
            dtypes.append((c, np.float64))
        else:
            width = max(1, max(len(str(v)) for v in vals)) if vals else 1
            dtypes.append((c, f"U{width}"))
    arr = np.zeros(len(records), dtype=dtypes)
    for c, dt in dtypes:
        text = isinstance(dt, str)
        arr[c] = [str(r.get(c)) if text else r.get(c) for r in records]
    return arr
