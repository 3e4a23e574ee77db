"""Dynamical low-rank training (DLRT) support: a small numba-accelerated MLP
(Schotthöfer, Zangrando, Kusch, Ceruti & Tudisco, NeurIPS 2022).

The network's parameters form a state of the core's multi-matrix contract (LowRank weights for
low-rank layers, arrays for dense weights and (m × 1) bias columns), and
:meth:`MLP.vector_field` gives ``F(t, items) = −∇L`` for a batch with one forward and one backward
pass, so the ordinary DLRA integrators (e.g. ``AdaptiveBUG`` with an SGD substep) train it.

>>> from dlra.nn import MLP
>>> net = MLP.from_sizes([784, 500, 500, 10], ranks=20)          # doctest: +SKIP
>>> F = net.vector_field(X_batch, y_batch)                        # doctest: +SKIP
>>> grads = F(0.0, net.parameters())                              # −∇L, one pass
>>> Trainer(net, "dlrt", tau=0.1).fit(load_mnist("embedded"), epochs=2)   # doctest: +SKIP
"""
from .kernels import activation_code
from .layers import DenseLayer, FactoredGradient, LowRankLayer, dense_init, geometric_decay
from .losses import CrossEntropy, Loss, MeanSquaredError, get_loss, one_hot
from .baselines import VanillaFactorGD
from .factorized import (INITS, densify, effective_rank, factor_init, factorize, interpolate, pretrain_dense,
                         rank_above, regularized_field, spectral_init)
from .network import MLP
from .conv import Conv2D
from .lenet import LeNet5
from .training import Trainer, TrainingDiverged, training_parameter_counts
from .checkpoint import CheckpointError
from .svd_training import SVDLayer, SVDTrainer, SVDTraining, svd_mlp

__all__ = [
    "MLP",
    "Conv2D",
    "LeNet5",
    "DenseLayer",
    "LowRankLayer",
    "FactoredGradient",
    "dense_init",
    "geometric_decay",
    "Loss",
    "CrossEntropy",
    "MeanSquaredError",
    "get_loss",
    "one_hot",
    "activation_code",
    "Trainer",
    "TrainingDiverged",
    "CheckpointError",
    "training_parameter_counts",
    "VanillaFactorGD",
    "SVDLayer",
    "SVDTrainer",
    "SVDTraining",
    "svd_mlp",
    "INITS",
    "spectral_init",
    "factor_init",
    "effective_rank",
    "rank_above",
    "regularized_field",
    "factorize",
    "densify",
    "pretrain_dense",
    "interpolate",
]
