"""LeNet5 of the DLRT experiments, dense or with low-rank layers.

conv 1→20 5×5 + max-pool 2, conv 20→50 5×5 + max-pool 2, FC 800→500, FC 500→10; ReLU; softmax
cross-entropy (LeCun, Bottou, Bengio & Haffner 1998, in the variant of Schotthöfer, Zangrando,
Kusch, Ceruti & Tudisco, "Low-rank lottery tickets", NeurIPS 2022, §6). As matrices the four
weights are 20 × 25, 50 × 500, 500 × 800 and 10 × 500 (a conv layer is out × in·k·k), so the full
ranks are 20, 50, 500, 10 and the weights hold 430,500 parameters (biases: 580 more).
"""
from __future__ import annotations

import numbers

import numpy as np

from .conv import Conv2D
from .layers import DenseLayer, LowRankLayer
from .network import MLP

__all__ = ["LeNet5", "LENET5_MAX_RANKS"]

#: full ranks of the four LeNet5 weight matrices (20×25, 50×500, 500×800, 10×500)
LENET5_MAX_RANKS = (20, 50, 500, 10)


def LeNet5(ranks=None, *, activation="relu", loss="cross_entropy", dtype=np.float32, rng=None, init_scale=1.0,
           image_shape=(28, 28, 1), n_classes=10, **lowrank_options):
    """LeNet5 as a :class:`~dlra.nn.MLP` (the sequential network) of two :class:`~dlra.nn.conv.Conv2D`
    layers and two fully connected layers.

    Parameters
    ----------
    ranks : None, int or sequence of 4
        None: all layers dense. An int r: the three hidden layers low-rank with rank
        min(r, full rank) (20, 50, 500) and the output layer dense. A sequence: one entry per layer
        (None = dense), each ≤ the full rank of its matrix.
    activation : {"relu", "tanh", "identity"}
        Of the three hidden layers; the output layer is linear.
    init_scale : float
        Multiplies the He initialisation of every layer.
    image_shape : (H, W, C)
        Input images (channels last); (28, 28, 1) for MNIST. The FC input size follows from it.
    lowrank_options
        Passed to every low-rank layer (``init=``, ``init_singular_values=`` — a callable
        ``(m, n, r) -> array`` is evaluated per layer with its matrix shape m × n and rank r, e.g.
        ``lambda m, n, r: 0.5 ** np.arange(r)``).
    """
    n_layers = 4
    if ranks is None or (isinstance(ranks, numbers.Integral) and not isinstance(ranks, bool)):
        ranks = [None if ranks is None else min(int(ranks), m) for m in LENET5_MAX_RANKS[:3]] + [None]
    ranks = list(ranks)
    if len(ranks) != n_layers:
        raise ValueError(f"ranks must have one entry per layer (4), got {len(ranks)}")
    if isinstance(init_scale, bool) or not isinstance(init_scale, numbers.Real) or not init_scale > 0:
        raise ValueError(f"init_scale must be positive, got {init_scale!r}")
    rng = np.random.default_rng(rng)

    def options(rank, m, n):
        if rank is None:
            return {}
        opts = dict(lowrank_options)
        sv = opts.get("init_singular_values")
        if callable(sv):
            opts["init_singular_values"] = np.asarray(sv(m, n, rank), dtype=float)
        return opts

    H, W, C = image_shape
    conv1 = Conv2D((H, W, C), 20, 5, ranks[0], activation, pool=2, rng=rng, init_scale=init_scale,
                   **options(ranks[0], 20, 25 * C))
    conv2 = Conv2D(conv1.out_shape, 50, 5, ranks[1], activation, pool=2, rng=rng, init_scale=init_scale,
                   **options(ranks[1], 50, 500))
    layers = [conv1, conv2]
    for k, (n_in, n_out, act) in enumerate(((conv2.n_out, 500, activation), (500, n_classes, "identity")), start=2):
        if ranks[k] is None:
            layers.append(DenseLayer(n_in, n_out, act, rng=rng, init_scale=init_scale))
        else:
            layers.append(LowRankLayer(n_in, n_out, ranks[k], act, rng=rng, init_scale=init_scale,
                                       **options(ranks[k], n_out, n_in)))
    return MLP(layers, loss=loss, dtype=dtype)
