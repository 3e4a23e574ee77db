"""Numba kernels of the convolutional layers: im2col / col2im and max-pooling, channels-last.

Layout: a batch of images is stored channels-last, ``X[n, i, j, c]`` (NHWC), and flattened to
(batch, H·W·C) rows between layers. A valid convolution with stride 1 and a k×k kernel is the
matrix product of the **im2col** matrix (one row per output pixel (n, i, j), one column per
(di, dj, c)) with the layer's weight matrix W ∈ R^{C_out × k·k·C_in} (Chellapilla, Puri & Simard,
"High performance convolutional neural networks for document processing", 2006):

    Z[(n, i, j), o] = Σ_{di, dj, c} X[n, i + di, j + dj, c] · W[o, (di, dj, c)],

so the conv's pre-activation is ``cols Wᵀ`` with rows (n, i, j) and columns o — which is again the
channels-last layout, with no transposition. :func:`col2im` is the adjoint of :func:`im2col`
(it scatters-adds the columns back onto the image): the gradient with respect to X.

Max-pooling with a p×p window and stride p (floor of H/p) keeps the position of each maximum
(:func:`max_pool`); :func:`max_unpool` routes the gradient back to that position (the subgradient
of the maximum, the first maximum on ties).

Every kernel is ``@njit(cache=True)`` (nopython) and works for float32 and float64.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["im2col", "col2im", "max_pool", "max_unpool"]


@njit(cache=True)
def im2col(X, k, out):
    """``out[(n, i, j), (di, dj, c)] = X[n, i + di, j + dj, c]`` for X (N, H, W, C), out
    (N·Ho·Wo, k·k·C), Ho = H − k + 1, Wo = W − k + 1. Returns out."""
    N, H, W, C = X.shape
    Ho = H - k + 1
    Wo = W - k + 1
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                row = (n * Ho + i) * Wo + j
                col = 0
                for di in range(k):
                    for dj in range(k):
                        for c in range(C):
                            out[row, col] = X[n, i + di, j + dj, c]
                            col += 1
    return out


@njit(cache=True)
def col2im(D, k, out):
    """Adjoint of :func:`im2col`: ``out[n, i + di, j + dj, c] += D[(n, i, j), (di, dj, c)]``.

    ``out`` (N, H, W, C) is overwritten (zeroed first). Returns out."""
    N, H, W, C = out.shape
    Ho = H - k + 1
    Wo = W - k + 1
    out[...] = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                row = (n * Ho + i) * Wo + j
                col = 0
                for di in range(k):
                    for dj in range(k):
                        for c in range(C):
                            out[n, i + di, j + dj, c] += D[row, col]
                            col += 1
    return out


@njit(cache=True)
def max_pool(Y, p, out, where):
    """p×p max-pooling with stride p of Y (N, Ho, Wo, C) into out (N, Ho//p, Wo//p, C).

    ``where`` (same shape as out, integer) receives the flat index i·Wo + j of each maximum in Y.
    Returns out."""
    N, Ho, Wo, C = Y.shape
    Hp = Ho // p
    Wp = Wo // p
    for n in range(N):
        for a in range(Hp):
            for b in range(Wp):
                for c in range(C):
                    i0 = a * p
                    j0 = b * p
                    best = Y[n, i0, j0, c]
                    arg = i0 * Wo + j0
                    for di in range(p):
                        for dj in range(p):
                            v = Y[n, i0 + di, j0 + dj, c]
                            if v > best:
                                best = v
                                arg = (i0 + di) * Wo + j0 + dj
                    out[n, a, b, c] = best
                    where[n, a, b, c] = arg
    return out


@njit(cache=True)
def max_unpool(D, where, out):
    """Gradient of :func:`max_pool`: ``out[n, where // Wo, where % Wo, c] += D[n, a, b, c]``.

    ``out`` (N, Ho, Wo, C) is overwritten (zeroed first). Returns out."""
    N, Hp, Wp, C = D.shape
    Wo = out.shape[2]
    out[...] = 0
    for n in range(N):
        for a in range(Hp):
            for b in range(Wp):
                for c in range(C):
                    w = where[n, a, b, c]
                    out[n, w // Wo, w % Wo, c] += D[n, a, b, c]
    return out
