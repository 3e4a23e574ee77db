"""Shared setting of the factorised-training study (``factorized_*.py``; Kamalakara et al., "Exploring
low rank training of deep neural networks", 2022) on MNIST, for vanilla W = U Vᵀ and for DLRT.

Two models (``--model``):

* ``mlp`` (default): the 5-layer MLP 784-256-256-256-256-10 with four factorised layers of rank 32
  and a dense output layer, 4 epochs on the 50,000 training images; the Adam learning rate is the
  candidate with the best final validation accuracy of the seed-0 spectral-init runs.
* ``lenet5``: LeNet5 (conv 20 5×5, pool, conv 50 5×5, pool, FC 500, FC 10) with conv1, conv2 and
  fc1 factorised — a convolution as its matrix C_out × k·k·C_in — at rank 32 clipped to the full
  ranks (20, 32, 32; conv1's 20 × 25 matrix is kept at full rank 20) and fc2 dense; 3 epochs on the
  first 20,000 training images (reduced budget); the learning rate is chosen by
  ``_selection.select`` on runs that never see the test split (seed 0, spectral init), at the final epoch.

Common: Adam, batch 256, He initialisation, validation split = the last 10,000 training images,
results mean ± std over seeds 0 1 2. DLRT is the rank-adaptive BUG with τ = 0.01 and rank cap 32
(so the rank budget is that of the vanilla factorisation; the rank drops only when the spectrum
collapses). Every run is cached under ``<out>/runs/`` by ``_mnist_common.train_run``.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

import _mnist_common as common
import _selection as selection

SIZES = (784, 256, 256, 256, 256, 10)
QUICK_SIZES = (784, 32, 32, 32, 32, 10)
RANK = 32
QUICK_RANK = 8
EPOCHS = 4
SEEDS = (0, 1, 2)
METHODS = ("vanilla", "dlrt")
LABELS = {"vanilla": "vanilla U Vᵀ", "dlrt": "DLRT"}
LRS = (1e-3, 3e-3)
OUT = "results/factorized"

#: per model: ranks of the layers (None = dense), rank cap of DLRT, epochs, training images, output
#: folder; and the same for ``--quick`` (embedded data, seconds)
MODELS = {
    "mlp": {"rank": RANK, "max_rank": RANK, "epochs": EPOCHS, "train_limit": None, "out": OUT,
            "quick_rank": QUICK_RANK, "quick_train_limit": None, "layers": len(SIZES) - 2},
    "lenet5": {"rank": [20, 32, 32, None], "max_rank": RANK, "epochs": 3, "train_limit": 20000,
               "out": f"{OUT}/lenet5", "quick_rank": [4, 8, 8, None], "quick_train_limit": 256, "layers": 3},
}
LAYER_NAMES = {"mlp": ("fc1", "fc2", "fc3", "fc4"), "lenet5": ("conv1", "conv2", "fc1")}


def parser(description):
    p = common.base_parser(description, None, SEEDS, out="")  # "": the model's folder (MODELS)
    p.add_argument("--model", choices=sorted(MODELS), default="mlp",
                   help="mlp (5-layer MLP, 4 epochs on 50,000 images; default) or lenet5 (conv1, conv2, fc1 "
                        "factorised, 3 epochs on the first 20,000 images); output in results/factorized[/lenet5]")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training images (default: all for mlp, 20,000 for lenet5)")
    p.add_argument("--lrs", type=float, nargs="+", default=list(LRS),
                   help="Adam learning rates tried on the validation split (seed 0, spectral init)")
    for action in p._actions:
        if action.dest == "epochs":
            action.help = "training epochs per run (default 4 for mlp, 3 for lenet5)"
        elif action.dest == "out":
            action.help = f"output directory (default {OUT}, {OUT}/lenet5 for --model lenet5)"
    return p


def parse(p, argv):
    """``common.parse`` plus the model's defaults (epochs, output folder, training subset).

    Returns ``(args, out, data, source)``; ``data`` holds the first ``args.train_limit`` training images."""
    args, out, data, source = common.parse(p, argv)
    spec = MODELS[args.model]
    if args.epochs is None:
        args.epochs = spec["epochs"]
    if args.train_limit is None:
        args.train_limit = spec["quick_train_limit" if args.quick else "train_limit"]
        if args.train_limit is not None and args.train_limit >= len(data.x_train):
            args.train_limit = None   # e.g. the embedded subset: all its images
    out = Path(args.out or spec["out"])
    args.embedded = bool(data.embedded)
    if args.train_limit is not None:
        n = int(args.train_limit)
        if not 1 <= n <= len(data.x_train):
            p.error(f"--train-limit must be in [1, {len(data.x_train)}], got {n}")
        data = SimpleNamespace(x_train=data.x_train[:n], y_train=data.y_train[:n], x_val=data.x_val,
                               y_val=data.y_val, x_test=data.x_test, y_test=data.y_test, embedded=data.embedded,
                               data_dir=getattr(data, "data_dir", None))
        source += f", first {n} training images"
    return args, out, data, source


def data_tag(args):
    """Tag of the run directories: the data (embedded subset, training subset)."""
    parts = (["embedded"] if args.quick or getattr(args, "embedded", False) else []) + (
        [f"n{args.train_limit}"] if args.train_limit else [])
    return "_".join(parts) or None


def rank_of(args):
    return MODELS[args.model]["quick_rank" if args.quick else "rank"]


def rank_label(args):
    rank = rank_of(args)
    return str(rank) if isinstance(rank, int) else "/".join(str(r) for r in rank if r is not None)


def arch(args):
    """The network in words, for tables and titles."""
    if args.model == "lenet5":
        return "LeNet5 (conv1, conv2, fc1 factorised, fc2 dense)"
    return "784-" + "-".join(map(str, (QUICK_SIZES if args.quick else SIZES)[1:-1])) + "-10 MLP"


def n_layers(args):
    """Number of factorised layers (the layers whose effective rank the tables average)."""
    return MODELS[args.model]["layers"]


def base_cfg(args, method, seed, **extra):
    quick = args.quick
    rank = rank_of(args)
    cfg = {"method": method, "sizes": list(QUICK_SIZES if quick else SIZES), "rank": rank, "optimizer": "adam",
           "lr": None, "batch_size": 256, "epochs": args.epochs, "seed": seed, "data_tag": data_tag(args)}
    if args.model != "mlp":
        cfg["model"] = args.model
    if method == "dlrt":
        cap = rank if isinstance(rank, int) else max(r for r in rank if r is not None)
        cfg.update(tau=0.01, max_rank=cap)
    cfg.update(extra)
    if args.model == "lenet5":
        # the seed-0/1 spectral-init runs keep their checkpoints, which the interpolation reuses
        plain = cfg.get("init", "spectral") == "spectral" and not any(
            cfg.get(k) for k in ("weight_decay", "frobenius_decay", "nuclear_decay"))
        cfg.setdefault("keep_checkpoint", plain and method in METHODS and seed in args.seeds[:2])
    return cfg


def final_val(history):
    return float(history[-1]["val_acc"])


def select_lr(args, data, out, method, progress):
    """The learning rate of ``args.lrs`` with the best final validation accuracy (seed 0, spectral
    init); returns ``(lr, rows)`` with one row per candidate.

    MLP: the seed-0 runs of the study itself (their test accuracy is not looked at). LeNet5:
    ``_selection.select`` on runs trained without the test split (data tag ``…_valonly``)."""
    if args.model == "mlp":
        rows = []
        for lr in args.lrs:
            cfg = base_cfg(args, method, args.seeds[0], lr=lr)
            history, _, _ = common.train_run(cfg, data, out, force=args.force, progress=progress)
            rows.append({"method": method, "lr": lr, "val_acc": final_val(history)})
        best = max(rows, key=lambda r: r["val_acc"])
        return best["lr"], rows
    probe = base_cfg(args, method, args.seeds[0])
    probe.pop("keep_checkpoint", None)
    _, sel = selection.select([probe], {"lr": list(args.lrs)}, selection.without_test(data), out,
                              epochs=args.epochs, tag=(data_tag(args) or "full") + "_valonly", force=args.force,
                              progress=progress)
    rows = [{"method": method, "lr": r["lr"], "val_acc": r["val_acc_mean"]} for r in sel if r["epoch"] == args.epochs]
    best = max(rows, key=lambda r: r["val_acc"])
    return best["lr"], rows


def mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def layer_columns(history_row, prefix, n=len(SIZES) - 2):
    """Values of ``<prefix>_<k>`` for the n factorised layers (k = 1..n) of a history row."""
    return [float(history_row[f"{prefix}_{k}"]) for k in range(1, n + 1)]
