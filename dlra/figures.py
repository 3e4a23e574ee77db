"""Registry and runner of the paper figures (``dlra figures [--quick] [--out DIR]``).

The figure scripts live in ``paper_figures/`` at the root of the source tree, one per figure; each
defines ``make(out_dir, quick=False) -> list of written paths`` and writes a PNG, a PDF and the CSV
of the numbers behind the figure, using only the public API. This module finds the scripts
(``--scripts DIR``, the environment variable ``DLRA_FIGURES_DIR``, ``./paper_figures`` or the
source tree next to the package) and runs them with a progress bar.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

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
    "timings": "fig_timings.py",
}


def find_scripts_dir(scripts_dir=None):
    """The directory holding the figure scripts."""
    candidates = [scripts_dir, os.environ.get("DLRA_FIGURES_DIR"), Path.cwd() / "paper_figures",
                  Path(__file__).resolve().parent.parent / "paper_figures"]
    for c in candidates:
        if c and (Path(c) / FIGURES["error_vs_h"]).is_file():
            return Path(c).resolve()
    raise FileNotFoundError("cannot find the paper_figures/ scripts; run from the source tree, pass "
                            "--scripts DIR or set DLRA_FIGURES_DIR")


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
    from tqdm import tqdm

    names = list(FIGURES) if not only else list(only)
    for n in names:
        if n not in FIGURES:
            raise ValueError(f"unknown figure {n!r}; choose from {', '.join(FIGURES)}")
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    bar = tqdm(names, desc="dlra figures", unit="figure", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        written[name] = list(load_figure(name, scripts_dir).make(out_dir, quick=quick))
        if progress:
            bar.write(f"{name}: {len(written[name])} files in {time.perf_counter() - start:.1f} s")
    return written


def main(argv=None):
    """Command line: ``dlra figures [--quick] [--out DIR] [--only NAME ...] [--list]``."""
    parser = argparse.ArgumentParser(prog="dlra figures",
                                     description="Regenerate every paper figure (PNG, PDF and CSV).")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds per figure")
    parser.add_argument("--out", default="figures", help="output directory (default: ./figures)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="regenerate only these figures")
    parser.add_argument("--scripts", default=None, help="directory of the figure scripts")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.list:
        for name, script in FIGURES.items():
            print(f"{name:26s} paper_figures/{script}")
        return 0
    written = generate_all(args.out, quick=args.quick, progress=not args.no_progress, only=args.only,
                           scripts_dir=args.scripts)
    total = sum(len(v) for v in written.values())
    print(f"wrote {total} files for {len(written)} figures to {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
