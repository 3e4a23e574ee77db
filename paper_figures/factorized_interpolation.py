"""Linear interpolation in weight space, θ(α) = (1 − α) θ_A + α θ_B (every W = U S Vᵀ and bias), between
a network trained low-rank from the start and one pre-trained dense then factorised, and between two
low-rank runs with different seeds, for vanilla W = U Vᵀ and for DLRT (Kamalakara et al. 2022, Figs. 2,
4, 5; finding 4: low-rank and pre-trained-then-factorised networks are separated by a loss barrier).

Uses the final checkpoints of ``factorized_pretraining.py`` (seeds 0 and 1; run it first, the runs are
reused). Loss and accuracy on the validation split and on the first 10,000 training images; the
barrier is max over α ∈ [0, 1] of L(θ(α)) − [(1 − α) L(θ_A) + α L(θ_B)].

    python paper_figures/factorized_interpolation.py [--model {mlp,lenet5}] [--data-dir DIR] [--pretrain-epochs 1] [--quick]

Writes ``<out>/interpolation.csv``, ``<out>/interpolation_summary.csv`` and ``.md`` and
``<out>/interpolation.{png,pdf}``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _factorized_common as fc  # noqa: E402
import _mnist_common as common  # noqa: E402
from factorized_pretraining import run_cfg  # noqa: E402

ALPHAS = np.round(np.linspace(-0.2, 1.2, 15), 3)


def _load(out, cfg):
    from dlra.nn import Trainer
    return Trainer.from_checkpoint(out / "runs" / common.run_name(cfg) / "checkpoint.npz", progress=False).net


def main(argv=None):
    from threadpoolctl import threadpool_limits

    from dlra.nn import interpolate

    p = fc.parser(__doc__.split("\n\n")[0])
    p.add_argument("--pretrain-epochs", type=int, default=1, help="P of the pre-trained network (default 1)")
    args, out, data, source = fc.parse(p, argv)
    progress = not args.no_progress
    seeds = args.seeds[:2] if len(args.seeds) >= 2 else [args.seeds[0], args.seeds[0] + 1]
    lrs = {m: fc.select_lr(args, data, out, m, progress)[0] for m in fc.METHODS}
    P = args.pretrain_epochs if args.epochs > args.pretrain_epochs else 0
    splits = {"val": (data.x_val, data.y_val), "train": (data.x_train[:10000], data.y_train[:10000])}
    rows, summary = [], []
    for method in fc.METHODS:
        nets = {}
        for key, seed, pre in (("scratch0", seeds[0], 0), ("scratch1", seeds[1], 0), ("pre0", seeds[0], P)):
            cfg = run_cfg(args, method, seed, lrs[method], pre)
            cfg["keep_checkpoint"] = True
            common.train_run(cfg, data, out, force=False, progress=progress)
            nets[key] = _load(out, cfg)
        pairs = {"low-rank ↔ pre-trained+factorised": ("scratch0", "pre0"),
                 "low-rank seed 0 ↔ seed 1": ("scratch0", "scratch1")}
        for pair, (a, b) in pairs.items():
            entry = {"method": method, "pair": pair}
            for split, (X, y) in splits.items():
                with threadpool_limits(1, "blas"):
                    curve = interpolate(nets[a], nets[b], ALPHAS, X, y)
                loss = np.array([c["loss"] for c in curve])
                for c in curve:
                    rows.append({"method": method, "pair": pair, "split": split, **c})
                inside = (ALPHAS >= 0) & (ALPHAS <= 1)
                l0, l1 = loss[ALPHAS == 0][0], loss[ALPHAS == 1][0]
                entry[f"{split}_barrier"] = float(np.max(loss[inside] - ((1 - ALPHAS[inside]) * l0 + ALPHAS[inside] * l1)))
                acc = np.array([c["accuracy"] for c in curve])
                entry[f"{split}_acc_min_inside"] = float(100 * acc[inside].min())
                entry[f"{split}_acc_endpoints"] = f"{100 * acc[ALPHAS == 0][0]:.2f} / {100 * acc[ALPHAS == 1][0]:.2f}"
                entry[f"{split}_acc_midpoint"] = float(100 * acc[np.argmin(np.abs(ALPHAS - 0.5))])
            summary.append(entry)
            print(entry, file=sys.stderr, flush=True)
    common.write_csv(out / "interpolation.csv", rows)
    common.write_csv(out / "interpolation_summary.csv", summary)
    lines = [f"# Interpolation in weight space ({source})", "",
             f"θ(α) = (1 − α) θ_A + α θ_B, seeds {seeds[0]} / {seeds[1]}, pre-trained network: {P} dense epoch(s) of "
             f"{args.epochs}. Barrier = max over α ∈ [0, 1] of the loss above the straight line between the endpoints "
             "(cross-entropy); accuracies in %.", "",
             "| method | pair | val acc at α = 0 / 1 | val acc at α = 0.5 | min val acc on [0, 1] | val loss barrier "
             "| train loss barrier |", "|---|---|---|---|---|---|---|"]
    for e in summary:
        lines.append(f"| {fc.LABELS[e['method']]} | {e['pair']} | {e['val_acc_endpoints']} | {e['val_acc_midpoint']:.2f} | "
                     f"{e['val_acc_min_inside']:.2f} | {e['val_barrier']:.3f} | {e['train_barrier']:.3f} |")
    common.write_markdown(out / "interpolation_summary.md", "\n".join(lines) + "\n")

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(2, len(fc.METHODS), figsize=(5.0 * len(fc.METHODS), 6.0), sharex=True)
    for col, method in enumerate(fc.METHODS):
        for j, pair in enumerate(dict.fromkeys(r["pair"] for r in rows)):
            for split, ls in (("train", "-"), ("val", "--")):
                pts = [r for r in rows if r["method"] == method and r["pair"] == pair and r["split"] == split]
                a = [r["alpha"] for r in pts]
                axes[0, col].plot(a, [r["loss"] for r in pts], ls=ls, marker="o", ms=3, color=f"C{j}",
                                  label=f"{pair} ({split})")
                axes[1, col].plot(a, [100 * r["accuracy"] for r in pts], ls=ls, marker="o", ms=3, color=f"C{j}",
                                  label=f"{pair} ({split})")
        axes[0, col].set_title(fc.LABELS[method])
        axes[0, col].set_yscale("log")
        axes[1, col].set_xlabel("α")
        for ax in axes[:, col]:
            ax.axvline(0, color="0.6", lw=0.8)
            ax.axvline(1, color="0.6", lw=0.8)
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("cross-entropy loss")
    axes[1, 0].set_ylabel("accuracy (%)")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=2)
    fig.suptitle(f"Linear interpolation in weight space θ(α) = (1 − α)θ_A + αθ_B, {fc.arch(args)} (solid: train, "
                 "dashed: validation)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    written = common.save_figure(fig, out / "interpolation")
    plt.close(fig)
    print("\n".join(lines))
    for path in [out / "interpolation.csv", out / "interpolation_summary.csv", *written]:
        print(path)


if __name__ == "__main__":
    main()
