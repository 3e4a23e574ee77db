"""Substep solvers integrate the small ODEs z' = g(t, z) that the integrators set up.

A substep problem is a :class:`dlra.flows.Flow`: ``flow(t, z)`` evaluates the user's F once
and returns the derivative of every array of the list ``z``. The integrators may hand over the
derivative at ``(t0, z0)`` as ``f0`` when they already know it (e.g. the K- and L-steps of BUG
start at Y0, where F has been evaluated once for both); solvers that use a first stage at
``(t0, z0)`` take it instead of calling the flow again.
"""
from __future__ import annotations

from ..timing import timed

__all__ = ["SubstepSolver", "axpy"]


def axpy(z, coeffs, derivs):
    """``z + Σ_k coeffs[k] · derivs[k]`` for lists of arrays (coefficients may be 0)."""
    with timed("products"):
        return _axpy_lists(z, coeffs, derivs)


def _axpy_lists(z, coeffs, derivs):
    out = []
    for i, zi in enumerate(z):
        acc = zi
        for c, d in zip(coeffs, derivs):
            if c != 0.0:
                acc = acc + c * d[i]
        out.append(acc)
    return out


class SubstepSolver:
    """Base class: ``integrate(flow, t0, t1, z0, f0=None) -> z1`` (a list of arrays).

    ``integrate`` returns new arrays and must not modify ``z0`` in place: the start values are the
    user's dense state items, and the integrators reuse K(t0) = U0 S0 after the K-step (the
    augmented basis projects the increment K(t1) − K(t0)).
    """

    #: classical order of the solver (None for optimisers that are not ODE solvers)
    order = None
    #: whether the solver keeps state between calls (optimisers); such state is rotated into
    #: the new bases by the solver itself using ``flow.left_bases``/``flow.right_bases``
    stateful = False

    def integrate(self, flow, t0, t1, z0, f0=None):
        raise NotImplementedError

    def reset(self):
        """Forget any state (optimisers)."""
