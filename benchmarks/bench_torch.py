"""The numba/numpy network against PyTorch on the CPU: dense and DLRT training steps, one run.

Network ``784 → 500 → 500 → 500 → 500 → 10`` (ReLU, softmax cross-entropy), batch 256, float32.
Timed side by side, interleaved round by round (order rotated each round), medians:

* **numba dense (FullRank + SGD)** — ``dlra.FullRank(substep=dlra.SGD()).step(net.vector_field(X, y),
  …)`` + ``set_parameters`` on ``MLP.from_sizes(sizes, ranks=None)``;
* **numba dense (F + SGD update)** — ``net.gradients(X, y)`` and ``W -= lr ∇W`` in place;
* **numba DLRT (τ = 0.15 ranks)** — ``AdaptiveBUG(substep=SGD(), truncation=FixedRank())`` on the
  network with hidden ranks ``--ranks`` (default 16 26 28 25: the ranks the DLRT paper reports for
  width 500 at τ = 0.15 lie between its τ = 0.13 ranks 20/31/32/30 and τ = 0.17 ranks 13/21/24/20;
  fixed ranks, not measured on a trained network, so that every repetition does the same work);
* **torch dense** — ``opt.zero_grad(); loss = CrossEntropyLoss()(net(X), y); loss.backward();
  opt.step()`` with ``torch.optim.SGD`` on the same weights (copied from the numba network);
* predictions (forward + argmax on the batch) of the three networks.

PyTorch is a benchmark-only dependency: it is imported here and nowhere in the package
(``pip install torch==2.13.0``). ``torch.set_num_threads`` is set to the thread count of numpy's
BLAS (threadpoolctl); both are reported. Every configuration is warmed up (numba compiles on its
first call) before the timed rounds.

Usage (from the repository root)::

    python benchmarks/bench_torch.py                 # 21 rounds, ~10 s
    python benchmarks/bench_torch.py --quick         # 5 rounds
    python benchmarks/bench_torch.py --threads 2

Writes ``<out>/training_torch.csv`` (default out: benchmarks/) and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--ranks", type=int, nargs=4, default=[16, 26, 28, 25],
                   help="hidden-layer ranks of the DLRT network (default: the τ = 0.15 ranks 16 26 28 25)")
    p.add_argument("--repeat", type=int, default=21, help="interleaved rounds (median)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--quick", action="store_true", help="5 rounds")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads of numpy and torch.set_num_threads (default 1; 0: numpy's default)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                   help="folder for training_torch.csv (default: benchmarks/)")
    p.add_argument("--no-files", action="store_true", help="print only")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # before numpy loads its BLAS
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _machine import set_thread_env
    set_thread_env(ARGS.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_training as bt  # noqa: E402  (same folder; also makes dlra importable from a checkout)

import dlra  # noqa: E402
from dlra.nn import MLP  # noqa: E402


class Timed:
    def __init__(self, name, fn, kind):
        self.name, self.fn, self.kind = name, fn, kind
        self.times = []


def torch_network(numba_net, lr):
    """A torch.nn.Sequential with the dense numba network's weights, and its SGD step / prediction."""
    import torch
    mods = []
    for k, layer in enumerate(numba_net.layers):
        lin = torch.nn.Linear(layer.n_in, layer.n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W, dtype=np.float32)))
            lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(layer.b[:, 0], dtype=np.float32)))
        mods.append(lin)
        if k < len(numba_net.layers) - 1:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    return net, opt, loss_fn


def main(args):
    import torch
    repeat = 5 if args.quick else args.repeat
    info = bt.machine_info()
    blas_desc, nthreads = bt.blas_threads()
    torch.set_num_threads(nthreads)
    info["torch"] = torch.__version__
    info["torch threads (torch.get_num_threads())"] = torch.get_num_threads()
    info["torch BLAS"] = "MKL" if torch.backends.mkl.is_available() else "other"
    info["torch mkldnn (oneDNN)"] = torch.backends.mkldnn.is_available()

    w, batch, lr = args.width, args.batch, args.lr
    sizes = [784, w, w, w, w, 10]
    X, y = bt.make_data(w, batch)
    dense = MLP.from_sizes(sizes, ranks=None, dtype=np.float32, rng=0)
    tnet, topt, tloss = torch_network(dense, lr)  # copy before the numba network trains
    tX, ty = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    dcfg = bt.dense_configs(sizes, X, y, lr)  # same seed: the same initial weights as `dense`
    lcfg = bt.lowrank_config(sizes, list(args.ranks) + [None], X, y, lr)

    def torch_step():
        topt.zero_grad(set_to_none=True)
        loss = tloss(tnet(tX), ty)
        loss.backward()
        topt.step()

    def torch_predict():
        with torch.no_grad():
            return tnet(tX).argmax(dim=1)

    ranks = "/".join(str(r) for r in args.ranks)
    items = [Timed("numba dense (FullRank + SGD)", dcfg[0].step_fn, "step"),
             Timed("numba dense (F + SGD update)", dcfg[1].step_fn, "step"),
             Timed(f"numba DLRT, ranks {ranks}", lcfg.step_fn, "step"),
             Timed("torch dense (SGD)", torch_step, "step"),
             Timed("numba dense", dcfg[0].predict_fn, "prediction"),
             Timed(f"numba DLRT, ranks {ranks}", lcfg.predict_fn, "prediction"),
             Timed("torch dense", torch_predict, "prediction")]

    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=len(items) * (repeat + 2), desc="torch vs numba", unit="call", file=sys.stderr)
    for it in items:  # warm-up: numba compilation, torch's first-call allocations
        for _ in range(2):
            it.fn()
            if bar is not None:
                bar.update(1)
    load0 = os.getloadavg()
    for rnd in range(repeat):
        for j in range(len(items)):
            it = items[(j + rnd) % len(items)]
            start = time.perf_counter()
            it.fn()
            it.times.append(time.perf_counter() - start)
            if bar is not None:
                bar.update(1)
    load1 = os.getloadavg()
    if bar is not None:
        bar.close()
    info["load average (1, 5, 15 min) at start of the timed rounds"] = "%.2f, %.2f, %.2f" % load0
    info["load average (1, 5, 15 min) at end"] = "%.2f, %.2f, %.2f" % load1

    med = {(it.kind, it.name): 1e3 * float(np.median(it.times)) for it in items}
    torch_step_ms = med[("step", "torch dense (SGD)")]
    torch_pred_ms = med[("prediction", "torch dense")]
    rows = []
    for it in items:
        ms = med[(it.kind, it.name)]
        ref = torch_step_ms if it.kind == "step" else torch_pred_ms
        rows.append({"kind": it.kind, "name": it.name, "width": w, "batch": batch, "median_ms": f"{ms:.4g}",
                     "min_ms": f"{1e3 * min(it.times):.4g}", "max_ms": f"{1e3 * max(it.times):.4g}",
                     "ratio_to_torch_dense": f"{ms / ref:.4g}", "repeat": repeat,
                     "blas_threads": nthreads, "torch_threads": torch.get_num_threads(),
                     "load1_start": f"{load0[0]:.2f}", "load1_end": f"{load1[0]:.2f}"})

    print(f"#### width {w}, batch {batch}, float32, median of {repeat} interleaved rounds\n")
    print("| what | network | median [ms] | ratio to torch dense |")
    print("|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['name']} | {r['median_ms']} | {r['ratio_to_torch_dense']} |")
    nd = med[("step", "numba dense (FullRank + SGD)")]
    nl = med[("step", f"numba DLRT, ranks {ranks}")]
    print(f"\nnumba dense (FullRank) / torch dense step = {nd / torch_step_ms:.3f} (target ≤ 1)")
    print(f"numba DLRT (ranks {ranks}) / torch dense step = {nl / torch_step_ms:.3f} (target ≤ 0.35)\n")
    for k, v in info.items():
        print(f"- {k}: {v}")
    if not args.no_files:
        path = os.path.join(args.out, "training_torch.csv")
        dlra.io.write_csv(path, rows)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(ARGS)
