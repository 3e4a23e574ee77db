"""Convolutional layers, dense and low-rank, with optional max-pooling (numba im2col kernels).

A valid, stride-1 convolution with C_in input channels, C_out filters and a k×k kernel is the
matrix W ∈ R^{C_out × k·k·C_in} applied to every k×k patch: with the im2col matrix ``cols``
(one row per output pixel, :func:`dlra.nn.conv_kernels.im2col`) the pre-activation is

    Z = cols Wᵀ                     (rows: output pixels (n, i, j); columns: output channels),

and a **low-rank** convolution W = U S Vᵀ applies ``((cols V) Sᵀ) Uᵀ``: a convolution with r filters
(the columns of V), the r×r core, then a 1×1 convolution (U), never forming W (Schotthöfer,
Zangrando, Kusch, Ceruti & Tudisco, "Low-rank lottery tickets", NeurIPS 2022, §6: a conv layer
is the matrix out × (in·k·k)). The gradient is ∇_W L = Δᵀ cols with Δ = ∂L/∂Z over the output
pixels — the same factored product as a fully connected layer with the pixels as the batch, so
the layer **is** a :class:`~dlra.nn.layers.DenseLayer` / :class:`~dlra.nn.layers.LowRankLayer`
of size (k·k·C_in → C_out) applied to the rows of ``cols``, and every DLRA integrator trains it
through the network's multi-matrix vector field, one forward/backward pass per DLRT step.

Max-pooling (p×p window, stride p) is fused into the layer **before** bias and activation:
for a per-channel bias b and a nondecreasing activation φ (ReLU, tanh, identity),
max_window φ(z + b) = φ(max_window z + b), so the layer computes φ(pool(cols Wᵀ) + b), which equals
the usual conv → bias → φ → pool and evaluates φ on p² times fewer values.

Images are channels-last and flattened: a layer's input is (batch, H·W·C_in), its output
(batch, H_p·W_p·C_out), so conv layers chain with fully connected layers in a
:class:`~dlra.nn.MLP` (the sequential network) with no reshaping in between; the channels-last
flattening permutes the columns of the first fully connected layer relative to PyTorch's NCHW
order, which changes neither its rank nor what it can represent.
"""
from __future__ import annotations

import numbers

import numpy as np

from .conv_kernels import col2im, im2col, max_pool, max_unpool
from .layers import DenseLayer, LowRankLayer, _check_int, _Layer

__all__ = ["Conv2D"]

#: samples per chunk of an inference-only forward pass (bounds the im2col matrix's memory)
INFERENCE_CHUNK = 256


class Conv2D(_Layer):
    """``x ↦ φ(pool(conv(x, W)) + b)``: valid, stride-1 k×k convolution, optional p×p max-pool.

    Parameters
    ----------
    in_shape : (H, W, C_in)
        Input image shape (channels last); the layer's input rows have H·W·C_in entries.
    out_channels : int
        Number of filters C_out.
    kernel_size : int
        k (square kernel), 1 ≤ k ≤ min(H, W).
    rank : int or None
        None: a dense weight W (C_out × k·k·C_in). An int r ≤ min(C_out, k·k·C_in): a
        :class:`~dlra.lowrank.LowRank` weight U S Vᵀ applied as r filters → S → 1×1 conv.
    activation : {"relu", "tanh", "identity"}
    pool : int
        Max-pool window and stride p (1: no pooling). Output H_p = (H − k + 1) // p.
    rng, init_scale, init, init_singular_values, weight, b
        As for :class:`~dlra.nn.layers.DenseLayer` / :class:`~dlra.nn.layers.LowRankLayer`
        (He initialisation with fan-in k·k·C_in); ``weight`` is an array (dense) or a LowRank.

    Attributes
    ----------
    n_in, n_out : int
        Flattened input and output sizes, H·W·C_in and H_p·W_p·C_out.
    matrix : DenseLayer or LowRankLayer
        The weight as a layer of size k·k·C_in → C_out acting on the im2col rows.
    """

    keeps_forward = True

    def __init__(self, in_shape, out_channels, kernel_size, rank=None, activation="relu", *, pool=1, rng=None,
                 init_scale=1.0, init=None, init_singular_values=None, weight=None, b=None):
        if isinstance(in_shape, (str, bytes)) or not hasattr(in_shape, "__len__") or len(in_shape) != 3:
            raise ValueError(f"in_shape must be (height, width, channels), got {in_shape!r}")
        H, W, C = (_check_int(v, f"in_shape[{i}]") for i, v in enumerate(in_shape))
        k = _check_int(kernel_size, "kernel_size")
        if k > min(H, W):
            raise ValueError(f"kernel_size must be ≤ min(height, width) = {min(H, W)}, got {k}")
        p = _check_int(pool, "pool")
        out_channels = _check_int(out_channels, "out_channels")
        Ho, Wo = H - k + 1, W - k + 1
        if p > min(Ho, Wo):
            raise ValueError(f"pool must be ≤ the convolution's output size {min(Ho, Wo)}, got {p}")
        self.in_shape = (H, W, C)
        self.kernel_size, self.pool, self.out_channels = k, p, out_channels
        self.conv_shape = (Ho, Wo, out_channels)
        self.out_shape = (Ho // p, Wo // p, out_channels)
        super().__init__(H * W * C, self.out_shape[0] * self.out_shape[1] * out_channels, activation)
        self.b = np.zeros((out_channels, 1))
        if rank is None:
            if init is not None or init_singular_values is not None:
                raise ValueError("init and init_singular_values apply to a low-rank convolution (give rank)")
            self.matrix = DenseLayer(k * k * C, out_channels, activation, W=weight, rng=rng, init_scale=init_scale)
        else:
            if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
                raise ValueError(f"rank must be an integer or None, got {rank!r}")
            self.matrix = LowRankLayer(k * k * C, out_channels, rank, activation, init=init,
                                       init_singular_values=init_singular_values, weight=weight, rng=rng,
                                       init_scale=init_scale)
        if b is not None:
            self._set_bias(b, np.float64)
        self._kept = None      # (X, cols, where) of the last forward pass with keep=True
        self._delta = None     # (D, Δ over the conv pixels) of the last weight_gradient

    def __repr__(self):
        H, W, C = self.in_shape
        kind = f"rank={self.rank}" if self.lowrank else "dense"
        return (f"Conv2D(({H}, {W}, {C}), {self.out_channels}, kernel_size={self.kernel_size}, {kind}, "
                f"activation={self.activation!r}, pool={self.pool})")

    # ---------------------------------------------------------------- state (delegated)
    @property
    def lowrank(self):
        return self.matrix.lowrank

    @property
    def rank(self):
        return self.matrix.rank

    @property
    def weight_shape(self):
        return self.matrix.weight_shape

    def weight(self):
        return self.matrix.weight()

    def set_weight(self, W, dtype, where="W"):
        self.matrix.set_weight(W, dtype, where=where)

    def _set_bias(self, b, dtype, where="bias"):
        b = np.asarray(b)
        if b.shape == (self.out_channels,):
            b = b.reshape(-1, 1)
        if b.shape != (self.out_channels, 1):
            raise ValueError(f"{where} must have shape ({self.out_channels}, 1) (one bias per channel), got {b.shape}")
        self.b = np.ascontiguousarray(b, dtype=dtype)

    def parameter_shapes(self):
        return [self.weight_shape, (self.out_channels, 1)]

    def _cast(self, dtype):
        self.matrix._cast(dtype)
        self.b = np.ascontiguousarray(self.b, dtype=dtype)

    def dense_parameter_count(self):
        """C_out · k·k·C_in + C_out (the dense filter matrix and the bias)."""
        return self.matrix.dense_parameter_count()

    def inference_parameter_count(self):
        return self.matrix.inference_parameter_count()

    def training_parameter_count(self):
        return self.matrix.training_parameter_count()

    def spec(self):
        """The constructor arguments (for checkpoints)."""
        return {"type": "conv2d", "in_shape": list(self.in_shape), "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "pool": self.pool, "activation": self.activation,
                "lowrank": bool(self.lowrank), "rank": int(self.rank)}

    # ---------------------------------------------------------------- passes
    def _columns(self, X):
        n = X.shape[0]
        H, W, C = self.in_shape
        k = self.kernel_size
        Ho, Wo, _ = self.conv_shape
        X4 = np.ascontiguousarray(X).reshape(n, H, W, C)
        return im2col(X4, k, np.empty((n * Ho * Wo, k * k * C), dtype=X.dtype))

    def _pool(self, Z, n):
        Ho, Wo, Co = self.conv_shape
        if self.pool == 1:
            return Z.reshape(n, self.n_out), None
        Hp, Wp, _ = self.out_shape
        out = np.empty((n, Hp, Wp, Co), dtype=Z.dtype)
        where = np.empty((n, Hp, Wp, Co), dtype=np.int32)
        max_pool(np.ascontiguousarray(Z).reshape(n, Ho, Wo, Co), self.pool, out, where)
        return out.reshape(n, self.n_out), where

    def linear(self, X, keep=False):
        """``pool(cols Wᵀ)`` (batch × H_p·W_p·C_out), the pre-activation without the bias.

        ``keep=True`` (gradient passes) remembers the im2col matrix, the pooling positions and, for
        a low-rank weight, ``cols V`` (the K-step's product); inference passes run in chunks of
        :data:`INFERENCE_CHUNK` samples.
        """
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"X must have shape (batch, {self.n_in}), got {X.shape}")
        n = X.shape[0]
        if not keep:
            self._kept = None
            if n > INFERENCE_CHUNK:
                return np.concatenate([self.linear(X[s:s + INFERENCE_CHUNK]) for s in range(0, n, INFERENCE_CHUNK)])
        cols = self._columns(X)
        Z = self.matrix.linear(cols, keep=True) if keep and self.lowrank else self.matrix.linear(cols)
        out, where = self._pool(Z, n)
        if keep:
            self._kept = (X, cols, where)
        return out

    def _conv_delta(self, D):
        """Δ over the convolution's output pixels ((n·Ho·Wo) × C_out) from D over the pooled ones."""
        n = D.shape[0]
        Ho, Wo, Co = self.conv_shape
        if self.pool == 1:
            return np.ascontiguousarray(D).reshape(n * Ho * Wo, Co)
        Hp, Wp, _ = self.out_shape
        out = np.empty((n, Ho, Wo, Co), dtype=D.dtype)
        max_unpool(np.ascontiguousarray(D).reshape(n, Hp, Wp, Co), self._kept[2], out)
        return out.reshape(n * Ho * Wo, Co)

    def _require_kept(self, X):
        if self._kept is None or (X is not None and self._kept[0] is not X):
            if X is None:
                raise RuntimeError("Conv2D: backward without a forward pass (call linear(X, keep=True) first)")
            self.linear(X, keep=True)

    def weight_gradient(self, D, X):
        """∇_W L = Δᵀ cols (C_out × k·k·C_in) for D = ∂L/∂(pooled pre-activation): dense array or
        :class:`~dlra.nn.layers.FactoredGradient`, as the weight is dense or low-rank."""
        self._require_kept(X)
        delta = self._conv_delta(D)
        self._delta = (D, delta)
        return self.matrix.weight_gradient(delta, self._kept[1])

    def linear_backward(self, D, gradient=None):
        """``col2im(Δ W)`` (batch × H·W·C_in): the gradient passed to the layer below."""
        self._require_kept(None)
        if self._delta is not None and self._delta[0] is D:
            delta = self._delta[1]
        else:
            delta = self._conv_delta(D)
        self._delta = None
        dcols = self.matrix.linear_backward(delta, gradient) if self.lowrank else self.matrix.linear_backward(delta)
        n = D.shape[0]
        H, W, C = self.in_shape
        out = np.empty((n, H, W, C), dtype=dcols.dtype)
        col2im(np.ascontiguousarray(dcols), self.kernel_size, out)
        return out.reshape(n, self.n_in)
