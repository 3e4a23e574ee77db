"""Shared helpers of the MNIST reproduction scripts (``mnist_table.py``, ``mnist_rank_evolution.py``,
``mnist_init_robustness.py``): command line, data, one cached training run, atomic figure output.

Every run writes ``history.csv`` (per epoch) and ``ranks_per_step.csv`` (per step) plus a small
``run.json`` (its configuration and wall time) into its own directory under ``<out>/runs/``; the
directory name encodes the full configuration, so a script that finds a completed run with the same
configuration reuses it instead of training again (the rank-evolution script reuses the table's
τ = 0.05 run, and an interrupted script resumes at the first missing run).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from dlra.io import atomic_open, write_csv
from dlra.io import save_figure as io_save_figure

#: the paper's 5-layer network (784 → 500 → 500 → 500 → 500 → 10, four low-rank layers, dense output)
FULL_SIZES = (784, 500, 500, 500, 500, 10)
#: the tiny network of ``--quick`` (seconds, embedded data; for the smoke tests)
QUICK_SIZES = (784, 64, 64, 64, 64, 10)

NOT_PAPER = ("NOTE: using the embedded MNIST subset (5,000 train / 1,000 val / 1,000 test images); "
             "the numbers are NOT comparable with the paper's. Pass --data-dir or set DLRA_DATA_DIR "
             "to a directory with the full MNIST IDX files.")


def base_parser(description, epochs, seeds, out="results/mnist"):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=None,
                   help="directory with the MNIST IDX files (default: $DLRA_DATA_DIR, else the embedded subset)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"training epochs per run (default {epochs})")
    p.add_argument("--seeds", type=int, nargs="+", default=list(seeds),
                   help=f"seeds of initialisation and batch order (default {' '.join(map(str, seeds))})")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: embedded data, widths 64, 1 epoch, 1 seed (seconds)")
    p.add_argument("--out", default=out, help=f"output directory (default {out})")
    p.add_argument("--force", action="store_true", help="retrain runs whose results already exist")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    return p


def load_data(args):
    """``(data, source)``: MNIST from ``--data-dir`` / ``DLRA_DATA_DIR``, else (and with ``--quick``)
    the embedded subset, with a printed warning that its numbers are not the paper's."""
    from dlra.data import load_mnist
    if args.quick:
        data = load_mnist("embedded")
    else:
        data = load_mnist(args.data_dir)  # None → DLRA_DATA_DIR → embedded subset
    if data.embedded:
        print(NOT_PAPER, file=sys.stderr)
        source = "embedded subset (not the paper's data)"
    else:
        source = f"full MNIST from {data.data_dir}"
    print(f"data: {source}; train {len(data.x_train)}, val {len(data.x_val)}, test {len(data.x_test)}",
          file=sys.stderr)
    return data, source


def parse(parser, argv):
    """Parse the arguments (``--quick``: one epoch, one seed) and load the data.

    Returns ``(args, out_dir, data, source)``.
    """
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds = 1, args.seeds[:1]
    data, source = load_data(args)
    return args, Path(args.out), data, source


def run_name(cfg):
    """Directory name of a run: every setting that changes its result."""
    parts = [cfg["method"]]
    if cfg.get("tau") is not None:
        parts.append(f"tau{cfg['tau']:g}")
    if cfg.get("rank") is not None:
        rank = cfg["rank"]
        parts.append("r" + ("-".join("d" if r is None else str(r) for r in rank)
                            if isinstance(rank, (list, tuple)) else str(rank)))
    if cfg.get("max_rank") is not None:
        parts.append(f"max{cfg['max_rank']}")
    if cfg.get("decay") is not None:
        parts.append(f"decay{cfg['decay']:g}")
    if cfg.get("sigma_max") is not None:
        parts.append(f"smax{cfg['sigma_max']:.3g}")
    if cfg.get("init_scale", 1.0) != 1.0:
        parts.append(f"init{cfg['init_scale']:g}")
    if cfg.get("lr_decay", 1.0) != 1.0:
        parts.append(f"lrdecay{cfg['lr_decay']:g}")
    if cfg["method"] == "svd":   # SVD training + rank selection (Guo & Yu 2025)
        parts += [f"eps{cfg['epsilon']:g}" if cfg.get("epsilon") is not None else "noselect",
                  f"lo{cfg['lambda_o']:g}", f"lr{cfg['lambda_r']:g}{cfg.get('regularizer', 'nuclear')[0]}",
                  f"dd{cfg.get('delta_precision', 1 / 64):g}", cfg.get("rank_rule", "theorem")]
    arch = (cfg["model"] if cfg.get("model", "mlp") != "mlp"
            else "w" + "-".join(str(s) for s in cfg["sizes"][1:-1]))
    parts += [cfg["optimizer"], f"lr{cfg['lr']:g}", f"bs{cfg['batch_size']}", arch, f"e{cfg['epochs']}",
              f"seed{cfg['seed']}"]
    if cfg.get("init", "spectral") != "spectral":
        parts.append(f"init-{cfg['init']}")
    for key, tag in (("weight_decay", "wd"), ("frobenius_decay", "fd"), ("nuclear_decay", "nd")):
        if cfg.get(key):
            parts.append(f"{tag}{cfg[key]:g}")
    if cfg.get("pretrain_epochs"):
        parts.append(f"pre{cfg['pretrain_epochs']}")
    if cfg.get("data_tag"):
        parts.append(cfg["data_tag"])
    return "_".join(parts)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _number(value):
    try:
        x = float(value)
    except (TypeError, ValueError):
        return value
    return int(x) if x.is_integer() and "." not in str(value) and "e" not in str(value).lower() else x


def read_rows(path):
    return [{k: _number(v) for k, v in row.items()} for row in read_csv(path)]


def train_run(cfg, data, out_dir, *, force=False, progress=True):
    """Train one configuration (or reuse its finished results) and return ``(history, ranks_per_step,
    info)`` read back from ``<out_dir>/runs/<run_name(cfg)>/``.

    ``cfg`` keys: method ("dlrt", "dense", "vanilla", "svd" or a core method name), model ("mlp", the
    default, with ``sizes``; or "lenet5"), rank (initial rank of the low-rank layers, an int or one
    entry per layer; None for dense), max_rank, min_rank, tau, decay (σ_j = decay^-j initial
    singular values times sigma_max, else the spectral initialisation), optimizer, lr, batch_size, epochs, seed;
    for "svd" (:class:`dlra.nn.SVDTrainer`, every layer at full rank at the start): epsilon, lambda_o, lambda_r,
    regularizer, delta_precision, rank_rule. Factorised-training study (MLP or LeNet5, all optional): init (one of
    ``dlra.nn.INITS``), weight_decay / frobenius_decay / nuclear_decay (``Trainer``'s regularisers),
    pretrain_epochs (dense pre-training for that many of the ``epochs``, then truncated SVD at ``rank``;
    ``pretraining.csv``), keep_checkpoint (also write the final ``checkpoint.npz``).
    """
    from threadpoolctl import threadpool_limits

    from dlra.nn import MLP, LeNet5, Trainer

    run_dir = Path(out_dir) / "runs" / run_name(cfg)
    info_path = run_dir / "run.json"
    if not force and info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("complete") and (not cfg.get("keep_checkpoint") or (run_dir / "checkpoint.npz").is_file()):
            return read_rows(run_dir / "history.csv"), read_rows(run_dir / "ranks_per_step.csv"), info
    run_dir.mkdir(parents=True, exist_ok=True)
    options = {}
    if cfg.get("decay") is not None:
        # σ_max = √(2 m / r) (m = rows) gives a rank-r layer the forward gain of a He initialisation
        def spectrum(m, n, r):
            scale = float(cfg["sigma_max"]) if cfg.get("sigma_max") else float(np.sqrt(2 * m / r))
            return scale * float(cfg["decay"]) ** (-np.arange(r, dtype=float))
        options["init_singular_values"] = spectrum
    if cfg["method"] == "svd":
        from dlra.nn import SVDTrainer, svd_mlp
        from dlra.nn.lenet import LENET5_MAX_RANKS
        if cfg.get("model", "mlp") == "lenet5":   # every layer low-rank at full rank, conv layers included
            net = LeNet5(ranks=list(LENET5_MAX_RANKS), rng=cfg["seed"], dtype=np.float32,
                         init_scale=cfg.get("init_scale", 1.0))
        else:
            net = svd_mlp(cfg["sizes"], rng=cfg["seed"], dtype=np.float32, init_scale=cfg.get("init_scale", 1.0))
        trainer = SVDTrainer(net, epsilon=cfg.get("epsilon"), lambda_o=cfg["lambda_o"], lambda_r=cfg["lambda_r"],
                             regularizer=cfg.get("regularizer", "nuclear"),
                             delta_precision=cfg.get("delta_precision", 1 / 64),
                             rank_rule=cfg.get("rank_rule", "theorem"), optimizer=cfg["optimizer"], lr=cfg["lr"],
                             lr_decay=cfg.get("lr_decay", 1.0), batch_size=cfg["batch_size"], seed=cfg["seed"],
                             progress=progress)
    elif cfg.get("pretrain_epochs"):
        # dense pre-training for whole epochs (same batch order as a Trainer), then truncated SVD
        from dlra.nn import factorize, pretrain_dense
        if cfg.get("model", "mlp") == "lenet5":
            dense = LeNet5(ranks=None, rng=cfg["seed"], dtype=np.float32, init_scale=cfg.get("init_scale", 1.0))
        else:
            dense = MLP.from_sizes(cfg["sizes"], ranks=None, rng=cfg["seed"], dtype=np.float32,
                                   init_scale=cfg.get("init_scale", 1.0))
        steps = cfg["pretrain_epochs"] * -(-len(data.x_train) // cfg["batch_size"])
        with threadpool_limits(1, "blas"):
            pre = pretrain_dense(dense, data, steps, optimizer=cfg["optimizer"], lr=cfg["lr"],
                                 batch_size=cfg["batch_size"], seed=cfg["seed"], progress=progress)
        val_loss, val_acc = dense.evaluate(data.x_val, data.y_val, batch_size=4096)
        write_csv(run_dir / "pretraining.csv", [{"pretrain_steps": pre.step, "pretrain_val_acc": val_acc,
                                                 "pretrain_val_loss": val_loss, "pretrain_seconds": pre.train_seconds}])
        net = factorize(dense, cfg["rank"])
    elif cfg.get("model", "mlp") == "lenet5":
        if cfg.get("init") is not None:
            options["init"] = cfg["init"]
        net = LeNet5(ranks=cfg.get("rank"), rng=cfg["seed"], dtype=np.float32, init_scale=cfg.get("init_scale", 1.0),
                     **options)
    else:
        if options:
            options["init_singular_values"] = options["init_singular_values"](min(cfg["sizes"][1:-1]), None,
                                                                              cfg["rank"])
        if cfg.get("init") is not None:
            options["init"] = cfg["init"]
        net = MLP.from_sizes(cfg["sizes"], ranks=cfg.get("rank"), rng=cfg["seed"], dtype=np.float32,
                             init_scale=cfg.get("init_scale", 1.0), **options)
    kwargs = {k: cfg[k] for k in ("weight_decay", "frobenius_decay", "nuclear_decay") if cfg.get(k)}
    if cfg.get("tau") is not None:
        kwargs["tau"] = cfg["tau"]
    if cfg.get("max_rank") is not None:
        kwargs["max_rank"] = cfg["max_rank"]
    if cfg.get("min_rank") is not None:
        kwargs["min_rank"] = cfg["min_rank"]
    if cfg["method"] != "svd":
        trainer = Trainer(net, cfg["method"], optimizer=cfg["optimizer"], lr=cfg["lr"],
                          lr_decay=cfg.get("lr_decay", 1.0), batch_size=cfg["batch_size"], seed=cfg["seed"],
                          progress=progress, **kwargs)
    label = run_name(cfg)

    def report(row):
        print(f"  {label} epoch {row['epoch']}: test {row['test_acc']:.4f} val {row['val_acc']:.4f} "
              f"ranks {row['ranks'] or 'dense'} c.r. {row['compression_inference']:.3f} "
              f"({row['seconds']:.1f} s)", file=sys.stderr, flush=True)

    start = time.perf_counter()
    with threadpool_limits(1, "blas"):
        trainer.fit(data, cfg["epochs"] - int(cfg.get("pretrain_epochs") or 0), callback=report)
    wall = time.perf_counter() - start
    trainer.write_history(run_dir)
    if cfg.get("keep_checkpoint"):
        trainer.save_checkpoint(run_dir / "checkpoint.npz")
    info = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
            "trainer": trainer.config, "wall_seconds": wall, "train_seconds": trainer.train_seconds,
            "complete": True}
    with atomic_open(info_path) as f:
        json.dump(info, f, indent=1)
    return read_rows(run_dir / "history.csv"), read_rows(run_dir / "ranks_per_step.csv"), info


def setup_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.framealpha": 0.85})
    return plt


def save_figure(fig, stem):
    """Write ``stem.png`` and ``stem.pdf`` atomically (:func:`dlra.io.save_figure`); return the paths."""
    stem = Path(stem)
    return [Path(p) for p in io_save_figure(fig, stem.with_suffix(""), dpi=150, bbox_inches="tight")]


def write_markdown(path, text):
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


__all__ = ["FULL_SIZES", "QUICK_SIZES", "NOT_PAPER", "base_parser", "load_data", "parse", "run_name", "read_csv",
           "read_rows", "train_run", "setup_matplotlib", "save_figure", "write_markdown", "write_csv"]
