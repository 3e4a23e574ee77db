"""Initialisation-scale study: is the compression of DLRT learned, or set by the initial weights?

For the 5-layer fully connected network (784-500×4-10) and LeNet5, DLRT (rank-adaptive BUG, Adam,
relative truncation τ ∈ {0.09, 0.15}) is trained from the He initialisation multiplied by
``--scales``. For each run: the final ranks, the inference compression, the validation accuracy,
and the **settling step** — the first step after which every layer's rank stays within 2 of its
final value — together with the mini-batch loss at that step (chance level: ln 10 ≈ 2.30).

A small initial scale makes the network's output ≈ 0, so the first gradients are those of a
constant predictor: K, L and S move in the few directions of that gradient while the initial
(random, unstructured) spectrum is cut by τ‖Ŝ‖_F at once; when the ranks settle before the loss
leaves chance level, the ranks (and hence the compression) were fixed by the initialisation, not
by what the data need.

    python paper_figures/init_scale_study.py [--data-dir DIR] [--epochs 1] [--train-limit 10000]
        [--scales 0.05 0.2 1] [--taus 0.09 0.15] [--models mlp lenet5] [--quick] [--out results/init_scale]

Only the validation split is evaluated (no test accuracy is read). Writes ``<out>/init_scale.csv``
and ``<out>/init_scale.{png,pdf}``.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _mnist_common as common  # noqa: E402
import _selection as selection  # noqa: E402

MARKERS = {"mlp": "o", "lenet5": "s"}


def settling(ranks_per_step, tol=2):
    """(step, loss) of the first step after which all ranks stay within ``tol`` of their final values."""
    cols = [k for k in ranks_per_step[0] if k.startswith("rank_")]
    R = np.array([[row[c] for c in cols] for row in ranks_per_step], dtype=float)
    off = np.any(np.abs(R - R[-1]) > tol, axis=1)
    k = int(np.nonzero(off)[0][-1] + 1) if off.any() else 0
    return ranks_per_step[k]["step"], float(ranks_per_step[k]["loss"])


def main(argv=None):
    p = common.base_parser(__doc__.split("\n\n")[0], 1, (0,), out="results/init_scale")
    p.add_argument("--scales", type=float, nargs="+", default=[0.05, 0.2, 1.0])
    p.add_argument("--taus", type=float, nargs="+", default=[0.09, 0.15])
    p.add_argument("--models", nargs="+", default=["mlp", "lenet5"], choices=["mlp", "lenet5"])
    p.add_argument("--train-limit", type=int, default=10000)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    args, out, data, source = common.parse(p, argv)
    if args.quick:
        args.train_limit, args.scales, args.taus = 256, args.scales[:2], args.taus[:1]
    split = selection.without_test(data, args.train_limit)
    tag = ("embedded_" if data.embedded else "") + f"n{args.train_limit}_valonly"
    rows, traces = [], {}
    for model in args.models:
        for tau in args.taus:
            for scale in args.scales:
                cfg = {"method": "dlrt", "tau": tau, "init_scale": scale, "optimizer": "adam", "lr": args.lr,
                       "batch_size": 256, "epochs": args.epochs, "seed": args.seeds[0], "data_tag": tag}
                if model == "lenet5":
                    cfg.update(model="lenet5", sizes=[784, 10], rank=[20, 50, 128, None], max_rank=128)
                else:
                    sizes = common.QUICK_SIZES if args.quick else common.FULL_SIZES
                    cfg.update(sizes=list(sizes), rank=min(250, sizes[1]), max_rank=min(250, sizes[1]))
                print(common.run_name(cfg), file=sys.stderr, flush=True)
                history, per_step, _ = common.train_run(cfg, split, out, force=args.force,
                                                        progress=not args.no_progress)
                last = history[-1]
                traces[(model, tau, scale)] = per_step
                step, loss = settling(per_step)
                rows.append({"model": model, "tau": tau, "init_scale": scale, "epochs": args.epochs,
                             "ranks": last["ranks"], "compression_inference": 100 * last["compression_inference"],
                             "val_acc": 100 * last["val_acc"], "settle_step": step, "loss_at_settle": loss,
                             "steps": last["steps"], "first_loss": float(per_step[0]["loss"])})
    written = [common.write_csv(out / "init_scale.csv", rows) or out / "init_scale.csv"]

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(1, 5, figsize=(19, 3.5))
    for j, (model, tau) in enumerate((m, t) for m in args.models for t in args.taus):
        sel = [r for r in rows if r["model"] == model and r["tau"] == tau]
        x = [r["init_scale"] for r in sel]
        style = dict(marker=MARKERS[model], color=f"C{j}", label=f"{model}, τ = {tau:g}")
        axes[0].plot(x, [sum(map(int, str(r["ranks"]).split("-"))) for r in sel], **style)
        axes[1].plot(x, [r["compression_inference"] for r in sel], **style)
        axes[2].plot(x, [r["val_acc"] for r in sel], **style)
    for ax, label in zip(axes[:3], ("sum of final ranks", "inference compression [%]", "validation accuracy [%]")):
        ax.set_xscale("log")
        ax.set_xlabel("init scale (× He)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[2].legend(fontsize=7)
    # per step, the largest τ: the ranks follow the same schedule whether or not the loss moves
    tau = max(args.taus)
    for j, model in enumerate(args.models):
        for k, scale in enumerate(args.scales):
            per_step = traces[(model, tau, scale)]
            steps = [r["step"] for r in per_step]
            cols = [c for c in per_step[0] if c.startswith("rank_")]
            style = dict(color=f"C{2 * j + (1 if len(args.taus) > 1 else 0)}", alpha=0.35 + 0.65 * k / max(1, len(args.scales) - 1),
                         label=f"{model}, × {scale:g}")
            axes[3].plot(steps, [sum(r[c] for c in cols) for r in per_step], **style)
            axes[4].plot(steps, [r["loss"] for r in per_step], **style)
    axes[4].axhline(math.log(10), color="0.4", ls=":", lw=1, label="chance (ln 10)")
    axes[3].set_ylabel(f"sum of ranks (τ = {tau:g})")
    axes[4].set_ylabel(f"mini-batch loss (τ = {tau:g})")
    for ax in axes[3:]:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[3].set_yscale("log")
    axes[4].legend(fontsize=7)
    fig.suptitle(f"DLRT, Adam {args.lr:g}, {args.epochs} epoch(s) on {args.train_limit} images "
                 f"({'embedded subset' if data.embedded else 'MNIST'}); validation split only", fontsize=9)
    fig.tight_layout()
    written += common.save_figure(fig, out / "init_scale")
    plt.close(fig)
    for r in rows:
        print(r)
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
