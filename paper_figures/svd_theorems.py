"""Numerical checks of Theorems 1-3 of Guo & Yu ("Theory-driven rank selection for low-rank
training", IJCAI 2025 poster) on bias-free ReLU networks trained on MNIST by SVD training.

Theorem 1: for every input, ‖X^L − X_k^L‖₂ ≤ (∏ρ_lσ_1^l)(Σ_l σ_{k^l+1}^l/σ_1^l)‖X⁰‖₂ where the ranks k^l
come from Algorithm 2 (theorem rule σ_i ≥ δσ₁) over a sweep of δ; the figure shows the distribution
of measured/bound over the test inputs for each δ (it must stay ≤ 1).
Theorems 2 and 3: with δ = ε/(√2 B L ∏ρσ₁) (softmax cross-entropy) or ε/(B L ∏ρσ₁) (regression loss
mean ‖z − y‖₂, here with the one-hot labels as targets) the change of the training loss is below ε,
over a grid of ε; the figure shows the measured change against ε (the looseness is the gap).

    python paper_figures/svd_theorems.py [--data-dir DIR] [--out results/svd] [--quick]

Networks (all layers SVD, biases fixed at 0, ReLU hidden layers, identity output; trained 1 epoch
with Adam 1e-3 and λ_O = 1, λ_R = 1e-4 on the first 5,000 training images, no rank selection):
784-64-64-10, 784-128-128-128-10 (cross-entropy) and 784-64-64-10 (MSE, for Theorem 3). The checks
use the same 5,000 training images (Theorems 2/3) and 2,000 test images (Theorem 1).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _mnist_common as common  # noqa: E402
from _common import save_with_csv  # noqa: E402

NETS = (("784-64-64-10 CE", (784, 64, 64, 10), "cross_entropy"),
        ("784-128x3-10 CE", (784, 128, 128, 128, 10), "cross_entropy"),
        ("784-64-64-10 MSE", (784, 64, 64, 10), "mse"))
DELTAS = np.round(np.linspace(0.05, 1.0, 20), 3)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="MNIST IDX directory (default: $DLRA_DATA_DIR, else embedded)")
    p.add_argument("--out", default="results/svd", help="output directory (default results/svd)")
    p.add_argument("--quick", action="store_true", help="embedded data, 300 images, widths 16 (seconds)")
    p.add_argument("--train-size", type=int, default=5000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    return p


def train_net(sizes, loss, data, seed):
    from dlra.nn import SVDTrainer, svd_mlp

    net = svd_mlp(sizes, loss=loss, rng=seed, dtype=np.float64)
    SVDTrainer(net, lambda_o=1.0, lambda_r=1e-4, train_biases=False, lr=1e-3, seed=seed, progress=False,
               threads=1).fit(data, 1)
    return net


def theorem1(name, net, X, rows, deltas=DELTAS):
    from dlra.nn.rank_selection import (check_theorem_assumptions, forward_with, layer_singular_values,
                                        output_bound, svd_rank_approx)

    check_theorem_assumptions(net)
    sigmas = layer_singular_values(net)
    out = net.forward(X)
    norms = np.linalg.norm(X, axis=1)
    ratios = []
    for delta in deltas:
        Wk, ranks = svd_rank_approx(net, float(delta), "theorem")
        diff = np.linalg.norm(out - forward_with(net, Wk, X), axis=1)
        bound = output_bound(net, ranks, norms, sigmas)
        ratio = np.where(bound > 0, diff / np.where(bound > 0, bound, 1.0), 0.0)
        ratios.append(ratio)
        rows.append({"net": name, "delta": float(delta), "ranks": "-".join(map(str, ranks)),
                     "inputs": len(X), "ratio_min": float(ratio.min()), "ratio_median": float(np.median(ratio)),
                     "ratio_max": float(ratio.max()), "holds": bool(np.all(diff <= bound * (1 + 1e-12)))})
    return ratios


def theorem23(name, net, X, y, task, rows, n_eps=13):
    from dlra.nn.rank_selection import forward_with, layer_singular_values, norm_loss, svd_rank_approx, theorem_delta

    sigmas = layer_singular_values(net)
    B = float(np.max(np.linalg.norm(X, axis=1)))
    targets = np.eye(net.n_out)[y]

    def loss(out):
        if task == "classification":
            return net.loss_fn.value(out, net._target(y, len(X)))
        return norm_loss(out, targets)

    full = loss(net.forward(X))
    scale = theorem_delta(1.0, B, net, task, sigmas)   # δ per unit ε
    for epsilon in np.geomspace(1e-3 / scale, 1.0 / scale, n_eps):   # δ from 1e-3 to 1
        delta = theorem_delta(epsilon, B, net, task, sigmas)
        Wk, ranks = svd_rank_approx(net, delta, "theorem")
        change = abs(loss(forward_with(net, Wk, X)) - full)
        rows.append({"net": name, "theorem": 2 if task == "classification" else 3, "epsilon": float(epsilon),
                     "delta": delta, "ranks": "-".join(map(str, ranks)), "B": B, "loss": full,
                     "loss_change": change, "looseness": float(epsilon / change) if change > 0 else float("inf"),
                     "holds": bool(change < epsilon)})


def main(argv=None):
    args = build_parser().parse_args(argv)
    from threadpoolctl import threadpool_limits

    from dlra.data import load_mnist

    data = load_mnist("embedded" if args.quick else args.data_dir)
    n_train = 300 if args.quick else args.train_size
    n_test = 200 if args.quick else args.test_size
    train = {"x_train": data.x_train[:n_train], "y_train": data.y_train[:n_train]}
    Xtr = np.asarray(data.x_train[:n_train], dtype=np.float64)
    ytr = np.asarray(data.y_train[:n_train])
    Xte = np.asarray(data.x_test[:n_test], dtype=np.float64)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows1, rows23, violins = [], [], []
    deltas = DELTAS[3::4] if args.quick else DELTAS
    n_eps = 4 if args.quick else 13
    with threadpool_limits(1, "blas"):
        for name, sizes, loss in NETS:
            if args.quick:
                sizes = (784,) + tuple(16 for _ in sizes[1:-1]) + (10,)
            net = train_net(sizes, loss, train, args.seed)
            if loss == "cross_entropy":
                violins.append((name, theorem1(name, net, Xte, rows1, deltas)))
            theorem23(name, net, Xtr, ytr, "classification" if loss == "cross_entropy" else "regression", rows23,
                      n_eps)
            print(f"{name}: Theorem 1 holds on every input for every δ: "
                  f"{all(r['holds'] for r in rows1 if r['net'] == name)}; Theorem "
                  f"{2 if loss == 'cross_entropy' else 3} holds for every ε: "
                  f"{all(r['holds'] for r in rows23 if r['net'] == name)}", flush=True)

    plt = common.setup_matplotlib()
    fig, axes = plt.subplots(1, len(violins) + 1, figsize=(5.0 * (len(violins) + 1), 4.0), layout="constrained")
    for ax, (name, ratios) in zip(axes, violins):
        logs = [np.log10(np.maximum(r, 1e-12)) for r in ratios]
        ax.violinplot(logs, positions=deltas, widths=0.04, showmedians=True, showextrema=True)
        ax.axhline(0.0, color="k", lw=0.8, ls="--", label="bound (ratio 1)")
        ax.set_xlabel("δ (theorem rule: keep σ_i ≥ δσ₁)")
        ax.set_ylabel("log₁₀(‖X^L − X_k^L‖ / Theorem-1 bound)")
        ax.set_title(f"Theorem 1, {name}: {len(ratios[0])} test inputs per δ")
        ax.legend(fontsize=7)
    ax = axes[-1]
    for name in dict.fromkeys(r["net"] for r in rows23):
        rs = [r for r in rows23 if r["net"] == name and r["loss_change"] > 0]   # 0: nothing truncated
        if rs:
            ax.loglog([r["epsilon"] for r in rs], [r["loss_change"] for r in rs], marker="o",
                      label=f"{name} (Thm {rs[0]['theorem']})")
    lims = [min(r["epsilon"] for r in rows23), max(r["epsilon"] for r in rows23)]
    ax.loglog(lims, lims, "k--", lw=0.8, label="ε (the bound)")
    ax.set_xlabel("ε (δ = ε/(√2 B L ∏ρσ₁) or ε/(B L ∏ρσ₁))")
    ax.set_ylabel("measured |L(W) − L(W_k)| on the training images")
    ax.set_title("Theorems 2 and 3 (ε whose δ truncates nothing: not drawn)")
    ax.legend(fontsize=7)
    paths = save_with_csv(fig, rows1, str(out), "svd_theorems", extra={"_loss": rows23})
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
