"""Command line: ``dlra demo | compare | figures | train``.

``dlra demo`` is the main job of the README: it runs offline on a fresh machine (reference problems
and the MNIST subset embedded in the package) and writes its results under ``--out``.
"""
from __future__ import annotations

import argparse
import math
import sys
import time

from .cli_support import CommandError, CommandParser, report, writable_dir
from .io import write_csv
from .progress import progress_bar

__all__ = ["main", "compare_methods"]

COMPARED = [
    ("projected_euler", {}), ("projected_rk", {"tableau": "rk2"}), ("ksl", {}), ("ksl", {"scheme": "strang"}),
    ("bug", {}), ("augmented_bug", {}), ("adaptive_bug", {"theta": 1e-4}), ("parallel_bug", {"theta": 1e-4}),
    ("midpoint_bug", {}), ("naive", {}), ("full", {}),
]


def compare_methods(problem=None, h=0.05, t_end=1.0, progress=True):
    """Integrate a reference problem with every method; return a list of result rows."""
    import dlra

    if problem is None:
        problem = dlra.problems.RotatingMatrix(n=100, rank=10, decay=2.0)
    rows = []
    for method, options in progress_bar(COMPARED, enabled=progress, desc="methods"):
        label = method + "".join(f" {k}={v}" for k, v in options.items())
        sol = dlra.solve(problem.F, problem.Y0, (0.0, t_end), h, method=method, t_eval=[t_end], **options)
        error = problem.error(sol.Y[-1], t_end) if sol.success else float("nan")
        rows.append({"method": label, "status": sol.status, "error": error,
                     "rank": int(sol.ranks[-1].max()) if sol.ranks.size else min(problem.shape),
                     "nfev": sol.nfev, "seconds": sol.wall_time})
    return rows


def _format_table(rows, best):
    lines = [f"{'method':32s} {'status':>6s} {'error at t=1':>13s} {'error/best':>10s} {'rank':>5s} {'F calls':>8s} {'time [s]':>9s}",
             "-" * 90]
    for r in rows:
        lines.append(f"{r['method']:32s} {r['status']:6d} {r['error']:13.3e} {r['error'] / best:10.2f} {r['rank']:5d} "
                     f"{r['nfev']:8d} {r['seconds']:9.3f}")
    return "\n".join(lines)


def _check_compare(args):
    if args.n < 2:
        raise CommandError(f"--n must be ≥ 2, got {args.n}")
    if not 1 <= args.rank <= args.n:
        raise CommandError(f"--rank must be in [1, --n = {args.n}], got {args.rank}")
    if not (math.isfinite(args.decay) and args.decay > 1):
        raise CommandError(f"--decay must be a finite number > 1 (σ_j = decay^-j), got {args.decay}")
    if not (math.isfinite(args.h) and 0 < args.h <= 1):
        raise CommandError(f"--h must be in (0, 1] (the run ends at t = 1), got {args.h}")


def _cmd_compare(args):
    import dlra

    _check_compare(args)
    out = writable_dir(args.out, "--out") if args.out else None
    problem = dlra.problems.RotatingMatrix(n=args.n, rank=args.rank, decay=args.decay)
    best = problem.best_approximation_error(1.0, args.rank)
    print(f"Rotating matrix (Koch–Lubich), n = {args.n}, rank {args.rank}, σ_j = eᵗ {args.decay}^-j, h = {args.h}, RK4 substeps")
    rows = compare_methods(problem, h=args.h)
    print(_format_table(rows, best))
    print(f"best rank-{args.rank} approximation error at t = 1: {best:.3e} (the plateau of every rank-{args.rank} method)")
    if out is not None:
        write_csv(out / "compare_methods.csv", rows)
        print(f"wrote {out / 'compare_methods.csv'}")
    return 0


def _cmd_demo(args):
    start = time.perf_counter()
    out = writable_dir(args.out, "--out")  # before any computation
    print("== 1/3 every integrator on a reference problem ==")
    _cmd_compare(argparse.Namespace(n=100, rank=10, decay=2.0, h=0.05, out=str(out)))
    print("\n== 2/3 theorem checks: regenerating the figures (quick mode) ==")
    from . import figures

    status = figures.main(["--out", str(out / "figures"), "--quick"])
    if status:
        return status
    print("\n== 3/3 dynamical low-rank training on the embedded MNIST subset ==")
    from .nn import cli as nn_cli

    status = nn_cli.main(["--epochs", "5", "--tau", "0.1", "--out", str(out / "train"), "--data-dir", "embedded"])
    if status:
        return status
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s; results under {out}/")
    return 0


def main(argv=None):
    """Entry point of ``dlra``; returns the exit status; a user error is printed as the one line
    ``dlra CMD: error: …`` naming the flag or file and raises ``SystemExit(2)``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = CommandParser(prog="dlra", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    p = sub.add_parser("demo", help="the main job: compare integrators, regenerate figures, train briefly")
    p.add_argument("--out", default="dlra-demo", help="output directory (default: dlra-demo)")
    p = sub.add_parser("compare", help="integrate a reference problem with every method, print a table")
    p.add_argument("--n", type=int, default=100, help="matrix size n (n × n)")
    p.add_argument("--rank", type=int, default=10, help="rank of every method (1 ≤ rank ≤ n)")
    p.add_argument("--decay", type=float, default=2.0, help="singular values σ_j = eᵗ decay^-j (decay > 1)")
    p.add_argument("--h", type=float, default=0.05, help="step size, 0 < h ≤ 1")
    p.add_argument("--out", default=None, help="also write the table as CSV here")
    sub.add_parser("figures", help="regenerate the paper figures (see `dlra figures --help`)", add_help=False)
    sub.add_parser("train", help="train an MLP with DLRT (see `dlra train --help`)", add_help=False)
    if argv and argv[0] == "figures":  # these two parse their own options
        from . import figures
        return figures.main(argv[1:])
    if argv and argv[0] == "train":
        from .nn import cli as nn_cli
        return nn_cli.main(argv[1:])
    args = parser.parse_args(argv)
    command = _cmd_demo if args.command == "demo" else _cmd_compare
    try:
        return command(args)
    except CommandError as exc:
        raise SystemExit(report(f"dlra {args.command}", exc))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
