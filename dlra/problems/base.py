"""Common interface of the reference problems."""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg

from ..lowrank import LowRank

__all__ = ["Problem", "as_dense", "block_operator", "cached"]


def cached(store, key, compute, maxsize=256):
    """``store[key]``, computing it once; a plain dict so that problems pickle (joblib processes)."""
    if key not in store:
        if len(store) >= maxsize:
            store.clear()
        store[key] = compute(key)
    return store[key]


def block_operator(shape, dtype, matmat, rmatmat):
    """A ``LinearOperator`` from block products X ↦ F X and X ↦ Fᴴ X (vectors handled as 1 column)."""
    return scipy.sparse.linalg.LinearOperator(
        shape, dtype=dtype,
        matvec=lambda x: matmat(np.asarray(x).reshape(-1, 1)).ravel(),
        rmatvec=lambda x: rmatmat(np.asarray(x).reshape(-1, 1)).ravel(),
        matmat=lambda X: matmat(np.asarray(X)), rmatmat=lambda X: rmatmat(np.asarray(X)))


def as_dense(Y):
    """A state matrix as an ndarray (LowRank densified; arrays passed through)."""
    return Y.to_dense() if isinstance(Y, LowRank) else np.asarray(Y)


class Problem:
    """A matrix ODE Ẏ = F(t, Y) with a low-rank initial value and an exact or reference solution.

    Attributes: ``F`` (the vector field callback of the contract), ``Y0`` (LowRank of rank
    ``rank``), ``t_span``, ``shape``; methods ``reference(t)`` (dense exact/reference solution),
    ``best_approximation_error(t, r)`` and ``exact_substep()`` (a ClosedForm or None).
    """

    name = "problem"
    t_span = (0.0, 1.0)

    def F(self, t, Y):  # pragma: no cover - abstract
        raise NotImplementedError

    def reference(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def best_approximation_error(self, t, r):
        """‖A(t) − T_r(A(t))‖_F: the plateau of any rank-r method (Eckart–Young)."""
        sigma = np.linalg.svd(self.reference(t), compute_uv=False)
        return float(np.linalg.norm(sigma[r:]))

    def error(self, Y, t):
        """‖Y − reference(t)‖_F."""
        return float(np.linalg.norm(as_dense(Y) - self.reference(t)))

    def exact_substep(self):
        """A :class:`~dlra.substep.ClosedForm` solving every substep exactly, or None."""
        return None
