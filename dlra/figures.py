"""Registry and runner of the paper figures (``dlra figures [--quick] [--out DIR]``).

The figure scripts live in ``paper_figures/`` at the root of the source tree, one per figure; each
defines ``make(out_dir, quick=False) -> list of written paths`` and writes a PNG, a PDF and the CSV
of the numbers behind the figure, using only the public API. An installed wheel carries them as
the package ``dlra.paper_figures`` (``setup.py`` maps the folder onto it). This module finds the
scripts (``--scripts DIR`` or the environment variable ``DLRA_FIGURES_DIR`` when given — an invalid
one is an error, never silently replaced —, else the installed ``dlra.paper_figures``, the source
tree next to the package, ``./paper_figures``) and runs them with a progress bar.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

from .cli_support import CommandError, CommandParser, report, writable_dir
from .progress import progress_bar

__all__ = ["FIGURES", "find_scripts_dir", "load_figure", "generate_all", "main"]

#: figure name -> script file, in the order they are generated
FIGURES = {
    "error_vs_h": "fig_error_vs_h.py",
    "v_shape": "fig_v_shape.py",
    "bound_fit": "fig_bound_fit.py",
    "robustness": "fig_robustness.py",
    "rank_over_time": "fig_rank_over_time.py",
    "schrodinger_conservation": "fig_schrodinger_conservation.py",
    "descent": "fig_descent.py",
    "landau_damping": "fig_landau_damping.py",
    "adaptive_work_precision": "adaptive_work_precision.py",
    "timings": "fig_timings.py",
}


def _has_scripts(directory):
    return directory is not None and (Path(directory) / FIGURES["error_vs_h"]).is_file()


def _installed_scripts_dir():
    """The folder of the installed package ``dlra.paper_figures`` (None when not installed)."""
    try:
        spec = importlib.util.find_spec("dlra.paper_figures")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def find_scripts_dir(scripts_dir=None):
    """The directory holding the figure scripts.

    ``scripts_dir``, else the environment variable ``DLRA_FIGURES_DIR``, when given, must hold them
    (``FileNotFoundError`` naming it otherwise); else the installed package ``dlra.paper_figures``,
    the source tree next to the package or ``./paper_figures``."""
    for given, what in ((scripts_dir, "scripts directory"),
                        (os.environ.get("DLRA_FIGURES_DIR") or None, "DLRA_FIGURES_DIR")):
        if given is None:
            continue
        if not _has_scripts(given):
            state = "holds no figure scripts" if Path(given).is_dir() else "is not a directory"
            raise FileNotFoundError(f"{what} {os.fspath(given)} {state} (expected {FIGURES['error_vs_h']} "
                                    "and the other scripts of paper_figures/)")
        return Path(given).resolve()
    for candidate in (_installed_scripts_dir(), Path(__file__).resolve().parent.parent / "paper_figures",
                      Path.cwd() / "paper_figures"):
        if _has_scripts(candidate):
            return candidate.resolve()
    raise FileNotFoundError("cannot find the figure scripts (neither the installed dlra.paper_figures nor "
                            "paper_figures/ of the source tree); pass --scripts DIR or set DLRA_FIGURES_DIR")


def load_figure(name, scripts_dir=None):
    """Import the script of one figure as a module."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; choose from {', '.join(FIGURES)}")
    directory = find_scripts_dir(scripts_dir)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    path = directory / FIGURES[name]
    spec = importlib.util.spec_from_file_location(f"paper_figures_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_all(out_dir="figures", quick=False, progress=True, only=None, scripts_dir=None):
    """Regenerate the figures (all, or the names in ``only``); returns {name: [paths]}."""
    import matplotlib
    matplotlib.use("Agg")

    names = list(FIGURES) if not only else list(only)
    for n in names:
        if n not in FIGURES:
            raise ValueError(f"unknown figure {n!r}; choose from {', '.join(FIGURES)}")
    find_scripts_dir(scripts_dir)  # fail before any work
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    bar = progress_bar(names, enabled=progress, desc="dlra figures", unit="figure")
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        written[name] = list(load_figure(name, scripts_dir).make(out_dir, quick=quick))
        if progress:
            bar.write(f"{name}: {len(written[name])} files in {time.perf_counter() - start:.1f} s")
    return written


def build_parser():
    """The parser of ``dlra figures`` (errors: one line, exit 2)."""
    parser = CommandParser(prog="dlra figures", description="Regenerate every paper figure (PNG, PDF and CSV).")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds per figure")
    parser.add_argument("--out", default="figures", help="output directory (default: ./figures)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(FIGURES),
                        help=f"regenerate only these figures ({', '.join(FIGURES)})")
    parser.add_argument("--scripts", default=None,
                        help="directory of the figure scripts (default: DLRA_FIGURES_DIR, else the installed ones)")
    parser.add_argument("--list", action="store_true", help="list the figures and their scripts, and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Command line: ``dlra figures [--quick] [--out DIR] [--only NAME ...] [--scripts DIR] [--list]``;
    returns the exit status; a user error is printed as one line naming the flag or folder and
    raises ``SystemExit(2)``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        directory = find_scripts_dir(args.scripts)
    except FileNotFoundError as exc:
        raise SystemExit(report(parser.prog, f"--scripts: {exc}" if args.scripts is not None else exc))
    if args.list:
        for name, script in FIGURES.items():
            print(f"{name:26s} {directory / script}")
        return 0
    try:
        writable_dir(args.out, "--out")
    except CommandError as exc:
        raise SystemExit(report(parser.prog, exc))
    written = generate_all(args.out, quick=args.quick, progress=not args.no_progress, only=args.only,
                           scripts_dir=directory)
    total = sum(len(v) for v in written.values())
    print(f"wrote {total} files for {len(written)} figures to {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
