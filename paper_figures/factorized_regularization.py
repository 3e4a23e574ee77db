"""Regularisation and effective rank of factorised layers, vanilla W = U Vᵀ and DLRT (Kamalakara et al.
2022, finding 2: L2 on the factors and Frobenius decay change the effective rank differently;
Frobenius decay keeps it higher).

Vanilla: L2 on the factors (λ/2)(‖U‖² + ‖V‖²) (``weight_decay``; an implicit nuclear norm) and
Frobenius decay (λ/2)‖U Vᵀ‖²_F (``frobenius_decay``). DLRT: the nuclear-norm term λ‖W‖_* — what L2
on the factors amounts to — (``nuclear_decay``) and Frobenius decay, both as terms of the vector
field. λ is swept on a grid with seed 0 (effective rank and validation accuracy for every λ), the
best λ per regulariser on the validation split is rerun with the other seeds. Protocol in
``_factorized_common.py``; the learning rates are those chosen by ``factorized_init.py``.

    python paper_figures/factorized_regularization.py [--model {mlp,lenet5}] [--data-dir DIR] [--lambdas 1e-4 1e-3 1e-2] [--quick]

Writes ``<out>/regularization_sweep.csv`` (seed 0, every λ), ``<out>/regularization.csv`` (per run and
epoch), ``<out>/regularization_summary.csv`` and ``.md``, ``<out>/regularization.{png,pdf}``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _factorized_common as fc  # noqa: E402
import _mnist_common as common  # noqa: E402

REGULARIZERS = {"vanilla": ("weight_decay", "frobenius_decay"), "dlrt": ("nuclear_decay", "frobenius_decay")}
REG_LABELS = {"weight_decay": "L2 on factors", "frobenius_decay": "Frobenius decay",
              "nuclear_decay": "nuclear norm (≙ L2 on factors)", "none": "none"}
LAMBDAS = (1e-4, 1e-3, 1e-2)


def main(argv=None):
    p = fc.parser(__doc__.split("\n\n")[0])
    p.add_argument("--lambdas", type=float, nargs="+", default=list(LAMBDAS), help="regularisation strengths λ")
    args, out, data, source = fc.parse(p, argv)
    L = fc.n_layers(args)
    progress = not args.no_progress
    lrs = {m: fc.select_lr(args, data, out, m, progress)[0] for m in fc.METHODS}
    seed0 = args.seeds[0]

    def run(method, reg, lam, seed):
        extra = {} if reg == "none" else {reg: lam}
        cfg = fc.base_cfg(args, method, seed, lr=lrs[method], **extra)
        print(common.run_name(cfg), file=sys.stderr, flush=True)
        return common.train_run(cfg, data, out, force=args.force, progress=progress)[0]

    sweep, chosen = [], {}
    for method in fc.METHODS:
        base = run(method, "none", 0.0, seed0)
        sweep.append({"method": method, "regularizer": "none", "lambda": 0.0, "val_acc": base[-1]["val_acc"],
                      "erank_mean": float(np.mean(fc.layer_columns(base[-1], "erank", L))),
                      "rank1pct_mean": float(np.mean(fc.layer_columns(base[-1], "rank1pct", L))),
                      "ranks": base[-1]["ranks"]})
        for reg in REGULARIZERS[method]:
            best = None
            for lam in args.lambdas:
                h = run(method, reg, lam, seed0)
                sweep.append({"method": method, "regularizer": reg, "lambda": lam, "val_acc": h[-1]["val_acc"],
                              "erank_mean": float(np.mean(fc.layer_columns(h[-1], "erank", L))),
                              "rank1pct_mean": float(np.mean(fc.layer_columns(h[-1], "rank1pct", L))),
                              "ranks": h[-1]["ranks"]})
                if best is None or h[-1]["val_acc"] > best[1]:
                    best = (lam, h[-1]["val_acc"])
            chosen[(method, reg)] = best[0]
    common.write_csv(out / "regularization_sweep.csv", sweep)

    rows, summary, curves = [], [], {}
    for method in fc.METHODS:
        for reg in ("none", *REGULARIZERS[method]):
            lam = chosen.get((method, reg), 0.0)
            hs = []
            for seed in args.seeds:
                h = run(method, reg, lam, seed)
                hs.append(h)
                for r in h:
                    rows.append({"method": method, "regularizer": reg, "lambda": lam, "seed": seed, "epoch": r["epoch"],
                                 "val_acc": r["val_acc"], "test_acc": r["test_acc"], "ranks": r["ranks"],
                                 **{f"erank_{k}": r[f"erank_{k}"] for k in range(1, L + 1)},
                                 **{f"rank1pct_{k}": r[f"rank1pct_{k}"] for k in range(1, L + 1)}})
            curves[(method, reg)] = hs
            entry = {"method": method, "regularizer": reg, "lambda": lam, "seeds": len(hs)}
            for key, values in (("val", [100 * h[-1]["val_acc"] for h in hs]),
                                ("test", [100 * h[-1]["test_acc"] for h in hs]),
                                ("erank", [np.mean(fc.layer_columns(h[-1], "erank", L)) for h in hs]),
                                ("rank1pct", [np.mean(fc.layer_columns(h[-1], "rank1pct", L)) for h in hs])):
                entry[key], entry[f"{key}_std"] = fc.mean_std(values)
            entry["erank_per_layer"] = "/".join(f"{np.mean([fc.layer_columns(h[-1], 'erank', L)[k] for h in hs]):.1f}"
                                                for k in range(L))
            entry["ranks"] = hs[0][-1]["ranks"]
            summary.append(entry)
    common.write_csv(out / "regularization.csv", rows)
    common.write_csv(out / "regularization_summary.csv", summary)
    lines = [f"# Regularisation and effective rank ({source})", "",
             f"Rank {fc.rank_label(args)}, Adam (lr " + ", ".join(f"{m} {lrs[m]:g}" for m in fc.METHODS)
             + f"), {args.epochs} epochs; λ chosen on validation (seed {seed0}) from {', '.join(f'{x:g}' for x in args.lambdas)}; "
             f"mean ± std over seeds {' '.join(map(str, args.seeds))}. erank = effective rank (mean of the {L} layers, "
             "and per layer); #σ>1% = number of singular values above 1 % of σ₁ (mean of the layers).", "",
             "| method | regulariser | λ | val acc | test acc | erank (mean) | erank per layer | #σ>1%σ₁ | ranks |",
             "|---|---|---|---|---|---|---|---|---|"]
    for e in summary:
        lines.append(f"| {fc.LABELS[e['method']]} | {REG_LABELS[e['regularizer']]} | {e['lambda']:g} | "
                     f"{e['val']:.2f} ± {e['val_std']:.2f} | {e['test']:.2f} ± {e['test_std']:.2f} | "
                     f"{e['erank']:.1f} ± {e['erank_std']:.1f} | {e['erank_per_layer']} | {e['rank1pct']:.1f} | {e['ranks']} |")
    lines += ["", "Sweep (seed 0): effective rank / validation accuracy (%) at every λ", "",
              "| method | regulariser | " + " | ".join(f"λ = {x:g}" for x in args.lambdas) + " |",
              "|---|---|" + "---|" * len(args.lambdas)]
    for method in fc.METHODS:
        for reg in REGULARIZERS[method]:
            cells = [next(s for s in sweep if s["method"] == method and s["regularizer"] == reg and s["lambda"] == lam)
                     for lam in args.lambdas]
            lines.append(f"| {fc.LABELS[method]} | {REG_LABELS[reg]} | "
                         + " | ".join(f"{c['erank_mean']:.1f} / {100 * c['val_acc']:.2f}" for c in cells) + " |")
        base = next(s for s in sweep if s["method"] == method and s["regularizer"] == "none")
        lines.append(f"| {fc.LABELS[method]} | none | {base['erank_mean']:.1f} / {100 * base['val_acc']:.2f} (λ = 0) |"
                     + " |" * (len(args.lambdas) - 1))
    common.write_markdown(out / "regularization_summary.md", "\n".join(lines) + "\n")

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(2, len(fc.METHODS), figsize=(5.0 * len(fc.METHODS), 6.0), sharex=True)
    for col, method in enumerate(fc.METHODS):
        base = next(s for s in sweep if s["method"] == method and s["regularizer"] == "none")
        for j, reg in enumerate(REGULARIZERS[method]):
            pts = [s for s in sweep if s["method"] == method and s["regularizer"] == reg]
            lam = [s["lambda"] for s in pts]
            axes[0, col].semilogx(lam, [s["erank_mean"] for s in pts], marker="o", color=f"C{j}", label=REG_LABELS[reg])
            axes[1, col].semilogx(lam, [100 * s["val_acc"] for s in pts], marker="o", color=f"C{j}", label=REG_LABELS[reg])
        axes[0, col].axhline(base["erank_mean"], color="k", ls="--", lw=1, label="no regulariser")
        axes[1, col].axhline(100 * base["val_acc"], color="k", ls="--", lw=1, label="no regulariser")
        axes[0, col].set_title(fc.LABELS[method])
        axes[1, col].set_xlabel("λ")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"effective rank (mean of {L} layers)")
    axes[1, 0].set_ylabel("validation accuracy (%)")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].legend(fontsize=8)
    fig.suptitle(f"Regularisers and effective rank, {fc.arch(args)}, after {args.epochs} epochs (seed {seed0}), rank "
                 f"{fc.rank_label(args)}", fontsize=9)
    fig.tight_layout()
    written = common.save_figure(fig, out / "regularization")
    plt.close(fig)
    print("\n".join(lines))
    for path in [out / "regularization_sweep.csv", out / "regularization.csv", out / "regularization_summary.csv", *written]:
        print(path)


if __name__ == "__main__":
    main()
