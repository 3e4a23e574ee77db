"""The README's Python training example against ``dlra train`` on the same setting: epoch times.

A notebook user runs the README's example as printed, with BLAS configured however numpy found it;
``dlra train`` runs the same training from the command line. Both are run here as separate
processes (as a user would), interleaved round by round (order alternated), on the same data:

* **README example** — the ``python`` code block of README.md that calls ``Trainer(...)``, executed
  verbatim except ``epochs=5 → epochs=N`` and ``out_dir="run" → a temporary folder``;
* **CLI** — ``python -m dlra.cli train`` with the same network (784-256-256-10, initial rank 64),
  τ = 0.1, Adam, lr 3e-3, batch 256, seed 0, N epochs (progress bars on in both, as printed);
* optionally (``--unlimited-rounds``) **README example, threads=0** — the same code with
  ``Trainer(..., threads=0)``: BLAS left at its default thread count, the behaviour before issue 13.

The environment of every child process is the caller's minus ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``DLRA_NUM_THREADS`` (a fresh notebook), plus
``DLRA_DATA_DIR`` when ``--data-dir`` is given. The compared quantity is the training time per
epoch, the ``seconds`` column of each run's ``history.csv`` (evaluation, start-up and file output
excluded); per round the ratio README / CLI is formed, and the median over rounds is reported.

Usage (from the repository root)::

    python benchmarks/bench_api_vs_cli.py --data-dir ../shared/data/mnist          # 5 rounds, 1 epoch
    python benchmarks/bench_api_vs_cli.py --rounds 1 --train-limit 512 --no-files  # smoke run

Writes ``<out>/api_vs_cli.csv`` (default out: benchmarks/).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, os.pardir))
sys.path.insert(0, HERE)
sys.path.insert(1, ROOT)
from _machine import cpu_model  # noqa: E402

from dlra.io import write_csv  # noqa: E402

CLEARED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "DLRA_NUM_THREADS")
CLI_ARGS = ["--widths", "256", "256", "--rank", "64", "--tau", "0.1", "--optimizer", "adam", "--lr", "3e-3",
            "--batch-size", "256", "--seed", "0", "--no-plot"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=1, help="epochs per run (default 1)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--unlimited-rounds", type=int, default=0,
                   help="rounds that also run the README example with threads=0 (default 0)")
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder (else DLRA_DATA_DIR / the embedded subset)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="first N training images only (both runs; for smoke runs)")
    p.add_argument("--out", default=HERE, help="folder for api_vs_cli.csv (default: benchmarks/)")
    p.add_argument("--no-files", action="store_true", help="print only")
    return p.parse_args(argv)


def readme_example(path=os.path.join(ROOT, "README.md")):
    """The README's ``python`` code block that builds a ``Trainer``."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if "Trainer(" in block and ".fit(" in block:
            return block
    raise RuntimeError("README.md has no python block with Trainer(...) and .fit(...)")


def example_script(epochs, out_dir, train_limit=None, threads0=False):
    code = readme_example()
    code, n_epochs = re.subn(r"epochs=\d+", f"epochs={epochs}", code)
    code, n_out = re.subn(r'out_dir="[^"]*"', f"out_dir={out_dir!r}", code)
    if n_epochs != 1 or n_out != 1:
        raise RuntimeError("the README example no longer has exactly one epochs=… and one out_dir=\"…\"")
    if train_limit is not None:  # same images as the CLI's --train-limit
        code = code.replace("data = load_mnist()", "data = load_mnist()\n" + _limit_code(train_limit), 1)
    if threads0:
        code, n = re.subn(r"Trainer\((.*?)\)", r"Trainer(\1, threads=0)", code, count=1)
        if n != 1:
            raise RuntimeError("cannot add threads=0 to the README example's Trainer(...)")
    return code


def _limit_code(n):
    return (f"data = {{'x_train': data.x_train[:{n}], 'y_train': data.y_train[:{n}], 'x_val': data.x_val, "
            f"'y_val': data.y_val, 'x_test': data.x_test, 'y_test': data.y_test}}\n")


def child_env(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if data_dir:
        env["DLRA_DATA_DIR"] = os.path.abspath(data_dir)
    return env


def epoch_seconds(out_dir):
    with open(os.path.join(out_dir, "history.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["seconds"]) for r in rows], rows[-1].get("ranks", "")


def run_one(kind, args, env):
    out_dir = tempfile.mkdtemp(prefix=f"dlra-bench-{kind}-")
    if kind == "cli":
        cmd = [sys.executable, "-m", "dlra.cli", "train", *CLI_ARGS, "--epochs", str(args.epochs), "--out", out_dir]
        if args.train_limit is not None:
            cmd += ["--train-limit", str(args.train_limit)]
        if args.data_dir:
            cmd += ["--data-dir", os.path.abspath(args.data_dir)]
    else:
        code = example_script(args.epochs, out_dir, args.train_limit, threads0=(kind == "readme_threads0"))
        cmd = [sys.executable, "-c", code]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=out_dir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{result.stderr[-3000:]}")
    seconds, ranks = epoch_seconds(out_dir)
    return {"kind": kind, "epoch_seconds": float(np.mean(seconds)), "wall_seconds": wall, "ranks": ranks}


def main(args):
    env = child_env(args.data_dir)
    rows = []
    rounds = max(args.rounds, args.unlimited_rounds)
    for rnd in range(rounds):
        kinds = ["readme", "cli"] if rnd % 2 == 0 else ["cli", "readme"]
        kinds = kinds if rnd < args.rounds else []
        if rnd < args.unlimited_rounds:
            kinds = kinds + ["readme_threads0"]
        for kind in kinds:
            row = run_one(kind, args, env)
            row["round"] = rnd
            row["load1"] = f"{os.getloadavg()[0]:.2f}"
            rows.append(row)
            print(f"round {rnd}: {kind:16s} {row['epoch_seconds']:.2f} s/epoch (process {row['wall_seconds']:.1f} s, "
                  f"ranks {row['ranks']}, load {row['load1']})", flush=True)
    by_round = {}
    for row in rows:
        by_round.setdefault(row["round"], {})[row["kind"]] = row["epoch_seconds"]
    ratios = [r["readme"] / r["cli"] for r in by_round.values() if "readme" in r and "cli" in r]
    med = {kind: float(np.median([r["epoch_seconds"] for r in rows if r["kind"] == kind]))
           for kind in ("readme", "cli", "readme_threads0") if any(r["kind"] == kind for r in rows)}
    print()
    print("| run | median epoch [s] |")
    print("|---|---:|")
    for kind, value in med.items():
        print(f"| {kind} | {value:.2f} |")
    ratio = float(np.median(ratios))
    print(f"\nREADME example / CLI epoch time: median of {len(ratios)} per-round ratios = {ratio:.3f} "
          f"(range {min(ratios):.3f}–{max(ratios):.3f}; target ≤ 1.2: {'met' if ratio <= 1.2 else 'MISSED'})")
    if "readme_threads0" in med:
        print(f"README example with threads=0 (BLAS default threads) / CLI: {med['readme_threads0'] / med['cli']:.2f} "
              "(ratio of medians)")
    print(f"- cpu: {cpu_model()}")
    print(f"- epochs per run: {args.epochs}; training images: {args.train_limit or 'all'}; "
          f"data: {args.data_dir or os.environ.get('DLRA_DATA_DIR') or 'embedded subset'}")
    if not args.no_files:
        path = os.path.join(args.out, "api_vs_cli.csv")
        write_csv(path, rows)
        print(f"wrote {path}")
    return ratio


if __name__ == "__main__":
    main(parse_args())
