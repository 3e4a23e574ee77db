"""Low-rank SVD training with rank selection during training (Guo & Yu, "Theory-driven rank
selection for low-rank training", IJCAI 2025 poster; SVD training after Yang et al., "Learning
low-rank deep neural networks via singular vector orthogonality regularization and singular value
sparsification", CVPR Workshops 2020).

Every layer is kept as ``W = U diag(s) Vᵀ`` (:class:`SVDLayer`, x ↦ U (s ⊙ (Vᵀ x))) and U, s, V are
all trained by the optimiser on

    L(U, s, V) = L_T + λ_O L_O + λ_R L_R,
    L_O = Σ_layers (‖UᵀU − I‖²_F + ‖VᵀV − I‖²_F) / r²           (orthogonality loss),
    L_R = Σ_layers ‖s‖₁  (nuclear norm)  or  Σ_layers ‖s‖₁/‖s‖₂  (Hoyer ratio).

Gradients, with G = ∇_W L_T = Δᵀ X the network's factored weight gradient (one forward/backward
pass for all layers, :meth:`dlra.nn.MLP.vector_field`):

    ∇_U L_T = G V diag(s),   ∇_V L_T = Gᵀ U diag(s),   ∇_s L_T = diag(Uᵀ G V),
    ∇_U ‖UᵀU − I‖²_F = 4 U (UᵀU − I),
    ∇_s ‖s‖₁ = sign(s),      ∇_s ‖s‖₁/‖s‖₂ = sign(s)/‖s‖₂ − ‖s‖₁ s/‖s‖₂³.

:class:`SVDTraining` is one optimiser step on this objective with the interface of a core
integrator (``step(F, t, Y, h)``), so the ordinary :class:`dlra.nn.Trainer` loop and the package's
optimisers (:class:`dlra.SGD`, :class:`dlra.Adam`) drive it; it is a different parametrisation, not
a DLRA integrator (no projection, no Galerkin step). :class:`SVDTrainer` adds Algorithm 3: after
every epoch, rank selection (:func:`dlra.nn.rank_selection.select_ranks`, Algorithm 1 with the
loss L_T only, as the poster says) truncates every layer, and the truncated model — orthonormal
factors and the kept singular values — continues training. The optimiser's moments of a layer
whose rank changed restart from zero (:class:`dlra.Adam` does this when a variable's shape changes);
the other layers keep their factors and moments.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..field import lowrank_indices
from ..integrators.base import Integrator, StepInfo
from ..lowrank import LowRank
from .layers import LowRankLayer
from .network import MLP
from .rank_selection import RANK_RULES, select_ranks
from .training import Trainer, make_optimizer

__all__ = ["SVDLayer", "svd_mlp", "SVDTraining", "SVDTrainer", "orthogonality_loss", "regularization_loss",
           "svd_objective", "svd_training_parameter_count", "REGULARIZERS", "DEFAULT_LAMBDA_O", "DEFAULT_LAMBDA_R"]

REGULARIZERS = ("nuclear", "hoyer")
DEFAULT_LAMBDA_O = 1.0
DEFAULT_LAMBDA_R = 1e-3


# ------------------------------------------------------------------------------ layer and network
class SVDLayer(LowRankLayer):
    """``x ↦ φ(U (s ⊙ (Vᵀ x)) + b)``: a :class:`LowRankLayer` whose core is diagonal, ``S = diag(s)``.

    The diagonal is applied as a scaling (O(batch · r) instead of the r×r product); a weight with a
    non-diagonal core is accepted and applied through the generic path. Training storage is
    U, s, V and the bias: r (m + n) + r + m.
    """

    _s = None

    def __repr__(self):
        return f"SVDLayer({self.n_in}, {self.n_out}, rank={self.rank}, activation={self.activation!r})"

    def set_weight(self, Y, dtype, where="W"):
        super().set_weight(Y, dtype, where)
        S = self.Y.S
        d = np.diagonal(S)
        self._s = np.ascontiguousarray(d) if np.count_nonzero(S) == np.count_nonzero(d) else None

    @property
    def s(self):
        """The singular-value parameters (the diagonal of the core)."""
        return np.diagonal(self.Y.S).copy()

    def linear(self, X, keep=False):
        if self._s is None:
            return super().linear(X, keep)
        Y = self.Y
        XV = X @ Y.V
        self._kept = (X, Y.V, XV) if keep else None
        return (XV * self._s) @ Y.U.T

    def linear_backward(self, D, gradient=None):
        if self._s is None:
            return super().linear_backward(D, gradient)
        Y = self.Y
        DU = D @ Y.U
        if gradient is not None:
            gradient._known_left = (Y.U, DU)
        return (DU * self._s) @ Y.V.T

    def training_parameter_count(self):
        """SVD training stores U, s, V and the bias: r (m + n) + r + m."""
        r = self.rank
        return r * (self.n_out + self.n_in) + r + self.n_out


def svd_mlp(sizes, ranks=None, activation="relu", output_activation="identity", loss="cross_entropy",
            dtype=np.float32, rng=None, init_scale=1.0):
    """An :class:`~dlra.nn.MLP` of :class:`SVDLayer` only (the output layer too).

    ``ranks``: None (full rank min(m, n) in every layer, the start of Algorithm 3), an int (capped
    at min(m, n)) or one entry per layer. Spectral initialisation: the truncated SVD of a He/Glorot
    dense matrix times ``init_scale`` (U, V orthonormal, s its singular values). Biases start at 0.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least two entries, got {sizes}")
    n_layers = len(sizes) - 1
    if ranks is None or isinstance(ranks, numbers.Integral):
        ranks = [ranks] * n_layers
    ranks = list(ranks)
    if len(ranks) != n_layers:
        raise ValueError(f"ranks must have one entry per layer ({n_layers}), got {len(ranks)}")
    rng = np.random.default_rng(rng)
    layers = []
    for k in range(n_layers):
        full = min(sizes[k], sizes[k + 1])
        r = full if ranks[k] is None else min(int(ranks[k]), full)
        act = output_activation if k == n_layers - 1 else activation
        layers.append(SVDLayer(sizes[k], sizes[k + 1], r, act, init="spectral", rng=rng, init_scale=init_scale))
    return MLP(layers, loss=loss, dtype=dtype)


# ------------------------------------------------------------------------------ penalties
def orthogonality_loss(U, V, gradient=True):
    """``(‖UᵀU − I‖²_F + ‖VᵀV − I‖²_F) / r²`` and its gradients ``4 U (UᵀU − I)/r²``, ``4 V (VᵀV − I)/r²``.

    Returns ``(value, grad_U, grad_V)`` (gradients None when ``gradient=False``).
    """
    r = U.shape[1]
    EU = U.T @ U
    EU[np.diag_indices(r)] -= 1
    EV = V.T @ V
    EV[np.diag_indices(r)] -= 1
    value = (float(np.sum(EU * EU, dtype=np.float64)) + float(np.sum(EV * EV, dtype=np.float64))) / r ** 2
    if not gradient:
        return value, None, None
    c = 4.0 / r ** 2
    return value, (U @ EU) * U.dtype.type(c), (V @ EV) * V.dtype.type(c)


def regularization_loss(s, kind="nuclear", gradient=True):
    """Nuclear norm ``‖s‖₁`` or Hoyer ratio ``‖s‖₁/‖s‖₂`` of the singular values and its (sub)gradient.

    Returns ``(value, grad)``; sign(0) = 0, and the Hoyer gradient of s = 0 is taken as 0.
    """
    if kind not in REGULARIZERS:
        raise ValueError(f"regularizer must be one of {', '.join(REGULARIZERS)}, got {kind!r}")
    s = np.asarray(s)
    l1 = float(np.sum(np.abs(s), dtype=np.float64))
    if kind == "nuclear":
        return l1, (np.sign(s) if gradient else None)
    l2 = float(np.sqrt(np.sum(np.asarray(s, dtype=np.float64) ** 2)))
    if l2 == 0.0:
        return 0.0, (np.zeros_like(s) if gradient else None)
    if not gradient:
        return l1 / l2, None
    g = np.sign(s) / l2 - (l1 / l2 ** 3) * s
    return l1 / l2, g.astype(s.dtype)


def _check_lambda(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite nonnegative number, got {value!r}")
    return float(value)


def _usv(Y):
    """``(U, s, V)`` with ``Y = U diag(s) Vᵀ``: the factors themselves when the core is diagonal, the
    exact SVD otherwise."""
    d = np.diagonal(Y.S)
    if np.count_nonzero(Y.S) == np.count_nonzero(d):
        return Y.U, np.ascontiguousarray(d), Y.V
    P, sigma, Q = Y.svd()
    dt = Y.S.dtype
    return P.astype(dt), sigma.astype(dt), Q.astype(dt)


def svd_objective(net, X, y, lambda_o=DEFAULT_LAMBDA_O, lambda_r=DEFAULT_LAMBDA_R, regularizer="nuclear"):
    """``(L, L_T, L_O, L_R)`` at the network's current parameters (every low-rank weight read as
    U diag(s) Vᵀ)."""
    lt = net.loss(X, y)
    lo = lr = 0.0
    for layer in net.layers:
        if layer.lowrank:
            U, s, V = _usv(layer.weight())
            lo += orthogonality_loss(U, V, gradient=False)[0]
            lr += regularization_loss(s, regularizer, gradient=False)[0]
    return lt + lambda_o * lo + lambda_r * lr, lt, lo, lr


# ------------------------------------------------------------------------------ the optimiser step
class SVDFactorFlow:
    """The negative gradient of L = L_T + λ_O L_O + λ_R L_R in z = [U_1, s_1, V_1, …, other items].

    ``s`` is stored as an (r × 1) column (the state items are 2-D); items listed in ``frozen``
    (e.g. the biases of a bias-free network) are not variables. One call = one evaluation of the
    network's field F = −∇L_T for all layers. ``left_bases``/``right_bases`` are None: optimiser
    moments live in fixed coordinates.
    """

    key = "svd"

    def __init__(self, field, items, lambda_o, lambda_r, regularizer, frozen=()):
        self.field = field
        self.items = list(items)
        self.lowrank = lowrank_indices(items)
        self.other = [k for k in range(len(items)) if k not in self.lowrank and k not in frozen]
        self.lambda_o, self.lambda_r, self.regularizer = lambda_o, lambda_r, regularizer
        n = 3 * len(self.lowrank) + len(self.other)
        self.left_bases = [None] * n
        self.right_bases = [None] * n
        self.penalties = (0.0, 0.0)

    def initial_z(self):
        z = []
        for k in self.lowrank:
            U, s, V = _usv(self.items[k])
            z.extend((U, s.reshape(-1, 1), V))
        z.extend(self.items[k] for k in self.other)
        return z

    def state(self, z):
        items = list(self.items)
        for j, k in enumerate(self.lowrank):
            items[k] = LowRank(z[3 * j], np.diag(z[3 * j + 1][:, 0]), z[3 * j + 2])
        offset = 3 * len(self.lowrank)
        for j, k in enumerate(self.other):
            items[k] = z[offset + j]
        return items

    def __call__(self, t, z):
        items = self.state(z)
        values = self.field(t, items)
        out = []
        total_o = total_r = 0.0
        for j, k in enumerate(self.lowrank):
            Y = items[k]
            U, V = Y.U, Y.V
            s = z[3 * j + 1][:, 0]
            FV = values[k].right(V)      # F V with F = −∇_W L_T
            FtU = values[k].left(U)      # Fᵀ U
            fU = FV * s
            fV = FtU * s
            fs = np.sum(U * FV, axis=0)
            if self.lambda_o:
                value, gU, gV = orthogonality_loss(U, V)
                total_o += value
                fU -= self.lambda_o * gU
                fV -= self.lambda_o * gV
            if self.lambda_r:
                value, gs = regularization_loss(s, self.regularizer)
                total_r += value
                fs = fs - (self.lambda_r * gs).astype(fs.dtype)
            out.extend((fU, fs.reshape(-1, 1), fV))
        out.extend(values[k].dense() for k in self.other)
        self.penalties = (total_o, total_r)
        return out


class SVDTraining(Integrator):
    """One optimiser step on U, s, V of every low-rank weight (and on the other items) for
    L = L_T + λ_O L_O + λ_R L_R; see the module docstring.

    Parameters
    ----------
    substep : SubstepSolver or name
        The optimiser (:class:`dlra.Adam`, :class:`dlra.SGD`); default Adam.
    lambda_o, lambda_r : float
        Weights of the orthogonality and the singular-value regularisation losses (≥ 0).
    regularizer : {"nuclear", "hoyer"}
    frozen : sequence of int
        Positions of state items that are not trained (e.g. the biases of a bias-free network).

    ``last_penalties`` holds (L_O, L_R) at the start of the last step. Low-rank items are written
    back as ``LowRank(U, diag(s), V)``; the rank never changes here (rank selection does that).
    """

    name = "svd"
    method_order = 1
    orthonormal_factors = False  # U, V are trained freely (the orthogonality loss only penalises)

    def __init__(self, substep="adam", lambda_o=DEFAULT_LAMBDA_O, lambda_r=DEFAULT_LAMBDA_R,
                 regularizer="nuclear", frozen=()):
        super().__init__(substep="adam" if substep is None else substep)
        self.lambda_o = _check_lambda(lambda_o, "lambda_o")
        self.lambda_r = _check_lambda(lambda_r, "lambda_r")
        if regularizer not in REGULARIZERS:
            raise ValueError(f"regularizer must be one of {', '.join(REGULARIZERS)}, got {regularizer!r}")
        self.regularizer = regularizer
        self.frozen = tuple(int(k) for k in frozen)
        self.last_penalties = (float("nan"), float("nan"))

    def __repr__(self):
        return (f"SVDTraining(substep={self.substep!r}, lambda_o={self.lambda_o:g}, lambda_r={self.lambda_r:g}, "
                f"regularizer={self.regularizer!r})")

    def flow(self, field, items):
        """The :class:`SVDFactorFlow` of this objective at ``items`` (for checks and custom loops)."""
        for k in lowrank_indices(items):
            Y = items[k]
            if np.iscomplexobj(Y.U) or np.iscomplexobj(Y.S) or np.iscomplexobj(Y.V):
                raise TypeError(f"Y[{k}]: SVD training is real-valued")
        return SVDFactorFlow(field, items, self.lambda_o, self.lambda_r, self.regularizer, self.frozen)

    def _step_impl(self, field, t0, items, h):
        flow = self.flow(field, items)
        z1 = self.substep.integrate(flow, t0, t0 + h, flow.initial_z())
        self.last_penalties = flow.penalties
        new = flow.state(z1)
        return new, StepInfo.of(new)


def svd_training_parameter_count(net):
    """Storage of SVD training: U, s, V of every low-rank weight (r (m + n) + r), dense weights and
    all biases (for any layer type with a matrix weight, e.g. the conv layers of LeNet5 too)."""
    total = 0
    for layer in net.layers:
        m, n = layer.weight_shape
        total += layer.rank * (m + n) + layer.rank if layer.lowrank else m * n
        total += layer.b.size
    return int(total)


# ------------------------------------------------------------------------------ Algorithm 3
class SVDTrainer(Trainer):
    """Algorithm 3 of Guo & Yu (2025): epochs of SVD training, each followed by rank selection.

    Same loop, outputs, history and checkpoints as :class:`dlra.nn.Trainer` (the optimiser step is
    :class:`SVDTraining`); after every epoch :func:`~dlra.nn.rank_selection.select_ranks` truncates
    every layer with the largest δ (to precision Δδ) whose training-loss change stays below ε, and
    the truncated network continues.

    Parameters
    ----------
    net : MLP
        Every layer low-rank (:func:`svd_mlp`, full rank at the start of Algorithm 3; any layer with
        a :class:`~dlra.lowrank.LowRank` weight works, e.g. ``LeNet5(ranks=LENET5_MAX_RANKS)``, whose
        conv layers are applied through their generic low-rank path).
    lambda_o, lambda_r, regularizer
        See :class:`SVDTraining`.
    epsilon : float or None
        Loss tolerance ε of the rank selection; None: plain SVD training, no rank selection.
    delta_precision : float
        Δδ of the bisection (⌊log₂(1/Δδ)⌋ + 1 loss evaluations per selection).
    rank_rule : {"theorem", "poster"}
        Rule of Algorithm 2 (default "theorem": keep σ_i ≥ δσ₁).
    selection_samples : int or None
        None: the loss of the rank selection is measured on the whole training set; an int: on a
        fixed random subset of that many training samples (drawn once from the seed).
    train_biases : bool
        False keeps the biases at their values (zero for a bias-free network, as Theorems 1-3 assume).
    optimizer, lr, momentum, batch_size, seed, progress, eval_batch_size, lr_decay, threads
        As for :class:`dlra.nn.Trainer` (default optimiser Adam).

    The history has the columns of :class:`dlra.nn.Trainer` plus ``delta``, ``selection_evaluations``,
    ``selection_seconds`` (included in ``seconds`` and ``total_seconds``), ``selection_loss_change``,
    ``orthogonality_loss`` and ``regularization_loss`` (at the last step of the epoch). The ranks and
    the inference counts are those after the selection; ``params_training`` counts the storage of
    the epoch's training (U, s, V, biases at the ranks the epoch trained with).
    """

    def __init__(self, net, *, lambda_o=DEFAULT_LAMBDA_O, lambda_r=DEFAULT_LAMBDA_R, regularizer="nuclear",
                 epsilon=None, delta_precision=1 / 64, rank_rule="theorem", selection_samples=None,
                 train_biases=True, optimizer="adam", lr=None, momentum=0.9, batch_size=256, seed=0,
                 progress=True, eval_batch_size=4096, lr_decay=1.0, threads=None):
        if not isinstance(net, MLP):
            raise TypeError(f"net must be a dlra.nn.MLP, got {type(net).__name__}")
        dense = [k + 1 for k, layer in enumerate(net.layers) if not layer.lowrank]
        if dense:
            raise ValueError(f"net: SVD training needs every layer low-rank (build it with svd_mlp); layers "
                             f"{dense} are dense")
        if epsilon is not None and (isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real)
                                    or not math.isfinite(epsilon) or epsilon <= 0):
            raise ValueError(f"epsilon must be a positive finite number or None, got {epsilon!r}")
        if isinstance(delta_precision, bool) or not isinstance(delta_precision, numbers.Real) \
                or not math.isfinite(delta_precision) or not 0 < delta_precision <= 1:
            raise ValueError(f"delta_precision must be in (0, 1], got {delta_precision!r}")
        if rank_rule not in RANK_RULES:
            raise ValueError(f"rank_rule must be one of {', '.join(RANK_RULES)}, got {rank_rule!r}")
        if selection_samples is not None and (isinstance(selection_samples, bool)
                                              or not isinstance(selection_samples, numbers.Integral)
                                              or selection_samples < 1):
            raise ValueError(f"selection_samples must be a positive integer or None, got {selection_samples!r}")
        frozen = () if train_biases else tuple(range(1, 2 * len(net.layers), 2))
        integrator = SVDTraining(make_optimizer(optimizer, momentum), lambda_o=lambda_o, lambda_r=lambda_r,
                                 regularizer=regularizer, frozen=frozen)
        super().__init__(net, integrator, optimizer=optimizer, lr=lr, momentum=momentum, batch_size=batch_size,
                         seed=seed, progress=progress, eval_batch_size=eval_batch_size, lr_decay=lr_decay,
                         threads=threads)
        self.epsilon = None if epsilon is None else float(epsilon)
        self.delta_precision = float(delta_precision)
        self.rank_rule = rank_rule
        self.selection_samples = None if selection_samples is None else int(selection_samples)
        self.train_biases = bool(train_biases)
        self.config.update({
            "method": "svd", "lambda_o": integrator.lambda_o, "lambda_r": integrator.lambda_r,
            "regularizer": regularizer, "epsilon": self.epsilon, "delta_precision": self.delta_precision,
            "rank_rule": rank_rule, "selection_samples": self.selection_samples,
            "train_biases": self.train_biases,
        })
        self.method = "svd"
        self.last_selection = None

    def __repr__(self):
        return (f"SVDTrainer(lambda_o={self.integrator.lambda_o:g}, lambda_r={self.integrator.lambda_r:g}, "
                f"regularizer={self.integrator.regularizer!r}, epsilon={self.epsilon}, "
                f"delta_precision={self.delta_precision:g}, rank_rule={self.rank_rule!r}, lr={self.lr:g}, "
                f"batch_size={self.batch_size}, seed={self.seed}, epoch={self.epoch})")

    def _selection_data(self, train):
        X, y = train
        if self.selection_samples is not None and self.selection_samples < len(X):
            idx = np.sort(np.random.default_rng([self.seed, 2]).choice(len(X), self.selection_samples,
                                                                        replace=False))
            X, y = X[idx], y[idx]
        return np.ascontiguousarray(X, dtype=self.net.dtype), np.asarray(y)

    def select_ranks(self, X, y):
        """Run Algorithm 1 on (X, y) now; the truncated model replaces the network's weights."""
        return select_ranks(self.net, X, y, self.epsilon, self.delta_precision, self.rank_rule,
                            batch_size=self.eval_batch_size)

    def _epoch_row(self, loss, steps, passes, seconds, train, val, test):
        trained = svd_training_parameter_count(self.net)
        extra = {"delta": float("nan"), "selection_evaluations": 0, "selection_seconds": 0.0,
                 "selection_loss_change": float("nan")}
        penalties = self.integrator.last_penalties
        if self.epsilon is not None:
            sel = self.select_ranks(*self._selection_data(train))
            self.last_selection = sel
            self.train_seconds += sel.seconds
            seconds += sel.seconds
            extra.update(delta=sel.delta, selection_evaluations=sel.evaluations, selection_seconds=sel.seconds,
                         selection_loss_change=sel.loss_change)
        row = super()._epoch_row(loss, steps, passes, seconds, train, val, test)
        row["params_training"] = trained
        row["compression_training"] = 1.0 - trained / row["params_dense"]
        row.update(extra, orthogonality_loss=penalties[0], regularization_loss=penalties[1])
        return row

    @classmethod
    def from_checkpoint(cls, path, progress=True):
        """An SVD trainer and network rebuilt from a checkpoint of :class:`SVDTrainer` (fully
        connected low-rank layers come back as :class:`SVDLayer`, conv layers as they were)."""
        from . import checkpoint

        meta, arrays = checkpoint.read_checkpoint(path)
        cfg = meta["config"]
        if cfg.get("method") != "svd":
            raise checkpoint.CheckpointError(f"checkpoint {path} was not written by SVD training "
                                             f"(method {cfg.get('method')!r})")
        try:
            net = checkpoint.network_from_architecture(meta["architecture"])
            net = MLP([SVDLayer(layer.n_in, layer.n_out, layer.rank, layer.activation, rng=0)
                       if type(layer) is LowRankLayer else layer for layer in net.layers],
                      loss=net.loss_fn, dtype=net.dtype)
            trainer = cls(net, lambda_o=cfg["lambda_o"], lambda_r=cfg["lambda_r"], regularizer=cfg["regularizer"],
                          epsilon=cfg["epsilon"], delta_precision=cfg["delta_precision"], rank_rule=cfg["rank_rule"],
                          selection_samples=cfg["selection_samples"], train_biases=cfg["train_biases"],
                          optimizer=cfg["optimizer"], lr=cfg["lr"], momentum=cfg["momentum"],
                          batch_size=cfg["batch_size"], seed=cfg["seed"], progress=progress,
                          lr_decay=cfg.get("lr_decay", 1.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise checkpoint.CheckpointError(f"checkpoint {path}: cannot rebuild the SVD trainer from its "
                                             f"architecture and configuration ({type(exc).__name__}: {exc})") from None
        return checkpoint.load_checkpoint(trainer, path, meta, arrays)
