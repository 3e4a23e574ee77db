"""The 5-layer fully connected MNIST table of the DLRT paper (Schotthöfer, Zangrando, Kusch, Ceruti &
Tudisco, "Low-rank lottery tickets", NeurIPS 2022): 784 → 500 → 500 → 500 → 500 → 10, four
low-rank layers and a dense output layer, Adam lr 1e-3, batch 256; dense training and DLRT with the
relative truncation τ ∈ {0.05, 0.09, 0.13, 0.17} (tail of the singular values ≤ τ‖Ŝ‖_F), mean ± std
over the seeds.

    python paper_figures/mnist_table.py [--data-dir DIR] [--epochs N] [--seeds 0 1 2] [--quick]
                                        [--out results/mnist] [--select-lrs 3e-4 1e-3 3e-3]

With ``--select-lrs`` the learning rate, the initialisation scale (``--select-init-scales``), the
per-epoch decay (``--select-lr-decays``) and the number of epochs (≤ ``--epochs``) are chosen on the
validation split with the test split removed from the data (``_selection.py``; probes: dense and
τ = ``--select-tau``, seed 0), and the table then runs with that choice and reads the test set
at the final epoch only.

Writes ``<out>/table_runs.csv`` (one row per run), ``<out>/table.csv`` (mean ± std per τ with the
paper's numbers), ``<out>/table.md`` and the per-run histories under ``<out>/runs/``. Test accuracy
is that of the **final** epoch. Compression (inference) = 1 − (Σ_lowrank r (m + n) + output layer
+ all biases) / (parameters of the dense network), as ``MLP.parameter_counts`` computes it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _mnist_common as common  # noqa: E402

#: the paper's Table (5-layer, width 500): test accuracy, ranks, inference compression rate
PAPER = {
    None: {"acc": 98.54, "ranks": None, "cr": 0.0},
    0.05: {"acc": 98.56, "ranks": (81, 104, 111, 117), "cr": 61.6},
    0.09: {"acc": 98.34, "ranks": (35, 53, 51, 46), "cr": 82.6},
    0.13: {"acc": 97.50, "ranks": (20, 31, 32, 30), "cr": 89.2},
    0.17: {"acc": 96.90, "ranks": (13, 21, 24, 20), "cr": 92.4},
}
TAUS = (0.05, 0.09, 0.13, 0.17)
#: targets of the issue: accuracy ≥ paper − 0.5 points at a compression ≥ paper − 3 points
ACC_TOL, CR_TOL = 0.5, 3.0

DEFAULT_EPOCHS = 3
DEFAULT_INIT_RANK = 250


def configs(args):
    sizes = common.QUICK_SIZES if args.quick else common.FULL_SIZES
    width = min(sizes[1:-1])
    rank = min(args.init_rank, width)
    max_rank = rank if args.max_rank is None else min(args.max_rank, width)
    tag = "_".join(t for t in ("embedded" if args.embedded else "",
                               f"n{args.train_limit}" if getattr(args, "train_limit", None) else "") if t) or None
    out = []
    for seed in args.seeds:
        base = {"sizes": list(sizes), "optimizer": "adam", "lr": args.lr, "batch_size": 256,
                "epochs": args.epochs, "seed": seed, "data_tag": tag, "init_scale": args.init_scale,
                "lr_decay": args.lr_decay}
        if not args.no_dense:
            out.append({**base, "method": "dense", "rank": None, "tau": None})
        for tau in args.taus:
            out.append({**base, "method": "dlrt", "rank": rank, "max_rank": max_rank, "tau": float(tau)})
    return out


def run_row(cfg, history, info):
    last = history[-1]
    best = max(history, key=lambda r: r["val_acc"])
    ranks = [int(last[k]) for k in sorted((k for k in last if k.startswith("rank_")), key=lambda k: int(k[5:]))]
    return {
        "method": cfg["method"], "tau": cfg["tau"] if cfg["tau"] is not None else "",
        "seed": cfg["seed"], "epochs": cfg["epochs"], "init_rank": cfg.get("rank") or "",
        "max_rank": cfg.get("max_rank") or "",
        "test_acc": last["test_acc"], "val_acc": last["val_acc"], "train_acc": last["train_acc"],
        "best_val_epoch": best["epoch"], "test_acc_at_best_val": best["test_acc"],
        "ranks": "-".join(map(str, ranks)), **{f"rank_{k + 1}": r for k, r in enumerate(ranks)},
        "params_inference": last["params_inference"], "params_dense": last["params_dense"],
        "compression_inference": last["compression_inference"],
        "compression_training": last["compression_training"],
        "train_seconds": info["train_seconds"], "wall_seconds": info["wall_seconds"],
    }


def summarise(rows, n_lowrank, paper_table=None):
    """Mean ± std per (method, τ) with the paper's numbers (``paper_table``: default this table's PAPER)."""
    paper_table = PAPER if paper_table is None else paper_table
    out = []
    keys = []
    for r in rows:
        key = (r["method"], r["tau"])
        if key not in keys:
            keys.append(key)
    for method, tau in keys:
        group = [r for r in rows if r["method"] == method and r["tau"] == tau]
        acc = np.array([100 * r["test_acc"] for r in group])
        cr = np.array([100 * r["compression_inference"] for r in group])
        paper = paper_table.get(tau if tau != "" else None)
        row = {"method": method, "tau": tau, "seeds": len(group), "epochs": group[0]["epochs"],
               "test_acc_mean": acc.mean(), "test_acc_std": acc.std(ddof=1) if len(acc) > 1 else 0.0,
               "compression_mean": cr.mean(), "compression_std": cr.std(ddof=1) if len(cr) > 1 else 0.0,
               "train_seconds_mean": float(np.mean([r["train_seconds"] for r in group]))}
        for k in range(n_lowrank):
            if method != "dense":
                row[f"rank_{k + 1}_mean"] = float(np.mean([r[f"rank_{k + 1}"] for r in group]))
        if paper is not None:
            row["paper_acc"] = paper["acc"]
            row["paper_ranks"] = "-".join(map(str, paper["ranks"])) if paper["ranks"] else ""
            row["paper_compression"] = paper["cr"]
            row["delta_acc"] = row["test_acc_mean"] - paper["acc"]
            row["delta_compression"] = row["compression_mean"] - paper["cr"]
            if method == "dense":
                row["met"] = bool(row["delta_acc"] >= -ACC_TOL)
            else:
                row["met"] = bool(row["delta_acc"] >= -ACC_TOL and row["delta_compression"] >= -CR_TOL)
        out.append(row)
    return out


def plot(summary, path_stem, title, paper_table=None, paper_label="paper (DLRT, NeurIPS 2022)"):
    """Test accuracy against inference compression: ours (mean ± std over seeds) and the paper's."""
    paper_table = PAPER if paper_table is None else paper_table
    plt = common.setup_matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ours = [r for r in summary if r["method"] != "dense"]
    paper = [(tau, paper_table[tau]) for tau in sorted(k for k in paper_table if k is not None)]
    ax.plot([v["cr"] for _, v in paper], [v["acc"] for _, v in paper], "o--", mfc="none", color="0.35",
            label=paper_label)
    for tau, v in paper:
        ax.annotate(f"τ={tau:g}", (v["cr"], v["acc"]), textcoords="offset points", xytext=(4, -11),
                    fontsize=7, color="0.35")
    ax.errorbar([r["compression_mean"] for r in ours], [r["test_acc_mean"] for r in ours],
                xerr=[r["compression_std"] for r in ours], yerr=[r["test_acc_std"] for r in ours],
                fmt="s-", color="C0", capsize=3, label="dlra (this run)")
    for r in ours:
        ax.annotate(f"τ={float(r['tau']):g}", (r["compression_mean"], r["test_acc_mean"]),
                    textcoords="offset points", xytext=(4, 5), fontsize=7, color="C0")
    dense = [r for r in summary if r["method"] == "dense"]
    if dense:
        ax.axhline(dense[0]["test_acc_mean"], color="C0", lw=0.8, ls=":", label="dlra dense baseline")
    ax.axhline(paper_table[None]["acc"], color="0.35", lw=0.8, ls=":", label="paper dense baseline")
    ax.set_xlabel("compression rate for inference [%]")
    ax.set_ylabel("test accuracy [%]")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    paths = common.save_figure(fig, path_stem)
    plt.close(fig)
    return paths


def markdown(summary, args, source, n_lowrank):
    lines = [
        "# 5-layer fully connected network on MNIST (784-500-500-500-500-10)",
        "",
        f"Data: {source}. Adam, learning rate {args.lr:g}"
        f"{f' × {args.lr_decay:g} per epoch' if args.lr_decay != 1 else ''}, batch 256, {args.epochs} epochs, "
        f"He initialisation × {args.init_scale:g}, "
        f"seeds {' '.join(map(str, args.seeds))}; DLRT = rank-adaptive BUG with relative truncation τ "
        f"(initial rank {min(args.init_rank, 500) if not args.quick else min(args.init_rank, 64)}, max rank "
        f"{args.max_rank if args.max_rank is not None else '= initial rank'}). Test accuracy at the final "
        "epoch, mean ± std over the seeds. Compression (inference) = 1 − (Σ r(m+n) + output layer + "
        "biases) / dense parameters. Target: accuracy ≥ paper − 0.5 points at a compression ≥ paper − 3 "
        "points.",
        "",
        "| τ | paper acc (%) | ours acc (%) | Δ acc | paper ranks | our ranks (mean) | paper c.r. (%) "
        "| ours c.r. (%) | met? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        tau = "dense" if row["method"] == "dense" else f"{row['tau']:g}"
        ranks = "—" if row["method"] == "dense" else ", ".join(
            f"{row[f'rank_{k + 1}_mean']:.0f}" for k in range(n_lowrank))
        ours = f"{row['test_acc_mean']:.2f} ± {row['test_acc_std']:.2f}"
        if row["seeds"] != len(args.seeds):
            ours += f" (n = {row['seeds']})"
        cr = f"{row['compression_mean']:.1f}" + (f" ± {row['compression_std']:.1f}" if row["method"] != "dense" else "")
        if "paper_acc" in row:
            met = "yes" if row["met"] else "**no**"
            lines.append(f"| {tau} | {row['paper_acc']:.2f} | {ours} | {row['delta_acc']:+.2f} | "
                         f"{row['paper_ranks'].replace('-', ', ') or '—'} | {ranks} | {row['paper_compression']:.1f} | "
                         f"{cr} | {met} |")
        else:
            lines.append(f"| {tau} | — | {ours} | — | — | {ranks} | — | {cr} | — |")
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = common.base_parser(__doc__.split("\n\n")[0], DEFAULT_EPOCHS, (0, 1, 2))
    p.add_argument("--taus", type=float, nargs="+", default=list(TAUS), help="relative truncation tolerances")
    p.add_argument("--init-rank", type=int, default=DEFAULT_INIT_RANK,
                   help=f"initial rank of the low-rank layers (default {DEFAULT_INIT_RANK}, capped at the width)")
    p.add_argument("--max-rank", type=int, default=None, help="rank cap (default: the initial rank)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3, the paper's)")
    p.add_argument("--lr-decay", type=float, default=1.0,
                   help="learning rate × this factor after every epoch (default 1: constant)")
    p.add_argument("--init-scale", type=float, default=1.0,
                   help="scale of the He initialisation (0.41: PyTorch's nn.Linear default scale)")
    p.add_argument("--no-dense", action="store_true", help="skip the dense baseline")
    p.add_argument("--only-existing", action="store_true",
                   help="train nothing: summarise the finished runs among the requested ones")
    p.add_argument("--select-lrs", type=float, nargs="+", default=None,
                   help="selection protocol: choose lr, init scale, lr decay and epochs (≤ --epochs) on the "
                        "validation split (test removed) with dense and τ = --select-tau as probes (seed 0), "
                        "then run the table with that choice; these are the learning rates tried")
    p.add_argument("--select-init-scales", type=float, nargs="+", default=[1.0, 0.41, 0.05])
    p.add_argument("--select-lr-decays", type=float, nargs="+", default=[1.0, 0.8])
    p.add_argument("--select-tau", type=float, default=0.09)
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    args, out, data, source = common.parse(p, argv)
    args.embedded = data.embedded
    if args.train_limit:
        import _selection as selection

        data = argparse.Namespace(**selection.without_test(data, args.train_limit), x_test=data.x_test,
                                  y_test=data.y_test, embedded=data.embedded)
        source += f", first {args.train_limit} training images"
    n_lowrank = len(common.FULL_SIZES) - 2
    rows = []
    written = []
    if args.select_lrs:
        import _selection as selection

        probe_args = argparse.Namespace(**{**vars(args), "seeds": [0], "taus": [args.select_tau], "no_dense": False})
        grid = {"lr": args.select_lrs, "init_scale": args.select_init_scales, "lr_decay": args.select_lr_decays}
        probes = [{k: v for k, v in c.items() if k not in grid and k != "epochs"} for c in configs(probe_args)]
        choice, sel_rows = selection.select(probes, grid, selection.without_test(data, args.train_limit), out,
                                            epochs=args.epochs,
                                            tag=(probes[0]["data_tag"] or "full") + "_valonly", force=args.force,
                                            progress=not args.no_progress)
        written.append(common.write_csv(out / "selection.csv", sel_rows) or out / "selection.csv")
        print(f"selected on validation: {choice}", file=sys.stderr, flush=True)
        args.lr, args.init_scale, args.lr_decay, args.epochs = (choice["lr"], choice["init_scale"],
                                                                choice["lr_decay"], choice["epochs"])
    cfgs = configs(args)
    if args.only_existing:
        cfgs = [c for c in cfgs if (out / "runs" / common.run_name(c) / "run.json").is_file()]
    for i, cfg in enumerate(cfgs):
        print(f"[{i + 1}/{len(cfgs)}] {common.run_name(cfg)}", file=sys.stderr, flush=True)
        history, _, info = common.train_run(cfg, data, out, force=args.force, progress=not args.no_progress)
        rows.append(run_row(cfg, history, info))
    rows.sort(key=lambda r: (r["method"] != "dense", r["tau"] if r["tau"] != "" else 0, r["seed"]))
    summary = summarise(rows, n_lowrank)
    written += [common.write_csv(out / "table_runs.csv", rows) or out / "table_runs.csv",
                common.write_csv(out / "table.csv", summary) or out / "table.csv"]
    text = markdown(summary, args, source, n_lowrank)
    written.append(common.write_markdown(out / "table.md", text))
    written += plot(summary, out / "table", f"784-500×4-10 on {'the embedded subset' if data.embedded else 'MNIST'}, "
                    f"{args.epochs} epochs, He init × {args.init_scale:g}, Adam {args.lr:g}"
                    f"{f' × {args.lr_decay:g}/epoch' if args.lr_decay != 1 else ''}")
    print(text)
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
