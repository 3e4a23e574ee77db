"""Robustness to the initialisation: DLRT vs the "vanilla" factorisation W = U Vᵀ trained by plain
gradient descent, starting from weights whose singular values decay geometrically,
σ_j = σ_max · decay^(−j), j = 0 … r − 1 (decay 1 = flat), with Haar-random orthonormal singular
vectors. σ_max = √(2 · width / r) (= 7.07 for width 500, rank 20) gives the flat spectrum the
forward gain of a He initialisation; with σ_max = 1 the rank-20 layers attenuate the signal so much
(≈ √(20/500) per layer) that neither method learns anything in the first epoch at SGD lr 0.01.

The paper (Schotthöfer et al., NeurIPS 2022) runs LeNet5; we use the 5-layer MLP of
``mnist_table.py`` (784 → 500 → 500 → 500 → 500 → 10, four low-rank layers of fixed rank 20, dense
output), SGD with learning rate 0.01, batch 256. DLRT with a fixed rank = the rank-adaptive BUG
(``Trainer(method="dlrt", min_rank=r, max_rank=r)``: augment to 2r, truncate back to exactly r).
Vanilla = ``Trainer(method="vanilla")`` (U ← U − h ∇_W L V, V ← V − h ∇_W Lᵀ U, from U = P Σ^½,
V = Q Σ^½).

    python paper_figures/mnist_init_robustness.py [--data-dir DIR] [--epochs N] [--seeds 0] [--quick]
                                                  [--out results/mnist] [--model lenet5] [--train-limit N]

``--model lenet5`` runs the paper's network (conv1, conv2 and fc1 low-rank with rank 20 — conv1's
full rank — dense output layer), each low-rank layer m × n starting from σ_j = √(2m/r)·decay^(−j)
(the He forward gain, as above) unless ``--sigma-max`` is given.

Writes ``<out>/init_robustness.csv`` (per run and epoch), ``<out>/init_robustness_per_epoch.csv``
(mean ± std over the seeds per epoch), ``<out>/init_robustness_summary.csv`` and ``.md`` (test
accuracy after the first and the last epoch, mean ± std, DLRT − vanilla, the per-epoch means) and
``<out>/init_robustness.{png,pdf}`` (mean ± std error bars per epoch, the slides' values dashed).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _mnist_common as common  # noqa: E402

DECAYS = (1.0, 2.0, 10.0)
METHODS = ("dlrt", "vanilla")
LABELS = {"dlrt": "DLRT (fixed rank)", "vanilla": "vanilla U Vᵀ (SGD)"}
DEFAULT_EPOCHS = 3
#: the slides' LeNet5 robustness numbers (test accuracy %, DLRT and vanilla U Vᵀ) per decay
SLIDE_LENET5 = {1.0: (97.81, 93.74), 2.0: (97.29, 90.91), 10.0: (97.07, 86.24)}


def per_epoch(curves, decays, seeds):
    """Test accuracy (%) per (decay, method, epoch): mean and sample std over ``seeds`` of
    ``curves[(decay, method, seed)]`` (one accuracy in [0, 1] per epoch)."""
    rows = []
    for decay in decays:
        for method in METHODS:
            acc = 100 * np.array([curves[(decay, method, s)] for s in seeds], dtype=float)
            for e in range(acc.shape[1]):
                rows.append({"decay": decay, "method": method, "epoch": e + 1, "seeds": len(seeds),
                             "test_acc_mean": float(acc[:, e].mean()),
                             "test_acc_std": float(acc[:, e].std(ddof=1)) if len(seeds) > 1 else 0.0})
    return rows


def main(argv=None):
    p = common.base_parser(__doc__.split("\n\n")[0], DEFAULT_EPOCHS, (0,))
    p.add_argument("--decays", type=float, nargs="+", default=list(DECAYS))
    p.add_argument("--rank", type=int, default=20, help="fixed rank of the low-rank layers (default 20)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    p.add_argument("--sigma-max", type=float, default=None,
                   help="largest initial singular value (default √(2 · width / rank))")
    p.add_argument("--model", default="mlp", choices=["mlp", "lenet5"], help="network (default: the 5-layer MLP)")
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    args, out, data, source = common.parse(p, argv)
    lenet = args.model == "lenet5"
    sizes = common.QUICK_SIZES if args.quick else common.FULL_SIZES
    rank = min(args.rank, 20 if lenet else min(sizes[1:-1]))
    sigma_max = args.sigma_max if args.sigma_max is not None else (
        None if lenet else float(np.sqrt(2 * min(sizes[1:-1]) / rank)))
    smax_text = "√(2m/r)" if sigma_max is None else f"{sigma_max:.3g}"
    arch = ("LeNet5 (conv1, conv2, fc1 of rank " if lenet else "784-" + "-".join(map(str, sizes[1:-1])) + "-10 (rank ")
    arch += f"{rank}, dense output)"
    if args.train_limit:
        data = {"x_train": data.x_train[:args.train_limit], "y_train": data.y_train[:args.train_limit],
                "x_val": data.x_val, "y_val": data.y_val, "x_test": data.x_test, "y_test": data.y_test,
                "embedded": data.embedded}
        source += f", first {args.train_limit} training images"
    embedded = data["embedded"] if isinstance(data, dict) else data.embedded
    rows, curves = [], {}
    for seed in args.seeds:
        for decay in args.decays:
            for method in METHODS:
                cfg = {"method": method, "sizes": list(sizes), "rank": rank, "decay": float(decay), "sigma_max": sigma_max,
                       "optimizer": "sgd", "lr": args.lr, "batch_size": 256, "epochs": args.epochs, "seed": seed,
                       "data_tag": "_".join(t for t in ("embedded" if embedded else "",
                                                        f"n{args.train_limit}" if args.train_limit else "") if t)
                       or None}
                if lenet:
                    cfg.update(model="lenet5", rank=[rank, rank, rank, None])
                if method == "dlrt":
                    cfg.update(min_rank=rank, max_rank=rank)
                print(common.run_name(cfg), file=sys.stderr, flush=True)
                try:
                    history, _, info = common.train_run(cfg, data, out, force=args.force,
                                                        progress=not args.no_progress)
                except FloatingPointError as exc:  # diverged: record NaN accuracies
                    print(f"  diverged: {exc}", file=sys.stderr)
                    history = [{"epoch": e + 1, "test_acc": float("nan"), "val_acc": float("nan"),
                                "train_loss": float("nan"), "ranks": "diverged", "seconds": float("nan")}
                               for e in range(args.epochs)]
                for h in history:
                    rows.append({"decay": decay, "method": method, "seed": seed, "epoch": h["epoch"],
                                 "test_acc": h["test_acc"], "val_acc": h["val_acc"], "train_loss": h["train_loss"],
                                 "ranks": h["ranks"], "seconds": h["seconds"]})
                curves[(decay, method, seed)] = [h["test_acc"] for h in history]
    written = [out / "init_robustness.csv"]
    common.write_csv(written[0], rows)

    summary = []
    for decay in args.decays:
        entry = {"decay": decay, "seeds": len(args.seeds), "epochs": args.epochs}
        for method in METHODS:
            acc = np.array([curves[(decay, method, s)] for s in args.seeds]) * 100
            entry[f"{method}_epoch1"] = acc[:, 0].mean()
            entry[f"{method}_final"] = acc[:, -1].mean()
            entry[f"{method}_final_std"] = acc[:, -1].std(ddof=1) if len(args.seeds) > 1 else 0.0
        entry["gap_epoch1"] = entry["dlrt_epoch1"] - entry["vanilla_epoch1"]
        entry["gap_final"] = entry["dlrt_final"] - entry["vanilla_final"]
        summary.append(entry)
    # loss of accuracy relative to the flat spectrum (decay 1), as in the paper's robustness table
    flat = next((e for e in summary if e["decay"] == 1.0), None)
    for e in summary:
        for method in METHODS:
            e[f"{method}_drop_vs_flat"] = (flat[f"{method}_final"] - e[f"{method}_final"]) if flat else float("nan")
    written.append(out / "init_robustness_summary.csv")
    common.write_csv(written[-1], summary)
    epoch_rows = per_epoch(curves, args.decays, args.seeds)
    written.append(out / "init_robustness_per_epoch.csv")
    common.write_csv(written[-1], epoch_rows)
    lines = [
        f"# Robustness to the initial spectrum σ_j = decay^(−j) (MNIST, {arch})",
        "",
        f"Data: {source}. Initial σ_j = {smax_text} · decay^(−j). SGD lr {args.lr:g}, batch 256, {args.epochs} epochs, seeds "
        f"{' '.join(map(str, args.seeds))}; {arch}, DLRT at fixed rank (min = max rank = {rank}). "
        "Test accuracy (%) after the first and the last epoch; 'drop' = loss at the last epoch relative "
        "to the flat spectrum (decay 1); 'diverged' = the loss became NaN/inf. The paper's experiment uses "
        "LeNet5.",
        "",
        "| decay | DLRT epoch 1 | vanilla epoch 1 | DLRT final | vanilla final | DLRT − vanilla (final) "
        "| DLRT drop vs flat | vanilla drop vs flat |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def fmt(x, sign=False, std=None):
        if not np.isfinite(x):
            return "diverged"
        text = f"{x:+.2f}" if sign else f"{x:.2f}"
        return text + (f" ± {std:.2f}" if std is not None and len(args.seeds) > 1 else "")

    for e in summary:
        lines.append(f"| {e['decay']:g} | {fmt(e['dlrt_epoch1'])} | {fmt(e['vanilla_epoch1'])} | "
                     f"{fmt(e['dlrt_final'], std=e['dlrt_final_std'])} | "
                     f"{fmt(e['vanilla_final'], std=e['vanilla_final_std'])} | {fmt(e['gap_final'], True)} | "
                     f"{fmt(e['dlrt_drop_vs_flat'], True)} | {fmt(e['vanilla_drop_vs_flat'], True)} |")
    lines += ["", f"Per epoch, test accuracy (%) mean ± std over seeds {' '.join(map(str, args.seeds))} "
              "(`init_robustness_per_epoch.csv`):", "",
              "| decay | method | " + " | ".join(f"epoch {e + 1}" for e in range(args.epochs)) + " |",
              "|---|---|" + "---|" * args.epochs]
    for decay in args.decays:
        for method in METHODS:
            cells = [fmt(r["test_acc_mean"], std=r["test_acc_std"]) for r in epoch_rows
                     if r["decay"] == decay and r["method"] == method]
            lines.append(f"| {decay:g} | {LABELS[method]} | " + " | ".join(cells) + " |")
    if lenet:
        lines += ["", "Slides (LeNet5, DLRT / vanilla, %): " + "; ".join(
            f"decay {d:g}: {a:.2f} / {b:.2f}" for d, (a, b) in SLIDE_LENET5.items()) + "."]
    lines.append("")
    written.append(common.write_markdown(out / "init_robustness.md", "\n".join(lines)))

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(1, len(args.decays), figsize=(3.4 * len(args.decays), 3.1), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, decay in zip(axes, args.decays):
        for j, method in enumerate(METHODS):
            rows_m = [r for r in epoch_rows if r["decay"] == decay and r["method"] == method]
            mean = np.array([r["test_acc_mean"] for r in rows_m])
            if len(args.seeds) > 1:     # mean ± std over the seeds as error bars
                ax.errorbar([r["epoch"] for r in rows_m], mean, yerr=[r["test_acc_std"] for r in rows_m],
                            marker="o", ms=3, capsize=3, color=f"C{j}",
                            label=f"{LABELS[method]}, mean ± std ({len(args.seeds)} seeds)")
            else:
                ax.plot([r["epoch"] for r in rows_m], mean, marker="o", ms=3, color=f"C{j}", label=LABELS[method])
            if not np.isfinite(mean).any():
                ax.text(0.5, 0.55 - 0.1 * j, f"{LABELS[method]}: diverged (NaN loss)", color=f"C{j}",
                        transform=ax.transAxes, ha="center", fontsize=8)
        ax.set_title(f"decay {decay:g}: σ_j = {smax_text}·{decay:g}^(−j)" if decay != 1
                     else f"decay 1: σ_j = {smax_text} (flat)")
        if lenet and decay in SLIDE_LENET5:
            for (j, value), method in zip(enumerate(SLIDE_LENET5[decay]), METHODS):
                ax.axhline(value, color=f"C{j}", ls="--", lw=0.8,
                           label=f"slides, {LABELS[method].split(' ')[0]}" if decay == args.decays[0] else None)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.set_xticks(range(1, args.epochs + 1))
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(loc="lower right", fontsize=7)
    fig.suptitle(f"Initialisation robustness, {arch}, SGD lr {args.lr:g}, batch 256; data: "
                 f"{'embedded subset' if embedded else 'MNIST'}"
                 f"{f' (first {args.train_limit} images)' if args.train_limit else ''}", fontsize=9)
    fig.tight_layout()
    written += common.save_figure(fig, out / "init_robustness")
    plt.close(fig)
    print("\n".join(lines))
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
