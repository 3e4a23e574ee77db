"""Closed-form substeps supplied by the user."""
from __future__ import annotations

import numpy as np

from .base import SubstepSolver

__all__ = ["ClosedForm"]


class ClosedForm(SubstepSolver):
    """A substep the user can solve exactly.

    ``solution(flow, t0, t1, z0) -> z1``: the exact solution of ``z' = flow(t, z)``. The flow
    tells which substep it is (``flow.kind`` in ``{"K", "L", "S", "S_backward", "naive", "full"}``)
    and its bases (``flow.left_bases``, ``flow.right_bases``); ``flow.project(values, z)`` applies
    the substep's projection to values given in F's own format.
    """

    order = float("inf")

    def __init__(self, solution):
        if not callable(solution):
            raise TypeError("solution must be callable solution(flow, t0, t1, z0)")
        self.solution = solution

    def integrate(self, flow, t0, t1, z0, f0=None):
        z0 = list(z0)
        out = self.solution(flow, t0, t1, z0)
        if out is None or isinstance(out, (str, bytes, np.ndarray)) or not hasattr(out, "__len__"):
            raise TypeError(f"ClosedForm solution must return a list of {len(z0)} arrays for the "
                            f"{flow.kind!r} substep, got {type(out).__name__}")
        out = list(out)
        if len(out) != len(z0):
            raise ValueError(f"ClosedForm solution returned {len(out)} arrays for the {flow.kind!r} "
                             f"substep, expected {len(z0)}")
        result = []
        for i, (a, z) in enumerate(zip(out, z0)):
            a = np.asarray(a)
            if a.shape != z.shape:
                raise ValueError(f"ClosedForm solution returned shape {a.shape} for variable {i} of the "
                                 f"{flow.kind!r} substep, expected {z.shape}")
            if a.dtype.kind not in "fc":
                raise TypeError(f"ClosedForm solution returned dtype {a.dtype} for variable {i} of the "
                                f"{flow.kind!r} substep")
            result.append(a)
        return result

    @classmethod
    def for_data(cls, increment):
        """Exact substeps for a field F(t) that does not depend on Y (a "data" problem Ȧ(t)).

        Every substep of every integrator is then ``z' = Π F(t)`` with a linear projection Π that
        does not depend on z, so ``z(t1) = z0 + Π ∫_{t0}^{t1} F dt``. ``increment(t0, t1)``
        returns ``∫_{t0}^{t1} F(t) dt`` (= A(t1) − A(t0)) in F's own format.
        """

        def solution(flow, t0, t1, z0):
            if not flow.projection_is_constant:
                raise ValueError(f"ClosedForm.for_data cannot solve the {flow.kind!r} substep "
                                 "(its right-hand side depends on z)")
            delta = flow.project(flow.field.values(increment(t0, t1)), z0)
            return [z + d for z, d in zip(z0, delta)]

        return cls(solution)
