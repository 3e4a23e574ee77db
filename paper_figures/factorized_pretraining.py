"""Pre-training: dense for P of the E epochs, factorise by truncated SVD at rank r, continue
low-rank (vanilla W = U Vᵀ, or DLRT from the dense weights' truncated SVD), against low-rank from the
start (spectral init) at equal total steps (Kamalakara et al. 2022, finding 3: pre-training helps
language models but not consistently vision models). Dense training for all E epochs is shown for
reference. Protocol in ``_factorized_common.py``; learning rates as chosen by ``factorized_init.py``
(the dense phase uses the method's learning rate).

    python paper_figures/factorized_pretraining.py [--model {mlp,lenet5}] [--data-dir DIR] [--pretrain-epochs 1] [--quick]

Writes ``<out>/pretraining.csv`` (per run), ``<out>/pretraining_summary.csv`` and ``.md`` and
``<out>/pretraining.{png,pdf}``. Seeds 0 and 1 keep their final checkpoints (for
``factorized_interpolation.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _factorized_common as fc  # noqa: E402
import _mnist_common as common  # noqa: E402

PRETRAIN_EPOCHS = (1,)


def run_cfg(args, method, seed, lr, pretrain):
    cfg = fc.base_cfg(args, method, seed, lr=lr, keep_checkpoint=seed in args.seeds[:2])
    if pretrain:
        cfg["pretrain_epochs"] = pretrain
    return cfg


def main(argv=None):
    p = fc.parser(__doc__.split("\n\n")[0])
    p.add_argument("--pretrain-epochs", type=int, nargs="+", default=list(PRETRAIN_EPOCHS),
                   help="dense pre-training epochs P (of the --epochs in total)")
    args, out, data, source = fc.parse(p, argv)
    L = fc.n_layers(args)
    if args.quick:
        args.pretrain_epochs = [0] if args.epochs < 2 else args.pretrain_epochs[:1]
    progress = not args.no_progress
    lrs = {m: fc.select_lr(args, data, out, m, progress)[0] for m in fc.METHODS}
    rows, summary = [], []
    settings = [0] + [P for P in args.pretrain_epochs if 0 < P < args.epochs]
    dense_hist = {}
    for seed in args.seeds:
        cfg = fc.base_cfg(args, "dense", seed, lr=lrs["vanilla"], rank=None)
        dense_hist[seed] = common.train_run(cfg, data, out, force=args.force, progress=progress)[0]
    for method in fc.METHODS:
        for P in settings:
            hs, pre = [], []
            for seed in args.seeds:
                cfg = run_cfg(args, method, seed, lrs[method], P)
                print(common.run_name(cfg), file=sys.stderr, flush=True)
                h = common.train_run(cfg, data, out, force=args.force, progress=progress)[0]
                run_dir = out / "runs" / common.run_name(cfg)
                pre_val = common.read_rows(run_dir / "pretraining.csv")[0]["pretrain_val_acc"] if P else float("nan")
                hs.append(h)
                pre.append(pre_val)
                rows.append({"method": method, "pretrain_epochs": P, "seed": seed, "lr": lrs[method],
                             "pretrain_val_acc": pre_val, "val_acc": h[-1]["val_acc"], "test_acc": h[-1]["test_acc"],
                             "erank_mean": float(np.mean(fc.layer_columns(h[-1], "erank", L))), "ranks": h[-1]["ranks"]})
            entry = {"method": method, "pretrain_epochs": P, "lowrank_epochs": args.epochs - P, "seeds": len(hs)}
            for key, values in (("val", [100 * h[-1]["val_acc"] for h in hs]),
                                ("test", [100 * h[-1]["test_acc"] for h in hs]),
                                ("erank", [np.mean(fc.layer_columns(h[-1], "erank", L)) for h in hs])):
                entry[key], entry[f"{key}_std"] = fc.mean_std(values)
            entry["val_after_pretraining"] = float(np.mean(pre)) * 100 if P else float("nan")
            entry["val_curve"] = "/".join(f"{100 * np.mean([h[e]['val_acc'] for h in hs]):.2f}" for e in range(len(hs[0])))
            summary.append(entry)
    dense = {"method": "dense", "pretrain_epochs": args.epochs, "lowrank_epochs": 0, "seeds": len(args.seeds)}
    for key, col in (("val", "val_acc"), ("test", "test_acc")):
        dense[key], dense[f"{key}_std"] = fc.mean_std([100 * dense_hist[s][-1][col] for s in args.seeds])
    dense["erank"], dense["erank_std"] = fc.mean_std([np.mean(fc.layer_columns(dense_hist[s][-1], "erank", L))
                                                      for s in args.seeds])
    summary.append(dense)
    common.write_csv(out / "pretraining.csv", rows)
    common.write_csv(out / "pretraining_summary.csv", summary)
    lines = [f"# Pre-training then factorising ({source})", "",
             f"{args.epochs} epochs in total: P dense epochs, then truncated SVD at rank "
             f"{fc.rank_label(args)} and {args.epochs} − P low-rank epochs (P = 0: spectral "
             f"init, low-rank throughout); seeds {' '.join(map(str, args.seeds))}; accuracy in %, mean ± std.", "",
             "| method | P (dense epochs) | val acc after pre-training | val acc final | test acc final | erank (mean) |",
             "|---|---|---|---|---|---|"]
    for e in summary:
        label = fc.LABELS.get(e["method"], "dense (all epochs)")
        pre = e.get("val_after_pretraining", float("nan"))
        lines.append(f"| {label} | {e['pretrain_epochs']} | {'—' if not np.isfinite(pre) else f'{pre:.2f}'} | "
                     f"{e['val']:.2f} ± {e['val_std']:.2f} | {e['test']:.2f} ± {e['test_std']:.2f} | "
                     f"{e['erank']:.1f} ± {e['erank_std']:.1f} |")
    common.write_markdown(out / "pretraining_summary.md", "\n".join(lines) + "\n")

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(1, len(fc.METHODS), figsize=(5.0 * len(fc.METHODS), 3.4), sharey=True)
    dense_acc = 100 * np.array([[h["val_acc"] for h in dense_hist[s]] for s in args.seeds])
    for ax, method in zip(np.atleast_1d(axes), fc.METHODS):
        ep = np.arange(1, args.epochs + 1)
        ax.plot(ep, dense_acc.mean(0), "k--", marker="s", ms=3, label="dense")
        for j, P in enumerate(settings):
            acc = []
            for seed in args.seeds:
                cfg = run_cfg(args, method, seed, lrs[method], P)
                h = common.read_rows(out / "runs" / common.run_name(cfg) / "history.csv")
                acc.append([100 * r["val_acc"] for r in h])
            acc = np.array(acc)
            x = np.arange(P + 1, args.epochs + 1)
            ax.errorbar(x, acc.mean(0), yerr=acc.std(0, ddof=1) if len(args.seeds) > 1 else None, marker="o", ms=3,
                        capsize=2, color=f"C{j}", label="low-rank from the start" if P == 0 else f"{P} dense epoch(s), then low-rank")
        ax.set_title(fc.LABELS[method])
        ax.set_xlabel("epoch (dense + low-rank)")
        ax.set_xticks(ep)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("validation accuracy (%)")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Pre-training vs low-rank from scratch at equal total steps, {fc.arch(args)}, mean ± std over "
                 f"{len(args.seeds)} seeds",
                 fontsize=9)
    fig.tight_layout()
    written = common.save_figure(fig, out / "pretraining")
    plt.close(fig)
    print("\n".join(lines))
    for path in [out / "pretraining.csv", out / "pretraining_summary.csv", *written]:
        print(path)


if __name__ == "__main__":
    main()
