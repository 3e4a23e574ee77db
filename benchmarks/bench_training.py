"""Time DLRT training steps and predictions against the dense network, rank by rank.

Network ``784 → w → w → w → w → 10`` (ReLU, softmax cross-entropy, float32): the four hidden
layers low-rank with rank r (``MLP.from_sizes(sizes, ranks=r)``), the output layer dense. For each
width w (default 500 with batch 256, and the paper's 5120 with batch 500) the script times

* **DLRT step** — ``AdaptiveBUG(substep=Adam(), truncation=FixedRank(r)).step(net.vector_field(X, y),
  t, net.parameters(), h=lr)`` followed by ``net.set_parameters(new)`` (fixed rank r so that every
  repetition does the same work; the rank-adaptive rule costs the same apart from its choice); the
  optimiser is Adam as in training (``--optimizer sgd``: plain SGD = one explicit Euler substep);
* **dense step (FullRank)** — the same integrator path on the dense network:
  ``FullRank(substep=Adam()).step(...)`` + ``set_parameters`` (same optimiser);
* **dense step (raw)** — ``net.gradients(X, y)`` (one forward + backward pass) and the in-place
  update ``W -= lr ∇W`` — the least a dense SGD step can cost with these kernels;
* **prediction** — ``net.predict(X)`` (forward pass + argmax) on the same batch, for the dense
  network and every rank.

Inputs are random (N(0, 1) pixels, uniform labels): timings do not depend on the data. Every
configuration is warmed up (numba compiles on the first call, ``cache=True``) before the timed
region. The repetitions are **interleaved**: each round times every configuration once, in an
order rotated from round to round, so that the load of a shared machine hits dense and low-rank
alike; the reported numbers are medians over the rounds and the ratios are formed from medians
measured in the same run. Each DLRT step is split (``dlra.timing`` plus a wrapper around the
network's callback) into the network's forward/backward **pass**, the **products** (factored
gradients F V, Fᵀ U, Uᵀ F V, basis products, the optimiser's updates and moment rotations),
**QR/SVD** (augmented bases, core SVD) and **other** (the rest: copies, argument checks, Python).

Usage (from the repository root)::

    python benchmarks/bench_training.py                 # full run (widths 500 and 5120), ~1 min
    python benchmarks/bench_training.py --quick         # smoke run, ~5 s
    python benchmarks/bench_training.py --widths 500 --repeat 11

Writes ``<out>/training_step.csv`` and ``<out>/training_step.png`` (default out: benchmarks/) and
prints Markdown tables and the machine description (CPU, cores, load average, BLAS threads).
``--threads`` pins the BLAS threads before numpy loads (default 1: on a shared 2-core machine two
OpenBLAS threads made the dense step up to 20× slower).

The functions :func:`run`, :func:`write_figure` and :func:`write_rows` are reused by
``paper_figures/fig_timings.py``.
"""
from __future__ import annotations

import argparse
import os
import sys

DEFAULT_RANKS = {500: [5, 10, 20, 40, 80, 160], 5120: [5, 20, 80, 320]}
DEFAULT_BATCH = {500: 256, 5120: 500}
RAW = "dense (F + SGD update)"
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD"}
QUICK = {"widths": [500], "ranks": {500: [5, 20, 80]}, "repeat": 5}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[500, 5120], help="hidden widths w")
    p.add_argument("--ranks", type=int, nargs="+", default=None,
                   help="ranks for every width (default: 5 10 20 40 80 160 at w=500, 5 20 80 320 at w=5120, "
                        "else 5 20 80)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 256 at w=500, 500 at w=5120)")
    p.add_argument("--repeat", type=int, default=7, help="interleaved rounds at widths ≤ 1000 (median)")
    p.add_argument("--repeat-large", type=int, default=3, help="rounds at widths > 1000 (dense steps take seconds)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate = step size h")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                   help="substep of the DLRT and FullRank steps (default adam, as in training)")
    p.add_argument("--quick", action="store_true", help="smoke run: width 500, ranks 5 20 80, 5 rounds")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0 leaves them alone)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                   help="folder for training_step.csv/png (default: benchmarks/)")
    p.add_argument("--no-files", action="store_true", help="print only")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--replot", action="store_true",
                   help="only redraw <out>/training_step.png from <out>/training_step.csv (no timing)")
    return p.parse_args(argv)


def pin_threads(n):
    """Fix the BLAS thread count; must run before numpy is imported."""
    if n and n > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
            os.environ[var] = str(n)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    pin_threads(ARGS.threads)

import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

try:
    import dlra
except ImportError:  # running from a source checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    import dlra
from dlra import timing  # noqa: E402
from dlra.io import atomic_open, write_csv  # noqa: E402
from dlra.nn import MLP, DenseLayer, LowRankLayer  # noqa: E402


# ---------------------------------------------------------------------------------- machine
def blas_threads():
    """(description, thread count) of numpy's BLAS libraries (threadpoolctl when available)."""
    try:
        from threadpoolctl import threadpool_info
        info = [d for d in threadpool_info() if d.get("user_api") == "blas"]
        desc = "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('threading_layer')}, "
                         f"{d.get('num_threads')} threads, {d.get('architecture')})" for d in info)
        return desc, int(info[0]["num_threads"]) if info else 1
    except ImportError:
        n = int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0) or os.cpu_count()
        return f"unknown (threadpoolctl missing; OPENBLAS_NUM_THREADS={n})", n


def machine_info():
    from _machine import cpu_model

    import numba
    import scipy
    blas, threads = blas_threads()
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return {
        "cpu": cpu_model(),
        "load average (1, 5, 15 min) at start": "%.2f, %.2f, %.2f" % os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "dlra": dlra.__version__,
        "blas": blas,
        "blas threads": threads,
        "openblas env": ", ".join(f"{k}={v}" for k, v in env.items()) or "none",
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------- configurations
class Config:
    """One timed thing: ``step()`` (one training step) and ``predict()`` (one prediction)."""

    def __init__(self, method, rank, net, step, predict):
        self.method, self.rank, self.net = method, rank, net
        self.step_fn, self.predict_fn = step, predict
        self.steps, self.predicts, self.splits = [], [], []

    def label(self):
        return self.method if self.rank is None else f"{self.method} r={self.rank}"


def make_data(width, batch, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return X, y


def make_substep(optimizer):
    """``dlra.Adam()`` or ``dlra.SGD()`` for the name ``"adam"`` / ``"sgd"``."""
    return getattr(dlra, OPTIMIZERS[optimizer])()


def dense_configs(sizes, X, y, lr, seed=0, optimizer="sgd"):
    """Dense network: FullRank + optimiser step, raw F + in-place SGD step, prediction."""
    net = MLP.from_sizes(sizes, ranks=None, dtype=np.float32, rng=seed)
    full = dlra.FullRank(substep=make_substep(optimizer))

    def step_full():
        net.set_parameters(full.step(net.vector_field(X, y), 0.0, net.parameters(), h=lr))

    def step_raw():
        grads = net.gradients(X, y)
        for p, g in zip(net.parameters(), grads):
            g *= lr
            p -= g

    def predict():
        return net.predict(X)

    return [Config(f"dense (FullRank + {OPTIMIZERS[optimizer]})", None, net, step_full, predict),
            Config(RAW, None, net, step_raw, None)]


def lowrank_network(sizes, ranks, seed=0):
    """``784 → … → 10`` with low-rank hidden layers (``ranks``: an int or one entry per layer, None =
    dense), float32. Random orthonormal factors with unit singular values: timings do not depend on
    the spectrum, and the default spectral init's SVD of a dense 5120 × 5120 matrix takes about a
    minute per layer."""
    n_layers = len(sizes) - 1
    if isinstance(ranks, int):
        ranks = [ranks] * (n_layers - 1) + [None]
    rng = np.random.default_rng(seed)
    layers = []
    for k, r in enumerate(ranks):
        act = "identity" if k == n_layers - 1 else "relu"
        if r is None:
            layers.append(DenseLayer(sizes[k], sizes[k + 1], act, rng=rng))
        else:
            layers.append(LowRankLayer(sizes[k], sizes[k + 1], r, act, init_singular_values=np.ones(r), rng=rng))
    return MLP(layers, dtype=np.float32)


def lowrank_config(sizes, ranks, X, y, lr, seed=0, substep=None, net=None):
    """DLRT network with the given rank(s) per hidden layer; AdaptiveBUG + ``substep`` (default SGD) at
    fixed ranks. ``net``: an already built network with low-rank layers (then ``sizes`` is not used)."""
    net = lowrank_network(sizes, ranks, seed) if net is None else net
    # FixedRank(): keep each layer's current rank (the ranks may differ between layers)
    integ = dlra.AdaptiveBUG(substep=substep or dlra.SGD(), truncation=dlra.FixedRank())
    pass_time = [0.0]

    def step():
        F = net.vector_field(X, y)

        def timed_F(t, items):
            start = time.perf_counter()
            out = F(t, items)
            pass_time[0] += time.perf_counter() - start
            return out

        net.set_parameters(integ.step(timed_F, 0.0, net.parameters(), h=lr))

    def predict():
        return net.predict(X)

    rank = ranks if isinstance(ranks, int) else "/".join(str(r) for r in ranks if r is not None)
    cfg = Config("DLRT", rank, net, step, predict)
    cfg.pass_time = pass_time
    return cfg


def time_config(cfg):
    """Time one step (with the F / QR+SVD split for DLRT: ``dlra.timing`` is enabled for the step,
    which adds its small per-block cost to the step time) and one prediction of ``cfg``."""
    if hasattr(cfg, "pass_time"):
        cfg.pass_time[0] = 0.0
    previous = timing.enable()
    try:
        timing.reset()
        start = time.perf_counter()
        cfg.step_fn()
        total = time.perf_counter() - start
        snap = timing.snapshot()
    finally:
        timing.enable(previous)
    cfg.steps.append(total)
    if hasattr(cfg, "pass_time"):
        npass = cfg.pass_time[0]
        cfg.splits.append({"pass": npass, "products": snap["F"] - npass, "qr_svd": snap["linalg"],
                           "other": total - snap["F"] - snap["linalg"]})
    if cfg.predict_fn is not None:
        start = time.perf_counter()
        cfg.predict_fn()
        cfg.predicts.append(time.perf_counter() - start)


def run_rounds(configs, repeat, progress=None, warmup=1):
    """Warm up every configuration, then ``repeat`` interleaved rounds (order rotated each round)."""
    for cfg in configs:
        for _ in range(warmup):
            cfg.step_fn()
            if cfg.predict_fn is not None:
                cfg.predict_fn()
        cfg.steps.clear(), cfg.predicts.clear(), cfg.splits.clear()
        if progress is not None:
            progress.update(1)
    n = len(configs)
    for rnd in range(repeat):
        for j in range(n):
            cfg = configs[(j + rnd) % n]
            time_config(cfg)
            if progress is not None:
                progress.update(1)


def _median_split(cfg):
    """The split of the repetition whose total is the median one."""
    if not cfg.splits:
        return None
    order = np.argsort(cfg.steps)
    return cfg.splits[int(order[len(order) // 2])]


def bench_width(width, ranks, batch, repeat, lr, progress=None, seed=0, optimizer="adam"):
    """Rows (dicts) for one width: dense references and DLRT at each rank."""
    sizes = [784, width, width, width, width, 10]
    X, y = make_data(width, batch, seed)
    configs = dense_configs(sizes, X, y, lr, seed, optimizer) + [
        lowrank_config(sizes, r, X, y, lr, seed, substep=make_substep(optimizer)) for r in ranks]
    load0 = os.getloadavg()[0]
    nthreads = blas_threads()[1]
    run_rounds(configs, repeat, progress)
    load1 = os.getloadavg()[0]
    dense_step = float(np.median(configs[0].steps))
    raw_step = float(np.median(configs[1].steps))
    dense_pred = float(np.median(configs[0].predicts))
    rows = []
    for cfg in configs:
        step = float(np.median(cfg.steps))
        pred = float(np.median(cfg.predicts)) if cfg.predicts else float("nan")
        counts = cfg.net.parameter_counts()
        row = {
            "width": width, "batch": batch, "method": cfg.method, "optimizer": optimizer,
            "rank": "" if cfg.rank is None else cfg.rank,
            "step_ms": 1e3 * step, "predict_ms": 1e3 * pred,
            "step_ratio": step / dense_step, "step_ratio_raw": step / raw_step,
            "predict_ratio": pred / dense_pred,
            "step_min_ms": 1e3 * min(cfg.steps), "step_max_ms": 1e3 * max(cfg.steps),
            "params_inference": counts["inference"] if cfg.rank is not None else counts["dense"],
            "repeat": len(cfg.steps), "load1_start": round(load0, 2), "load1_end": round(load1, 2),
            "blas_threads": nthreads,
        }
        split = _median_split(cfg)
        if split is not None:
            row.update({f"{k}_ms": 1e3 * v for k, v in split.items()})
        rows.append(row)
    return rows


def run(widths, ranks_for=None, batch=None, repeat=7, repeat_large=3, lr=1e-3, progress=True, optimizer="adam"):
    """Time every width; returns the list of rows (see :func:`bench_width`)."""
    ranks_for = ranks_for or {}
    plan = []
    for w in widths:
        ranks = ranks_for.get(w) or DEFAULT_RANKS.get(w) or [r for r in (5, 20, 80) if r <= w]
        b = batch or DEFAULT_BATCH.get(w, 256)
        rep = repeat if w <= 1000 else repeat_large
        plan.append((w, ranks, b, rep))
    total = sum((len(ranks) + 2) * (rep + 1) for _, ranks, _, rep in plan)
    bar = None
    if progress:
        from dlra.progress import progress_bar  # drawn only on a terminal
        bar = progress_bar(total=total, desc="timing", unit="step", file=sys.stderr)
    rows = []
    try:
        for w, ranks, b, rep in plan:
            if bar is not None:
                bar.set_description(f"width {w}")
            rows += bench_width(w, ranks, b, rep, lr, bar, optimizer=optimizer)
    finally:
        if bar is not None:
            bar.close()
    return rows


# ---------------------------------------------------------------------------------- output
CSV_FIELDS = ["width", "batch", "method", "optimizer", "rank", "step_ms", "predict_ms", "step_ratio", "step_ratio_raw",
              "predict_ratio", "step_min_ms", "step_max_ms", "pass_ms", "products_ms", "qr_svd_ms", "other_ms",
              "params_inference", "repeat", "load1_start", "load1_end", "blas_threads"]


def write_rows(path, rows):
    def fmt(v):
        return f"{v:.6g}" if isinstance(v, float) else v
    write_csv(path, [{k: fmt(v) for k, v in row.items()} for row in rows], fieldnames=CSV_FIELDS)


def read_rows(path):
    """Rows of a CSV written by :func:`write_rows` (numbers parsed), e.g. to redraw the figure."""
    import csv
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row = {}
            for k, v in raw.items():
                if v == "" or k in ("method", "rank", "optimizer"):
                    row[k] = v
                else:
                    try:
                        row[k] = int(v)
                    except ValueError:
                        row[k] = float(v)
            rows.append(row)
    return rows


def markdown_tables(rows):
    out = []
    for w in sorted({r["width"] for r in rows}):
        wr = [r for r in rows if r["width"] == w]
        b = wr[0]["batch"]
        out.append(f"#### width {w}, batch {b} (median of {wr[0]['repeat']} interleaved rounds, "
                   f"load {wr[0]['load1_start']:.1f} → {wr[0]['load1_end']:.1f})\n")
        out.append("| network | train step [ms] | step / dense | step / dense raw | prediction [ms] "
                   "| prediction / dense | pass % | products % | QR/SVD % | other % |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in wr:
            name = r["method"] if r["rank"] == "" else f"DLRT, r = {r['rank']}"
            pred = "—" if np.isnan(r["predict_ms"]) else f"{r['predict_ms']:.3g}"
            pr = "—" if np.isnan(r["predict_ratio"]) else f"{r['predict_ratio']:.3f}"
            if r.get("pass_ms") not in (None, ""):
                split = " | ".join(f"{100 * r[k] / r['step_ms']:.0f}" for k in
                                   ("pass_ms", "products_ms", "qr_svd_ms", "other_ms"))
            else:
                split = "— | — | — | —"
            out.append(f"| {name} | {r['step_ms']:.3g} | {r['step_ratio']:.3f} | {r['step_ratio_raw']:.3f} "
                       f"| {pred} | {pr} | {split} |")
        out.append("")
    return "\n".join(out)


def write_figure(paths, rows):
    """Time per training step and per prediction vs rank (log-log), dense as horizontal lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = sorted({r["width"] for r in rows})
    fig, axes = plt.subplots(2, len(widths), figsize=(max(5.2 * len(widths), 7.0), 7.6), squeeze=False)
    for col, w in enumerate(widths):
        wr = [r for r in rows if r["width"] == w]
        dense = wr[0]
        raw = next(r for r in wr if r["method"] == RAW)
        lr = [r for r in wr if r["rank"] != ""]
        ranks = [int(r["rank"]) for r in lr]
        opt = OPTIMIZERS.get(dense.get("optimizer") or "sgd", "SGD")
        for row_i, (key, ratio_key, what) in enumerate((("step_ms", "step_ratio", "training step"),
                                                        ("predict_ms", "predict_ratio", "prediction"))):
            ax = axes[row_i, col]
            t = [r[key] for r in lr]
            ax.plot(ranks, t, "o-", color="C0", label=f"DLRT (rank-adaptive BUG + {opt}, fixed r)"
                    if row_i == 0 else "low-rank network")
            ax.axhline(dense[key], color="C3", ls="--", label=f"dense (FullRank + {opt})"
                       if row_i == 0 else "dense network")
            if row_i == 0:
                ax.axhline(raw["step_ms"], color="C1", ls=":", label="dense (F + SGD update)")
            for x, yv, r in zip(ranks, t, lr):
                ax.annotate(f"{r[ratio_key]:.2g}×", (x, yv), textcoords="offset points", xytext=(0, 7),
                            ha="center", fontsize=8)
            ax.set_xscale("log")
            ax.set_xlim(ranks[0] / 1.6, ranks[-1] * 1.6)
            ax.set_yscale("log")
            ax.set_xticks(ranks)
            ax.set_xticklabels([str(r) for r in ranks])
            ax.minorticks_off()
            ax.set_xlabel("rank r of each hidden layer")
            ax.set_ylabel(f"time per {what} [ms]")
            lo = min(min(t), dense[key]) / 2
            hi = max(max(t), dense[key]) * 2.5
            ax.set_ylim(lo, hi)
            ax.set_title(f"{what}, width {w}, batch {dense['batch']}", fontsize=10)
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8, loc="best")
    nthreads = rows[0].get("blas_threads", "?")
    fig.suptitle(f"784→w→w→w→w→10, float32, {nthreads} BLAS thread{'s' if nthreads != 1 else ''}\n"
                 "labels: low-rank / dense (FullRank, same optimiser) time, medians of one interleaved run",
                 fontsize=10)
    fig.tight_layout()
    for path in paths:
        path = os.fspath(path)
        base, ext = os.path.splitext(path)
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=ext[1:], dpi=130)
    plt.close(fig)


def main(args):
    if args.replot:
        rows = read_rows(os.path.join(args.out, "training_step.csv"))
        print(markdown_tables(rows))
        write_figure([os.path.join(args.out, "training_step.png")], rows)
        return
    if args.quick:
        widths, ranks_for, repeat = QUICK["widths"], QUICK["ranks"], QUICK["repeat"]
    else:
        widths, repeat = args.widths, args.repeat
        ranks_for = {w: args.ranks for w in widths} if args.ranks else {}
    info = machine_info()
    t0 = time.perf_counter()
    rows = run(widths, ranks_for, args.batch, repeat, args.repeat_large, args.lr, progress=not args.no_progress,
               optimizer=args.optimizer)
    info["load average (1, 5, 15 min) at end"] = "%.2f, %.2f, %.2f" % os.getloadavg()
    info["wall time of the run"] = f"{time.perf_counter() - t0:.0f} s"
    print(markdown_tables(rows))
    for k, v in info.items():
        print(f"- {k}: {v}")
    if not args.no_files:
        write_rows(os.path.join(args.out, "training_step.csv"), rows)
        write_figure([os.path.join(args.out, "training_step.png")], rows)
        print(f"wrote {os.path.join(args.out, 'training_step.csv')} and training_step.png")


if __name__ == "__main__":
    main(ARGS)
