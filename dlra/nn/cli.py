"""``dlra train``: train an MLP on MNIST with DLRT (or a baseline) and write its history.

DLRT (Schotthöfer, Zangrando, Kusch, Ceruti & Tudisco, "Low-rank lottery tickets: finding
efficient low-rank neural networks via matrix differential equations", NeurIPS 2022) is the core's
rank-adaptive BUG integrator driven by the network's gradient callback, one mini-batch per step
(:class:`dlra.nn.training.Trainer`).

Writes into ``--out``: ``history.csv`` (one row per epoch: loss, accuracies, ranks, parameter
counts, compression rates, wall time), ``ranks_per_step.csv`` (the rank of every low-rank layer
after every step), ``checkpoint.npz`` (``--resume`` continues from it exactly) and ``ranks.png``
(rank evolution). Example (the README's main job runs a short version of this)::

    dlra train --tau 0.1 --epochs 2 --data-dir embedded --out runs/dlrt
    dlra train --method dense --epochs 2 --out runs/dense
    dlra train --widths 500 500 500 500 --rank 200 --tau 0.15 --optimizer sgd --lr 0.05 \\
        --data-dir ../shared/data/mnist --epochs 10 --out runs/paper
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..cli_support import CommandError, CommandParser, report, with_flag_names, writable_dir

__all__ = ["main", "build_parser", "plot_rank_evolution"]

#: the files ``dlra train`` writes into ``--out``
OUTPUTS = ("history.csv", "ranks_per_step.csv", "checkpoint.npz", "ranks.png")
DEFAULT_WIDTHS = (128, 128)
DEFAULT_RANK = 64


def _method_choices():
    from ..integrators import METHODS

    return ["dlrt", "dense", "vanilla", "svd"] + sorted(METHODS)


def build_parser():
    from .factorized import INITS

    p = CommandParser(
        prog="dlra train",
        description="Train an MLP on MNIST with dynamical low-rank training (DLRT) or a baseline.",
        epilog="Outputs in --out: history.csv, ranks_per_step.csv, checkpoint.npz, ranks.png.")
    p.add_argument("--method", default="dlrt", choices=_method_choices(),
                   help="dlrt (= adaptive_bug, rank-adaptive BUG; default), dense (full-rank training), "
                        "vanilla (W = U Vᵀ by gradient descent), svd (W = U diag(s) Vᵀ with rank selection, "
                        "see the svd options) or any core integrator")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tau", type=float, default=None,
                   help="relative truncation tolerance τ (ϑ = τ‖Ŝ‖_F; default 0.1 for rank-adaptive methods)")
    g.add_argument("--theta", type=float, default=None, help="absolute truncation tolerance ϑ")
    g.add_argument("--tau-rate", type=float, default=None,
                   help="relative tolerance per unit time (ϑ = τ·lr·‖Ŝ‖_F, dlra.RateTolerance): lets the rank grow "
                        "from a small --rank; 0.1 is the documented default")
    p.add_argument("--rank", type=int, default=DEFAULT_RANK,
                   help=f"initial rank of every hidden layer, clipped to min(n_in, n_out) (default {DEFAULT_RANK})")
    p.add_argument("--max-rank", type=int, default=None, help="rank cap of the rank-adaptive methods")
    p.add_argument("--min-rank", type=int, default=1, help="rank floor of the rank-adaptive methods")
    p.add_argument("--model", default="mlp", choices=["mlp", "lenet5"],
                   help="mlp (784 → --widths → 10; default) or lenet5 (conv 20 5×5, pool, conv 50 5×5, pool, "
                        "FC 500, FC 10; --rank is capped at the full ranks 20, 50, 500, the output layer dense)")
    p.add_argument("--widths", type=int, nargs="+", default=list(DEFAULT_WIDTHS),
                   help="hidden layer widths (default: %(default)s); input 784, output 10 (dense)")
    p.add_argument("--activation", default="relu", choices=["relu", "tanh", "identity"])
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd", "momentum"],
                   help="substep optimiser (default adam)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate = step size h (default: adam 3e-3, sgd 0.1, momentum 0.05)")
    p.add_argument("--lr-decay", type=float, default=1.0,
                   help="multiply the learning rate by this after every epoch (default 1: constant)")
    p.add_argument("--init-scale", type=float, default=1.0,
                   help="scale of the He/Glorot initialisation (0.41: PyTorch's default; RESULTS.md uses 0.05)")
    p.add_argument("--init", default="spectral", choices=list(INITS),
                   help="initialisation of the low-rank layers (default spectral: truncated SVD of the dense "
                        "init; random: independent Gaussian factors; random_values / flat_values: spectral "
                        "directions with random / equal singular values; random_directions: Haar directions "
                        "with the spectral singular values)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="L2 on the trained parameters: the factors U, V for --method vanilla, W for dense layers")
    p.add_argument("--frobenius-decay", type=float, default=0.0,
                   help="Frobenius decay (λ/2)‖W‖²_F of every weight matrix, as −λW in the vector field")
    p.add_argument("--nuclear-decay", type=float, default=0.0,
                   help="nuclear-norm penalty μ‖W‖_* of the low-rank layers, as −μ P Qᵀ in the vector field")
    p.add_argument("--pretrain-steps", type=int, default=0,
                   help="train the dense network this many steps first, then factorise it by truncated SVD "
                        "at --rank and continue low-rank (default 0: low-rank from the start)")
    p.add_argument("--momentum", type=float, default=0.9, help="for --optimizer momentum")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=5, help="total number of epochs (also when resuming)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batch order")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--data-dir", default=None,
                   help="MNIST directory (IDX files); default: DLRA_DATA_DIR, else the embedded subset; "
                        "'embedded' forces the embedded subset")
    p.add_argument("--validation", type=int, default=None,
                   help="training images held out for validation (default: 10,000 of 60,000, else 1/6)")
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--out", default="dlra-train", help="output directory (default: dlra-train)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.npz (its configuration is used; --epochs is the new total)")
    p.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints (default 1)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads while training (default 1: the matrices are small; 0 = leave as is)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plot", action="store_true", help="do not write ranks.png")
    _add_svd_options(p)
    return p


def _add_svd_options(p):
    """Options of ``--method svd`` (SVD training + theory-driven rank selection, Guo & Yu 2025)."""
    from .svd_training import DEFAULT_LAMBDA_O, DEFAULT_LAMBDA_R

    g = p.add_argument_group("SVD training (--method svd: every layer U diag(s) Vᵀ, full rank at the start; "
                             "--rank is not used)")
    g.add_argument("--lambda-o", type=float, default=DEFAULT_LAMBDA_O,
                   help=f"weight of the orthogonality loss (‖UᵀU − I‖² + ‖VᵀV − I‖²)/r² (default {DEFAULT_LAMBDA_O:g})")
    g.add_argument("--lambda-r", type=float, default=DEFAULT_LAMBDA_R,
                   help=f"weight of the singular-value regulariser (default {DEFAULT_LAMBDA_R:g})")
    g.add_argument("--regularizer", default="nuclear", choices=["nuclear", "hoyer"],
                   help="nuclear ‖s‖₁ (default) or Hoyer ‖s‖₁/‖s‖₂")
    g.add_argument("--epsilon", type=float, default=None,
                   help="training-loss tolerance ε of the rank selection after every epoch "
                        "(default: none, plain SVD training)")
    g.add_argument("--delta-precision", type=float, default=1 / 64,
                   help="precision Δδ of the bisection on δ (default 1/64: 7 loss evaluations)")
    g.add_argument("--rank-rule", default="theorem", choices=["theorem", "poster"],
                   help="theorem: keep σ_i ≥ δσ₁ (default); poster: k = max{k : kσ_k/σ₁ ≥ δ}")
    g.add_argument("--selection-samples", type=int, default=None,
                   help="measure the selection's loss on a fixed random subset of this many training "
                        "images (default: the whole training set)")


def plot_rank_evolution(rank_history, path, title=None, history=None):
    """Rank of every low-rank layer after every step (left) and the test accuracy per epoch (right,
    when ``history`` is given); written atomically as PNG/PDF (by the suffix of ``path``).

    Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from ..io import atomic_open

    rows = list(rank_history)
    columns = [k for k in (rows[0] if rows else {}) if k.startswith("rank_")]
    n_panels = 2 if history else 1
    fig = Figure(figsize=(5.0 * n_panels, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, n_panels, 1)
    steps = [row["step"] for row in rows]
    for col in columns:
        ax.plot(steps, [row[col] for row in rows], drawstyle="steps-post",
                label=f"layer {col.split('_', 1)[1]}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("rank")
    ax.set_title(title or "rank evolution")
    if columns:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no low-rank layers", ha="center", va="center", transform=ax.transAxes)
    if history:
        ax2 = fig.add_subplot(1, 2, 2)
        epochs = [row["epoch"] for row in history]
        for key, label in (("train_acc", "train"), ("val_acc", "validation"), ("test_acc", "test")):
            values = [row.get(key, float("nan")) for row in history]
            if not all(np.isnan(values)):
                ax2.plot(epochs, values, marker="o", label=label)
        ax2.set_xlabel("epoch")
        ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.set_ylabel("accuracy")
        ax2.legend(fontsize="small")
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format=path.suffix.lstrip(".") or "png", dpi=120)
    return path


def _blas_limits(threads):
    """BLAS limited to ``threads`` threads while training (0 = leave BLAS alone; dlra.threads)."""
    from ..threads import blas_threads

    return blas_threads(threads)


def _format_row(row, epochs):
    ranks = row["ranks"] or "dense"
    return (f"epoch {row['epoch']:>3d}/{epochs}  loss {row['loss']:.4f}  train {row['train_acc']:.4f}  "
            f"val {row['val_acc']:.4f}  test {row['test_acc']:.4f}  ranks {ranks}  "
            f"compression {row['compression_inference']:.1%} / {row['compression_training']:.1%}  "
            f"{row['seconds']:.1f} s")


def _check_args(parser, args):
    for name in ("weight_decay", "frobenius_decay", "nuclear_decay", "pretrain_steps"):
        value = getattr(args, name)
        if not np.isfinite(value) or value < 0:
            parser.error(f"--{name.replace('_', '-')} must be a finite number ≥ 0, got {value}")
    if args.method == "svd":
        for flag, value in (("--tau", args.tau), ("--theta", args.theta), ("--pretrain-steps", args.pretrain_steps),
                            ("--weight-decay", args.weight_decay), ("--frobenius-decay", args.frobenius_decay),
                            ("--nuclear-decay", args.nuclear_decay)):
            if value:
                parser.error(f"{flag}: --method svd does not use it (its options: --lambda-o, --lambda-r, "
                             "--regularizer, --epsilon, --delta-precision)")
    if args.method == "dense" and (args.init != "spectral" or args.pretrain_steps):
        parser.error("--init/--pretrain-steps: --method dense has no low-rank layers")
    for name in ("epochs", "checkpoint_every", "batch_size", "rank"):
        value = getattr(args, name)
        minimum = 0 if name == "epochs" else 1
        if value < minimum:
            parser.error(f"--{name.replace('_', '-')} must be ≥ {minimum}, got {value}")
    if any(w < 1 for w in args.widths):
        parser.error(f"--widths must be positive, got {args.widths}")
    if args.train_limit is not None and args.train_limit < 1:
        parser.error(f"--train-limit must be ≥ 1, got {args.train_limit}")
    if args.blas_threads < 0:
        parser.error(f"--blas-threads must be ≥ 0, got {args.blas_threads}")


def _load_data(parser, args):
    """The MNIST splits of ``--data-dir``/``--validation``/``--train-limit`` (CommandError on bad input)."""
    from ..data import load_mnist

    try:
        data = load_mnist(args.data_dir, validation=args.validation)
    except (ValueError, TypeError, OSError) as exc:
        message = with_flag_names(parser, exc)
        if message.startswith("--"):  # an argument of load_mnist: --validation, --data-dir
            raise CommandError(message) from None
        source = args.data_dir if args.data_dir is not None else "(DLRA_DATA_DIR)"
        raise CommandError(f"--data-dir {source}: {message}") from None
    if args.train_limit is not None:
        data = {"x_train": data.x_train[:args.train_limit], "y_train": data.y_train[:args.train_limit],
                "x_val": data.x_val, "y_val": data.y_val, "x_test": data.x_test, "y_test": data.y_test,
                "repr": f"{data!r} (first {args.train_limit} training images)"}
    return data


def _resume(checkpoint, progress):
    """The trainer of ``checkpoint`` (:class:`SVDTrainer` for an SVD run); CommandError naming it."""
    from .checkpoint import CheckpointError
    from .svd_training import SVDTrainer
    from .training import Trainer

    try:
        svd = Trainer.read_checkpoint(checkpoint)[0]["config"].get("method") == "svd"
        trainer = (SVDTrainer if svd else Trainer).from_checkpoint(checkpoint, progress=progress)
    except (CheckpointError, OSError) as exc:
        raise CommandError(f"--resume: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:  # a configuration the trainer refuses
        raise CommandError(f"--resume: checkpoint {checkpoint}: {type(exc).__name__}: {exc}") from None
    print(f"resuming from {checkpoint} after epoch {trainer.epoch} (step {trainer.step}); "
          f"configuration from the checkpoint: {trainer.config['integrator']}, lr {trainer.lr:g}, "
          f"batch size {trainer.batch_size}, seed {trainer.seed}")
    return trainer


def _new_trainer(args, data, n_in, progress):
    """The network and trainer the options describe (ValueError/TypeError on a bad combination)."""
    from .factorized import factorize, pretrain_dense
    from .lenet import LeNet5
    from .network import MLP
    from .svd_training import SVDTrainer, svd_mlp
    from .training import Trainer

    sizes = [n_in, *args.widths, 10]
    if args.method in ("dense", "full"):
        ranks = None
    else:
        ranks = [min(args.rank, sizes[k], sizes[k + 1]) for k in range(len(sizes) - 2)] + [None]
    if args.model == "lenet5":
        if args.method == "svd":
            raise ValueError("--model lenet5 trains with dlrt, dense, vanilla or a core integrator (not --method svd)")
        if n_in != 784:
            raise ValueError(f"--model lenet5 needs 28×28 images (784 features), the data have {n_in}")
        pretrain = bool(args.pretrain_steps)
        net = LeNet5(ranks=None if ranks is None or pretrain else args.rank, activation=args.activation,
                     dtype=args.dtype, rng=args.seed, init_scale=args.init_scale,
                     **({"init": args.init} if ranks and not pretrain else {}))
        if pretrain:
            pretrain_dense(net, data, args.pretrain_steps, optimizer=args.optimizer, lr=args.lr,
                           batch_size=args.batch_size, seed=args.seed, progress=progress)
            net = factorize(net, args.rank)
            print(f"pre-trained dense for {args.pretrain_steps} steps, factorised at ranks {net.ranks()}")
    elif args.method == "svd":
        net = svd_mlp(sizes, activation=args.activation, dtype=args.dtype, rng=args.seed,
                      init_scale=args.init_scale)
        return SVDTrainer(net, lambda_o=args.lambda_o, lambda_r=args.lambda_r,
                          regularizer=args.regularizer, epsilon=args.epsilon,
                          delta_precision=args.delta_precision, rank_rule=args.rank_rule,
                          selection_samples=args.selection_samples, optimizer=args.optimizer,
                          lr=args.lr, lr_decay=args.lr_decay, momentum=args.momentum,
                          batch_size=args.batch_size, seed=args.seed, progress=progress)
    elif args.pretrain_steps:
        net = MLP.from_sizes(sizes, ranks=None, activation=args.activation, dtype=args.dtype,
                             rng=args.seed, init_scale=args.init_scale)
        pretrain_dense(net, data, args.pretrain_steps, optimizer=args.optimizer, lr=args.lr,
                       batch_size=args.batch_size, seed=args.seed, progress=progress)
        net = factorize(net, ranks)
        print(f"pre-trained dense for {args.pretrain_steps} steps, factorised at ranks {net.ranks()}")
    else:
        net = MLP.from_sizes(sizes, ranks=ranks, activation=args.activation, dtype=args.dtype,
                             rng=args.seed, init_scale=args.init_scale,
                             **({"init": args.init} if ranks else {}))
    return Trainer(net, args.method, tau=args.tau, theta=args.theta, tau_rate=args.tau_rate,
                   min_rank=args.min_rank, max_rank=args.max_rank, optimizer=args.optimizer, lr=args.lr,
                   lr_decay=args.lr_decay, momentum=args.momentum, batch_size=args.batch_size,
                   seed=args.seed, progress=progress, weight_decay=args.weight_decay,
                   frobenius_decay=args.frobenius_decay, nuclear_decay=args.nuclear_decay)


def _run(parser, args):
    from .training import TrainingDiverged

    out = writable_dir(args.out, "--out")  # before any computation
    for name in OUTPUTS:
        if (out / name).exists() and not (out / name).is_file():
            raise CommandError(f"--out {out}: {name} exists there and is not a file")
    checkpoint = out / "checkpoint.npz"
    progress = not args.no_progress
    resume = args.resume and checkpoint.is_file()
    if args.resume and not resume:
        print(f"no checkpoint at {checkpoint}: starting a new run")
    trainer = _resume(checkpoint, progress) if resume else None
    data = _load_data(parser, args)
    source = data.get("repr") if isinstance(data, dict) else repr(data)
    n_in = data["x_train"].shape[1] if isinstance(data, dict) else data.n_features
    if trainer is None:
        try:
            trainer = _new_trainer(args, data, n_in, progress)
        except (ValueError, TypeError) as exc:
            raise CommandError(with_flag_names(parser, exc)) from None
    elif trainer.net.n_in != n_in:
        raise CommandError(f"--data-dir: the images have {n_in} features but the network of {checkpoint} "
                           f"takes {trainer.net.n_in}")
    print(f"data: {source}")
    print(f"network: {trainer.net!r}")
    print(f"training: {trainer!r}")

    try:
        with _blas_limits(args.blas_threads):
            history = trainer.fit(data, args.epochs, out_dir=out, checkpoint_every=args.checkpoint_every,
                                  callback=lambda row: print(_format_row(row, args.epochs), flush=True))
    except TrainingDiverged as exc:
        raise CommandError(f"{exc} (--lr)") from None
    if not history:
        print("nothing to do (no epochs)")
        return 0
    trainer.write_history(out)
    if trainer.epoch and not checkpoint.is_file():
        trainer.save_checkpoint(checkpoint)
    written = [out / "history.csv", out / "ranks_per_step.csv", checkpoint]
    if not args.no_plot:
        title = f"{trainer.method}, {trainer.config['truncation'] or 'fixed rank'}"
        if trainer.method == "svd":
            title = f"svd, ε = {trainer.config['epsilon']}, {trainer.config['rank_rule']} rule"
        written.append(plot_rank_evolution(trainer.rank_history, out / "ranks.png", title=title,
                                           history=trainer.history))
    print(trainer.summary())
    last = history[-1]
    print(f"parameters: {last['params_inference']} for inference, {last['params_training']} for training, "
          f"{last['params_dense']} dense; {last['passes_per_step']:g} forward/backward passes per step")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv=None):
    """Entry point of ``dlra train``; returns the exit status; a user error is printed as the one
    line ``dlra train: error: …`` naming the flag or file and raises ``SystemExit(2)``."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    _check_args(parser, args)
    try:
        return _run(parser, args)
    except CommandError as exc:
        raise SystemExit(report(parser.prog, exc))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
