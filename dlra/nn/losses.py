"""Losses of the MLP, each returning the batch-averaged value and (scaled) gradient w.r.t. the output.

* Softmax cross-entropy with integer labels:
  ``L = (1/N) Σ_i [log Σ_j exp(z_ij) − z_{i y_i}]``, ``∂L/∂Z = (softmax(Z) − onehot(y)) / N``.
  The log-sum-exp subtracts the row maximum (no overflow for large logits).
* Mean squared error: ``L = (1/N) Σ_i ½ ‖z_i − t_i‖²``, ``∂L/∂Z = (Z − T) / N``; integer labels
  are turned into one-hot targets.

The work is done by the numba kernels in :mod:`dlra.nn.kernels`; the gradient can be scaled
on the fly (``scale=-1`` gives −∂L/∂Z, the start of the backward pass for F = −∇L).
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["Loss", "CrossEntropy", "MeanSquaredError", "get_loss", "one_hot"]

_EMPTY = {}


def _empty(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _EMPTY:
        _EMPTY[dtype] = np.empty((0, 0), dtype=dtype)
    return _EMPTY[dtype]


def one_hot(labels, n_classes, dtype=np.float64):
    """(N, n_classes) array with ones at ``labels``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got shape {labels.shape}, dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got range [{labels.min()}, {labels.max()}]")
    out = np.zeros((labels.size, n_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


class Loss:
    """A loss ``L(Z, target)`` averaged over the batch; see the module docstring."""

    name = "loss"

    def prepare_target(self, y, n_out, dtype, n_batch):
        """Validate and convert targets once (per data set / batch); returns what :meth:`value` takes."""
        raise NotImplementedError

    def value(self, Z, target):
        """The loss value (float)."""
        return self.value_and_gradient(Z, target, scale=1.0, gradient=False)[0]

    def value_and_gradient(self, Z, target, scale=1.0, gradient=True):
        """``(L, scale · ∂L/∂Z)``; the gradient is None when ``gradient=False``."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class CrossEntropy(Loss):
    """Softmax cross-entropy with integer class labels, averaged over the batch."""

    name = "cross_entropy"

    def prepare_target(self, y, n_out, dtype, n_batch):
        y = np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be a 1-D array of integer labels for cross_entropy, got shape {y.shape}, "
                             f"dtype {y.dtype}")
        if y.shape[0] != n_batch:
            raise ValueError(f"y has {y.shape[0]} labels for a batch of {n_batch}")
        if y.size and (y.min() < 0 or y.max() >= n_out):
            raise ValueError(f"labels must lie in [0, {n_out}), got range [{y.min()}, {y.max()}]")
        return np.ascontiguousarray(y, dtype=np.int64)

    def value_and_gradient(self, Z, target, scale=1.0, gradient=True):
        D = np.empty_like(Z) if gradient else _empty(Z.dtype)
        loss = kernels.softmax_cross_entropy(Z, target, float(scale), D)
        return float(loss), (D if gradient else None)


class MeanSquaredError(Loss):
    """``½ · mean over the batch of ‖out − target‖²``; integer labels become one-hot targets."""

    name = "mse"

    def prepare_target(self, y, n_out, dtype, n_batch):
        y = np.asarray(y)
        if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
            T = one_hot(y, n_out, dtype=dtype)
        else:
            if y.ndim == 1 and n_out == 1:
                y = y.reshape(-1, 1)
            if y.ndim != 2 or y.shape[1] != n_out:
                raise ValueError(f"y must be integer labels or targets of shape (batch, {n_out}), got {y.shape}")
            T = np.ascontiguousarray(y, dtype=dtype)
        if T.shape[0] != n_batch:
            raise ValueError(f"y has {T.shape[0]} targets for a batch of {n_batch}")
        return T

    def value_and_gradient(self, Z, target, scale=1.0, gradient=True):
        D = np.empty_like(Z) if gradient else _empty(Z.dtype)
        loss = kernels.mean_squared_error(Z, target, float(scale), D)
        return float(loss), (D if gradient else None)


_LOSSES = {"cross_entropy": CrossEntropy, "crossentropy": CrossEntropy, "ce": CrossEntropy,
           "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError}


def get_loss(loss):
    """A :class:`Loss` from a name (``"cross_entropy"`` or ``"mse"``) or an instance."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _LOSSES:
        return _LOSSES[loss.lower()]()
    raise ValueError(f"loss must be 'cross_entropy' or 'mse' (or a Loss), got {loss!r}")
