"""Accuracy against compression on MNIST: SVD training + theory-driven rank selection (Guo & Yu,
IJCAI 2025 poster; an ε sweep), DLRT (Schotthöfer et al., NeurIPS 2022; a τ sweep), the vanilla
factorisation W = U Vᵀ (fixed ranks) and dense training, on the 5-layer network 784-500×4-10, with
the training cost (wall time, training-memory compression) beside it.

    python paper_figures/svd_comparison.py [--data-dir DIR] [--out results/svd]      # reduced protocol
    python paper_figures/svd_comparison.py --full                                      # full protocol
    python paper_figures/svd_comparison.py --tune                                      # SVD validation grid

Reduced protocol (default; fits ≈ 45 min on a shared 2-core machine): the first ``--train-size``
(10,000) of the 50,000 training images, 4 epochs, seeds 0 1 2, ε ∈ {0.02, 0.05, 0.15}, τ ∈ {0.05,
0.09, 0.17}, vanilla ranks {20, 60}. ``--full``: all 50,000 training images, 10 epochs. Validation:
the last 10,000 training images; the test set is evaluated once per epoch by the trainer and the
reported number is the final epoch's (nothing is chosen on it).

Writes ``<out>/comparison_runs.csv`` (one row per run), ``<out>/comparison.csv`` (mean ± std per
setting), ``<out>/comparison.md`` and ``<out>/comparison.png``/``.pdf``; per-run histories in
``<out>/runs/``. With ``--tune``: ``<out>/tune.csv`` (validation accuracy of the SVD grid).

Compression (inference) = 1 − (Σ r (m + n) + biases + dense layers) / dense parameters. Training
memory: DLRT 2 r (m + n) + r² per layer (bases, K, L, S), SVD training r (m + n) + r (U, s, V; it
starts at full rank, so its first epoch stores more than the dense network), vanilla r (m + n);
the table gives the **peak** over the epochs (the first epoch for the rank-decreasing methods).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _mnist_common as common  # noqa: E402

EPSILONS = (0.02, 0.05, 0.15)
POSTER_EPSILONS = (0.05,)
TAUS = (0.05, 0.09, 0.17)
VANILLA_RANKS = (20, 60)
DLRT_INIT_RANK = 250
#: He-init scales chosen on the validation split by ``--tune`` (2 epochs, seed 0, reduced protocol)
INIT_SCALES = {"dense": 1.0, "dlrt": 1.0, "vanilla": 1.0, "svd": 1.0}
POSTER = "svd (poster rule)"
LABELS = {"svd": "SVD training + rank selection (ε)", POSTER: "the same, poster's rank rule",
          "dlrt": "DLRT (τ)", "vanilla": "vanilla U Vᵀ (rank)", "dense": "dense"}


def build_parser():
    p = common.base_parser(__doc__.split("\n\n")[0], epochs=4, seeds=(0, 1, 2), out="results/svd")
    p.add_argument("--train-size", type=int, default=10000,
                   help="training images used (the first N of the 50,000; 0 = all; default 10000)")
    p.add_argument("--full", action="store_true", help="full protocol: all training images, 10 epochs")
    p.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS))
    p.add_argument("--poster-epsilons", type=float, nargs="*", default=list(POSTER_EPSILONS),
                   help="ε at which SVD training also runs with the poster's printed rank rule "
                        "k = max{k : kσ_k/σ₁ ≥ δ} (default 0.05; the others use the theorem rule)")
    p.add_argument("--taus", type=float, nargs="*", default=list(TAUS))
    p.add_argument("--vanilla-ranks", type=int, nargs="*", default=list(VANILLA_RANKS))
    p.add_argument("--model", default="mlp", choices=["mlp", "lenet5"],
                   help="mlp: 784-500×4-10 (default); lenet5: conv 20, conv 50, FC 500, FC 10 (SVD training "
                        "makes every layer, the conv layers too, U diag(s) Vᵀ)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of every method (default 1e-3)")
    p.add_argument("--lr-decay", type=float, default=0.8, help="per-epoch learning-rate factor (default 0.8)")
    for method in ("dense", "dlrt", "vanilla", "svd"):
        p.add_argument(f"--{method}-init-scale", type=float, default=INIT_SCALES[method],
                       help=f"He-init scale of {method} (default {INIT_SCALES[method]:g}, chosen on validation: --tune)")
    p.add_argument("--lambda-o", type=float, default=1.0)
    p.add_argument("--lambda-r", type=float, default=1e-3, help="nuclear-norm weight (default 1e-3, from --tune)")
    p.add_argument("--delta-precision", type=float, default=1 / 64)
    p.add_argument("--tune", action="store_true",
                   help="only the validation grid (seed 0): init scale {0.05, 1} for every method (DLRT at τ = 0.09, "
                        "vanilla at r = 60), × λ_R {1e-4, 1e-3} for SVD at ε = 0.05")
    p.add_argument("--only-existing", action="store_true", help="summarise the finished runs only")
    return p


def _data(args, data):
    n = len(data.x_train) if (args.train_size in (0, None) or args.full) else min(args.train_size, len(data.x_train))
    subset = {"x_train": data.x_train[:n], "y_train": data.y_train[:n], "x_val": data.x_val, "y_val": data.y_val,
              "x_test": data.x_test, "y_test": data.y_test}
    tag = ("embedded" if data.embedded else "") + (f"n{n}" if n < len(data.x_train) else "")
    return subset, tag or None


def configs(args, tag):
    sizes = list(common.QUICK_SIZES if args.quick else common.FULL_SIZES)
    width = min(sizes[1:-1])
    out = []
    for seed in args.seeds:
        base = {"sizes": sizes, "optimizer": "adam", "lr": args.lr, "batch_size": 256, "epochs": args.epochs,
                "seed": seed, "data_tag": tag, "lr_decay": args.lr_decay}
        if args.model == "lenet5":
            base["model"] = "lenet5"
            width = 500   # the FC hidden layer; the conv ranks are capped at 20 and 50 by LeNet5
        init = {m: {"init_scale": getattr(args, f"{m}_init_scale")} for m in INIT_SCALES}
        svd = {**base, "method": "svd", **init["svd"], "lambda_o": args.lambda_o,
               "lambda_r": args.lambda_r, "regularizer": "nuclear", "delta_precision": args.delta_precision,
               "rank_rule": "theorem"}
        out.append({**base, **init["dense"], "method": "dense", "rank": None, "setting": "dense"})
        for eps in args.epsilons:
            out.append({**svd, "epsilon": float(eps), "setting": f"ε = {eps:g}"})
        for eps in args.poster_epsilons:
            out.append({**svd, "epsilon": float(eps), "rank_rule": "poster", "setting": f"ε = {eps:g}, poster rule"})
        for tau in args.taus:
            r = min(DLRT_INIT_RANK, width)
            out.append({**base, **init["dlrt"], "method": "dlrt", "rank": r, "max_rank": r, "tau": float(tau),
                        "setting": f"τ = {tau:g}"})
        for rank in args.vanilla_ranks:
            out.append({**base, **init["vanilla"], "method": "vanilla", "rank": min(rank, width),
                        "setting": f"r = {min(rank, width)}"})
    return out


def tune_configs(args, tag):
    sizes = list(common.QUICK_SIZES if args.quick else common.FULL_SIZES)
    width = min(sizes[1:-1])
    out = []
    base = {"sizes": sizes, "optimizer": "adam", "lr": args.lr, "batch_size": 256, "epochs": args.epochs,
            "seed": args.seeds[0], "data_tag": tag, "lr_decay": args.lr_decay}
    for init in (0.05, 1.0):
        out.append({**base, "init_scale": init, "method": "dense", "rank": None, "setting": f"init {init:g}"})
        r = min(DLRT_INIT_RANK, width)
        out.append({**base, "init_scale": init, "method": "dlrt", "rank": r, "max_rank": r, "tau": 0.09,
                    "setting": f"init {init:g}, τ = 0.09"})
        out.append({**base, "init_scale": init, "method": "vanilla", "rank": min(60, width),
                    "setting": f"init {init:g}, r = {min(60, width)}"})
    for init in (0.05, 1.0):
        for lam in (1e-4, 1e-3):
            out.append({"sizes": sizes, "optimizer": "adam", "lr": args.lr, "batch_size": 256, "epochs": args.epochs,
                        "seed": args.seeds[0], "data_tag": tag, "lr_decay": args.lr_decay, "method": "svd",
                        "init_scale": init, "lambda_o": args.lambda_o, "lambda_r": lam, "regularizer": "nuclear",
                        "delta_precision": args.delta_precision, "rank_rule": "theorem", "epsilon": 0.05,
                        "setting": f"init {init:g}, λ_R {lam:g}"})
    return out


def run_row(cfg, history, info):
    last = history[-1]
    return {
        "method": POSTER if cfg.get("rank_rule") == "poster" else cfg["method"], "setting": cfg["setting"],
        "seed": cfg["seed"],
        "val_acc": last["val_acc"], "test_acc": last["test_acc"], "ranks": last["ranks"] or "dense",
        "compression_inference": last["compression_inference"],
        "compression_training_peak": min(row["compression_training"] for row in history),
        "compression_training_final": last["compression_training"],
        "train_seconds": info["train_seconds"], "epochs": last["epoch"],
        "delta": last.get("delta", ""), "run": common.run_name(cfg),
    }


def summarise(rows):
    groups = {}
    for row in rows:
        groups.setdefault((row["method"], row["setting"]), []).append(row)
    out = []
    for (method, setting), rs in groups.items():
        entry = {"method": method, "setting": setting, "seeds": len(rs)}
        for key in ("test_acc", "val_acc", "compression_inference", "compression_training_peak",
                    "compression_training_final", "train_seconds"):
            values = np.array([float(r[key]) for r in rs])
            entry[f"{key}_mean"] = float(values.mean())
            entry[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        ranks = np.array([[int(x) for x in r["ranks"].split("-")] for r in rs if r["ranks"] != "dense"])
        entry["ranks_mean"] = ", ".join(f"{v:.0f}" for v in ranks.mean(axis=0)) if ranks.size else "—"
        out.append(entry)
    return out


def plot(summary, path, title):
    plt = common.setup_matplotlib()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    markers = {"svd": "o", POSTER: "x", "dlrt": "s", "vanilla": "^", "dense": "D"}
    for method in ("svd", POSTER, "dlrt", "vanilla", "dense"):
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["compression_inference_mean"])
        if not rows:
            continue
        x = [100 * r["compression_inference_mean"] for r in rows]
        y = [100 * r["test_acc_mean"] for r in rows]
        line = ax1.errorbar(x, y, xerr=[100 * r["compression_inference_std"] for r in rows],
                            yerr=[100 * r["test_acc_std"] for r in rows], marker=markers[method], capsize=3,
                            label=LABELS[method])
        for r, xi, yi in zip(rows, x, y):
            ax1.annotate(r["setting"].replace(" = ", "="), (xi, yi), textcoords="offset points", xytext=(4, -10),
                         fontsize=7, color=line[0].get_color())
        ax2.errorbar([100 * r["compression_training_peak_mean"] for r in rows],
                     [r["train_seconds_mean"] for r in rows], yerr=[r["train_seconds_std"] for r in rows],
                     marker=markers[method], linestyle="none", capsize=3, label=LABELS[method],
                     color=line[0].get_color())
    ax1.set_xlabel("compression for inference (%)")
    ax1.set_ylabel("test accuracy (%), mean ± std over seeds")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7, loc="best")
    ax2.set_xlabel("training-memory compression at its peak (%) (< 0: more than dense)")
    ax2.set_ylabel("training wall time (s, incl. rank selection)")
    ax2.set_title("training cost")
    ax2.grid(alpha=0.3)
    paths = common.save_figure(fig, path)
    plt.close(fig)
    return paths


def markdown(summary, source, args):
    lines = [f"Data: {source}; {args.epochs} epochs; seeds {' '.join(map(str, args.seeds))}.", "",
             "| method | setting | test acc (%) | c.r. inference (%) | ranks (mean) | training memory c.r. "
             "peak / final (%) | train time (s) |", "|---|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {r['method']} | {r['setting']} | {100 * r['test_acc_mean']:.2f} ± {100 * r['test_acc_std']:.2f}"
                     f" | {100 * r['compression_inference_mean']:.1f} ± {100 * r['compression_inference_std']:.1f}"
                     f" | {r['ranks_mean']} | {100 * r['compression_training_peak_mean']:.1f} / "
                     f"{100 * r['compression_training_final_mean']:.1f} | {r['train_seconds_mean']:.0f} ± "
                     f"{r['train_seconds_std']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args, out, data, source = common.parse(build_parser(), argv)
    if args.full:
        args.epochs = 10
    subset, tag = _data(args, data)
    source = f"{source}; {len(subset['x_train'])} training images"
    out.mkdir(parents=True, exist_ok=True)
    cfgs = tune_configs(args, tag) if args.tune else configs(args, tag)
    rows = []
    for cfg in cfgs:
        run_dir = out / "runs" / common.run_name(cfg)
        if args.only_existing and not (run_dir / "run.json").is_file():
            continue
        history, _, info = common.train_run(cfg, subset, out, force=args.force, progress=not args.no_progress)
        rows.append(run_row(cfg, history, info))
    if args.tune:   # chosen on the validation split: the test columns are not written
        rows = [{k: v for k, v in row.items() if not k.startswith("test")} for row in rows]
        common.write_csv(out / "tune.csv", rows)
        print(out / "tune.csv")
        return [out / "tune.csv"]
    summary = summarise(rows)
    common.write_csv(out / "comparison_runs.csv", rows)
    common.write_csv(out / "comparison.csv", summary)
    written = [out / "comparison_runs.csv", out / "comparison.csv",
               common.write_markdown(out / "comparison.md", markdown(summary, source, args))]
    name = "LeNet5" if args.model == "lenet5" else "5-layer"
    written += plot(summary, out / "comparison", f"{name} MNIST, {len(subset['x_train'])} training images, "
                                                 f"{args.epochs} epochs")
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
