"""Time per DLRT training step and per prediction vs rank, against the dense network.

Network 784 → w → w → w → w → 10 (ReLU, cross-entropy, float32), four low-rank hidden layers of
rank r and a dense output layer. A DLRT step is ``dlra.AdaptiveBUG(substep=dlra.SGD(),
truncation=dlra.FixedRank()).step(net.vector_field(X, y), t, net.parameters(), h)`` +
``net.set_parameters``; the dense reference is ``dlra.FullRank(substep=dlra.SGD())`` on the dense
network (the figure also shows the raw "F + in-place SGD update" dense step); a prediction is
``net.predict`` on the batch. Dense and low-rank repetitions are interleaved in one run and the
ratios are formed from medians of that run (BLAS pinned to one thread).

Full: width 500 (batch 256, ranks 5–160) and width 5120 (batch 500, ranks 5–320), about a minute.
``--quick``: width 500, ranks 5, 20, 80, five rounds (seconds). Writes timings.{png,pdf,csv}.

The measurement code is shared with ``benchmarks/bench_training.py`` (public API only), loaded from
the source tree next to this folder.
"""
import contextlib
import importlib.util
import os
import sys

NAME = "timings"


def _bench_module():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks", "bench_training.py")
    spec = importlib.util.spec_from_file_location("dlra_bench_training", os.path.normpath(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blas_threads(n):
    """One BLAS thread (a loaded shared machine makes multi-threaded OpenBLAS erratic)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def make(out_dir, quick=False, threads=1):
    bt = _bench_module()
    with _blas_threads(threads):
        if quick:
            rows = bt.run([500], {500: [5, 20, 80]}, repeat=5)
        else:
            rows = bt.run([500, 5120], repeat=7, repeat_large=3)
    base = os.path.join(out_dir, NAME)
    bt.write_rows(base + ".csv", rows)
    figures = [base + ".png", base + ".pdf"]
    bt.write_figure(figures, rows)
    return figures + [base + ".csv"]


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import cli
    cli(make, NAME)
