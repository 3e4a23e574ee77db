"""Time one step of each integrator on the Lyapunov operator problem and split it into F / QR+SVD / other.

The problem is :class:`dlra.problems.Lyapunov` (Ẋ = AX + XA + C, A the sparse 1-D Laplacian),
whose F is a ``scipy.sparse.linalg.LinearOperator`` applied only to bases. For every n, every
method takes the same step from Y0 (rank r) with step size h. The split uses
:mod:`dlra.timing`:

* **F**: the user callback and the products F V, Fᴴ U, Uᴴ F V (:class:`dlra.field.FieldValue`);
* **QR/SVD**: :func:`dlra.linalg.orth_with_r` and the core SVD of :func:`dlra.linalg.truncated_svd`;
* **products**: the integrators' own dense products (basis products such as U0 S0, U1ᴴ U0, Û P,
  the augmented S-step's start, and the substep solver's axpys), timed as ``"products"``;
* **other**: step total − F − QR/SVD − products (copies, argument and finiteness checks, Python
  bookkeeping).

Each method is warmed up once, then the methods are timed round-robin (``--repeat`` rounds),
so slow drifts of a shared machine hit every method alike. Reported: the median step time and
the F / QR+SVD / other split of the repetition with the median time.

Usage::

    python benchmarks/bench_integrators.py [--sizes 1000 4000 16000] [--rank 20] [--repeat 5]
                                          [--out benchmarks] [--substeps euler rk4] [--threads 1]

Writes ``<out>/integrator_step.csv`` (raw numbers), ``<out>/integrator_step.png`` (stacked bars
at the largest n) and prints Markdown tables plus the machine description.

BLAS threads are fixed with ``--threads`` (default 1) *before* numpy is imported. glibc's malloc
is told not to return freed memory to the OS between steps (``mallopt``; ``--no-malloc-tuning``
turns this off): otherwise every large temporary of a step is a fresh mmap whose page faults cost
as much as the arithmetic, by an amount that depends on what the process allocated before.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000], help="values of n")
    p.add_argument("--rank", type=int, default=20, help="rank r of Y0 (default 20)")
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions per method (median)")
    p.add_argument("--out", default="benchmarks", help="folder for the CSV and the figure")
    p.add_argument("--substeps", nargs="+", default=["euler", "rk4"], choices=["euler", "rk4"],
                   help="substep solvers (one explicit Euler substep, classical RK4)")
    p.add_argument("--h", type=float, default=1e-3, help="step size (default 1e-3)")
    p.add_argument("--tau", type=float, default=5e-6,
                   help="relative tolerance of the rank-adaptive methods, ϑ = tau·‖Ŝ‖_F (default 5e-6 "
                        "keeps the rank at 20 for this problem and h)")
    p.add_argument("--full-max-n", type=int, default=1000,
                   help="time the dense full-rank reference only up to this n (default 1000)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0 leaves them alone)")
    p.add_argument("--no-malloc-tuning", action="store_true", help="leave glibc's malloc thresholds alone")
    p.add_argument("--profile", metavar="METHOD",
                   help="instead of the tables, cProfile 20 steps of METHOD at the largest n")
    p.add_argument("--no-files", action="store_true", help="print only, write no CSV/figure")
    return p.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads > 0:  # must happen before numpy loads its BLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import csv  # noqa: E402
import ctypes  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

try:
    import dlra
except ImportError:  # running from a source checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    import dlra
from dlra import timing  # noqa: E402
from dlra.field import VectorField  # noqa: E402

# method key -> (label, factory(substep, tau)); the projected methods take no substep solver
METHODS = {
    "projected_euler": ("projected Euler", lambda s, tau: dlra.ProjectedEuler()),
    "projected_rk": ("projected RK2", lambda s, tau: dlra.ProjectedRK("rk2")),
    "ksl": ("KSL (Lie)", lambda s, tau: dlra.ProjectorSplitting(substep=s)),
    "ksl_strang": ("KSL (Strang)", lambda s, tau: dlra.ProjectorSplitting(substep=s, scheme="strang")),
    "bug": ("BUG", lambda s, tau: dlra.BUG(substep=s)),
    "augmented_bug": ("augmented BUG (fixed r)", lambda s, tau: dlra.AugmentedBUG(substep=s)),
    "adaptive_bug": ("rank-adaptive BUG", lambda s, tau: dlra.AdaptiveBUG(
        substep=s, truncation=dlra.RelativeTolerance(tau))),
    "parallel_bug": ("parallel BUG", lambda s, tau: dlra.ParallelBUG(
        substep=s, truncation=dlra.RelativeTolerance(tau))),
    "midpoint_bug": ("midpoint BUG", lambda s, tau: dlra.MidpointBUG(substep=s)),
    "naive": ("naive factor ODEs", lambda s, tau: dlra.NaiveFactorODE(substep=s)),
    "full": ("full rank (dense)", lambda s, tau: dlra.FullRank(substep=s)),
}
SUBSTEPS = {"euler": lambda: dlra.ExplicitEuler(1), "rk4": lambda: dlra.RungeKutta("rk4", 1)}


# ---------------------------------------------------------------------------------- machine
def tune_malloc():
    """Keep freed memory in the heap (glibc only); returns a description."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "not glibc, untouched"
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    ok1 = libc.mallopt(M_MMAP_THRESHOLD, 32 * 2 ** 20)  # the largest value glibc accepts on 64 bit
    ok2 = libc.mallopt(M_TRIM_THRESHOLD, 2 ** 30)
    return f"glibc mallopt(M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=1 GiB) -> {ok1}, {ok2}"


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('threading_layer')}, "
                         f"{d.get('num_threads')} threads, {d.get('architecture')})" for d in threadpool_info())
    except ImportError:
        pass
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        desc = f"{cfg.get('name')} {cfg.get('version')}"
    except Exception:  # older numpy
        desc = "unknown BLAS"
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    return f"{desc} (OPENBLAS_NUM_THREADS={threads}; threadpoolctl not installed)"


def machine_info(malloc):
    from _machine import cpu_model

    return {
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": blas_info(),
        "malloc": malloc,
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------- timing
def time_step(integrator, field, Y0, h):
    previous = timing.enable()  # the QR/SVD and product split (off by default)
    try:
        timing.reset()
        start = time.perf_counter()
        Y1 = integrator.step(field, 0.0, Y0, h)
        total = time.perf_counter() - start
        snap = timing.snapshot()
    finally:
        timing.enable(previous)
    return total, snap["F"], snap["linalg"], snap["products"], Y1


def bench_size(n, rank, substep_name, repeat, h, tau, full_max_n, methods, progress):
    problem = dlra.problems.Lyapunov(n=n, rank=rank)
    Y0 = problem.Y0
    cases = {}
    for key in methods:
        if key == "full" and n > full_max_n:
            continue
        label, factory = METHODS[key]
        integrator = factory(SUBSTEPS[substep_name](), tau)
        y0 = Y0.to_dense() if key == "full" else Y0
        field = VectorField(problem.F, False, [Y0.shape])
        try:
            Y1 = integrator.step(field, 0.0, y0, h)  # warm-up, outside the timed region
        except Exception as exc:  # noqa: BLE001 -- a failing method is reported, not fatal
            print(f"  {key} failed at n={n}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        nfev0 = field.nfev
        cases[key] = dict(label=label, integrator=integrator, field=field, y0=y0, runs=[],
                          nfev=nfev0, rank=getattr(Y1, "rank", min(Y1.shape)))
        progress.update(0)
    for _ in range(repeat):
        for key, case in cases.items():  # round-robin: drifts of a shared machine hit all alike
            total, f, la, pr, _ = time_step(case["integrator"], case["field"], case["y0"], h)
            case["runs"].append((total, f, la, pr))
            progress.update(1)
    rows = []
    for key, case in cases.items():
        runs = sorted(case["runs"])
        total, f, la, pr = runs[(len(runs) - 1) // 2]  # the repetition with the (lower) median time
        other = total - f - la - pr
        rows.append(dict(n=n, rank=rank, substep=substep_name, method=key, label=case["label"],
                         repeat=len(runs), step_ms=1e3 * total, min_ms=1e3 * runs[0][0],
                         F_ms=1e3 * f, linalg_ms=1e3 * la, products_ms=1e3 * pr, other_ms=1e3 * other,
                         F_pct=100 * f / total, linalg_pct=100 * la / total, products_pct=100 * pr / total,
                         other_pct=100 * other / total,
                         nfev=case["nfev"], out_rank=case["rank"]))
    bug = next((r["step_ms"] for r in rows if r["method"] == "bug"), None)
    for r in rows:
        r["ratio_to_bug"] = r["step_ms"] / bug if bug else float("nan")
    return rows


# ---------------------------------------------------------------------------------- output
def atomic_write(path, write):
    """Write through a temporary file in the same folder, then os.replace (dlra.io)."""
    from dlra.io import atomic_open

    with atomic_open(path, "wb") as fh:
        write(fh)


CSV_FIELDS = ["n", "rank", "substep", "method", "repeat", "step_ms", "min_ms", "F_ms", "linalg_ms",
              "products_ms", "other_ms", "F_pct", "linalg_pct", "products_pct", "other_pct", "ratio_to_bug",
              "nfev", "out_rank"]


def write_csv(path, rows):
    def write(fh):
        import io
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        fh.write(text.getvalue().encode())
    atomic_write(path, write)


def markdown_table(rows):
    lines = ["| method | step [ms] | F % | QR/SVD % | products % | other % | ratio to BUG | F evals | rank out |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['step_ms']:.2f} | {r['F_pct']:.0f} | {r['linalg_pct']:.0f} | "
                     f"{r['products_pct']:.0f} | {r['other_pct']:.0f} | {r['ratio_to_bug']:.2f} | {r['nfev']} | "
                     f"{r['out_rank']} |")
    return "\n".join(lines)


def write_figure(path, rows, n):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    substeps = list(dict.fromkeys(r["substep"] for r in rows if r["n"] == n))
    fig, axes = plt.subplots(1, len(substeps), figsize=(6.5 * len(substeps), 4.8), squeeze=False)
    for ax, sub in zip(axes[0], substeps):
        sel = [r for r in rows if r["n"] == n and r["substep"] == sub]
        x = np.arange(len(sel))
        f = np.array([r["F_ms"] for r in sel])
        la = np.array([r["linalg_ms"] for r in sel])
        pr = np.array([r["products_ms"] for r in sel])
        other = np.array([max(r["other_ms"], 0.0) for r in sel])
        ax.bar(x, f, label="F (callback, F V, Fᴴ U)", color="tab:blue")
        ax.bar(x, la, bottom=f, label="QR / SVD", color="tab:orange")
        ax.bar(x, pr, bottom=f + la, label="basis products, substep arithmetic", color="tab:green")
        ax.bar(x, other, bottom=f + la + pr, label="other (copies, checks, Python)", color="tab:gray")
        ax.set_xticks(x, [r["label"] for r in sel], rotation=40, ha="right", fontsize=8)
        ax.set_ylabel("one step [ms] (stacked)")
        ax.set_title(f"Lyapunov, n = {n}, r = {sel[0]['rank'] if sel else ''}, substep {sub}")
        ax.legend(fontsize=8)
    fig.tight_layout()

    def write(fh):
        fig.savefig(fh, format="png", dpi=120)
    atomic_write(path, write)
    plt.close(fig)


def profile(args):
    import cProfile
    import pstats

    n = max(args.sizes)
    problem = dlra.problems.Lyapunov(n=n, rank=args.rank)
    integrator = METHODS[args.profile][1](SUBSTEPS[args.substeps[0]](), args.tau)
    field = VectorField(problem.F, False, [problem.Y0.shape])
    integrator.step(field, 0.0, problem.Y0, args.h)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        integrator.step(field, 0.0, problem.Y0, args.h)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main(args):
    from dlra.progress import progress_bar

    malloc = "untouched (--no-malloc-tuning)" if args.no_malloc_tuning else tune_malloc()
    if args.profile:
        return profile(args)
    info = machine_info(malloc)
    methods = list(METHODS)
    n_work = sum(args.repeat * sum(1 for m in methods if m != "full" or n <= args.full_max_n)
                 for n in args.sizes for _ in args.substeps)
    rows = []
    with progress_bar(total=n_work, desc="integrator steps", unit="step") as progress:
        for sub in args.substeps:
            for n in args.sizes:
                progress.set_postfix(n=n, substep=sub)
                rows.extend(bench_size(n, args.rank, sub, args.repeat, args.h, args.tau,
                                       args.full_max_n, methods, progress))
    command = "python benchmarks/bench_integrators.py " + " ".join(sys.argv[1:])
    print(f"\nCommand: {command.strip()}")
    for key, value in info.items():
        print(f"- {key}: {value}")
    print(f"- problem: dlra.problems.Lyapunov(n, rank={args.rank}), one step from Y0 with h = {args.h:g}; "
          f"rank-adaptive methods: RelativeTolerance(tau={args.tau:g})")
    for sub in args.substeps:
        for n in args.sizes:
            sel = [r for r in rows if r["n"] == n and r["substep"] == sub]
            print(f"\n### n = {n}, r = {args.rank}, substep = {sub} (median of {args.repeat})\n")
            print(markdown_table(sel))
    nmax = max(args.sizes)
    print("\nHeadline (n = %d):" % nmax)
    for sub in args.substeps:
        sel = {r["method"]: r for r in rows if r["n"] == nmax and r["substep"] == sub}
        if "bug" in sel and "adaptive_bug" in sel:
            print(f"- substep {sub}: rank-adaptive BUG / BUG = {sel['adaptive_bug']['ratio_to_bug']:.2f} "
                  f"(target < 3); other % of the BUG step = {sel['bug']['other_pct']:.1f} "
                  f"(rank-adaptive BUG {sel['adaptive_bug']['other_pct']:.1f}; max over methods "
                  f"{max(r['other_pct'] for r in sel.values()):.1f}; target < 10)")
    if not args.no_files:
        write_csv(os.path.join(args.out, "integrator_step.csv"), rows)
        write_figure(os.path.join(args.out, "integrator_step.png"), rows, nmax)
        print(f"\nwrote {os.path.join(args.out, 'integrator_step.csv')} and "
              f"{os.path.join(args.out, 'integrator_step.png')}")
    return rows


if __name__ == "__main__":
    main(ARGS)
