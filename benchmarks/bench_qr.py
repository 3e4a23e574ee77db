"""CholeskyQR2 against Householder QR on the tall-skinny shapes of DLRT's augmented bases.

For each shape m × k and dtype, ``dlra.qr.cholesky_qr2`` and ``dlra.qr.householder_qr`` (LAPACK
``?geqrf`` + ``?orgqr``) are timed interleaved round by round on the same Gaussian matrix with
column norms spread over three decades; the table reports the median per-round ratio
CholeskyQR2 / Householder and the orthogonality ‖QᵀQ − I‖_F of both. BLAS on ``--threads`` threads
(default 1, set before numpy loads).

Usage (from the repository root)::

    python benchmarks/bench_qr.py                # 25 rounds
    python benchmarks/bench_qr.py --quick --repeat 1 --no-files    # smoke run

Prints a Markdown table; writes ``<out>/qr.csv`` unless ``--no-files``.
"""
from __future__ import annotations

import argparse
import os
import sys

SHAPES = [(500, 20), (784, 40), (500, 150), (784, 250), (500, 250), (5120, 40), (5120, 640)]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=25, help="interleaved rounds (median)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0 leaves them alone)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--no-files", action="store_true")
    p.add_argument("--quick", action="store_true", help="only the three smallest shapes (smoke run)")
    return p.parse_args(argv)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _machine, bench_training
from _machine import cpu_model, set_thread_env  # noqa: E402  (imports no numpy)

ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # before numpy loads its BLAS
    set_thread_env(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from dlra.io import write_csv  # noqa: E402
from dlra.qr import cholesky_qr2, householder_qr  # noqa: E402


def main(args):
    rng = np.random.default_rng(0)
    cases = []
    for dtype in (np.float32, np.float64):
        for m, k in (SHAPES[:3] if args.quick else SHAPES):
            A = (rng.standard_normal((m, k)) * np.logspace(0, 3, k)).astype(dtype)
            cases.append({"dtype": np.dtype(dtype).name, "m": m, "k": k, "A": A, "chol": [], "hh": []})
    for case in cases:  # warm-up
        cholesky_qr2(case["A"]), householder_qr(case["A"])
    for rnd in range(args.repeat):
        for case in cases:
            pair = [("chol", cholesky_qr2), ("hh", householder_qr)]
            for key, fn in (pair if rnd % 2 == 0 else pair[::-1]):
                start = time.perf_counter()
                fn(case["A"])
                case[key].append(time.perf_counter() - start)
    rows = []
    print(f"CholeskyQR2 vs Householder QR, median of {args.repeat} interleaved rounds\n")
    print("| dtype | m × k | CholeskyQR2 [ms] | Householder [ms] | ratio (median per round) "
          "| ‖QᵀQ − I‖ CholeskyQR2 | ‖QᵀQ − I‖ Householder |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case in cases:
        A, k = case["A"], case["k"]
        orth = [float(np.linalg.norm(Q.T @ Q - np.eye(k))) for Q in (cholesky_qr2(A)[0], householder_qr(A)[0])]
        ratio = float(np.median(np.asarray(case["chol"]) / np.asarray(case["hh"])))
        row = {"dtype": case["dtype"], "m": case["m"], "k": k,
               "cholesky_qr2_ms": f"{1e3 * np.median(case['chol']):.4g}",
               "householder_ms": f"{1e3 * np.median(case['hh']):.4g}", "ratio": f"{ratio:.3f}",
               "orth_cholesky_qr2": f"{orth[0]:.2e}", "orth_householder": f"{orth[1]:.2e}", "repeat": args.repeat}
        rows.append(row)
        print(f"| {row['dtype']} | {row['m']} × {k} | {row['cholesky_qr2_ms']} | {row['householder_ms']} | "
              f"{row['ratio']} | {row['orth_cholesky_qr2']} | {row['orth_householder']} |")
    print(f"\n- cpu: {cpu_model()}; load average {'%.2f, %.2f, %.2f' % os.getloadavg()}")
    if not args.no_files:
        path = os.path.join(args.out, "qr.csv")
        write_csv(path, rows)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(ARGS)
