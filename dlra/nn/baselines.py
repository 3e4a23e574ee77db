"""Baselines for dynamical low-rank training (Schotthöfer et al., NeurIPS 2022, §5).

* **Dense training** needs nothing here: it is the core's :class:`dlra.FullRank` integrator with an
  optimiser substep, applied to a network built without low-rank layers
  (``MLP.from_sizes(sizes, ranks=None)``); :class:`dlra.nn.training.Trainer` does this for
  ``method="dense"``.
* **"Vanilla" factorisation** ``W = U Vᵀ`` trained by plain gradient descent on the factors (the
  baseline of Schotthöfer, Zangrando, Kusch, Ceruti & Tudisco, "Low-rank lottery tickets: finding
  efficient low-rank neural networks via matrix differential equations", NeurIPS 2022, and of
  "Exploring low rank training of deep neural networks"). It is a different parametrisation, not a
  DLRA integrator: the factors are free (no orthonormal bases, no Galerkin step), and the method is
  known not to be robust when W has small singular values (the gradient in U is scaled by V and vice
  versa). :class:`VanillaFactorGD` is provided with the interface of a core integrator
  (``step(F, t, Y, h)``) so the same trainer loop drives it.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..field import lowrank_indices
from ..integrators.base import Integrator, StepInfo
from ..lowrank import LowRank

__all__ = ["VanillaFactorGD", "split_factors"]


def split_factors(Y):
    """``(U, V)`` with ``U Vᵀ = Y`` for a real :class:`~dlra.lowrank.LowRank` ``Y = U S Vᵀ``.

    When S is exactly the identity (a state written by :class:`VanillaFactorGD`) the factors are
    returned unchanged, so a resumed run continues bit for bit. Otherwise the "spectral" split of the
    seeds is used: with S = P Σ Qᵀ, U ← U P Σ^{1/2}, V ← V Q Σ^{1/2} (for the spectral
    initialisation of a low-rank layer, U = P_r Σ_r^{1/2} and Vᵀ = Σ_r^{1/2} Q_rᵀ).
    """
    S = Y.S
    r = S.shape[0]
    if np.array_equal(S, np.eye(r, dtype=S.dtype)):
        return Y.U, Y.V
    P, sigma, Qh = np.linalg.svd(S)
    root = np.sqrt(sigma).astype(S.dtype)
    return (Y.U @ P) * root, (Y.V @ Qh.T) * root


class _FactorFlow:
    """The gradient flow in the free factors: z = [U_1, V_1, …, U_k, V_k, dense items…].

    ``U̇ = F(t, U Vᵀ) V = −∇_U L`` and ``V̇ = F(t, U Vᵀ)ᵀ U = −∇_V L`` (F = −∇_W L, evaluated once
    for all layers; with a :class:`~dlra.nn.layers.FactoredGradient` both products are cheap),
    dense items ``ḃ = F_b``. ``left_bases``/``right_bases`` are all None: the optimisers' state is
    kept in fixed coordinates (nothing to rotate).
    """

    kind = "vanilla"
    key = "vanilla"

    def __init__(self, field, items, weight_decay=0.0):
        self.field = field
        self.weight_decay = weight_decay
        self.items = list(items)
        self.lowrank = lowrank_indices(items)
        self.dense = [k for k in range(len(items)) if k not in self.lowrank]
        n = 2 * len(self.lowrank) + len(self.dense)
        self.left_bases = [None] * n
        self.right_bases = [None] * n
        self._eyes = [np.eye(items[k].rank, dtype=items[k].S.dtype) for k in self.lowrank]

    def initial_z(self):
        z = []
        for k in self.lowrank:
            z.extend(split_factors(self.items[k]))
        z.extend(self.items[k] for k in self.dense)
        return z

    def state(self, z):
        items = list(self.items)
        for j, k in enumerate(self.lowrank):
            items[k] = LowRank(z[2 * j], self._eyes[j], z[2 * j + 1])
        offset = 2 * len(self.lowrank)
        for j, k in enumerate(self.dense):
            items[k] = z[offset + j]
        return items

    def __call__(self, t, z):
        values = self.field(t, self.state(z))
        out = []
        lam = self.weight_decay
        for j, k in enumerate(self.lowrank):
            U, V = z[2 * j], z[2 * j + 1]
            dU = values[k].right(V)                      # F V  = −∇_U L
            dV = values[k].left(U)                       # Fᵀ U = −∇_V L
            out.extend((dU - lam * U, dV - lam * V) if lam else (dU, dV))
        out.extend(values[k].dense() for k in self.dense)
        return out


class VanillaFactorGD(Integrator):
    """Train ``W = U Vᵀ`` by (stochastic) gradient descent on U and V: one optimiser step per call.

    ``U ← U − h ∇_W L · V``, ``V ← V − h ∇_W Lᵀ · U`` (simultaneously, from one forward/backward
    pass), biases and dense layers ``b ← b − h ∇_b L``. With ``substep="sgd"`` (the default) this is
    plain gradient descent; momentum and Adam (``dlra.SGD(momentum)``, ``dlra.Adam()``) act on the
    factors in fixed coordinates. The rank never changes. Low-rank items are written back as
    ``LowRank(U, I, V)``.

    ``weight_decay`` λ ≥ 0 adds L2 on the factors, (λ/2)(‖U‖²_F + ‖V‖²_F), whose gradients are λU, λV
    (at the balanced optimum it equals λ‖U Vᵀ‖_*, the nuclear norm; Kamalakara et al. 2022). Frobenius
    decay is a term of the vector field instead (:func:`dlra.nn.factorized.regularized_field`).

    Same interface as the core integrators (``step(F, t, Y, h)``, ``last_step``) so that
    :class:`dlra.nn.training.Trainer` drives it with the network's callback; it is registered there
    as ``method="vanilla"``.
    """

    name = "vanilla"
    method_order = 1
    orthonormal_factors = False  # U, V are the free factors of W = U Vᵀ

    def __init__(self, substep="sgd", weight_decay=0.0):
        super().__init__(substep="sgd" if substep is None else substep)
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) \
                or not np.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"weight_decay must be a finite nonnegative number, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)

    def _step_impl(self, field, t0, items, h):
        for k in lowrank_indices(items):
            if np.iscomplexobj(items[k].U) or np.iscomplexobj(items[k].S) or np.iscomplexobj(items[k].V):
                raise TypeError(f"Y[{k}]: the vanilla factorisation baseline is real-valued")
        flow = _FactorFlow(field, items, self.weight_decay)
        z1 = self.substep.integrate(flow, t0, t0 + h, flow.initial_z())
        new = flow.state(z1)
        return new, StepInfo.of(new)
