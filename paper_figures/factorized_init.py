"""Spectral initialisation and its ablations for factorised layers, vanilla W = U Vᵀ and DLRT
(Kamalakara et al. 2022, "Exploring low rank training of deep neural networks", finding 1: the
directions of the singular vectors matter more than the singular values).

Inits (``dlra.nn.INITS``, all with the Frobenius norm of the spectral init): spectral (SI), random
(independent Gaussian factors), random_values (SI directions, random values), flat_values (SI
directions, equal values), random_directions (Haar directions, SI values). Protocol in
``_factorized_common.py``; the learning rate per method is chosen on the validation split.

    python paper_figures/factorized_init.py [--model {mlp,lenet5}] [--data-dir DIR] [--seeds 0 1 2] [--quick] [--out DIR]

Writes ``<out>/lr_selection.csv``, ``<out>/init.csv`` (per run and epoch), ``<out>/init_summary.csv``
and ``.md``, ``<out>/init.{png,pdf}``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _factorized_common as fc  # noqa: E402
import _mnist_common as common  # noqa: E402

INITS = ("spectral", "random", "random_values", "flat_values", "random_directions")
INIT_LABELS = {"spectral": "SI", "random": "random factors", "random_values": "SI dirs + random σ",
               "flat_values": "SI dirs + flat σ", "random_directions": "random dirs + SI σ"}


def main(argv=None):
    args, out, data, source = fc.parse(fc.parser(__doc__.split("\n\n")[0]), argv)
    L = fc.n_layers(args)
    progress = not args.no_progress
    rows, lr_rows, curves = [], [], {}
    lrs = {}
    for method in fc.METHODS:
        lrs[method], sel = fc.select_lr(args, data, out, method, progress)
        lr_rows += sel
    common.write_csv(out / "lr_selection.csv", lr_rows)
    for method in fc.METHODS:
        for init in INITS:
            for seed in args.seeds:
                cfg = fc.base_cfg(args, method, seed, lr=lrs[method], init=init)
                print(common.run_name(cfg), file=sys.stderr, flush=True)
                history, _, _ = common.train_run(cfg, data, out, force=args.force, progress=progress)
                for h in history:
                    rows.append({"method": method, "init": init, "seed": seed, "epoch": h["epoch"],
                                 "lr": lrs[method], "val_acc": h["val_acc"], "test_acc": h["test_acc"],
                                 "train_loss": h["train_loss"], "ranks": h["ranks"],
                                 "erank_mean": float(np.mean(fc.layer_columns(h, "erank", L)))})
                curves[(method, init, seed)] = history
    common.write_csv(out / "init.csv", rows)

    summary = []
    for method in fc.METHODS:
        for init in INITS:
            hs = [curves[(method, init, s)] for s in args.seeds]
            e1, e1s = fc.mean_std([100 * h[0]["val_acc"] for h in hs])
            val, vals = fc.mean_std([100 * h[-1]["val_acc"] for h in hs])
            test, tests = fc.mean_std([100 * h[-1]["test_acc"] for h in hs])
            er, ers = fc.mean_std([np.mean(fc.layer_columns(h[-1], "erank", L)) for h in hs])
            summary.append({"method": method, "init": init, "lr": lrs[method], "seeds": len(hs),
                            "val_epoch1": e1, "val_epoch1_std": e1s, "val_final": val, "val_final_std": vals,
                            "test_final": test, "test_final_std": tests, "erank_mean": er, "erank_mean_std": ers})
    common.write_csv(out / "init_summary.csv", summary)
    lines = [f"# Initialisation of factorised layers ({source})", "",
             f"{fc.arch(args)}, rank {fc.rank_label(args)}, "
             f"Adam, batch 256, {args.epochs} epochs, seeds {' '.join(map(str, args.seeds))}; "
             f"lr chosen on validation: " + ", ".join(f"{m} {lrs[m]:g}" for m in fc.METHODS) + ". "
             f"Accuracy in %, mean ± std over seeds; erank = effective rank (Roy & Vetterli), mean of the {L} "
             "factorised layers.",
             "", "| method | init | val acc epoch 1 | val acc final | test acc final | erank final |",
             "|---|---|---|---|---|---|"]
    for e in summary:
        lines.append(f"| {fc.LABELS[e['method']]} | {INIT_LABELS[e['init']]} | {e['val_epoch1']:.2f} ± {e['val_epoch1_std']:.2f} "
                     f"| {e['val_final']:.2f} ± {e['val_final_std']:.2f} | {e['test_final']:.2f} ± {e['test_final_std']:.2f} "
                     f"| {e['erank_mean']:.1f} ± {e['erank_mean_std']:.1f} |")
    common.write_markdown(out / "init_summary.md", "\n".join(lines) + "\n")

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(1, len(fc.METHODS), figsize=(5.2 * len(fc.METHODS), 3.4), sharey=True)
    for ax, method in zip(np.atleast_1d(axes), fc.METHODS):
        for j, init in enumerate(INITS):
            acc = np.array([[100 * h["val_acc"] for h in curves[(method, init, s)]] for s in args.seeds])
            ep = np.arange(1, acc.shape[1] + 1)
            ax.errorbar(ep, acc.mean(0), yerr=acc.std(0, ddof=1) if len(args.seeds) > 1 else None,
                        marker="o", ms=3, capsize=2, color=f"C{j}", label=INIT_LABELS[init])
        ax.set_title(f"{fc.LABELS[method]} (Adam lr {lrs[method]:g})")
        ax.set_xlabel("epoch")
        ax.set_xticks(ep)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("validation accuracy (%)")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Initialisation of factorised layers, {fc.arch(args)} on MNIST, mean ± std over "
                 f"{len(args.seeds)} seeds", fontsize=9)
    fig.tight_layout()
    written = common.save_figure(fig, out / "init")
    plt.close(fig)
    print("\n".join(lines))
    for p in [out / "lr_selection.csv", out / "init.csv", out / "init_summary.csv", *written]:
        print(p)


if __name__ == "__main__":
    main()
