"""Shared setting of the factorised-training study (``factorized_*.py``; Kamalakara et al., "Exploring
low rank training of deep neural networks", 2022) on MNIST, for vanilla W = U Vᵀ and for DLRT.

Reduced protocol (2 shared CPU cores): the 5-layer MLP 784-256-256-256-256-10 with four factorised
layers of rank 32 and a dense output layer, Adam, batch 256, He initialisation, 4 epochs on the 50,000
training images; hyperparameters are chosen on the validation split (the last 10,000 training
images) with seed 0, results are mean ± std over seeds 0 1 2. DLRT is the rank-adaptive BUG with
τ = 0.01 and rank cap 32 (so the rank budget is that of the vanilla factorisation; the rank drops only
when the spectrum collapses). Every run is cached under ``<out>/runs/`` by ``_mnist_common.train_run``.
"""
from __future__ import annotations

import numpy as np

import _mnist_common as common

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


def parser(description):
    p = common.base_parser(description, EPOCHS, SEEDS, out=OUT)
    p.add_argument("--lrs", type=float, nargs="+", default=list(LRS),
                   help="Adam learning rates tried on the validation split (seed 0, spectral init)")
    return p


def base_cfg(args, method, seed, **extra):
    quick = args.quick
    rank = QUICK_RANK if quick else RANK
    cfg = {"method": method, "sizes": list(QUICK_SIZES if quick else SIZES), "rank": rank, "optimizer": "adam",
           "lr": None, "batch_size": 256, "epochs": args.epochs, "seed": seed,
           "data_tag": "embedded" if quick else None}
    if method == "dlrt":
        cfg.update(tau=0.01, max_rank=rank)
    cfg.update(extra)
    return cfg


def final_val(history):
    return float(history[-1]["val_acc"])


def select_lr(args, data, out, method, progress):
    """The learning rate of ``args.lrs`` with the best final validation accuracy (seed 0, spectral
    init); returns ``(lr, rows)`` with one row per candidate."""
    rows = []
    for lr in args.lrs:
        cfg = base_cfg(args, method, args.seeds[0], lr=lr)
        history, _, _ = common.train_run(cfg, data, out, force=args.force, progress=progress)
        rows.append({"method": method, "lr": lr, "val_acc": final_val(history)})
    best = max(rows, key=lambda r: r["val_acc"])
    return best["lr"], rows


def mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def layer_columns(history_row, prefix):
    """Values of ``<prefix>_<k>`` for the four hidden layers (k = 1..4) of a history row."""
    return [float(history_row[f"{prefix}_{k}"]) for k in range(1, len(SIZES) - 1)]
