"""Optimiser steps as substeps: DLRT's "one explicit Euler substep = one SGD step".

In training, each K-, L- and S-substep of an integrator is one optimiser step with learning rate
h (the step size), applied to the flow's derivative f = −∇(loss) in the small variables.

* :class:`SGD` with ``momentum=0`` is explicit Euler with one substep. With momentum (heavy ball,
  ``b ← μ b + f``, ``z ← z + h b``) it is no longer a one-step ODE method.
* :class:`Adam` (Kingma & Ba 2015) is a documented non-ODE option.

The state of momentum and Adam lives in the coordinates of the flow's bases: a K-variable
``K`` (m×r) stands for ``K Vᴴ``, an S-variable ``S`` for ``U S Vᴴ``. When an integrator changes
bases (and ranks) between steps, the state is rotated into the new bases:
``b ← L₁ᴴ L₀ b R₀ᴴ R₁`` with (L, R) the flow's left and right bases. First moments transform this
way exactly; Adam's elementwise second moment is not a tensor, and is carried with the squared
moduli of the same rotation entries, which keeps it nonnegative (a heuristic, documented as such).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..lineage import rotation
from ..timing import timed
from .adam_update import adam_update
from .base import SubstepSolver

__all__ = ["SGD", "Adam"]


def _rotation(old, new):
    """Matrix R with coefficients in the new basis = R @ coefficients in the old one (None = identity).

    R = newᴴ old, taken from the relations the integrator recorded between consecutive bases when
    they apply (U1 = Û P_r after a truncation: :func:`dlra.lineage.rotation`), else the product.
    """
    if old is None or new is None:
        return None
    if old is new:
        return None
    return rotation(old, new)


def _squared(R):
    """|R|² elementwise (R·R for real R: the same values as np.abs(R) ** 2 without the abs pass)."""
    return R * R if R.dtype.kind == "f" else np.abs(R) ** 2


def _rotate(state, rot_left, rot_right, square=False):
    out = state
    if rot_left is not None:
        R = _squared(rot_left) if square else rot_left
        out = R @ out
    if rot_right is not None:
        R = _squared(rot_right) if square else rot_right
        out = out @ (R.T if square else rot_right.conj().T)
    return out


def _axpy(a, x, y):
    """a·x + y with one temporary (the update of a 5120×5120 weight is not free)."""
    with timed("products"):
        out = np.multiply(a, x, dtype=np.result_type(x, y))
        out += y
    return out


class _StatefulOptimizer(SubstepSolver):
    stateful = True

    def __init__(self, lr_scale=1.0):
        if isinstance(lr_scale, bool) or not isinstance(lr_scale, numbers.Real):
            raise TypeError(f"lr_scale must be a real number, got {lr_scale!r}")
        if not np.isfinite(lr_scale) or lr_scale <= 0:
            raise ValueError(f"lr_scale must be positive and finite, got {lr_scale!r}")
        self.lr_scale = float(lr_scale)
        self.state = {}

    def reset(self):
        self.state = {}

    def state_dict(self):
        """The optimiser state, ``{flow key: {"lefts", "rights", "moments", "count"}}``: per substep
        flow, the bases the moments are expressed in, the moments (lists of arrays by name) and
        the number of steps taken. Holds references, not copies; JSON-able up to the arrays."""
        return {key: {"lefts": list(entry["lefts"]), "rights": list(entry["rights"]),
                      "moments": {name: list(values) for name, values in entry["moments"].items()},
                      "count": int(entry["count"])}
                for key, entry in self.state.items()}

    def load_state_dict(self, state):
        """Replace the state by one from :meth:`state_dict` (checked for structure first)."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        names = set(self._moment_names)
        new = {}
        for key, entry in state.items():
            if not isinstance(entry, dict) or set(entry) != {"lefts", "rights", "moments", "count"}:
                raise ValueError(f"state[{key!r}] must hold lefts, rights, moments and count")
            moments, lefts, rights = entry["moments"], entry["lefts"], entry["rights"]
            if not isinstance(moments, dict) or set(moments) != names:
                raise ValueError(f"state[{key!r}]['moments'] must hold {sorted(names)} for {type(self).__name__}")
            count = entry["count"]
            if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
                raise ValueError(f"state[{key!r}]['count'] must be a nonnegative integer, got {count!r}")
            n = len(lefts)
            if not (isinstance(lefts, list) and isinstance(rights, list) and len(rights) == n
                    and all(isinstance(v, list) and len(v) == n for v in moments.values())):
                raise ValueError(f"state[{key!r}]: lefts, rights and moments must be lists of one length")
            for i in range(n):
                shapes = {np.shape(moments[name][i]) for name in names}
                if len(shapes) != 1 or any(not isinstance(moments[name][i], np.ndarray) for name in names):
                    raise ValueError(f"state[{key!r}]: the moments of item {i} must be arrays of one shape")
                (shape,) = shapes
                for side, bases, axis in (("lefts", lefts, 0), ("rights", rights, 1)):
                    basis = bases[i]
                    if basis is None:
                        continue
                    if not isinstance(basis, np.ndarray) or basis.ndim != 2 or len(shape) != 2 \
                            or basis.shape[1] != shape[axis]:
                        raise ValueError(f"state[{key!r}]['{side}'][{i}] does not fit the moments of shape {shape}")
            new[key] = {"lefts": list(lefts), "rights": list(rights),
                        "moments": {name: list(values) for name, values in moments.items()}, "count": int(count)}
        self.state = new

    def _carried(self, flow, z0, names):
        """State for ``flow.key`` rotated into the flow's current bases (zeros when new).

        The rotations R = new basisᴴ old basis (one m × k by m × k product per side and item) are
        formed once per item and shared by every moment (Adam's m and v).
        """
        lefts, rights = flow.left_bases, flow.right_bases
        entry = self.state.get(flow.key)
        if entry is None or len(entry["moments"][names[0]]) != len(z0):
            return {name: [np.zeros_like(z) for z in z0] for name in names}, 0
        moments = {name: [] for name in names}
        stored = [entry["moments"][name] for name in names]
        squares = [name == "v" for name in names]
        old_lefts, old_rights = entry["lefts"], entry["rights"]
        with timed("products"):
            for i, z in enumerate(z0):
                rl, rr = _rotation(old_lefts[i], lefts[i]), _rotation(old_rights[i], rights[i])
                if rl is None and rr is None:
                    rotated = [s[i] for s in stored]  # same coordinates (dense items, unchanged bases)
                else:
                    rotated = [_rotate(s[i], rl, rr, square=sq) for s, sq in zip(stored, squares)]
                for name, m in zip(names, rotated):
                    if m.shape != z.shape:  # structure changed (not a basis change): start afresh
                        m = np.zeros_like(z)
                    moments[name].append(m)
        return moments, entry["count"]

    def _store(self, flow, moments, count):
        self.state[flow.key] = {"lefts": list(flow.left_bases), "rights": list(flow.right_bases),
                                "moments": moments, "count": count}


class SGD(_StatefulOptimizer):
    """Stochastic gradient descent, optionally with heavy-ball momentum.

    ``z ← z + h·lr_scale·b`` with ``b ← μ b + f`` (f = −∇loss in the small variable). With μ = 0 this
    is exactly one explicit Euler step of length h·lr_scale.
    """

    def __init__(self, momentum=0.0, lr_scale=1.0):
        super().__init__(lr_scale)
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self._moment_names = ("b",)
        self.order = 1 if self.momentum == 0 else None
        self.stateful = self.momentum != 0

    def __repr__(self):
        return f"SGD(momentum={self.momentum:g})"

    def integrate(self, flow, t0, t1, z0, f0=None):
        f = list(f0) if f0 is not None else flow(t0, z0)
        step = (t1 - t0) * self.lr_scale
        if self.momentum == 0:
            return [_axpy(step, d, z) for z, d in zip(z0, f)]
        moments, count = self._carried(flow, z0, ["b"])
        b = [self.momentum * bi + di for bi, di in zip(moments["b"], f)]
        self._store(flow, {"b": b}, count + 1)
        return [_axpy(step, bi, z) for z, bi in zip(z0, b)]


class Adam(_StatefulOptimizer):
    """Adam (Kingma & Ba 2015) with learning rate h·lr_scale; not an ODE method.

    ``m ← β₁m + (1 − β₁)f``, ``v ← β₂v + (1 − β₂)|f|²``, ``z ← z + h m̂ / (√v̂ + eps)`` with the
    bias corrections m̂ = m/(1 − β₁ᵏ), v̂ = v/(1 − β₂ᵏ).
    """

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, lr_scale=1.0):
        super().__init__(lr_scale)
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if not isinstance(value, numbers.Real) or not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"eps must be a real number, got {eps!r}")
        if not np.isfinite(eps) or eps <= 0:
            raise ValueError(f"eps must be positive and finite, got {eps!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self._moment_names = ("m", "v")

    def __repr__(self):
        return f"Adam(beta1={self.beta1:g}, beta2={self.beta2:g}, eps={self.eps:g})"

    def integrate(self, flow, t0, t1, z0, f0=None):
        f = list(f0) if f0 is not None else flow(t0, z0)
        moments, count = self._carried(flow, z0, ["m", "v"])
        count += 1
        b1, b2 = self.beta1, self.beta2
        step = (t1 - t0) * self.lr_scale
        a, b = step / (1 - b1 ** count), 1 / (1 - b2 ** count)
        out, m, v, coefficients = [], [], [], {}
        with timed("products"):
            for z, d, mi, vi in zip(z0, f, moments["m"], moments["v"]):
                z_new, m_new, v_new = adam_update(z, d, mi, vi, b1, b2, a, b, self.eps, coefficients)
                out.append(z_new)
                m.append(m_new)
                v.append(v_new)
        self._store(flow, {"m": m, "v": v}, count)
        return out
