"""Rank evolution of DLRT during training (seed slides: "fast initial compression and convergence of
the solution rank"): rank of each of the four low-rank layers of the 5-layer MNIST network
(784 → 500 → 500 → 500 → 500 → 10) after every step, for τ = 0.05 and τ = 0.15, Adam lr 1e-3, batch
256 — the configuration of ``mnist_table.py`` (a finished table run with the same configuration is
reused).

    python paper_figures/mnist_rank_evolution.py [--data-dir DIR] [--epochs N] [--seeds 0] [--quick]
                                                 [--out results/mnist]

Writes ``<out>/rank_evolution.csv`` (step, epoch, τ, seed, rank per layer, mini-batch loss) and
``<out>/rank_evolution.{png,pdf}``.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _mnist_common as common  # noqa: E402
from mnist_table import DEFAULT_EPOCHS, DEFAULT_INIT_RANK  # noqa: E402

TAUS = (0.05, 0.15)


def main(argv=None):
    p = common.base_parser(__doc__.split("\n\n")[0], DEFAULT_EPOCHS, (0,))
    p.add_argument("--taus", type=float, nargs="+", default=list(TAUS))
    p.add_argument("--init-rank", type=int, default=DEFAULT_INIT_RANK)
    p.add_argument("--max-rank", type=int, default=None, help="rank cap (default: the initial rank)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=1.0, help="learning rate × this after every epoch")
    p.add_argument("--init-scale", type=float, default=1.0, help="scale of the He initialisation")
    args, out, data, source = common.parse(p, argv)
    sizes = common.QUICK_SIZES if args.quick else common.FULL_SIZES
    width = min(sizes[1:-1])
    rank = min(args.init_rank, width)
    max_rank = rank if args.max_rank is None else min(args.max_rank, width)
    rows, runs = [], []
    for seed in args.seeds:
        for tau in args.taus:
            cfg = {"method": "dlrt", "sizes": list(sizes), "rank": rank, "max_rank": max_rank, "tau": float(tau),
                   "optimizer": "adam", "lr": args.lr, "batch_size": 256, "epochs": args.epochs, "seed": seed,
                   "init_scale": args.init_scale, "lr_decay": args.lr_decay,
                   "data_tag": "embedded" if data.embedded else None}
            print(common.run_name(cfg), file=sys.stderr, flush=True)
            history, per_step, info = common.train_run(cfg, data, out, force=args.force,
                                                       progress=not args.no_progress)
            layers = sorted((k for k in per_step[0] if k.startswith("rank_")), key=lambda k: int(k[5:]))
            for r in per_step:
                rows.append({"tau": tau, "seed": seed, "step": r["step"], "epoch": r["epoch"], "loss": r["loss"],
                             **{k: r[k] for k in layers}})
            runs.append((tau, seed, per_step, layers, history))
    written = [out / "rank_evolution.csv"]
    common.write_csv(written[0], rows)

    plt = common.setup_matplotlib()
    taus = list(dict.fromkeys(t for t, *_ in runs))
    fig, axes = plt.subplots(1, len(taus), figsize=(4.2 * len(taus), 3.4), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, tau in zip(axes, taus):
        for t, seed, per_step, layers, history in runs:
            if t != tau:
                continue
            steps = [r["step"] for r in per_step]
            for j, k in enumerate(layers):
                ax.plot([0] + steps, [rank] + [r[k] for r in per_step], color=f"C{j}", lw=1.4,
                        ls=("-", "--", "-.", ":")[j % 4],
                        label=f"layer {k[5:]}" if seed == args.seeds[0] else None)
            final = history[-1]
            ax.set_title(f"τ = {tau:g}: final ranks {final['ranks'].replace('-', ', ')}, "
                         f"test acc. {100 * final['test_acc']:.2f}%")
            n_per_epoch = per_step[-1]["step"] / max(1, per_step[-1]["epoch"])
            for e in range(1, int(per_step[-1]["epoch"])):
                ax.axvline(e * n_per_epoch, color="0.85", lw=0.8, zorder=0)
        ax.set_xlabel("training step (mini-batch of 256; grey lines: epochs)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("rank of the low-rank layer")
    axes[0].legend(loc="lower left", title="low-rank layer")
    fig.suptitle(f"DLRT rank evolution, 784-{'-'.join(map(str, sizes[1:-1]))}-10, Adam lr {args.lr:g}"
                 f"{f' × {args.lr_decay:g}/epoch' if args.lr_decay != 1 else ''}, He init × {args.init_scale:g}, "
                 f"initial rank {rank}; data: {'embedded subset' if data.embedded else 'full MNIST'}", fontsize=9)
    fig.tight_layout()
    written += common.save_figure(fig, out / "rank_evolution")
    plt.close(fig)
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
