"""The vector-field contract: what a user callback ``F(t, Y)`` receives and may return.

A user callback ``F(t, Y)`` receives the state and returns, for every low-rank matrix in it, one of

* a dense ``ndarray`` (m×n),
* a ``scipy.sparse`` matrix/array or a ``scipy.sparse.linalg.LinearOperator`` (m×n),
* a :class:`~dlra.lowrank.LowRank`,

and for every dense array in the state an array of the same shape. The state is either one
matrix (then F receives and returns one object) or a sequence of matrices (then F receives a
list and returns a sequence of the same length, in **one** call: a network differentiates all its
layers in one backward pass).

The integrators use the returned objects only through the products **F V**, **Fᴴ U** and
**Uᴴ F V** (:class:`FieldValue`), so F is never formed densely when it can be applied cheaply.
Every product is checked for finiteness; a NaN or inf raises :class:`NonFiniteError`, which
:func:`dlra.solve` turns into a failed status.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .errors import NonFiniteError
from .linalg import all_finite
from .lowrank import LowRank
from .timing import TIMERS

#: dtype kinds of np.number (integers, floats, complex, timedelta): a kind test instead of issubdtype
_NUMBER_KINDS = "iufcm"

__all__ = [
    "VectorField",
    "FieldValue",
    "NonFiniteError",
    "gradient_flow",
    "negate",
    "as_items",
    "from_items",
    "lowrank_indices",
    "dense_indices",
]


# ---------------------------------------------------------------------------------- state
def as_items(Y, name="Y0"):
    """Normalise a state to ``(items, multi)``: a list of LowRank/ndarray and whether it was a sequence."""
    if isinstance(Y, (LowRank, np.ndarray)):
        return [Y], False
    if isinstance(Y, Sequence) and not isinstance(Y, (str, bytes)):
        items = list(Y)
        if not items:
            raise ValueError(f"{name} must not be an empty sequence")
        for k, item in enumerate(items):
            if not isinstance(item, (LowRank, np.ndarray)):
                raise TypeError(f"{name}[{k}] must be a LowRank or an ndarray, got {type(item).__name__}")
        return items, True
    raise TypeError(f"{name} must be a LowRank, an ndarray or a sequence of them, got {type(Y).__name__}")


def from_items(items, multi):
    return list(items) if multi else items[0]


def lowrank_indices(items):
    return [k for k, item in enumerate(items) if isinstance(item, LowRank)]


def dense_indices(items):
    return [k for k, item in enumerate(items) if not isinstance(item, LowRank)]


# ---------------------------------------------------------------------------------- values
def _check_finite(a, what):
    if not all_finite(a):
        raise NonFiniteError(f"the vector field produced non-finite values in {what}")
    return a


def _check_product(out, shape, what):
    """The product as an array of the expected shape (a user operator may return anything)."""
    out = np.asarray(out)
    if out.shape != tuple(shape):
        raise ValueError(f"F(t, Y): {what} has shape {out.shape}, expected {tuple(shape)} (check the "
                         "matmat/rmatmat of the returned operator)")
    if out.dtype.kind not in "fc":
        if out.dtype.kind not in "biu":
            raise TypeError(f"F(t, Y): {what} has dtype {out.dtype}, expected a floating or complex array")
        out = out.astype(np.float64)
    return out


class FieldValue:
    """One returned F (for one matrix of the state) seen through its products.

    ``right(V)`` = F V, ``left(U)`` = Fᴴ U, ``sandwich(U, V)`` = Uᴴ F V and ``dense()`` = F as
    an array. Time spent here counts as "time in F" for the benchmarks.
    """

    __slots__ = ("value", "shape", "index")

    def __init__(self, value, shape, index):
        if isinstance(value, FieldValue):
            value = value.value
        if isinstance(value, (LowRank, scipy.sparse.linalg.LinearOperator)) or scipy.sparse.issparse(value):
            vshape = tuple(value.shape)
        else:
            value = np.asarray(value)
            if value.dtype.kind not in _NUMBER_KINDS:
                raise TypeError(f"F(t, Y)[{index}] returned an array of dtype {value.dtype}")
            vshape = value.shape
        if vshape != tuple(shape):
            raise ValueError(f"F(t, Y)[{index}] has shape {vshape}, expected {tuple(shape)}")
        self.value, self.shape, self.index = value, tuple(shape), index

    def right(self, V):
        """F V."""
        start = time.perf_counter()
        F = self.value
        if isinstance(F, (np.ndarray, LowRank)) or scipy.sparse.issparse(F):
            out = F @ V
        else:
            out = F.matmat(V)
        out = _check_product(out, (self.shape[0],) + V.shape[1:], f"F V (matrix {self.index})")
        TIMERS["F"] += time.perf_counter() - start
        return _check_finite(out, f"F V (matrix {self.index})")

    def left(self, U):
        """Fᴴ U."""
        start = time.perf_counter()
        F = self.value
        if isinstance(F, LowRank):
            out = F.rmatmat(U)
        elif isinstance(F, np.ndarray):
            out = F.T @ U if not np.iscomplexobj(F) else (U.conj().T @ F).conj().T
        elif scipy.sparse.issparse(F):
            out = F.conj().T @ U
        else:
            out = F.rmatmat(U)
        out = _check_product(out, (self.shape[1],) + U.shape[1:], f"Fᴴ U (matrix {self.index})")
        TIMERS["F"] += time.perf_counter() - start
        return _check_finite(out, f"Fᴴ U (matrix {self.index})")

    def sandwich(self, U, V):
        """Uᴴ F V."""
        FV = self.right(V)
        start = time.perf_counter()
        out = U.conj().T @ FV
        TIMERS["F"] += time.perf_counter() - start
        return out

    def dense(self):
        """F as a dense array (for dense state items, the full-rank reference and diagnostics)."""
        start = time.perf_counter()
        F = self.value
        if isinstance(F, np.ndarray):
            out = F
        elif isinstance(F, LowRank):
            out = F.to_dense()
        elif scipy.sparse.issparse(F):
            out = F.toarray()
        else:
            out = _check_product(F.matmat(np.eye(F.shape[1], dtype=F.dtype)), self.shape,
                                 f"F (item {self.index})")
        TIMERS["F"] += time.perf_counter() - start
        return _check_finite(out, f"F (item {self.index})")


def negate(value):
    """−F for any value type of the contract (ndarray, sparse, LinearOperator, LowRank)."""
    if isinstance(value, FieldValue):
        value = value.value
    if isinstance(value, LowRank):
        return -value
    if isinstance(value, scipy.sparse.linalg.LinearOperator):
        return -value
    return -value  # ndarray and sparse support unary minus


# ---------------------------------------------------------------------------------- fields
class VectorField:
    """The user's callback wrapped once: counts calls, times them, checks what comes back.

    Parameters
    ----------
    fun : callable ``fun(t, Y)``
        The vector field. For a single-matrix state it receives the matrix (a LowRank inside
        the low-rank integrators, an ndarray for the full-rank reference) and returns one value;
        for a sequence state it receives a list and returns a sequence.
    multi : bool
        Whether the state is a sequence.
    shapes : list of (m, n)
        Shapes of the state's matrices (validated on every return).

    ``nfev`` counts calls of ``fun``: one call evaluates F for every matrix of the state.
    """

    def __init__(self, fun, multi, shapes):
        if not callable(fun):
            raise TypeError(f"F must be callable F(t, Y), got {type(fun).__name__}")
        if isinstance(fun, VectorField):
            fun = fun.fun
        self.fun = fun
        self.multi = bool(multi)
        self.shapes = [tuple(s) for s in shapes]
        self.nfev = 0
        self.time = 0.0

    @classmethod
    def wrap(cls, F, items, multi):
        """Reuse an existing wrapper (so that ``solve`` counts across steps) or make one."""
        if isinstance(F, VectorField):
            if len(F.shapes) != len(items) or F.multi != multi:
                raise ValueError("F was wrapped for a state of a different structure")
            return F
        return cls(F, multi, [item.shape for item in items])

    def evaluate(self, t, items):
        """Evaluate F once for all matrices; return one :class:`FieldValue` per item."""
        start = time.perf_counter()
        self.nfev += 1
        out = self.fun(t, items if self.multi else items[0])
        elapsed = time.perf_counter() - start
        self.time += elapsed
        TIMERS["F"] += elapsed
        if self.multi:
            if isinstance(out, (str, bytes)) or not isinstance(out, Sequence):
                raise TypeError(f"F(t, Y) must return a sequence for a sequence state, got {type(out).__name__}")
            out = list(out)
            if len(out) != len(self.shapes):
                raise ValueError(f"F(t, Y) returned {len(out)} values for a state of {len(self.shapes)} matrices")
        else:
            out = [out]
        return [FieldValue(value, shape, k) for k, (value, shape) in enumerate(zip(out, self.shapes))]

    __call__ = evaluate

    def values(self, out):
        """Validate values given in F's own format (used by closed-form substeps)."""
        out = list(out) if self.multi else [out]
        return [FieldValue(value, shape, k) for k, (value, shape) in enumerate(zip(out, self.shapes))]


def gradient_flow(grad):
    """``F(t, Y) = −grad(Y)``: the gradient flow Ẏ = −∇L(Y) of a loss.

    ``grad(Y)`` returns ∇L in any format of the contract (or a sequence of them for a sequence
    state). ``t`` is not passed on.
    """
    if not callable(grad):
        raise TypeError(f"grad must be callable grad(Y), got {type(grad).__name__}")

    def F(t, Y):
        G = grad(Y)
        if isinstance(Y, (list, tuple)):
            return [negate(g) for g in G]
        return negate(G)

    F.grad = grad
    return F
