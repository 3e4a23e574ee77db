"""Factorised low-rank training: initialisations, regularisers, effective rank, pre-training and
interpolation (Kamalakara, Locatelli, Venkitesh, Ba, Gal & Gomez, "Exploring low rank training of
deep neural networks", 2022; definitions of Khodak, Tenenholtz, Mackey & Fusi, "Initialization and
regularization of factorized neural layers", ICLR 2021).

**Initialisations** of a factorised layer W = U Vᵀ (m × n, rank r), all derived from the dense
He/Glorot initialisation W₀ = Q Σ Pᵀ (:func:`dlra.nn.dense_init`) and all with the same Frobenius
norm ‖Σ_r‖_F, so that only the structure differs (:data:`INITS`):

* ``"spectral"`` (SI): U = Q_r Σ_r^{1/2}, V = P_r Σ_r^{1/2}, so U Vᵀ is the best rank-r
  approximation of W₀ (Eckart–Young; :func:`spectral_init`);
* ``"random"``: independent Gaussian factors, U_ij, V_ij ~ N(0, s/√r) (s the std of W₀), so that
  E‖U Vᵀ‖²_F = E‖W₀‖²_F — the factors are initialised separately, as a factorised layer is by default;
* the ablations that separate directions from values: ``"random_values"`` (SI directions Q_r, P_r,
  random values |gᵢ| rescaled to ‖Σ_r‖_F), ``"flat_values"`` (SI directions, all values
  ‖Σ_r‖_F/√r), ``"random_directions"`` (Haar-random orthonormal directions with SI's values Σ_r).

A layer whose W₀ would have more than :data:`FACTORED_INIT_ENTRIES` entries is initialised **without
forming W₀**: the singular vectors of a Gaussian matrix are Haar distributed and its top singular
values concentrate at the quantiles of the Marchenko–Pastur law (:func:`marchenko_pastur_singular_values`),
so Haar directions with those values are the spectral initialisation to leading order in the size.

**Regularisers** (gradients never form U Vᵀ):

* L2 on the factors (λ/2)(‖U‖²_F + ‖V‖²_F) — equal at the balanced optimum to λ‖W‖_* (the nuclear
  norm; Srebro & Shraibman 2005) — with gradients λU, λV (:class:`~dlra.nn.VanillaFactorGD`'s
  ``weight_decay``);
* Frobenius decay (λ/2)‖U Vᵀ‖²_F with ∇_U = λ U (VᵀV), ∇_V = λ V (UᵀU): this is the term −λW
  added to F = −∇_W L, and :func:`regularized_field` adds it in factored form, so the same option
  acts on the vanilla factors and, as −λ U S Vᵀ in the K-, L- and S-flows, on DLRT;
* for DLRT, the nuclear-norm term −μ P Qᵀ (W = P Σ Qᵀ), the penalty that L2 on the factors
  amounts to, in the vector field.

**Effective rank** (Roy & Vetterli, "The effective rank: a measure of effective dimensionality",
EUSIPCO 2007): erank(σ) = exp(−Σ pᵢ log pᵢ), pᵢ = σᵢ / Σⱼ σⱼ (:func:`effective_rank`), recorded per
layer per epoch by :class:`~dlra.nn.Trainer`, with the number of σᵢ > 1 % σ₁.

**Pre-training** (:func:`pretrain_dense`, :func:`factorize`) and **interpolation** in weight space
θ(α) = (1 − α) θ_A + α θ_B (:func:`interpolate`), as in the paper's Figures 2, 4, 5.

**Convolutions** (:class:`~dlra.nn.conv.Conv2D`, e.g. in :func:`~dlra.nn.LeNet5`) are factorised as
their matrix W ∈ R^{C_out × k·k·C_in} (Schotthöfer, Zangrando, Kusch, Ceruti & Tudisco, "Low-rank
lottery tickets", NeurIPS 2022, §6), so everything above applies to that matrix unchanged: the
initialisations start from the He initialisation with fan-in k·k·C_in, the regularisers act on the
network's state (where a convolution's weight is that matrix), the effective rank is that of its
singular values, and :func:`factorize`, :func:`densify` and :func:`interpolate` keep the kernel and
the pooling.
"""
from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse.linalg

from ..lowrank import LowRank, random_orthonormal

__all__ = [
    "INITS",
    "FACTORED_INIT_ENTRIES",
    "spectral_init",
    "factor_init",
    "marchenko_pastur_singular_values",
    "effective_rank",
    "rank_above",
    "spectrum_columns",
    "regularized_field",
    "frobenius_decay_gradients",
    "factorize",
    "densify",
    "pretrain_dense",
    "interpolate",
]

#: the initialisations of a factorised layer (see the module docstring)
INITS = ("spectral", "random", "random_values", "flat_values", "random_directions")
#: above this many entries of W₀ (m n) the initialisation never forms W₀ (2²⁴: 128 MiB in float64)
FACTORED_INIT_ENTRIES = 2 ** 24


def _check_rank(rank, m, n, name="rank"):
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not 1 <= rank <= min(m, n):
        raise ValueError(f"{name} must be an integer in [1, min(m, n) = {min(m, n)}], got {rank!r}")
    return int(rank)


# ---------------------------------------------------------------------------------- initialisation
def spectral_init(W, rank):
    """Spectral initialisation: ``(U, V)`` with ``U = Q_r Σ_r^{1/2}``, ``V = P_r Σ_r^{1/2}`` from the
    SVD ``W = Q Σ Pᵀ``, so that ``U Vᵀ`` is the truncated SVD of W, the best rank-r approximation in
    every unitarily invariant norm (Eckart–Young–Mirsky); Khodak et al. 2021, Kamalakara et al. 2022.

    Parameters
    ----------
    W : (m, n) real array
    rank : int, 1 ≤ rank ≤ min(m, n)
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array, got shape {W.shape}")
    if not np.issubdtype(W.dtype, np.floating):
        raise TypeError(f"W must be a real floating-point array, got dtype {W.dtype}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W contains non-finite values")
    rank = _check_rank(rank, *W.shape)
    Q, sigma, Ph = np.linalg.svd(W, full_matrices=False)
    root = np.sqrt(sigma[:rank])
    return Q[:, :rank] * root, Ph[:rank].T * root


def marchenko_pastur_singular_values(m, n, rank, std=1.0):
    """The ``rank`` largest singular values of an m × n matrix with i.i.d. N(0, std²) entries, to
    leading order in the size: ``std √max(m, n) · √λⱼ`` with λⱼ the (j − ½)/min(m, n) upper quantile of
    the Marchenko–Pastur law of ratio y = min/max, density √((λ₊ − λ)(λ − λ₋)) / (2π y λ) on
    [(1 − √y)², (1 + √y)²] (Marchenko & Pastur 1967). Costs O(rank + grid), never forms the matrix.
    """
    p, q = min(m, n), max(m, n)
    rank = _check_rank(rank, m, n)
    y = p / q
    lo, hi = (1 - np.sqrt(y)) ** 2, (1 + np.sqrt(y)) ** 2
    # λ = lo + (hi − lo)(1 − cos θ)/2 removes the square-root singularities at both edges
    theta = np.linspace(0.0, np.pi, 20001)
    lam = lo + (hi - lo) * (1 - np.cos(theta)) / 2
    half = (hi - lo) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = np.where(lam > 0, half ** 2 * np.sin(theta) ** 2 / (2 * np.pi * y * lam), 0.0)
    if y == 1.0:  # λ → 0 at θ → 0: the integrand tends to (hi/2)² θ² / (2π · hi θ²/4) = hi / (2π)
        dens[0] = hi / (2 * np.pi)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(theta))])
    cdf /= cdf[-1]
    upper = (np.arange(rank) + 0.5) / p
    lam_j = np.interp(1.0 - upper, cdf, lam)
    return std * np.sqrt(q * lam_j)


def _dense_std(n_in, n_out, activation, scale):
    from .kernels import RELU, activation_code
    return scale * (np.sqrt(2.0 / n_in) if activation_code(activation) == RELU else np.sqrt(2.0 / (n_in + n_out)))


def factor_init(n_in, n_out, rank, init="spectral", activation="relu", *, rng=None, scale=1.0,
                singular_values=None, factored=None):
    """Initial weight (n_out × n_in, rank ``rank``) of a factorised layer as a :class:`LowRank`
    (float64), by one of :data:`INITS` (see the module docstring).

    ``"spectral"`` and the ablations keeping SI's directions return ``LowRank(Q_r, diag(d), P_r)``
    (orthonormal factors; the balanced split U = Q_r d^{1/2}, V = P_r d^{1/2} is what
    :class:`~dlra.nn.VanillaFactorGD` trains); ``"random"`` returns ``LowRank(U, I, V)`` with the
    independent Gaussian factors themselves. ``singular_values`` (only with ``"random_directions"``)
    prescribes the spectrum instead of SI's. ``factored``: never form W₀ (default: when
    n_in · n_out > :data:`FACTORED_INIT_ENTRIES`); then SI's directions are Haar-random and its values
    the Marchenko–Pastur quantiles.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    m, n = int(n_out), int(n_in)
    rank = _check_rank(rank, m, n)
    if not (isinstance(scale, numbers.Real) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    rng = np.random.default_rng(rng)
    std = _dense_std(n_in, n_out, activation, scale)
    if singular_values is not None:
        if init != "random_directions":
            raise ValueError(f"singular_values: only init='random_directions' takes a prescribed spectrum, "
                             f"got init={init!r}")
        sv = np.asarray(singular_values, dtype=float)
        if sv.shape != (rank,):
            raise ValueError(f"singular_values must have length rank = {rank}, got shape {sv.shape}")
        return LowRank.random(m, n, sv, rng=rng)
    if init == "random":
        a = np.sqrt(std / np.sqrt(rank))
        return LowRank(a * rng.standard_normal((m, rank)), np.eye(rank), a * rng.standard_normal((n, rank)))
    if factored is None:
        factored = m * n > FACTORED_INIT_ENTRIES
    if factored:
        sigma = marchenko_pastur_singular_values(m, n, rank, std)
        Q, P = None, None
    else:
        from .layers import dense_init
        W0 = dense_init(n_in, n_out, activation, rng=rng, scale=scale)
        Qf, sigma, Ph = np.linalg.svd(W0, full_matrices=False)
        Q, P, sigma = Qf[:, :rank], Ph[:rank].T, sigma[:rank]
    if init == "random_directions":
        return LowRank.random(m, n, sigma, rng=rng)
    if Q is None:
        Q, P = random_orthonormal(m, rank, rng=rng), random_orthonormal(n, rank, rng=rng)
    norm = np.linalg.norm(sigma)
    if init == "random_values":
        d = np.sort(np.abs(rng.standard_normal(rank)))[::-1]
        d *= norm / np.linalg.norm(d)
    elif init == "flat_values":
        d = np.full(rank, norm / np.sqrt(rank))
    else:
        d = sigma
    return LowRank(Q, np.diag(d), P)


# ---------------------------------------------------------------------------------- effective rank
def _spectrum(sigma, name="sigma"):
    sigma = np.asarray(sigma, dtype=float)
    if sigma.ndim != 1 or sigma.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of singular values, got shape {sigma.shape}")
    if not np.all(np.isfinite(sigma)) or np.any(sigma < 0):
        raise ValueError(f"{name} must hold finite nonnegative values")
    return sigma


def effective_rank(sigma):
    """Effective rank exp(−Σ pᵢ log pᵢ), pᵢ = σᵢ / Σⱼ σⱼ (0 log 0 = 0) of the singular values σ
    (Roy & Vetterli 2007): r for r equal values, 1 for a single nonzero one, between 1 and the
    number of nonzero values otherwise. Zero for the zero matrix."""
    sigma = _spectrum(sigma)
    total = sigma.sum()
    if total == 0:
        return 0.0
    p = sigma[sigma > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def rank_above(sigma, fraction=0.01):
    """Number of singular values above ``fraction`` · σ₁ (default 1 %)."""
    sigma = _spectrum(sigma)
    if not (isinstance(fraction, numbers.Real) and 0 <= fraction < 1):
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    top = sigma.max()
    return int(np.sum(sigma > fraction * top)) if top > 0 else 0


def _singular_values(W):
    if isinstance(W, LowRank):
        return W.singular_values()
    return np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False)


def spectrum_columns(net):
    """``{"erank_<k>": …, "rank1pct_<k>": …}`` for every layer k (1-based) of ``net``: the effective
    rank and the number of singular values above 1 % of σ₁ of its weight (O((m + n) r²) for a
    low-rank layer, one dense SVD for a dense layer)."""
    out = {}
    for k, layer in enumerate(net.layers):
        sigma = _singular_values(layer.weight())
        out[f"erank_{k + 1}"] = effective_rank(sigma)
        out[f"rank1pct_{k + 1}"] = rank_above(sigma)
    return out


# ---------------------------------------------------------------------------------- regularisers
class _PenalizedGradient(scipy.sparse.linalg.LinearOperator):
    """``G + T`` for a field value G (LinearOperator) and a LowRank term T, applied term by term."""

    def __init__(self, G, T):
        self.value, self.term = G, T
        super().__init__(dtype=np.result_type(G.dtype, T.dtype), shape=G.shape)

    def _matmat(self, X):
        return self.value.matmat(X) + self.term @ X

    def _rmatmat(self, X):
        return self.value.rmatmat(X) + self.term.rmatmat(X)

    def _matvec(self, x):
        return self._matmat(x.reshape(-1, 1)).ravel()

    def _rmatvec(self, x):
        return self._rmatmat(x.reshape(-1, 1)).ravel()


def _add_term(value, T):
    """value + T for a field value (ndarray, LowRank, LinearOperator) and a LowRank T."""
    if isinstance(value, np.ndarray):
        return value + T.to_dense()
    if isinstance(value, LowRank):
        return value + T
    return _PenalizedGradient(value, T)


def _polar_term(Y):
    """P Qᵀ for Y = P Σ Qᵀ (σ > 0 only), from the factors in O((m + n) r²): the gradient of ‖Y‖_*."""
    P, sigma, Q = Y.svd()
    if sigma.size == 0 or sigma[0] == 0:
        return None
    keep = sigma > sigma[0] * max(Y.shape) * np.finfo(sigma.dtype).eps
    return LowRank(P[:, keep], np.eye(int(keep.sum()), dtype=Y.S.dtype), Q[:, keep])


def _check_decay(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite nonnegative number, got {value!r}")
    return float(value)


def regularized_field(F, weights, *, frobenius_decay=0.0, nuclear_decay=0.0, dense_decay=0.0):
    """The vector field of the regularised loss L + (λ/2) Σ‖W‖²_F + μ Σ_lowrank ‖W‖_*, from F = −∇L.

    For every state item at a position in ``weights``: F gets −λ W (Frobenius decay), as a LowRank
    term ``LowRank(U, −λ S, V)`` for a low-rank item so its products are (U S Vᵀ) V = U (S (VᵀV)) and
    W is never formed; with ``nuclear_decay`` μ, low-rank items also get −μ P Qᵀ (W = P Σ Qᵀ, from
    QRs of the factors), the subgradient of the nuclear norm; ``dense_decay`` adds −λ' W to the dense
    (ndarray) weights only (ordinary L2 on a dense layer). Other items (biases) are unchanged.

    For the factors of W = U Vᵀ (:class:`~dlra.nn.VanillaFactorGD`) the −λW term gives exactly the
    Frobenius-decay gradients ∇_U = λ U (VᵀV), ∇_V = λ V (UᵀU); for DLRT it is the corresponding term
    of the projected flow (the K-flow gets −λK, the L-flow −λL, the S-flow −λS).
    """
    lam = _check_decay(frobenius_decay, "frobenius_decay")
    mu = _check_decay(nuclear_decay, "nuclear_decay")
    lam_dense = lam + _check_decay(dense_decay, "dense_decay")
    weights = frozenset(int(k) for k in weights)
    if lam == 0 and mu == 0 and lam_dense == 0:
        return F

    def G(t, items):
        values = list(F(t, items))
        for k in weights:
            Y = items[k]
            if isinstance(Y, LowRank):
                if lam:
                    values[k] = _add_term(values[k], LowRank(Y.U, -lam * Y.S, Y.V))
                if mu:
                    polar = _polar_term(Y)
                    if polar is not None:
                        values[k] = _add_term(values[k], polar * (-mu))
            elif lam_dense:
                values[k] = values[k] - lam_dense * Y
        return values

    if hasattr(F, "network"):
        G.network = F.network
    return G


def frobenius_decay_gradients(U, V, lam):
    """``(∇_U, ∇_V) = (λ U (VᵀV), λ V (UᵀU))`` of (λ/2)‖U Vᵀ‖²_F, in O((m + n) r²) without forming U Vᵀ."""
    return lam * (U @ (V.T @ V)), lam * (V @ (U.T @ U))


# ---------------------------------------------------------------------------------- pre-training
def _rebuild(layer, weight):
    """A new layer like ``layer`` — same kind (fully connected or :class:`~dlra.nn.conv.Conv2D`), sizes,
    activation, pooling and bias — holding ``weight``: an array makes it dense, a LowRank low-rank.
    A convolution's weight is its matrix C_out × k·k·C_in."""
    from .conv import Conv2D
    from .layers import DenseLayer, LowRankLayer

    lowrank = isinstance(weight, LowRank)
    weight = weight.astype(np.float64) if lowrank else np.asarray(weight, np.float64)
    if isinstance(layer, Conv2D):
        return Conv2D(layer.in_shape, layer.out_channels, layer.kernel_size, weight.rank if lowrank else None,
                      layer.activation, pool=layer.pool, weight=weight, b=layer.b)
    if lowrank:
        return LowRankLayer(layer.n_in, layer.n_out, weight.rank, layer.activation, weight=weight, b=layer.b)
    return DenseLayer(layer.n_in, layer.n_out, layer.activation, W=weight, b=layer.b)


def factorize(net, rank):
    """A copy of ``net`` whose dense hidden layers (all but the output layer) are replaced by
    low-rank layers holding their truncated SVD of rank ``rank``: W ≈ Q_r Σ_r P_rᵀ, which the vanilla
    factorisation splits into the spectral factors of :func:`spectral_init` and DLRT integrates as
    is. ``rank``: an int r (every hidden layer at rank min(r, its full rank)) or one entry per layer
    (None = keep the layer as it is). Convolutions (:class:`~dlra.nn.conv.Conv2D`) are factorised as
    their matrix C_out × k·k·C_in (Schotthöfer et al., NeurIPS 2022, §6). Biases are copied. At full
    rank the new network computes the same function (to round-off)."""
    from .network import MLP

    n = len(net.layers)
    if rank is None or isinstance(rank, numbers.Integral):
        ranks = [None if rank is None else min(int(rank), *layer.weight_shape) for layer in net.layers[:-1]] + [None]
    else:
        ranks = list(rank)
    if len(ranks) != n:
        raise ValueError(f"rank must be an int or have one entry per layer ({n}), got {len(ranks)}")
    layers = []
    for layer, r in zip(net.layers, ranks):
        W = layer.weight()
        if r is None:
            layers.append(_rebuild(layer, W))
            continue
        r = _check_rank(r, *layer.weight_shape)
        layers.append(_rebuild(layer, W.truncate(rank=r) if layer.lowrank
                               else LowRank.from_dense(np.asarray(W, np.float64), rank=r)))
    return MLP(layers, loss=net.loss_fn, dtype=net.dtype)


def densify(net):
    """A copy of ``net`` with every layer dense (W = U S Vᵀ formed), e.g. to interpolate in W."""
    from .network import MLP

    return MLP([_rebuild(layer, layer.weight().to_dense() if layer.lowrank else layer.weight())
                for layer in net.layers], loss=net.loss_fn, dtype=net.dtype)


def pretrain_dense(net, data, steps, *, optimizer="adam", lr=None, batch_size=256, seed=0, progress=False):
    """Train the dense network ``net`` in place for ``steps`` mini-batch steps (the last epoch may be
    partial) with :class:`~dlra.nn.Trainer` (method "dense") and return the trainer; its
    ``step`` counter is the number of pre-training steps. Then :func:`factorize` the network and
    continue low-rank (Kamalakara et al. 2022, §"pre-training")."""
    from .training import Trainer, _split

    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be a nonnegative integer, got {steps!r}")
    trainer = Trainer(net, "dense", optimizer=optimizer, lr=lr, batch_size=batch_size, seed=seed, progress=False)
    train = _split(data, "train")
    if train is None:
        raise ValueError("data must provide x_train and y_train")
    X, y = train
    X = np.ascontiguousarray(X, dtype=net.dtype)
    n = X.shape[0]
    from ..progress import progress_bar

    bar = progress_bar(total=steps, enabled=progress, desc="dense pre-training", leave=False, unit="step")
    while trainer.step < steps:
        perm = trainer.rng.permutation(n)
        for b in range(0, n, trainer.batch_size):
            if trainer.step >= steps:
                break
            idx = perm[b:b + trainer.batch_size]
            loss = trainer.train_step(X[idx], y[idx])
            if not np.isfinite(loss):
                raise FloatingPointError(f"the pre-training loss became {loss} at step {trainer.step}; "
                                         "lower the learning rate")
            bar.update(1)
    bar.close()
    return trainer


# ---------------------------------------------------------------------------------- interpolation
def _signature(layer):
    """What two layers must share to be interpolated: sizes, activation, weight shape, kernel, pooling."""
    return (layer.n_in, layer.n_out, layer.activation, layer.weight_shape, getattr(layer, "in_shape", None),
            getattr(layer, "kernel_size", None), getattr(layer, "pool", None))


def interpolate(net_a, net_b, alphas, X, y, batch_size=4096):
    """Loss and accuracy along θ(α) = (1 − α) θ_A + α θ_B in weight space (W and b of every layer;
    low-rank layers through their product W = U S Vᵀ), as in Kamalakara et al. 2022, Figs. 2, 4, 5.

    Returns a list of ``{"alpha", "loss", "accuracy"}``. The two networks must have the same layer
    sizes and activations (any mix of dense and low-rank layers, any ranks; convolutions through their
    matrices C_out × k·k·C_in, with the same kernel and pooling).
    """
    a, b = densify(net_a), densify(net_b)
    if [_signature(layer) for layer in a.layers] != [_signature(layer) for layer in b.layers]:
        raise ValueError("net_a and net_b must have the same layer sizes and activations (and the same "
                         "convolutions)")
    alphas = np.asarray(alphas, dtype=float).ravel()
    if alphas.size == 0 or not np.all(np.isfinite(alphas)):
        raise ValueError("alphas must be a non-empty sequence of finite numbers")
    pa, pb = a.parameters(), b.parameters()
    mix = densify(net_a)
    rows = []
    for alpha in alphas:
        mix.set_parameters([(1 - alpha) * p + alpha * q for p, q in zip(pa, pb)])
        loss, acc = mix.evaluate(X, y, batch_size=batch_size)
        rows.append({"alpha": float(alpha), "loss": float(loss), "accuracy": float(acc)})
    return rows
