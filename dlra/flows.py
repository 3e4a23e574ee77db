"""The substep ODEs of the integrators (Lubich & Oseledets 2014; Ceruti & Lubich 2022), written once.

Each flow is a right-hand side ``z' = g(t, z)`` for a list ``z`` of small arrays: the state is
assembled from z, the user's F is evaluated **once** for all matrices, and the result is projected.

    K-step (V fixed):     K̇ = F(t, K Vᴴ) V                   z = [K_i]
    L-step (U fixed):     L̇ = F(t, U Lᴴ)ᴴ U                  z = [L_i]
    S-step (U, V fixed):  Ṡ = ± Uᴴ F(t, U S Vᴴ) V            z = [S_i] (+ dense items)
    naive factor ODEs:    U̇ = (I − UUᴴ) F V S⁻¹, V̇ = (I − VVᴴ) Fᴴ U S⁻ᴴ, Ṡ = Uᴴ F V
    full-rank reference:  Ẏ = F(t, Y) densely

Dense items of a state (biases, dense layers) are frozen in the K- and L-steps and integrated in
the flow that passes ``integrate_dense=True`` (the forward S-step of the BUG family).
"""
from __future__ import annotations

import numpy as np

from .field import dense_indices, lowrank_indices
from .fields import is_structured
from .lowrank import LowRank

__all__ = ["Flow", "k_flow", "l_flow", "s_flow", "naive_flow", "full_flow"]


class Flow:
    """A substep right-hand side. Call it as ``flow(t, z)``; see the module docstring.

    Attributes
    ----------
    kind : str
        ``"K"``, ``"L"``, ``"S"``, ``"S_backward"``, ``"naive"`` or ``"full"``.
    key : str
        Identifies the substep for stateful optimisers (defaults to ``kind``).
    field : VectorField
    left_bases, right_bases : list
        Per variable of z, the bases in which it is expressed (z stands for ``L z Rᴴ``; None
        means the identity). Optimisers rotate their state with these.
    projection_is_constant : bool
        True when the derivative is a z-independent linear map of F (K, L, S and full flows);
        closed forms for data problems rely on it.
    """

    def __init__(self, field, kind, items, assemble, project, left_bases, right_bases,
                 integrate_dense, key=None, projection_is_constant=True):
        self.field, self.kind, self.key = field, kind, key or kind
        self.items = items
        self.lowrank = lowrank_indices(items)
        self.dense = dense_indices(items) if integrate_dense else []
        self._assemble, self._project = assemble, project
        n_dense = len(self.dense)
        self.left_bases = list(left_bases) + [None] * n_dense
        self.right_bases = list(right_bases) + [None] * n_dense
        self.projection_is_constant = projection_is_constant
        #: reduced right-hand side of a structured field (:class:`dlra.fields.ReducedFlow`) or None
        self.reduced = None

    def state(self, z):
        """The full state (list of LowRank / ndarray) that z stands for."""
        items = list(self.items)
        nl = len(self.lowrank)
        for j, k in enumerate(self.lowrank):
            items[k] = self._assemble(j, z)
        for j, k in enumerate(self.dense):
            items[k] = z[nl + j]
        return items

    def project(self, values, z):
        """Derivative of z from F's values (one :class:`~dlra.field.FieldValue` per item)."""
        out = [self._project(j, values[k], z) for j, k in enumerate(self.lowrank)]
        out.extend(values[k].dense() for k in self.dense)
        return out

    def __call__(self, t, z):
        if self.reduced is not None:
            return self.reduced(t, z)
        return self.project(self.field(t, self.state(z)), z)

    def initial(self, values, z):
        """The derivative at (t0, z0) from already computed values of F at that state."""
        if self.reduced is not None:  # a structured affine field: the reduced form is cheaper
            value = values[0].value
            if getattr(value, "affine", False) and getattr(value, "t", None) is not None:
                return self.reduced.initial(value.t, z)
        return self.project(values, z)


def _with_structure(flow, kind, **bases):
    """Attach the reduced form when F is a structured field (:mod:`dlra.fields`) of one matrix."""
    fun = getattr(flow.field, "fun", None)
    if is_structured(fun) and not flow.field.multi:
        flow.reduced = fun.reduced_flow(flow, kind, **bases)
    return flow


class _Identities:
    """The r×r identity cores of the K- and L-flows' states (K I Vᴴ, U I Lᴴ), built on first use: a
    flow whose derivative comes from products already computed (one optimiser step) never
    assembles a state."""

    __slots__ = ("bases", "cache")

    def __init__(self, bases):
        self.bases, self.cache = bases, {}

    def __getitem__(self, j):
        eye = self.cache.get(j)
        if eye is None:
            basis = self.bases[j]
            eye = self.cache[j] = np.eye(basis.shape[1], dtype=basis.dtype)
        return eye


def k_flow(field, items, V, key="K", integrate_dense=False):
    """K̇ = F(t, K Vᴴ) V for every low-rank item (V fixed); dense items frozen unless asked."""
    eyes = _Identities(V)
    flow = Flow(field, "K", items,
                assemble=lambda j, z: LowRank(z[j], eyes[j], V[j]),
                project=lambda j, value, z: value.right(V[j]),
                left_bases=[None] * len(V), right_bases=V, integrate_dense=integrate_dense, key=key)
    return _with_structure(flow, "K", V=V[0])


def l_flow(field, items, U, key="L", integrate_dense=False):
    """L̇ = F(t, U Lᴴ)ᴴ U for every low-rank item (U fixed); dense items frozen."""
    eyes = _Identities(U)
    flow = Flow(field, "L", items,
                assemble=lambda j, z: LowRank(U[j], eyes[j], z[j]),
                project=lambda j, value, z: value.left(U[j]),
                left_bases=[None] * len(U), right_bases=U, integrate_dense=integrate_dense, key=key)
    return _with_structure(flow, "L", U=U[0])


def s_flow(field, items, U, V, backward=False, integrate_dense=True, key=None):
    """Ṡ = ±Uᴴ F(t, U S Vᴴ) V (the Galerkin step in fixed bases); dense items integrated when asked.

    ``backward=True`` gives the minus sign of the projector-splitting S-step (Lubich–Oseledets).
    """
    kind = "S_backward" if backward else "S"
    flow = Flow(field, kind, items,
                assemble=lambda j, z: LowRank(U[j], z[j], V[j]),
                project=(lambda j, value, z: -value.sandwich(U[j], V[j])) if backward
                else (lambda j, value, z: value.sandwich(U[j], V[j])),
                left_bases=U, right_bases=V, integrate_dense=integrate_dense and not backward,
                key=key or kind)
    return _with_structure(flow, "S", U=U[0], V=V[0], sign=-1.0 if backward else 1.0)


def naive_flow(field, items):
    """Koch–Lubich factor ODEs with z = [U_1, S_1, V_1, U_2, …] (+ dense items).

    U̇ = (I − UUᴴ) F V S⁻¹,  V̇ = (I − VVᴴ) Fᴴ U S⁻ᴴ,  Ṡ = Uᴴ F V. The S⁻¹ makes the step size
    scale with the smallest singular value: kept to show that failure.
    """
    n_lr = len(lowrank_indices(items))

    def assemble(j, z):
        return LowRank(z[3 * j], z[3 * j + 1], z[3 * j + 2])

    flow = Flow(field, "naive", items, assemble=assemble, project=None,
                left_bases=[None] * (3 * n_lr), right_bases=[None] * (3 * n_lr),
                integrate_dense=True, projection_is_constant=False)

    def state(z):
        out = list(items)
        for j, k in enumerate(flow.lowrank):
            out[k] = assemble(j, z)
        for j, k in enumerate(flow.dense):
            out[k] = z[3 * n_lr + j]
        return out

    def project(values, z):
        out = []
        for j, k in enumerate(flow.lowrank):
            U, S, V = z[3 * j], z[3 * j + 1], z[3 * j + 2]
            FV = values[k].right(V)
            FhU = values[k].left(U)
            UhFV = U.conj().T @ FV
            dU = np.linalg.solve(S.T, (FV - U @ UhFV).T).T          # (I − UUᴴ) F V S⁻¹
            dV = np.linalg.solve(S.conj(), (FhU - V @ UhFV.conj().T).T).T  # (I − VVᴴ) Fᴴ U S⁻ᴴ
            out.extend([dU, UhFV, dV])
        out.extend(values[k].dense() for k in flow.dense)
        return out

    flow.state = state
    flow.project = project
    return flow


def full_flow(field, items):
    """Ẏ = F(t, Y) with every item dense (the full-rank reference)."""
    flow = Flow(field, "full", items, assemble=None, project=None, left_bases=[],
                right_bases=[], integrate_dense=True)
    flow.dense = list(range(len(items)))
    flow.lowrank = []
    flow.left_bases = [None] * len(items)
    flow.right_bases = [None] * len(items)
    return flow
