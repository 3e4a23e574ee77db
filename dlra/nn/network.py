"""A small MLP whose gradient is a vector field in the core's multi-matrix contract
(the DLRT setting of Schotthöfer et al., NeurIPS 2022).

The network's **state** is the list ``[W_1, b_1, W_2, b_2, …]``: a :class:`~dlra.lowrank.LowRank`
for a low-rank layer, an (n_out × n_in) array for a dense layer, and an (n_out × 1) column for each
bias (every item is 2-D). :meth:`MLP.vector_field` turns a batch into ``F(t, items) = −∇L(items)``
evaluated with **one** forward and **one** backward pass for all layers at once; a low-rank layer's
−∇_W L = −Δᵀ X is returned factored (:class:`~dlra.nn.layers.FactoredGradient`) so the integrators'
products F V, Fᴴ U cost O(batch · r · (m + n)). Plugged into :class:`dlra.integrators.AdaptiveBUG`
with the SGD substep, one step is one DLRT step (Schotthöfer, Zangrando, Kusch, Ceruti & Tudisco,
"Low-rank lottery tickets: finding efficient low-rank neural networks via matrix differential
equations", NeurIPS 2022).

Cost of one pass (batch N, layer m × n, rank r): dense layer 3 GEMMs of N m n flops; low-rank layer
O(N r (m + n)). Elementwise work (bias, activation, its derivative, bias gradient, loss) is fused in
numba kernels (:mod:`dlra.nn.kernels`).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from ..lowrank import LowRank
from . import kernels
from .layers import DenseLayer, LowRankLayer, _Layer
from .losses import get_loss

__all__ = ["MLP"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class MLP:
    """Sequential network of weight layers: :class:`DenseLayer`, :class:`LowRankLayer` and
    :class:`~dlra.nn.conv.Conv2D` (dense or low-rank convolution with optional max-pooling; e.g.
    :func:`~dlra.nn.lenet.LeNet5`). Every layer computes φ(linear(x) + b), with one bias per output
    feature (fully connected) or per output channel (convolution).

    Parameters
    ----------
    layers : sequence of DenseLayer / LowRankLayer / Conv2D
        Consecutive layers (``n_out`` of one = ``n_in`` of the next, flattened sizes). The network owns them.
    loss : {"cross_entropy", "mse"} or a :class:`~dlra.nn.losses.Loss`
    dtype : float32 or float64
        The dtype of parameters, activations and gradients. Inputs are cast once.

    Attributes
    ----------
    passes : int
        Number of forward+backward passes (one per call of a vector field / :meth:`gradients`).
    forward_passes : int
        Number of inference-only forward passes (:meth:`forward`, :meth:`loss`, :meth:`predict`, …).
    last_loss : float or None
        Loss of the batch at the parameters of the last forward+backward pass (free by-product).

    Notes
    -----
    The network holds **references** to the arrays set by :meth:`set_parameters` (no copy when the
    dtype already matches); do not modify them in place while the network uses them. A vector field
    call sets the network's parameters to the items it is evaluated at: after an integrator step,
    call ``net.set_parameters(new_items)`` before evaluating the network.
    """

    def __init__(self, layers, loss="cross_entropy", dtype=np.float32):
        if isinstance(layers, _Layer):
            layers = [layers]
        if not isinstance(layers, Sequence) or not layers:
            raise ValueError("layers must be a non-empty sequence of layers (DenseLayer, LowRankLayer, Conv2D)")
        for k, layer in enumerate(layers):
            if not isinstance(layer, _Layer):
                raise TypeError(f"layers[{k}] must be a DenseLayer, LowRankLayer or Conv2D, got {type(layer).__name__}")
            if k and layer.n_in != layers[k - 1].n_out:
                raise ValueError(f"layers[{k}].n_in = {layer.n_in} does not match layers[{k - 1}].n_out = "
                                 f"{layers[k - 1].n_out}")
        dtype = np.dtype(dtype)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.layers = list(layers)
        self.dtype = dtype
        self.loss_fn = get_loss(loss)
        for layer in self.layers:
            layer.astype(dtype)
        self.passes = 0
        self.forward_passes = 0
        self.last_loss = None

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_sizes(cls, sizes, ranks=None, activation="relu", output_activation="identity",
                   loss="cross_entropy", dtype=np.float32, rng=None, init_scale=1.0, **lowrank_options):
        """Build ``sizes[0] → sizes[1] → … → sizes[-1]``.

        ``ranks``: None (all dense), an int (every hidden layer low-rank with that rank, the output
        layer dense), or a list with one entry per layer (None = dense). ``init_scale`` multiplies
        the He/Glorot initialisation of every layer (0.41 gives PyTorch's default scale).
        ``lowrank_options`` go to :class:`LowRankLayer` (``init=``, ``init_singular_values=``).
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"sizes must have at least two entries, got {sizes}")
        n_layers = len(sizes) - 1
        if ranks is None or isinstance(ranks, numbers.Integral):
            ranks = [ranks] * (n_layers - 1) + [None]
        ranks = list(ranks)
        if len(ranks) != n_layers:
            raise ValueError(f"ranks must have one entry per layer ({n_layers}), got {len(ranks)}")
        if isinstance(init_scale, bool) or not isinstance(init_scale, numbers.Real) or not init_scale > 0:
            raise ValueError(f"init_scale must be positive, got {init_scale!r}")
        rng = np.random.default_rng(rng)
        layers = []
        for k in range(n_layers):
            act = output_activation if k == n_layers - 1 else activation
            if ranks[k] is None:
                layers.append(DenseLayer(sizes[k], sizes[k + 1], act, rng=rng, init_scale=init_scale))
            else:
                layers.append(LowRankLayer(sizes[k], sizes[k + 1], ranks[k], act, rng=rng,
                                           init_scale=init_scale, **lowrank_options))
        return cls(layers, loss=loss, dtype=dtype)

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"MLP([{inner}], loss={self.loss_fn.name!r}, dtype={self.dtype.name})"

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out

    # ------------------------------------------------------------------ state
    def parameters(self):
        """The state ``[W_1, b_1, …, W_L, b_L]`` (LowRank or (m×n) array; biases as (m×1) columns)."""
        items = []
        for layer in self.layers:
            items.append(layer.weight())
            items.append(layer.b)
        return items

    def parameter_shapes(self):
        return [shape for layer in self.layers for shape in layer.parameter_shapes()]

    def lowrank_indices(self):
        """Positions of the low-rank weights in :meth:`parameters`."""
        return [2 * k for k, layer in enumerate(self.layers) if layer.lowrank]

    def ranks(self):
        """Rank per low-rank layer (in layer order)."""
        return [layer.rank for layer in self.layers if layer.lowrank]

    def set_parameters(self, items):
        """Write a state back (same structure as :meth:`parameters`; low-rank ranks may change).

        Items are cast to the network's dtype (no copy when it already matches).
        """
        if isinstance(items, (LowRank, np.ndarray)) or not isinstance(items, Sequence):
            raise TypeError(f"items must be a sequence of {2 * len(self.layers)} parameters, got "
                            f"{type(items).__name__}")
        if len(items) != 2 * len(self.layers):
            raise ValueError(f"items must hold {2 * len(self.layers)} parameters (weight and bias per layer), "
                             f"got {len(items)}")
        dtype = self.dtype
        for k, layer in enumerate(self.layers):
            layer.set_weight(items[2 * k], dtype, where=f"items[{2 * k}]")
            layer._set_bias(items[2 * k + 1], dtype, where=f"items[{2 * k + 1}]")

    def copy_parameters(self):
        """A deep copy of the state."""
        return [p.copy() for p in self.parameters()]

    # ------------------------------------------------------------------ passes
    def _as_input(self, X):
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"X must have shape (batch, {self.n_in}), got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError("X must hold at least one sample")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _forward(self, X, keep=False):
        """Activations [X, A_1, …, A_L] (fresh arrays; A_L is the output).

        ``keep=True`` (gradient passes): low-rank layers remember ``X V`` for their gradient.
        """
        acts = [X]
        for layer in self.layers:
            Z = layer.linear(X, keep=True) if keep and layer.keeps_forward else layer.linear(X)
            # the bias is per output channel: Z seen as (·, channels) rows (a no-op for FC layers)
            X = kernels.bias_activation(Z.reshape(-1, layer.b.shape[0]), layer.b[:, 0], layer.act).reshape(Z.shape)
            acts.append(X)
        return acts

    def _backward(self, acts, dA):
        """Backward pass from ``dA = ∂(scale·L)/∂A_L``; returns the gradients in state order."""
        grads = [None] * (2 * len(self.layers))
        for k in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[k]
            channels = layer.b.shape[0]
            gb = np.empty((channels, 1), dtype=self.dtype)
            D = kernels.activation_backward(dA.reshape(-1, channels), acts[k + 1].reshape(-1, channels), layer.act,
                                            gb[:, 0]).reshape(dA.shape)
            grads[2 * k] = layer.weight_gradient(D, acts[k])
            grads[2 * k + 1] = gb
            if k:
                # a low-rank layer hands D U (computed here anyway) to its factored gradient
                dA = layer.linear_backward(D, grads[2 * k]) if layer.lowrank else layer.linear_backward(D)
        return grads

    def _gradient_pass(self, X, target, scale):
        acts = self._forward(X, keep=True)
        loss, dA = self.loss_fn.value_and_gradient(acts[-1], target, scale=scale)
        grads = self._backward(acts, dA)
        self.passes += 1
        self.last_loss = loss
        return loss, grads

    def _target(self, y, n_batch):
        return self.loss_fn.prepare_target(y, self.n_out, self.dtype, n_batch)

    def forward(self, X):
        """Network output (batch × n_out) for inputs X (batch × n_in)."""
        self.forward_passes += 1
        return self._forward(self._as_input(X))[-1]

    def loss(self, X, y):
        """Batch-averaged loss at the current parameters."""
        X = self._as_input(X)
        return self.loss_fn.value(self.forward(X), self._target(y, X.shape[0]))

    def predict(self, X):
        """Predicted class per sample (argmax of the output)."""
        out = self.forward(X)
        return kernels.argmax_rows(out, np.empty(out.shape[0], dtype=np.int64))

    def accuracy(self, X, y):
        """Fraction of correctly classified samples (y: integer labels)."""
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got {y.shape}")
        return float(np.mean(pred == y))

    def evaluate(self, X, y, batch_size=None):
        """``(loss, accuracy)`` with one forward pass per chunk of ``batch_size`` samples."""
        X = self._as_input(X)
        n = X.shape[0]
        bs = n if batch_size is None else int(batch_size)
        total_loss, correct = 0.0, 0
        y = np.asarray(y)
        for start in range(0, n, bs):
            Xb, yb = X[start:start + bs], y[start:start + bs]
            out = self.forward(Xb)
            total_loss += self.loss_fn.value(out, self._target(yb, Xb.shape[0])) * Xb.shape[0]
            if yb.ndim == 1 and np.issubdtype(yb.dtype, np.integer):
                correct += int(np.sum(kernels.argmax_rows(out, np.empty(out.shape[0], np.int64)) == yb))
        return total_loss / n, correct / n

    def gradients(self, X, y):
        """∇L at the current parameters, in state order (one forward+backward pass).

        Low-rank layers give a :class:`~dlra.nn.layers.FactoredGradient`, the others arrays.
        """
        X = self._as_input(X)
        return self._gradient_pass(X, self._target(y, X.shape[0]), 1.0)[1]

    def vector_field(self, X, y):
        """``F(t, items) = −∇L(items)`` on the batch (X, y), in the core's multi-matrix contract.

        ``F`` sets the network's parameters from ``items`` (LowRank items with any factors, e.g.
        ``LowRank(K, I, V)``; any rank), runs one forward and one backward pass, and returns the
        negative gradients in state order: a :class:`~dlra.nn.layers.FactoredGradient` (−Δᵀ X) for
        each low-rank weight, arrays for dense weights and (m × 1) biases. ``t`` is ignored.
        The inputs are validated and cast once, here.
        """
        X = self._as_input(X)
        target = self._target(y, X.shape[0])

        def F(t, items):
            self.set_parameters(items)
            return self._gradient_pass(X, target, -1.0)[1]

        F.network = self
        return F

    # ------------------------------------------------------------------ counts
    def parameter_counts(self):
        """Parameter counts and compression rates (the convention of Schotthöfer et al., NeurIPS 2022).

        ``inference``: Σ_lowrank r (m + n) + dense weights + all biases;
        ``training``: Σ_lowrank [2 r (m + n) + r²] (bases U, V; K, L; S) + dense weights + biases;
        ``dense``: the same architecture with every layer dense (Σ m n + m);
        ``compression_inference`` = 1 − inference/dense, ``compression_training`` likewise.
        """
        inference = sum(layer.inference_parameter_count() for layer in self.layers)
        training = sum(layer.training_parameter_count() for layer in self.layers)
        dense = sum(layer.dense_parameter_count() for layer in self.layers)
        return {
            "inference": int(inference),
            "training": int(training),
            "dense": int(dense),
            "compression_inference": 1.0 - inference / dense,
            "compression_training": 1.0 - training / dense,
            "ranks": self.ranks(),
        }
