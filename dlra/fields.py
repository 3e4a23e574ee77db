"""Structured vector fields: F(t, Y) = A Y + Y Bᴴ + C(t) + N(t, Y).

Matrix ODEs from PDEs (heat, Lyapunov, Riccati, Allen–Cahn, Vlasov) have a linear part whose
operators A (m×m) and B (n×n) act on the two sides of Y, a source C(t) and possibly a remaining
nonlinear term N. A :class:`LinearMatrixField` knows this structure and gives the K-, L- and S-flows
of the integrators in **reduced form**, with the projected operators formed once per
substep instead of re-applying F in every stage:

    K-step (V fixed):  K̇ = A K G_V + K (Vᴴ Bᴴ V) + C V + N(t, K Vᴴ) V,         G_V = Vᴴ V
    L-step (U fixed):  L̇ = B L G_U + L (Uᴴ Aᴴ U) + Cᴴ U + N(t, U Lᴴ)ᴴ U,       G_U = Uᴴ U
    S-step:            Ṡ = ±(Uᴴ A U S G_V + G_U S Vᴴ Bᴴ V + Uᴴ C V + Uᴴ N V)

(with orthonormal bases G = I and each flow is a Sylvester equation Ż = P Z + Z Q + g(t, Z),
which the exponential substeps of :mod:`dlra.substep.exponential` integrate exactly in its linear
part). This is the splitting of Lubich & Oseledets (BIT 54, 2014) and Ceruti & Lubich (BIT 62,
2022) written for a field that is linear in Y, as in the projected exponential methods of
Carrel & Vandereycken, "Projected exponential methods for stiff dynamical low-rank approximation
problems", arXiv:2312.00172 (2023).

Called as ``F(t, Y)`` the field is an ordinary callback of the contract (:mod:`dlra.field`): for a
low-rank Y it returns a LinearOperator applying (A U) S Vᴴ + U S (B V)ᴴ + C + N through products
with bases (:class:`StructuredValue`), for a dense Y the dense matrix — so every integrator, the
diagnostics and the full-rank reference work unchanged, and the reduced forms are an
optimisation that must agree with that path to round-off.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .field import FieldValue
from .lowrank import LowRank
from .timing import TIMERS, timed

__all__ = ["LinearMatrixField", "LinearSide", "SylvesterPart", "ReducedFlow", "StructuredValue"]

#: operators of at most this size are densified once for exponentials and Sylvester solves
DENSE_LIMIT = 2048


def _is_operator(value):
    return (isinstance(value, (np.ndarray, scipy.sparse.linalg.LinearOperator))
            or scipy.sparse.issparse(value))


class LinearSide:
    """One side operator P (m×m: A or B of the field, or a small projected matrix).

    Offers P X, Pᴴ X, e^{τP} X (a dense exponential cached per τ when m ≤ ``DENSE_LIMIT``,
    ``scipy.sparse.linalg.expm_multiply`` otherwise) and the Sylvester solve P Z + Z Q = W for a
    small Q (Bartels–Stewart: Schur forms of P — cached — and Q and LAPACK's ``trsyl``; for large
    sparse P, one sparse LU per column of the Schur form of Q).
    """

    def __init__(self, op, name):
        if not _is_operator(op):
            raise TypeError(f"{name} must be an ndarray, a scipy.sparse matrix or a LinearOperator, "
                            f"got {type(op).__name__}")
        if scipy.sparse.issparse(op):
            op = scipy.sparse.csr_array(op) if hasattr(scipy.sparse, "csr_array") else op.tocsr()
            self.kind = "sparse"
        elif isinstance(op, np.ndarray):
            op = np.asarray(op)
            if op.ndim != 2:
                raise ValueError(f"{name} must be 2-D, got shape {op.shape}")
            if not np.issubdtype(op.dtype, np.number):
                raise TypeError(f"{name} must be numeric, got dtype {op.dtype}")
            if not np.all(np.isfinite(op)):
                raise ValueError(f"{name} is not finite (NaN or inf)")
            op = op.astype(np.result_type(op.dtype, np.float64), copy=False)
            self.kind = "dense"
        else:
            self.kind = "operator"
        if op.shape[0] != op.shape[1]:
            raise ValueError(f"{name} must be square, got shape {op.shape}")
        self.op, self.name, self.n = op, name, op.shape[0]
        self.dtype = np.dtype(op.dtype)
        self._adjoint = op.conj().T if self.kind == "sparse" else None
        self._dense = None
        self._schur = {}
        self._expm = {}
        self._lu = {}

    # ------------------------------------------------------------------ products
    def matmat(self, X):
        """P X."""
        if self.kind == "operator":
            return np.asarray(self.op.matmat(X))
        return np.asarray(self.op @ X)

    def rmatmat(self, X):
        """Pᴴ X."""
        if self.kind == "sparse":
            return np.asarray(self._adjoint @ X)
        if self.kind == "dense":
            P = self.op
            return P.T @ X if not np.iscomplexobj(P) else P.conj().T @ X
        return np.asarray(self.op.rmatmat(X))

    def dense(self):
        if self._dense is None:
            if self.kind == "dense":
                self._dense = self.op
            elif self.kind == "sparse":
                self._dense = self.op.toarray()
            else:
                self._dense = np.asarray(self.op.matmat(np.eye(self.n, dtype=self.dtype)))
        return self._dense

    @property
    def small(self):
        return self.n <= DENSE_LIMIT

    # ------------------------------------------------------------------ exponential
    def expm_matmat(self, tau, X):
        """e^{τP} X."""
        if tau == 0.0:
            return np.array(X, copy=True)
        if self.small:
            key = float(tau)
            E = self._expm.get(key)
            if E is None:
                if len(self._expm) >= 8:
                    self._expm.clear()
                with timed("linalg"):
                    E = scipy.linalg.expm(tau * self.dense())
                self._expm[key] = E
            with timed("products"):
                return E @ X
        if self.kind != "sparse":
            raise ValueError(f"{self.name}: exponentials of a LinearOperator larger than "
                             f"{DENSE_LIMIT} need a sparse matrix")
        with timed("linalg"):
            return scipy.sparse.linalg.expm_multiply(tau * self.op, X)

    # ------------------------------------------------------------------ Sylvester
    def _schur_form(self, output):
        if output not in self._schur:
            with timed("linalg"):
                self._schur[output] = scipy.linalg.schur(self.dense(), output=output)
        return self._schur[output]

    def sylvester(self, Q, W):
        """Z with P Z + Z Q = W (Q small, r×r); ``ValueError`` when the equation is singular."""
        Q, W = np.asarray(Q), np.asarray(W)
        cplx = np.iscomplexobj(Q) or np.iscomplexobj(W) or np.iscomplexobj(self.dtype.type(0))
        if self.small:
            output = "complex" if cplx else "real"
            TP, ZP = self._schur_form(output)
            with timed("linalg"):
                TQ, ZQ = scipy.linalg.schur(Q.astype(TP.dtype), output=output)
                trsyl = scipy.linalg.lapack.ztrsyl if cplx else scipy.linalg.lapack.dtrsyl
                rhs = ZP.conj().T @ W.astype(TP.dtype) @ ZQ
                X, scale, info = trsyl(TP, TQ, rhs)
            if info < 0 or not np.all(np.isfinite(X)):
                raise ValueError(f"Sylvester equation {self.name} Z + Z Q = W failed (info = {info})")
            if info == 1:
                raise ValueError(f"Sylvester equation {self.name} Z + Z Q = W is (nearly) singular: "
                                 "the spectra of P and −Q overlap; use a Lawson substep")
            return ZP @ (X / scale) @ ZQ.conj().T
        if self.kind != "sparse":
            raise ValueError(f"{self.name}: Sylvester solves with a LinearOperator larger than "
                             f"{DENSE_LIMIT} need a sparse matrix")
        # Bartels–Stewart with a sparse P: Q = ZQ TQ ZQᴴ (complex Schur), column j of X = Z ZQ solves
        # (P + TQ_jj I) x_j = (W ZQ)_j − Σ_{i<j} x_i TQ_ij
        with timed("linalg"):
            TQ, ZQ = scipy.linalg.schur(Q.astype(complex), output="complex")
            rhs = W.astype(complex) @ ZQ
            X = np.empty_like(rhs)
            eye = scipy.sparse.identity(self.n, format="csc")
            for j in range(Q.shape[0]):
                key = complex(TQ[j, j])
                lu = self._lu.get(key)
                if lu is None:
                    if len(self._lu) >= 64:
                        self._lu.clear()
                    lu = scipy.sparse.linalg.splu((self.op + key * eye).tocsc().astype(complex))
                    self._lu[key] = lu
                X[:, j] = lu.solve(rhs[:, j] - X[:, :j] @ TQ[:j, j])
            Z = X @ ZQ.conj().T
        if not np.all(np.isfinite(Z)):
            raise ValueError(f"Sylvester equation {self.name} Z + Z Q = W is singular")
        return Z if cplx else Z.real


class SylvesterPart:
    """The linear part 𝓛 Z = P Z + Z Q of a reduced flow (P a :class:`LinearSide` or None, Q small)."""

    def __init__(self, P, Q, small_P=None):
        self.P, self.Q = P, Q
        self._small_P = small_P  # dense r×r (S-flows) instead of a LinearSide
        self._expQ = {}
        self._expP = {}

    def apply(self, Z):
        if self._small_P is not None:
            return self._small_P @ Z + Z @ self.Q
        if self.P is not None:
            return self.P.matmat(Z) + Z @ self.Q
        return Z @ self.Q

    def _expm_small(self, store, M, tau):
        key = float(tau)
        E = store.get(key)
        if E is None:
            with timed("linalg"):
                E = scipy.linalg.expm(tau * M)
            store[key] = E
        return E

    def expm(self, tau, Z):
        """e^{τ𝓛} Z = e^{τP} Z e^{τQ} (left and right multiplication commute)."""
        if tau == 0.0:
            return np.array(Z, copy=True)
        if self._small_P is not None:
            left = self._expm_small(self._expP, self._small_P, tau) @ Z
        elif self.P is not None:
            left = self.P.expm_matmat(tau, Z)
        else:
            left = Z
        return left @ self._expm_small(self._expQ, self.Q, tau)

    def solve(self, W):
        """𝓛⁻¹ W: the Z with P Z + Z Q = W."""
        if self._small_P is not None:
            with timed("linalg"):
                Z = scipy.linalg.solve_sylvester(self._small_P, self.Q, W)
            if not np.all(np.isfinite(Z)):
                raise ValueError("singular Sylvester equation in an S-substep; use a Lawson substep")
            return Z
        if self.P is None:
            with timed("linalg"):
                return np.linalg.solve(self.Q.T, np.asarray(W).T).T
        return self.P.sylvester(self.Q, W)


class ReducedFlow:
    """Right-hand side of a K-, L- or S-flow of a :class:`LinearMatrixField` in reduced form.

    ``flow(t, z)`` = 𝓛 z[0]·(Gram factors) + g(t, z); ``remainder(t, z)`` = g (source and N
    projected); ``linear`` is the :class:`SylvesterPart` (None when the bases are not
    orthonormal, where 𝓛 is not a Sylvester operator). One call of either counts as one
    evaluation of F; ``initial(t, z)`` is the derivative at a state where F has already been
    evaluated (not counted again).
    """

    def __init__(self, field, flow, apply_linear, linear, source, nonlinear):
        self.field, self.flow = field, flow
        self._apply_linear, self.linear = apply_linear, linear
        self._source, self._nonlinear = source, nonlinear

    def remainder(self, t, z, count=True):
        if count:
            self.field.nfev += 1
        start = time.perf_counter()
        out = self._source(t)
        if self._nonlinear is not None:
            n = self._nonlinear(t, z)
            out = n if out is None else out + n
        elapsed = time.perf_counter() - start
        self.field.time += elapsed
        TIMERS["F"] += elapsed
        if out is None:
            out = np.zeros_like(z[0])
        return [out]

    def initial(self, t, z):
        return self(t, z, count=False)

    def __call__(self, t, z, count=True):
        g = self.remainder(t, z, count)[0]
        start = time.perf_counter()
        out = self._apply_linear(z[0]) + g
        elapsed = time.perf_counter() - start
        self.field.time += elapsed
        TIMERS["F"] += elapsed
        return [out]


def _is_orthonormal(G):
    return float(np.max(np.abs(G - np.eye(G.shape[0])), initial=0.0)) <= 1e-10


class LinearMatrixField:
    """F(t, Y) = A Y + Y Bᴴ + C(t) + N(t, Y) with structure the integrators exploit.

    Parameters
    ----------
    A : (m, m) ndarray, scipy.sparse matrix or LinearOperator, optional
        Left operator (None: zero).
    B : (n, n) same types, optional
        Right operator; the field applies Y Bᴴ (so B = A gives the symmetric Lyapunov form A Y + Y Aᴴ).
    C : ndarray, sparse, LowRank or LinearOperator (m×n), or a callable ``C(t)`` returning one, optional
        Source term. A constant C is projected once per substep; a callable is projected at
        every stage.
    nonlinear : callable ``N(t, Y)``, optional
        Any further term, returning a value of the vector-field contract (:mod:`dlra.field`).

    Pass the field as the F of :func:`dlra.solve` or of ``Integrator.step``; the K-, L- and S-flows
    then use the reduced forms above (single-matrix states), the remaining paths call it as a
    callback.
    """

    def __init__(self, A=None, B=None, C=None, nonlinear=None):
        self.A = LinearSide(A, "A") if A is not None else None
        self.B = LinearSide(B, "B") if B is not None else None
        if C is not None and not (_is_operator(C) or isinstance(C, LowRank)) and not callable(C):
            raise TypeError(f"C must be an ndarray, a sparse matrix, a LowRank, a LinearOperator or a "
                            f"callable C(t), got {type(C).__name__}")
        if isinstance(C, np.ndarray) and (C.ndim != 2 or not np.all(np.isfinite(C))):
            raise ValueError("C must be a finite 2-D array")
        self.C = C
        self.source_is_constant = C is None or _is_operator(C) or isinstance(C, LowRank)
        if nonlinear is not None and not callable(nonlinear):
            raise TypeError(f"nonlinear must be callable N(t, Y), got {type(nonlinear).__name__}")
        self.nonlinear = nonlinear
        if self.A is None and self.B is None and C is None and nonlinear is None:
            raise ValueError("LinearMatrixField needs at least one of A, B, C, nonlinear")
        if self.A is not None and self.B is not None and self.source_is_constant and C is not None:
            if tuple(C.shape) != (self.A.n, self.B.n):
                raise ValueError(f"C has shape {tuple(C.shape)}, expected (m, n) = ({self.A.n}, {self.B.n})")

    def __repr__(self):
        parts = [f"{k}={'…' if getattr(self, k) is not None else None}" for k in ("A", "B", "C", "nonlinear")]
        return f"LinearMatrixField({', '.join(parts)})"

    @property
    def is_affine(self):
        """True when F is affine in Y with a constant source (no N, C constant)."""
        return self.nonlinear is None and self.source_is_constant

    # ------------------------------------------------------------------ pieces
    def source(self, t):
        """C(t) (None when there is no source)."""
        if self.C is None or self.source_is_constant:
            return self.C
        return self.C(t)

    def _check_shape(self, shape):
        m, n = shape
        if self.A is not None and self.A.n != m:
            raise ValueError(f"A is {self.A.n}×{self.A.n} but the state has {m} rows")
        if self.B is not None and self.B.n != n:
            raise ValueError(f"B is {self.B.n}×{self.B.n} but the state has {n} columns")

    # ------------------------------------------------------------------ the callback path
    def __call__(self, t, Y):
        """F(t, Y) as a value of the contract: a :class:`StructuredValue` operator for a low-rank Y
        (products with bases, no dense n×n matrix), a dense array for a dense Y."""
        if isinstance(Y, LowRank):
            self._check_shape(Y.shape)
            extra = [FieldValue(v, Y.shape, 0) for v in
                     (self.source(t), self.nonlinear(t, Y) if self.nonlinear else None) if v is not None]
            return StructuredValue(self.A, self.B, Y, extra, t=t, affine=self.nonlinear is None)
        Y = np.asarray(Y)
        self._check_shape(Y.shape)
        out = np.zeros(Y.shape, dtype=np.result_type(Y.dtype, float))
        if self.A is not None:
            out = out + self.A.matmat(Y)
        if self.B is not None:
            out = out + self.B.matmat(Y.conj().T).conj().T
        for v in (self.source(t), self.nonlinear(t, Y) if self.nonlinear else None):
            if v is not None:
                out = out + FieldValue(v, Y.shape, 0).dense()
        return out

    # ------------------------------------------------------------------ reduced flows
    def _project_source(self, right=None, left=None):
        """t ↦ C(t) V, Cᴴ(t) U or Uᴴ C(t) V; constant sources projected once."""
        def project(value):
            if value is None:
                return None
            if isinstance(value, LowRank):  # the common case, without the checks of FieldValue
                if right is not None:
                    out = value.U @ (value.S @ (_h(value.V) @ right))
                    return _h(left) @ out if left is not None else out
                return value.V @ (_h(value.S) @ (_h(value.U) @ left))
            fv = FieldValue(value, tuple(value.shape), 0)
            if left is not None and right is not None:
                return fv.sandwich(left, right)
            if right is not None:
                return fv.right(right)
            return fv.left(left)

        if self.source_is_constant:
            fixed = project(self.C)
            return lambda t: fixed
        return lambda t: project(self.C(t))

    def reduced_flow(self, flow, kind, U=None, V=None, sign=1.0):
        """The reduced right-hand side of ``flow`` (a :class:`dlra.flows.Flow` of one matrix).

        With orthonormal bases the Gram factors G are the identity and are left out.
        """
        field = flow.field
        shape = field.shapes[0]
        self._check_shape(shape)
        N = self.nonlinear
        with timed("products"):
            if kind in ("K", "L"):
                basis, big, other = (V, self.A, self.B) if kind == "K" else (U, self.B, self.A)
                G = _h(basis) @ basis
                orthonormal = _is_orthonormal(G)
                W = other.matmat(basis) if other is not None else None
                Q = _h(W) @ basis if W is not None else np.zeros_like(G)
                source = self._project_source(right=V) if kind == "K" else self._project_source(left=U)

                def apply_linear(Z):
                    out = Z @ Q
                    if big is not None:
                        out = out + big.matmat(Z if orthonormal else Z @ G)
                    return out

                if N is None:
                    nonlinear = None
                elif kind == "K":
                    eye = np.eye(V.shape[1], dtype=V.dtype)
                    nonlinear = lambda t, z: FieldValue(N(t, LowRank(z[0], eye, V)), shape, 0).right(V)  # noqa: E731
                else:
                    eye = np.eye(U.shape[1], dtype=U.dtype)
                    nonlinear = lambda t, z: FieldValue(N(t, LowRank(U, eye, z[0])), shape, 0).left(U)  # noqa: E731
                linear = SylvesterPart(big, Q) if orthonormal else None
            else:  # S or S_backward
                GU, GV = _h(U) @ U, _h(V) @ V
                orthonormal = _is_orthonormal(GU) and _is_orthonormal(GV)
                AU = (_h(U) @ self.A.matmat(U)) if self.A is not None else np.zeros_like(GU)
                Q = (_h(self.B.matmat(V)) @ V) if self.B is not None else np.zeros_like(GV)
                base = self._project_source(left=U, right=V)
                if sign < 0:
                    AU, Q = -AU, -Q

                def source(t):
                    value = base(t)
                    return value if value is None or sign > 0 else -value

                def apply_linear(S):
                    if orthonormal:
                        return AU @ S + S @ Q
                    return AU @ S @ GV + GU @ S @ Q

                nonlinear = None if N is None else (
                    lambda t, z: sign * FieldValue(N(t, LowRank(U, z[0], V)), shape, 0).sandwich(U, V))
                linear = SylvesterPart(None, Q, small_P=AU) if orthonormal else None
        return ReducedFlow(field, flow, apply_linear, linear, source, nonlinear)


def _h(X):
    """Xᴴ (no copy for real arrays)."""
    return X.T if not np.iscomplexobj(X) else X.conj().T


class StructuredValue(scipy.sparse.linalg.LinearOperator):
    """F(t, Y) = A Y + Y Bᴴ + (further values) for a low-rank Y = U S Vᴴ, applied through bases:

        F X  = (A U) S (Vᴴ X) + U S ((B V)ᴴ X) + Σ Fₖ X,
        Fᴴ X = V Sᴴ ((A U)ᴴ X) + (B V) Sᴴ (Uᴴ X) + Σ Fₖᴴ X.
    """

    def __init__(self, A, B, Y, extra, t=None, affine=False):
        self.Y, self.extra, self.t, self.affine = Y, extra, t, affine
        self._A, self._B = A, B
        self._AU = self._BV = None
        dtypes = [Y.dtype] + [side.dtype for side in (A, B) if side is not None]
        dtypes += [np.dtype(getattr(p.value, "dtype", np.float64)) for p in extra]
        super().__init__(np.result_type(*dtypes, np.float64), Y.shape)

    # A U and B V are formed on first use: the reduced flows start from (t, Y) without them
    @property
    def AU(self):
        if self._AU is None and self._A is not None:
            self._AU = self._A.matmat(self.Y.U)
        return self._AU

    @property
    def BV(self):
        if self._BV is None and self._B is not None:
            self._BV = self._B.matmat(self.Y.V)
        return self._BV

    def _matmat(self, X):
        Y = self.Y
        out = np.zeros((Y.shape[0], X.shape[1]), dtype=np.result_type(self.dtype, X.dtype))
        if self.AU is not None:
            out += self.AU @ (Y.S @ (_h(Y.V) @ X))
        if self.BV is not None:
            out += Y.U @ (Y.S @ (_h(self.BV) @ X))
        for p in self.extra:
            out += p.right(X)
        return out

    def _rmatmat(self, X):
        Y = self.Y
        out = np.zeros((Y.shape[1], X.shape[1]), dtype=np.result_type(self.dtype, X.dtype))
        if self.AU is not None:
            out += Y.V @ (_h(Y.S) @ (_h(self.AU) @ X))
        if self.BV is not None:
            out += self.BV @ (_h(Y.S) @ (_h(Y.U) @ X))
        for p in self.extra:
            out += p.left(X)
        return out

    def _matvec(self, x):
        return self._matmat(np.reshape(x, (-1, 1))).ravel()

    def _rmatvec(self, x):
        return self._rmatmat(np.reshape(x, (-1, 1))).ravel()


def is_structured(fun):
    """Whether a callback is a :class:`LinearMatrixField` (the flows then use reduced forms)."""
    return isinstance(fun, LinearMatrixField)

