"""Command line: ``dlra demo | compare | figures | train``.

``dlra demo`` is the main job of the README: it runs offline on a fresh machine (reference problems
and the MNIST subset embedded in the package) and writes its results under ``--out``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


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
    try:
        from tqdm import tqdm
        iterator = tqdm(COMPARED, desc="methods", disable=not progress)
    except ImportError:  # pragma: no cover
        iterator = COMPARED
    for method, options in iterator:
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


def _cmd_compare(args):
    import dlra

    problem = dlra.problems.RotatingMatrix(n=args.n, rank=args.rank, decay=args.decay)
    best = problem.best_approximation_error(1.0, args.rank)
    print(f"Rotating matrix (Koch–Lubich), n = {args.n}, rank {args.rank}, σ_j = eᵗ {args.decay}^-j, h = {args.h}, RK4 substeps")
    rows = compare_methods(problem, h=args.h)
    print(_format_table(rows, best))
    print(f"best rank-{args.rank} approximation error at t = 1: {best:.3e} (the plateau of every rank-{args.rank} method)")
    if args.out:
        from .io import write_csv
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "compare_methods.csv", rows)
        print(f"wrote {out / 'compare_methods.csv'}")
    return 0




def _cmd_demo(args):
    start = time.perf_counter()
    out = Path(args.out)
    print("== 1/3 every integrator on a reference problem ==")
    _cmd_compare(argparse.Namespace(n=100, rank=10, decay=2.0, h=0.05, out=str(out)))
    print("\n== 2/3 theorem checks: regenerating the figures (quick mode) ==")
    try:
        from . import figures
    except ImportError:
        print("(figures module not available)")
    else:
        figures.main(["--out", str(out / "figures"), "--quick"])
    print("\n== 3/3 dynamical low-rank training on the embedded MNIST subset ==")
    try:
        from .nn import cli as nn_cli
    except ImportError:
        print("(training module not available)")
    else:
        nn_cli.main(["--epochs", "5", "--tau", "0.1", "--out", str(out / "train"), "--data-dir", "embedded"])
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s; results under {out}/")
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="dlra", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the main job: compare integrators, regenerate figures, train briefly")
    p.add_argument("--out", default="dlra-demo", help="output directory (default: dlra-demo)")
    p = sub.add_parser("compare", help="integrate a reference problem with every method, print a table")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--rank", type=int, default=10)
    p.add_argument("--decay", type=float, default=2.0)
    p.add_argument("--h", type=float, default=0.05)
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
    if args.command == "demo":
        return _cmd_demo(args)
    if args.command == "compare":
        return _cmd_compare(args)
    parser.error(f"unknown command {args.command}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
