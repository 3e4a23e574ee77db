"""Shared command line of the figure scripts (public API only)."""
from __future__ import annotations

import argparse
import os


def setup_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.framealpha": 0.85})
    return plt


def save_with_csv(fig, records, out_dir, name, extra=None):
    """Write ``<name>.png``/``.pdf`` and the CSV of ``records`` (and ``<name><suffix>.csv`` for each
    ``suffix: rows`` of ``extra``); close the figure; return the paths."""
    import matplotlib.pyplot as plt

    import dlra.diagnostics as dg
    import dlra.plotting as dp

    base = os.path.join(out_dir, name)
    paths = dp.save(fig, base)
    plt.close(fig)
    paths.append(dg.to_csv(records, base + ".csv"))
    for suffix, rows in (extra or {}).items():
        paths.append(dg.to_csv(rows, base + suffix + ".csv"))
    return paths


def cli(make, name, argv=None):
    parser = argparse.ArgumentParser(description=f"Regenerate the figure {name!r} (PNG, PDF, CSV).")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds; for tests)")
    parser.add_argument("--out", default="figures", help="output directory (default: figures)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for path in make(args.out, quick=args.quick):
        print(path)
