"""Training loop for dynamical low-rank training (DLRT) and its baselines.

DLRT (Schotthöfer, Zangrando, Kusch, Ceruti & Tudisco, "Low-rank lottery tickets: finding
efficient low-rank neural networks via matrix differential equations", NeurIPS 2022) is the
rank-adaptive BUG integrator of the core (:class:`dlra.AdaptiveBUG`) applied to the gradient flow
Ẇ = −∇L(W) of the network, one mini-batch per step. There is **no training-only copy** of the
algorithm: one training step is

    F = net.vector_field(X_batch, y_batch)             # F(t, items) = −∇L, one pass per call
    items = integrator.step(F, t, net.parameters(), h=lr)
    net.set_parameters(items)

with the substep solver of the integrator being the optimiser (:class:`dlra.SGD`, SGD with
momentum, :class:`dlra.Adam`; their state is rotated into the new bases by the core) and the
truncation rule τ (:class:`dlra.RelativeTolerance`, the paper's rule ϑ = τ‖Ŝ‖_F) or ϑ
(:class:`dlra.AbsoluteTolerance`), with rank caps. Biases and the dense output layer are dense items
of the state and are updated in the S pass by the core.

**Forward/backward passes per step.** The K- and L-steps both start at W0 and share one pass. In
the rank-adaptive BUG the augmented S-step starts at Û Ŝ0 V̂ᵀ = W0 exactly, so the core reuses that
same evaluation: with an SGD or Adam substep a DLRT step costs **one** pass (the
reference codes of the DLRT paper use three). The fixed-rank :class:`dlra.BUG` starts its S-step from
M S0 Nᵀ ≠ W0 and costs two. The trainer records the passes in its history (``passes``).

Any other core method (``"bug"``, ``"ksl"``, ``"parallel_bug"``, …; see :data:`dlra.METHODS`)
can be named, plus two baselines: ``"dense"`` (the core's :class:`dlra.FullRank` integrator with
the same optimiser substep, on a network without low-rank layers) and ``"vanilla"``
(W = U Vᵀ by gradient descent on U, V; :class:`dlra.nn.baselines.VanillaFactorGD`).

Reproducibility: the mini-batch order comes from ``np.random.default_rng(seed)``; two trainers with
the same seed on networks built with the same seed produce bitwise identical weights. Checkpoints
(:meth:`Trainer.save_checkpoint`, :mod:`dlra.nn.checkpoint`, written atomically) hold the parameters, the optimiser state
(moments and the bases they are expressed in), the epoch and step counters, the time t, the state
of the random generator and the history; :meth:`Trainer.from_checkpoint` continues exactly where
the run stopped (same weights, bit for bit, as an uninterrupted run).
"""
from __future__ import annotations

import functools
import numbers
import time
from pathlib import Path

import numpy as np

from ..field import NonFiniteError
from ..integrators import METHODS, FullRank, Integrator
from ..integrators import make_integrator as resolve_integrator
from ..io import remove_stale_temporaries, write_csv
from ..lowrank import LowRank
from ..progress import progress_bar
from ..substep import SGD, Adam, SubstepSolver
from ..threads import blas_threads, lowrank_step_work, resolve_threads
from ..truncation import AbsoluteTolerance, RateTolerance, RelativeTolerance
from . import checkpoint
from .baselines import VanillaFactorGD
from .checkpoint import CHECKPOINT_VERSION
from .network import MLP

__all__ = ["Trainer", "TrainingDiverged", "DIVERGENCE_FACTOR", "SPIKE_FACTOR", "make_optimizer", "make_integrator",
           "training_parameter_counts", "DEFAULT_LR", "CHECKPOINT_VERSION"]

#: default learning rate (step size h) per optimiser name
DEFAULT_LR = {"adam": 3e-3, "sgd": 0.1, "momentum": 0.05}
#: default relative tolerance of the rank-adaptive methods when neither tau nor theta is given
DEFAULT_TAU = 0.1
#: a mini-batch loss above this multiple of the first step's loss (at least 1) means divergence
DIVERGENCE_FACTOR = 1e3
#: an epoch ending at chance accuracy after the loss spiked above this multiple of the first loss
#: means divergence too (the weights blew up, then the network died)
SPIKE_FACTOR = 10.0


class TrainingDiverged(FloatingPointError):
    """The training loss became non-finite or exploded: the learning rate (step size) is too large."""


_OPTIMIZERS = ("adam", "sgd", "momentum")


def make_optimizer(name="adam", momentum=0.9):
    """The substep solver for an optimiser name: ``"adam"`` → :class:`dlra.Adam`, ``"sgd"`` → plain
    SGD (one explicit Euler substep), ``"momentum"`` → heavy-ball SGD with ``momentum``."""
    if isinstance(name, SubstepSolver):
        return name
    if not isinstance(name, str) or name.lower() not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(_OPTIMIZERS)} or a SubstepSolver, got {name!r}")
    name = name.lower()
    if name == "adam":
        return Adam()
    if name == "sgd":
        return SGD()
    return SGD(momentum=momentum)


def _method_name(method):
    name = str(method).lower()
    return "adaptive_bug" if name == "dlrt" else name


def make_integrator(method="dlrt", optimizer="adam", *, tau=None, theta=None, min_rank=1, max_rank=None,
                    momentum=0.9, tau_rate=None):
    """The integrator behind a method name (see :class:`Trainer`); ``tau_rate`` selects the
    step-scaled rule :class:`dlra.RateTolerance` (ϑ = τ h ‖Ŝ‖_F, lets the rank grow)."""
    substep = make_optimizer(optimizer, momentum)
    if isinstance(method, Integrator):
        return method
    name = _method_name(method)
    if sum(v is not None for v in (tau, theta, tau_rate)) > 1:
        raise ValueError("give only one of tau (relative tolerance), theta (absolute tolerance) and tau_rate "
                         "(relative tolerance per unit time)")
    extra = {"dense": FullRank, "vanilla": VanillaFactorGD}
    if name not in METHODS and name not in extra:
        raise ValueError(f"method must be 'dlrt', 'dense', 'vanilla' or one of {', '.join(sorted(METHODS))}, "
                         f"got {method!r}")
    cls = extra.get(name) or METHODS[name]
    if not cls.uses_substep:  # projected Runge–Kutta: the gradient flow with step h, no optimiser
        if not (isinstance(substep, SGD) and substep.momentum == 0 and substep.lr_scale == 1):
            raise ValueError(f"optimizer: method {method!r} has no substeps (it is projected gradient descent "
                             f"with step lr); use optimizer='sgd', got {substep!r}")
        substep = None
    if not cls.accepts_truncation:
        for arg, value in (("tau", tau), ("theta", theta), ("tau_rate", tau_rate), ("max_rank", max_rank)):
            if value is not None:
                raise ValueError(f"{arg}: method {method!r} has a fixed rank and takes no truncation")
        if min_rank not in (None, 1):
            raise ValueError(f"min_rank: method {method!r} has a fixed rank and takes no truncation")
        return resolve_integrator(name, methods=extra, substep=substep)
    if theta is not None:
        rule = AbsoluteTolerance(theta, min_rank=min_rank or 1, max_rank=max_rank)
    elif tau_rate is not None:
        rule = RateTolerance(tau_rate, min_rank=min_rank or 1, max_rank=max_rank)
    else:
        rule = RelativeTolerance(DEFAULT_TAU if tau is None else tau, min_rank=min_rank or 1, max_rank=max_rank)
    return resolve_integrator(name, methods=extra, substep=substep, truncation=rule)


def _finite(items):
    """Whether every array (every factor of a LowRank) of a state is finite."""
    arrays = [a for item in items for a in ((item.U, item.S, item.V) if isinstance(item, LowRank) else (item,))]
    return all(np.isfinite(a).all() for a in arrays)


def training_parameter_counts(net, method="dlrt"):
    """Parameter counts and compression rates of ``net`` trained by ``method``.

    Convention (that of :meth:`dlra.nn.MLP.parameter_counts`), per layer m × n of rank r, with the
    bias (m) and dense layers (m n + m) always counted in full:

    * ``inference``: r (m + n) — the two factors U S and V that evaluate the layer;
    * ``training`` for the DLRA methods: 2 r (m + n) + r² — the bases U, V, the K and L factors and
      the core S (the working storage of one step in the current rank; the augmented bases
      Û, V̂ of the rank-adaptive step transiently hold up to twice as many columns);
    * ``training`` for ``"vanilla"``: r (m + n) (the free factors U, V only);
    * ``dense``: the same architecture with every layer dense; dense training counts it in full;
    * ``compression_*`` = 1 − count / dense.
    """
    counts = net.parameter_counts()
    vanilla = isinstance(method, VanillaFactorGD) or (isinstance(method, str) and _method_name(method) == "vanilla")
    if vanilla:
        counts["training"] = counts["inference"]
        counts["compression_training"] = counts["compression_inference"]
    return counts


def _split(data, name):
    """(X, y) of the split ``name`` ("train", "val", "test") of ``data`` or None."""
    if isinstance(data, dict):
        X, y = data.get(f"x_{name}"), data.get(f"y_{name}")
    else:
        X, y = getattr(data, f"x_{name}", None), getattr(data, f"y_{name}", None)
    if X is None or y is None or len(X) == 0:
        return None
    if len(X) != len(y):
        raise ValueError(f"data: x_{name} has {len(X)} samples but y_{name} has {len(y)}")
    return np.asarray(X), np.asarray(y)


# ------------------------------------------------------------------------------ BLAS threads
def network_work(net, batch_size):
    """Multiply-adds of the largest product in one training step of ``net`` at ``batch_size``:
    rows·m·n for a dense layer with weight m × n, max(rows·r·(m + n), max(m, n)·(2r)²) for a
    low-rank one (its factor products and the QR of the augmented basis); rows = the batch size,
    times the output positions of a convolution (its im2col product)."""
    work = 0
    for layer in net.layers:
        m, n = layer.weight_shape
        rows = batch_size * int(np.prod(getattr(layer, "conv_shape", (1, 1))[:2]))
        if layer.lowrank:
            r = layer.rank
            work = max(work, rows * r * (m + n), lowrank_step_work(m, n, r))
        else:
            work = max(work, rows * m * n)
    return work


def _blas_limited(method):
    """Run a Trainer method under the trainer's BLAS thread limit (:meth:`Trainer.blas_limits`)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.blas_limits():
            return method(self, *args, **kwargs)
    return wrapper


# ------------------------------------------------------------------------------ trainer
class Trainer:
    """Epochs of mini-batch training of an :class:`~dlra.nn.MLP` with a core integrator.

    Parameters
    ----------
    net : MLP
        Trained in place. Low-rank layers for the DLRA methods and ``"vanilla"``; no low-rank layer
        for ``"dense"``.
    method : str or Integrator
        ``"dlrt"`` (= ``"adaptive_bug"``, the default: rank-adaptive BUG), ``"dense"``
        (:class:`dlra.FullRank`), ``"vanilla"`` (W = U Vᵀ by gradient descent), any name of
        :data:`dlra.METHODS` (``"bug"``, ``"augmented_bug"``, ``"ksl"``, ``"parallel_bug"``,
        ``"midpoint_bug"``, …), or an Integrator instance (then ``optimizer``, ``tau``, … are not
        used; its ``substep`` is the optimiser).
    tau, theta : float, optional
        Truncation of the rank-adaptive methods: relative tolerance τ (ϑ = τ‖Ŝ‖_F, the rule of the
        DLRT paper and code) or absolute tolerance ϑ on the ℓ² tail of the singular values. Default:
        τ = 0.1. Fixed-rank methods reject them.
    tau_rate : float, optional
        Instead of tau/theta: :class:`dlra.RateTolerance`, ϑ = τ h ‖Ŝ‖_F with h the current learning
        rate — lets the rank grow when the gradient needs new directions (documented default 0.1).
    min_rank, max_rank : int, optional
        Rank caps of the rank-adaptive methods.
    optimizer : {"adam", "sgd", "momentum"} or SubstepSolver
        The substep solver (the optimiser step of every K-, L- and S-substep).
    lr : float, optional
        Learning rate = the integrator's step size h. Default :data:`DEFAULT_LR` of the optimiser
        (Adam 3e-3, SGD 0.1, momentum 0.05).
    momentum : float
        For ``optimizer="momentum"``.
    batch_size : int
    seed : int
        Seed of the mini-batch order (``np.random.default_rng(seed)``). Build the network with the
        same seed (``MLP.from_sizes(..., rng=seed)``) for fully reproducible runs.
    progress : bool
        Show a tqdm progress bar over the mini-batches of each epoch (only on a terminal).
    eval_batch_size : int
        Chunk size of the evaluation passes.
    threads : int, optional
        BLAS threads while :meth:`fit` runs: None (default) picks them from the matrix sizes
        (one thread unless a product of the step exceeds :data:`dlra.threads.SINGLE_THREAD_WORK`
        multiply-adds; the environment variable ``DLRA_NUM_THREADS`` overrides), 0 leaves BLAS
        alone, n ≥ 1 limits it to n (see :mod:`dlra.threads`). Loops over :meth:`train_step` get
        the same limits with ``with trainer.blas_limits(): ...``.

    Attributes
    ----------
    integrator : Integrator
    history : list of dict
        One row per epoch (see :meth:`fit`).
    rank_history : list of dict
        One row per step: ``step``, ``epoch``, ``loss`` (mini-batch loss at the step's start),
        ``rank_<layer>`` for every low-rank layer (after the step).
    epoch, step, t : int, int, float
        Completed epochs and steps, and the time of the gradient flow (t = Σ h).
    """

    def __init__(self, net, method="dlrt", *, tau=None, theta=None, tau_rate=None, min_rank=1, max_rank=None,
                 optimizer="adam", lr=None, momentum=0.9, batch_size=256, seed=0, progress=True,
                 eval_batch_size=4096, lr_decay=1.0, threads=None, weight_decay=0.0, frobenius_decay=0.0,
                 nuclear_decay=0.0):
        if not isinstance(net, MLP):
            raise TypeError(f"net must be a dlra.nn.MLP, got {type(net).__name__}")
        resolve_threads(threads)  # a bad value (or DLRA_NUM_THREADS) fails here, by name
        self.threads = threads
        opt_name = optimizer if isinstance(optimizer, str) else type(optimizer).__name__
        if lr is None:
            if not isinstance(optimizer, str) or optimizer.lower() not in DEFAULT_LR:
                raise ValueError("lr must be given for a custom optimizer")
            lr = DEFAULT_LR[optimizer.lower()]
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a nonnegative integer, got {seed!r}")
        self.net = net
        self.integrator = make_integrator(method, optimizer, tau=tau, theta=theta, min_rank=min_rank,
                                          max_rank=max_rank, momentum=momentum, tau_rate=tau_rate)
        self.method = method if isinstance(method, str) else self.integrator.name or type(method).__name__
        has_lowrank = bool(net.lowrank_indices())
        if isinstance(self.integrator, FullRank) and has_lowrank:
            raise ValueError(f"method={self.method!r} trains a network without low-rank layers (dense "
                             "training); build it with MLP.from_sizes(sizes, ranks=None)")
        if self.integrator.lowrank_state and not has_lowrank:
            raise ValueError(f"method={self.method!r} needs a network with low-rank layers; build it with "
                             "MLP.from_sizes(sizes, ranks=r)")
        self._set_regularization(weight_decay, frobenius_decay, nuclear_decay)
        self.lr = float(lr)
        if isinstance(lr_decay, bool) or not isinstance(lr_decay, numbers.Real) or not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.progress = bool(progress)
        self.eval_batch_size = int(eval_batch_size)
        truncation = getattr(self.integrator, "truncation", None)
        self.config = {
            "method": str(self.method), "optimizer": str(opt_name).lower(), "lr": self.lr,
            "lr_decay": self.lr_decay,
            "momentum": float(momentum), "batch_size": self.batch_size, "seed": self.seed,
            "tau": None if isinstance(truncation, RateTolerance) else getattr(truncation, "tau", None),
            "theta": getattr(truncation, "theta", None),
            "tau_rate": truncation.tau if isinstance(truncation, RateTolerance) else None,
            "min_rank": getattr(truncation, "min_rank", None) if self.integrator.accepts_truncation else None,
            "max_rank": getattr(truncation, "max_rank", None) if self.integrator.accepts_truncation else None,
            "truncation": repr(truncation) if self.integrator.accepts_truncation else None,
            "integrator": repr(self.integrator),
            "weight_decay": self.weight_decay, "frobenius_decay": self.frobenius_decay,
            "nuclear_decay": self.nuclear_decay,
        }
        self.rng = np.random.default_rng(self.seed)
        self.history = []
        self.rank_history = []
        self.epoch = 0
        self.step = 0
        self.t = 0.0
        self.train_seconds = 0.0

    def _set_regularization(self, weight_decay, frobenius_decay, nuclear_decay):
        """Regularisers of the factorised-training study (:mod:`dlra.nn.factorized`): ``weight_decay``
        is L2 on the trained parameters — the factors U, V for "vanilla" (λU, λV; an implicit nuclear
        norm), W for dense layers; ``frobenius_decay`` (λ/2)‖W‖²_F as the term −λW of the vector field
        (every method; for DLRT it is what L2 on K, L, S amounts to, so DLRT takes no
        ``weight_decay``); ``nuclear_decay`` μ‖W‖_* of the low-rank layers (−μ P Qᵀ in the field)."""
        from .factorized import regularized_field

        vanilla = isinstance(self.integrator, VanillaFactorGD)
        if weight_decay and not (vanilla or isinstance(self.integrator, FullRank)):
            raise ValueError(f"weight_decay: L2 on the parameters is defined for the methods 'vanilla' (the "
                             f"factors U, V) and 'dense'; for method {self.method!r} L2 on K, L, S equals the "
                             "Frobenius decay of W (orthonormal bases): use frobenius_decay (or nuclear_decay)")
        regularized_field(None, (), frobenius_decay=frobenius_decay, nuclear_decay=nuclear_decay,
                          dense_decay=weight_decay)  # validates the three numbers
        self.weight_decay, self.frobenius_decay = float(weight_decay), float(frobenius_decay)
        self.nuclear_decay = float(nuclear_decay)
        if vanilla:
            self.integrator.weight_decay = self.weight_decay
        elif self.integrator.lowrank_state and getattr(self.integrator, "orthonormal_factors", True):
            # the DLRA integrators need orthonormal bases: factors given otherwise (e.g. init="random",
            # independent Gaussian factors) are re-expressed as the same matrix in orthonormal bases
            items = self.net.parameters()
            tol = np.sqrt(np.finfo(self.net.dtype).eps)
            for k in self.net.lowrank_indices():
                if not items[k].is_orthonormal(atol=tol):
                    items[k] = items[k].orthonormalize()
            self.net.set_parameters(items)

    def _field(self, X, y):
        """The network's −∇L on the batch, plus the regularisers' terms."""
        from .factorized import regularized_field

        F = self.net.vector_field(X, y)
        weights = range(0, 2 * len(self.net.layers), 2)
        return regularized_field(F, weights, frobenius_decay=self.frobenius_decay,
                                 nuclear_decay=self.nuclear_decay, dense_decay=self.weight_decay)

    def __repr__(self):
        return (f"Trainer(method={self.method!r}, integrator={self.integrator!r}, lr={self.lr:g}, "
                f"batch_size={self.batch_size}, seed={self.seed}, epoch={self.epoch}, step={self.step})")

    # -------------------------------------------------------------- one step
    def _rank_columns(self):
        return {f"rank_{k + 1}": int(layer.rank) for k, layer in enumerate(self.net.layers) if layer.lowrank}

    def train_step(self, X, y):
        """One training step on the mini-batch (X, y): ``integrator.step(net.vector_field(X, y), t,
        net.parameters(), h=lr)``, then ``net.set_parameters``. Returns the mini-batch loss at the
        parameters the step started from."""
        net = self.net
        F = self._field(X, y)
        losses = []

        def field(t, items):
            out = F(t, items)
            losses.append(net.last_loss)
            return out

        lr = self.current_lr
        try:
            # overflow is reported by the divergence checks (a named error), not as numpy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                new = self.integrator.step(field, self.t, net.parameters(), lr)
        except (NonFiniteError, np.linalg.LinAlgError, ValueError) as exc:
            # the data are checked finite in fit: non-finite values come from the step size (a
            # ValueError is divergence only when the weights themselves are no longer finite)
            if isinstance(exc, ValueError) and _finite(net.parameters()):
                raise
            loss = f"{losses[0]:.4g}" if losses else "not evaluated"
            raise self._diverged(f"{exc} (mini-batch loss {loss})", self.step + 1) from exc
        net.set_parameters(new)
        self.step += 1
        self.t += lr
        loss = float(losses[0])
        self.rank_history.append({"step": self.step, "epoch": self.epoch + 1, "loss": loss,
                                  **self._rank_columns()})
        return loss

    def _diverged(self, detail, step):
        return TrainingDiverged(f"diverged: {detail} at step {step} (epoch {self.epoch + 1}, "
                                f"learning rate {self.current_lr:g}); lower the learning rate")

    def _check_divergence(self, loss):
        """Raise :class:`TrainingDiverged` when the mini-batch loss is not finite or exceeds
        :data:`DIVERGENCE_FACTOR` times the loss of the run's first step (at least 1)."""
        first = self.rank_history[0]["loss"] if self.rank_history else loss
        if not np.isfinite(loss):
            raise self._diverged(f"the mini-batch loss is {loss}", self.step)
        if loss > DIVERGENCE_FACTOR * max(abs(first), 1.0):
            raise self._diverged(f"the mini-batch loss exploded from {first:.4g} (first step) to {loss:.4g}",
                                 self.step)

    def _check_collapse(self, row):
        """Raise :class:`TrainingDiverged` after an epoch that ends with the training accuracy at
        chance (≤ 1.5 / classes) when the mini-batch loss spiked above :data:`SPIKE_FACTOR` times
        the first step's (at least 1) during the run: a step size that blew the weights up and left
        a dead network, not a hard problem."""
        if not self.rank_history or not np.isfinite(row.get("train_acc", np.nan)):
            return
        first = self.rank_history[0]["loss"]
        peak = max(r["loss"] for r in self.rank_history)
        if row["train_acc"] <= 1.5 / self.net.n_out and peak > SPIKE_FACTOR * max(abs(first), 1.0):
            raise TrainingDiverged(f"diverged: the training accuracy is {row['train_acc']:.3f} (chance: "
                                   f"{1 / self.net.n_out:.3f}) after epoch {self.epoch}, the mini-batch loss having "
                                   f"spiked from {first:.4g} (first step) to {peak:.4g}; lower the learning rate")

    @property
    def current_lr(self):
        """Step size of the current epoch: lr · lr_decay^epoch (the gradient flow's time step h)."""
        return self.lr * self.lr_decay ** self.epoch

    # -------------------------------------------------------------- epochs
    def _evaluate(self, split):
        if split is None:
            return float("nan"), float("nan")
        X, y = split
        return self.net.evaluate(X, y, batch_size=self.eval_batch_size)

    def blas_limits(self):
        """Context manager with the BLAS thread limit of this trainer (``threads``; see
        :func:`dlra.threads.blas_threads`), sized from the network and the batch size."""
        return blas_threads(self.threads, network_work(self.net, self.batch_size))

    @_blas_limited
    def fit(self, data, epochs, out_dir=None, checkpoint_every=1, callback=None):
        """Train until ``epochs`` epochs are completed (a resumed trainer continues from its counter).

        Parameters
        ----------
        data : MNIST or dict
            With ``x_train, y_train`` and optionally ``x_val, y_val, x_test, y_test`` (e.g.
            :func:`dlra.data.load_mnist`).
        epochs : int
            Total number of epochs (including those done before a checkpoint).
        out_dir : path, optional
            Where to write ``history.csv`` and ``ranks_per_step.csv`` after every epoch and
            ``checkpoint.npz`` every ``checkpoint_every`` epochs and at the end (all atomically;
            temporaries a killed earlier run left there are removed first).
        callback : callable, optional
            ``callback(row)`` after every epoch (e.g. to print it).

        Returns
        -------
        list of dict
            The history, one row per epoch: ``epoch``, ``steps``, ``loss`` (mean mini-batch loss of
            the epoch, each taken at the parameters its step started from), ``train_loss``,
            ``train_acc``, ``val_loss``, ``val_acc``, ``test_loss``, ``test_acc`` (at the end of the
            epoch), ``ranks`` ("r1-r2-…"), ``rank_<layer>``, ``params_inference``,
            ``params_training``, ``params_dense``, ``compression_inference``,
            ``compression_training`` (:func:`training_parameter_counts`), ``erank_<layer>`` and
            ``rank1pct_<layer>`` for every layer (effective rank of Roy & Vetterli 2007 and the number
            of singular values above 1 % of σ₁; :func:`dlra.nn.factorized.spectrum_columns`), ``passes`` (forward/backward
            passes in the epoch), ``passes_per_step``, ``seconds`` (training time of the epoch),
            ``total_seconds``, ``eval_seconds``.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"epochs must be a nonnegative integer, got {epochs!r}")
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, numbers.Integral) \
                or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
        train = _split(data, "train")
        if train is None:
            raise ValueError("data must provide x_train and y_train")
        val, test = _split(data, "val"), _split(data, "test")
        X, y = train
        if X.ndim != 2 or X.shape[1] != self.net.n_in:
            raise ValueError(f"data: x_train must have shape (n, {self.net.n_in}), got {X.shape}")
        X = np.ascontiguousarray(X, dtype=self.net.dtype)
        if not np.all(np.isfinite(X)):
            raise ValueError("data: x_train holds NaN or inf")
        out_dir = None if out_dir is None else Path(out_dir)
        if out_dir is not None:
            for name in ("checkpoint.npz", "history.csv", "ranks_per_step.csv"):
                remove_stale_temporaries(out_dir / name)
        n = X.shape[0]
        n_batches = -(-n // self.batch_size)
        while self.epoch < epochs:
            perm = self.rng.permutation(n)
            passes0 = self.net.passes
            total_loss = 0.0
            bar = progress_bar(total=n_batches, enabled=self.progress, desc=f"epoch {self.epoch + 1}/{epochs}",
                               leave=False, unit="batch")
            start = time.perf_counter()
            for b in range(n_batches):
                idx = perm[b * self.batch_size:(b + 1) * self.batch_size]
                loss = self.train_step(X[idx], y[idx])
                self._check_divergence(loss)
                total_loss += loss * len(idx)
                bar.update(1)
                if not bar.disable:
                    bar.set_postfix(loss=f"{loss:.4f}", ranks="-".join(map(str, self.net.ranks())) or "dense")
            seconds = time.perf_counter() - start
            bar.close()
            self.train_seconds += seconds
            self.epoch += 1
            row = self._epoch_row(total_loss / n, n_batches, self.net.passes - passes0, seconds, train, val, test)
            self.history.append(row)
            if callback is not None:
                callback(row)
            if out_dir is not None:
                self.write_history(out_dir)
            self._check_collapse(row)  # a collapsed epoch is not checkpointed
            if out_dir is not None and (self.epoch % checkpoint_every == 0 or self.epoch == epochs):
                self.save_checkpoint(out_dir / "checkpoint.npz")
        return self.history

    def _epoch_row(self, loss, steps, passes, seconds, train, val, test):
        start = time.perf_counter()
        train_loss, train_acc = self._evaluate(train)
        val_loss, val_acc = self._evaluate(val)
        test_loss, test_acc = self._evaluate(test)
        from .factorized import spectrum_columns

        counts = training_parameter_counts(self.net, self.integrator)
        ranks = self._rank_columns()
        spectra = spectrum_columns(self.net)
        return {
            "epoch": self.epoch, "steps": self.step, "loss": loss,
            "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc,
            "test_loss": test_loss, "test_acc": test_acc,
            "ranks": "-".join(str(r) for r in ranks.values()), **ranks,
            "params_inference": counts["inference"], "params_training": counts["training"],
            "params_dense": counts["dense"], "compression_inference": counts["compression_inference"],
            "compression_training": counts["compression_training"],
            "passes": int(passes), "passes_per_step": passes / steps if steps else float("nan"),
            "seconds": seconds, "total_seconds": self.train_seconds,
            **spectra, "eval_seconds": time.perf_counter() - start,
        }

    # -------------------------------------------------------------- output
    def write_history(self, out_dir):
        """Write ``history.csv`` (per epoch) and ``ranks_per_step.csv`` (per step) atomically."""
        out_dir = Path(out_dir)
        write_csv(out_dir / "history.csv", self.history)
        write_csv(out_dir / "ranks_per_step.csv", self.rank_history)

    def save_checkpoint(self, path):
        """Write everything needed to continue exactly (parameters, optimiser state, counters, random
        generator state, history, configuration, architecture) as one ``.npz``, atomically, without
        pickle (:func:`dlra.nn.checkpoint.save_checkpoint`)."""
        return checkpoint.save_checkpoint(self, path)

    @staticmethod
    def read_checkpoint(path):
        """``(meta, arrays)`` of a checkpoint file (meta: the JSON part as a dict)."""
        return checkpoint.read_checkpoint(path)

    def load_checkpoint(self, path):
        """Restore a checkpoint written by :meth:`save_checkpoint` into this trainer and its network.

        The network's architecture and the training configuration (method, optimiser, learning
        rate, batch size, seed, truncation) must match the checkpoint's
        (:class:`~dlra.nn.checkpoint.CheckpointError`, a ``ValueError``, otherwise).
        """
        return checkpoint.load_checkpoint(self, path)

    @classmethod
    def from_checkpoint(cls, path, progress=True):
        """A trainer and network rebuilt from a checkpoint alone (architecture and configuration
        included), ready to continue with :meth:`fit`."""
        meta, arrays = checkpoint.read_checkpoint(path)
        try:
            net = checkpoint.network_from_architecture(meta["architecture"])
            trainer = cls(net, progress=progress, **checkpoint.trainer_kwargs(meta))
        except (KeyError, TypeError, ValueError) as exc:
            raise checkpoint.CheckpointError(f"checkpoint {path}: cannot rebuild the trainer from its "
                                             f"architecture and configuration ({type(exc).__name__}: {exc})") from None
        return checkpoint.load_checkpoint(trainer, path, meta, arrays)

    # -------------------------------------------------------------- summaries
    def summary(self):
        """A short text summary of the last epoch."""
        if not self.history:
            return f"{self!r}: not trained yet"
        row = self.history[-1]
        return (f"{self.method}: epoch {row['epoch']}, test accuracy {row['test_acc']:.4f}, ranks "
                f"{row['ranks'] or 'dense'}, compression {row['compression_inference']:.1%} (inference) / "
                f"{row['compression_training']:.1%} (training), {row['total_seconds']:.1f} s of training")

