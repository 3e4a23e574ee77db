"""LeNet5 training steps side by side in one run: DLRT at the table's ranks, dense numba LeNet5 and
PyTorch's CPU LeNet5.

LeNet5 = conv 1→20 5×5, max-pool 2, conv 20→50 5×5, max-pool 2, FC 800→500, FC 500→10 (ReLU,
softmax cross-entropy), batch 256 of 28×28 images, float32, SGD. Timed, interleaved round by round
(order rotated each round), medians:

* **numba dense** — ``dlra.FullRank(substep=dlra.SGD()).step(net.vector_field(X, y), …)`` on
  ``dlra.nn.LeNet5(ranks=None)``;
* **numba DLRT, ranks a/b/c** — ``AdaptiveBUG(substep=SGD(), truncation=FixedRank())`` on
  ``LeNet5(ranks=[a, b, c, None])`` for the slides' ranks at τ = 0.09 (10/23/62), 0.15 (9/16/28) and
  0.3 (4/6/8) (fixed ranks, so that every repetition does the same work); one forward/backward pass
  per step; the split pass / products / QR+SVD is recorded as in ``bench_training.py``;
* **torch dense** — ``torch.nn.Sequential(Conv2d, ReLU, MaxPool2d, …)`` with ``torch.optim.SGD``:
  ``zero_grad(); CrossEntropyLoss()(net(X), y).backward(); step()``;
* predictions (forward + argmax) of each.

BLAS (numpy) and torch run with one thread (``--threads``). PyTorch is a benchmark-only dependency
(``pip install torch==2.13.0``).

Usage (from the repository root)::

    python benchmarks/bench_lenet5.py            # 7 rounds, about a minute on an idle core
    python benchmarks/bench_lenet5.py --quick    # 2 rounds

Writes ``benchmarks/lenet5_step.csv`` and prints a Markdown table with the ratios to torch.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeat", type=int, default=7, help="interleaved rounds (median)")
    p.add_argument("--quick", action="store_true", help="2 rounds")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--no-files", action="store_true", help="print only")
    return p.parse_args(argv)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _machine, bench_training
from _machine import set_thread_env  # noqa: E402  (imports no numpy)

ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # before numpy loads its BLAS
    set_thread_env(ARGS.threads)

import numpy as np  # noqa: E402

import bench_training as bt  # noqa: E402  (also makes dlra importable from a checkout)

import dlra  # noqa: E402
from dlra.nn import LeNet5  # noqa: E402

#: the slides' LeNet5 ranks (conv1, conv2, fc1) at τ = 0.09, 0.15, 0.3
TABLE_RANKS = ((10, 23, 62), (9, 16, 28), (4, 6, 8))


def torch_lenet5(lr):
    import torch
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    return net, torch.optim.SGD(net.parameters(), lr=lr), nn.CrossEntropyLoss()


def configs(X, y, lr, with_torch=True):
    dense = LeNet5(ranks=None, rng=0)
    full = dlra.FullRank(substep=dlra.SGD())

    def dense_step():
        dense.set_parameters(full.step(dense.vector_field(X, y), 0.0, dense.parameters(), h=lr))

    out = [bt.Config("numba dense", None, dense, dense_step, lambda: dense.predict(X))]
    for ranks in TABLE_RANKS:
        net = LeNet5(ranks=list(ranks) + [None], rng=0)
        cfg = bt.lowrank_config(None, list(ranks), X, y, lr, net=net)
        cfg.method, cfg.rank = "numba DLRT", "/".join(map(str, ranks))
        out.append(cfg)
    if not with_torch:
        return out
    import torch
    tnet, opt, loss_fn = torch_lenet5(lr)
    tX = torch.from_numpy(X.reshape(-1, 1, 28, 28).copy())
    ty = torch.from_numpy(y.astype(np.int64))

    def torch_step():
        opt.zero_grad(set_to_none=True)
        loss_fn(tnet(tX), ty).backward()
        opt.step()

    def torch_predict():
        with torch.no_grad():
            return tnet(tX).argmax(dim=1)

    out.append(bt.Config("torch dense", None, tnet, torch_step, torch_predict))
    return out


def main(args):
    repeat = 2 if args.quick else args.repeat
    info = bt.machine_info()
    _, nthreads = bt.blas_threads()
    try:
        import torch
    except ImportError:  # PyTorch is a benchmark-only dependency: the ratios then refer to numba dense
        torch = None
        info["torch"] = "not installed (pip install torch==2.13.0): ratios are to the numba dense step"
    else:
        torch.set_num_threads(max(nthreads, 1))
        info["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads"
    rng = np.random.default_rng(0)
    X = rng.random((args.batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    cfgs = configs(X, y, args.lr, with_torch=torch is not None)
    bt.run_rounds(cfgs, repeat)
    load1 = os.getloadavg()
    reference = cfgs[-1] if torch is not None else cfgs[0]
    t_step, t_pred = np.median(reference.steps), np.median(reference.predicts)
    rows = []
    for cfg in cfgs:
        step, pred = float(np.median(cfg.steps)), float(np.median(cfg.predicts))
        split = bt._median_split(cfg) or {}
        rows.append({"network": cfg.label(), "batch": args.batch, "step_ms": f"{1e3 * step:.4g}",
                     "step_ratio_to_torch": f"{step / t_step:.3g}", "predict_ms": f"{1e3 * pred:.4g}",
                     "predict_ratio_to_torch": f"{pred / t_pred:.3g}",
                     **{f"{k}_ms": f"{1e3 * v:.4g}" for k, v in split.items()},
                     "repeat": repeat, "threads": nthreads, "load1_end": f"{load1[0]:.2f}"})
    ref = "torch" if torch is not None else "numba dense"
    print(f"#### LeNet5, batch {args.batch}, float32, SGD, median of {repeat} interleaved rounds\n")
    print(f"| network | step [ms] | step / {ref} | prediction [ms] | prediction / {ref} |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['network']} | {r['step_ms']} | {r['step_ratio_to_torch']} | {r['predict_ms']} | "
              f"{r['predict_ratio_to_torch']} |")
    print()
    for k, v in info.items():
        print(f"- {k}: {v}")
    print(f"- load average at the end: {load1[0]:.2f}")
    if not args.no_files:
        path = os.path.join(args.out, "lenet5_step.csv")
        dlra.io.write_csv(path, rows)
        print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main(ARGS)
