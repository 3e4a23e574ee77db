"""Theory-driven layer-wise rank selection (Guo & Yu, "Theory-driven rank selection for low-rank
training", IJCAI 2025 poster): Algorithm 2 (SVD rank approximation with a threshold δ), Algorithm 1
(bisection on δ against a loss tolerance ε) and the bounds of Theorems 1–3.

Notation: a network of L layers ``X^l = a^l(W^l X^{l−1})``, ``a^l`` ρ_l-Lipschitz with a^l(0) = 0,
σ_i^l the singular values of W^l, W_k^l its best rank-k^l approximation (Eckart–Young:
‖W^l − W_k^l‖₂ = σ_{k^l+1}^l).

**Theorem 1** (output bound). For every input X⁰ of a bias-free network,

    ‖X^L − X_k^L‖₂ ≤ (∏_l ρ_l σ_1^l) (Σ_l σ_{k^l+1}^l / σ_1^l) ‖X⁰‖₂        (:func:`output_bound`).

(Proof by induction: e_l ≤ ρ_l (σ_{k^l+1}^l ‖X^{l−1}‖ + σ_1^l e_{l−1}) because ‖W_k^l‖₂ = σ_1^l, and
‖X^{l−1}‖ ≤ ∏_{j<l} ρ_j σ_1^j ‖X⁰‖.) With biases the first inequality needs ‖X^{l−1}‖ of the
biased network instead; the checks in this package use bias-free networks.

**Theorems 2 and 3** (loss bounds). If σ_{k^l+1}^l / σ_1^l < δ for every layer and ‖X_i⁰‖₂ ≤ B on the
training set, the change of the mean loss is below ε for

    δ = ε / (√2 B L ∏_l ρ_l σ_1^l)   (softmax cross-entropy, which is √2-Lipschitz in the logits),
    δ = ε / (B L ∏_l ρ_l σ_1^l)      (regression with g(z, y) = ‖z − y‖₂, 1-Lipschitz)

(:func:`theorem_delta`). Both follow from Theorem 1 with Σ_l σ_{k^l+1}^l/σ_1^l < L δ.

**Algorithm 2, two rank rules.** The condition of the theorems is σ_{k+1}/σ₁ < δ; its smallest
solution keeps every σ_i ≥ δ σ₁ (``rule="theorem"``, :class:`dlra.RelativeSingularValue`, the
**default**). The poster's pseudo-code prints k = argmax{k : k σ_k/σ₁ ≥ δ} (``rule="poster"``,
:class:`PosterRank`). Its k also satisfies the theorems' condition ((k+1) σ_{k+1} < δ σ₁ implies
σ_{k+1} < δ σ₁) but is never smaller, so it keeps more singular values for the same guarantee:
the theorem rule is the default because it is the smallest rank that the theorems cover.

**Algorithm 1, corrected.** The poster's pseudo-code has two misprints: the midpoint is written
δ ← (l/u)/2 (it must be (l + u)/2; l/u stays 0), and the loop runs ``while |l − u| ≥ Δδ or
|floss − loss| ≥ ε``, which need not terminate (at an inadmissible midpoint the second clause holds
forever once u − l is small). :func:`select_ranks` implements the intended bisection

    l, u = 0, 1;  while u − l ≥ Δδ:  δ = (l + u)/2;  (|L(W) − L(W_k(δ))| < ε ? l : u) ← δ

and returns the truncation at δ = l, the last **admissible** δ (the poster returns the truncation
of the last midpoint tried, which may be inadmissible). It costs one loss evaluation of the full
network plus one per iteration, ⌊log₂(1/Δδ)⌋ + 1 (= ⌈log₂(1/Δδ)⌉ unless 1/Δδ is a power of two),
plus one for δ = 0 when no midpoint was admissible; midpoints that give ranks already evaluated
reuse that loss (the ranks are step functions of δ).
When the loss change is monotone in δ the result is within Δδ of the largest admissible δ.
The loss is the network's own loss (mean over the data given: the whole training set, or a fixed
subset to make each evaluation cheaper).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from ..lowrank import LowRank
from ..truncation import RelativeSingularValue
from .kernels import IDENTITY, RELU, TANH

__all__ = ["PosterRank", "rank_rule", "RANK_RULES", "svd_rank_approx", "select_ranks", "RankSelection",
           "layer_singular_values", "lipschitz_constants", "output_bound", "theorem_delta",
           "bisection_evaluations", "check_theorem_assumptions", "forward_with", "norm_loss"]

#: names of the two rules of Algorithm 2 (the first is the default)
RANK_RULES = ("theorem", "poster")

_LIPSCHITZ = {RELU: 1.0, TANH: 1.0, IDENTITY: 1.0}


class PosterRank(RelativeSingularValue):
    """Algorithm 2 as printed: k = max{k : k σ_k / σ₁ ≥ δ} (Guo & Yu 2025).

    The set is never empty for δ ≤ 1 (k = 1 gives 1 ≥ δ); k σ_k is not monotone in k, so the largest
    k in the set is taken. For δ > 1 only k with k σ_k ≥ δ σ₁ count (at least ``min_rank``).
    """

    def _rank(self, sigma, current_rank):
        if sigma.size == 0 or sigma[0] == 0:
            return 0
        ok = np.arange(1, sigma.size + 1) * sigma >= self.delta * sigma[0]
        hits = np.flatnonzero(ok)
        return int(hits[-1]) + 1 if hits.size else 0

    def __repr__(self):
        return f"PosterRank(delta={self.delta:g}{self._caps()})"


def rank_rule(delta, rule="theorem"):
    """The truncation rule of Algorithm 2 for threshold δ: ``"theorem"`` keeps σ_i ≥ δσ₁
    (:class:`dlra.RelativeSingularValue`, smallest k with σ_{k+1}/σ₁ < δ), ``"poster"`` the printed
    k = max{k : kσ_k/σ₁ ≥ δ} (:class:`PosterRank`)."""
    if rule == "theorem":
        return RelativeSingularValue(delta)
    if rule == "poster":
        return PosterRank(delta)
    raise ValueError(f"rule must be one of {', '.join(RANK_RULES)}, got {rule!r}")


def _weights(net_or_items):
    """The list of low-rank weights of an MLP (or of a list of LowRank/arrays)."""
    if hasattr(net_or_items, "layers"):
        items = [layer.weight() for layer in net_or_items.layers]
    else:
        items = list(net_or_items)
    for k, W in enumerate(items):
        if not isinstance(W, (LowRank, np.ndarray)):
            raise TypeError(f"weights[{k}] must be a LowRank or an ndarray, got {type(W).__name__}")
    return items


def layer_singular_values(net_or_weights):
    """Singular values (decreasing) of every layer's weight W^l (exact, from the factors)."""
    out = []
    for W in _weights(net_or_weights):
        if isinstance(W, LowRank):
            out.append(W.singular_values())
        else:
            out.append(np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False))
    return out


def svd_rank_approx(net_or_weights, delta, rule="theorem"):
    """Algorithm 2: every weight replaced by its truncated SVD with the rank of ``rule`` at ``delta``.

    Returns ``(weights, ranks)``: a list of :class:`~dlra.lowrank.LowRank` (orthonormal U, V,
    diagonal core of the kept singular values; a dense weight becomes low-rank too) and the ranks.
    """
    truncation = rank_rule(delta, rule)
    new, ranks = [], []
    for W in _weights(net_or_weights):
        if isinstance(W, LowRank):
            Wk = W.truncate(truncation=truncation)
        else:
            Wk = LowRank.from_dense(W, truncation=truncation)
            Wk = LowRank(Wk.U.astype(W.dtype), Wk.S.astype(W.dtype), Wk.V.astype(W.dtype))
        new.append(Wk)
        ranks.append(Wk.rank)
    return new, ranks


def bisection_evaluations(delta_precision):
    """Number of midpoints the bisection of :func:`select_ranks` tries: ⌊log₂(1/Δδ)⌋ + 1 (0 for Δδ > 1)."""
    d = _check_precision(delta_precision)
    if d > 1:
        return 0
    n = 0
    width = 1.0
    while width >= d:
        width /= 2
        n += 1
    return n


def _check_precision(delta_precision):
    if isinstance(delta_precision, bool) or not isinstance(delta_precision, numbers.Real) \
            or not math.isfinite(delta_precision) or delta_precision <= 0:
        raise ValueError(f"delta_precision must be a positive finite number, got {delta_precision!r}")
    return float(delta_precision)


@dataclass
class RankSelection:
    """Result of :func:`select_ranks` (Algorithm 1).

    ``delta``: the selected (largest admissible found) δ = l; ``upper``: the bracket's u (the
    smallest inadmissible δ tried, or 1); ``weights``/``ranks``: the truncation at ``delta``;
    ``loss_full`` = L(W), ``loss`` = L(W_k); ``evaluations``: loss evaluations of truncated networks
    (not counting L(W)); ``trials``: one dict per midpoint (delta, ranks, loss, change, admissible,
    cached); ``seconds``: wall time.
    """

    delta: float
    upper: float
    weights: list
    ranks: list
    loss_full: float
    loss: float
    epsilon: float
    evaluations: int
    trials: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def loss_change(self):
        return abs(self.loss_full - self.loss)


def select_ranks(net, X, y, epsilon, delta_precision=1 / 64, rule="theorem", *, loss_full=None,
                 batch_size=4096, apply=True):
    """Algorithm 1 (RankSelection, corrected): the largest δ ∈ [0, 1] (to precision Δδ) whose
    truncation changes the loss on (X, y) by less than ε; see the module docstring.

    Parameters
    ----------
    net : MLP
        Its weights are truncated by :func:`svd_rank_approx` (biases and everything else unchanged).
    X, y : arrays
        The data the loss is measured on (the training set, or a fixed subset of it).
    epsilon : float
        Loss tolerance ε > 0: admissible means |L(W) − L(W_k)| < ε.
    delta_precision : float
        Δδ > 0; the loop stops when u − l < Δδ.
    rule : {"theorem", "poster"}
        Rank rule of Algorithm 2.
    loss_full : float, optional
        L(W) on (X, y) when already known (saves one evaluation).
    apply : bool
        Leave the selected truncation in the network (the truncated model continues, Algorithm 3);
        otherwise restore the original weights.

    Returns
    -------
    RankSelection
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not math.isfinite(epsilon) \
            or epsilon <= 0:
        raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}")
    delta_precision = _check_precision(delta_precision)
    rank_rule(0.0, rule)  # validates the name
    start = time.perf_counter()
    original = net.parameters()
    weights = [original[2 * k] for k in range(len(net.layers))]

    def loss_of(ws):
        items = list(original)
        for k, W in enumerate(ws):
            items[2 * k] = W
        net.set_parameters(items)
        return float(net.evaluate(X, y, batch_size=batch_size)[0])

    if loss_full is None:
        loss_full = loss_of(weights)
    if not math.isfinite(loss_full):
        raise FloatingPointError(f"the loss of the untruncated network is {loss_full}")
    cache = {}
    trials = []
    lo, hi = 0.0, 1.0
    while hi - lo >= delta_precision:
        delta = (lo + hi) / 2
        cand, ranks = svd_rank_approx(weights, delta, rule)
        key = tuple(ranks)
        cached = key in cache
        if not cached:
            cache[key] = loss_of(cand)
        loss = cache[key]
        admissible = abs(loss_full - loss) < epsilon
        trials.append({"delta": delta, "ranks": list(ranks), "loss": loss, "change": abs(loss_full - loss),
                       "admissible": admissible, "cached": cached})
        if admissible:
            lo = delta
        else:
            hi = delta
    chosen, ranks = svd_rank_approx(weights, lo, rule)
    key = tuple(ranks)
    if key not in cache:
        cache[key] = loss_of(chosen)
    items = list(original)
    for k, W in enumerate(chosen if apply else weights):
        items[2 * k] = W
    net.set_parameters(items)
    return RankSelection(delta=lo, upper=hi, weights=chosen, ranks=list(ranks), loss_full=loss_full,
                         loss=cache[key], epsilon=float(epsilon), evaluations=len(cache), trials=trials,
                         seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------ theorem bounds
def lipschitz_constants(net):
    """ρ_l of every layer's activation (ReLU, tanh and identity are 1-Lipschitz with a(0) = 0)."""
    return [_LIPSCHITZ[layer.act] for layer in net.layers]


def check_theorem_assumptions(net):
    """Raise ``ValueError`` unless the network is bias-free (Theorem 1 assumes X^l = a^l(W^l X^{l−1}))."""
    for k, layer in enumerate(net.layers):
        if np.any(layer.b != 0):
            raise ValueError(f"net: layer {k + 1} has a nonzero bias; Theorems 1-3 assume bias-free layers")


def output_bound(net, ranks, x_norms=1.0, sigmas=None):
    """Theorem 1's bound (∏ρ_lσ_1^l)(Σ_l σ_{k^l+1}^l/σ_1^l)‖X⁰‖ for the layer ranks ``ranks``.

    ``x_norms``: ‖X⁰‖₂ (a number or an array, one per input). σ_{k+1} = 0 when k ≥ rank(W^l).
    ``sigmas``: the layers' singular values if already computed (:func:`layer_singular_values`).
    """
    sigmas = layer_singular_values(net) if sigmas is None else sigmas
    ranks = list(ranks)
    if len(ranks) != len(sigmas):
        raise ValueError(f"ranks must have one entry per layer ({len(sigmas)}), got {len(ranks)}")
    rho = lipschitz_constants(net)
    prod = float(np.prod([r * s[0] for r, s in zip(rho, sigmas)]))
    tail = sum((s[k] / s[0] if k < s.size else 0.0) for k, s in zip(ranks, sigmas))
    return prod * tail * np.asarray(x_norms, dtype=np.float64)


def theorem_delta(epsilon, B, net, task="classification", sigmas=None):
    """δ of Theorem 2 (``task="classification"``: ε/(√2 B L ∏ρσ₁)) or Theorem 3
    (``"regression"``: ε/(B L ∏ρσ₁)); B bounds the inputs' norms, L is the number of layers."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if not B > 0:
        raise ValueError(f"B must be positive, got {B!r}")
    sigmas = layer_singular_values(net) if sigmas is None else sigmas
    rho = lipschitz_constants(net)
    prod = float(np.prod([r * s[0] for r, s in zip(rho, sigmas)]))
    factor = math.sqrt(2.0) if task == "classification" else 1.0
    return float(epsilon) / (factor * B * len(sigmas) * prod)


def forward_with(net, weights, X):
    """Output of ``net`` on X with its weights replaced by ``weights`` (then restored)."""
    original = net.parameters()
    items = list(original)
    for k, W in enumerate(weights):
        items[2 * k] = W
    try:
        net.set_parameters(items)
        return net.forward(X)
    finally:
        net.set_parameters(original)


def norm_loss(outputs, targets):
    """Theorem 3's regression loss: the mean over samples of ‖z_i − y_i‖₂."""
    diff = np.asarray(outputs, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(np.linalg.norm(diff, axis=1)))
