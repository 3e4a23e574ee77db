"""Typed failures of an integration step.

Every failure that ends a run (rather than a user error, which is a ``ValueError``/``TypeError``
naming the argument) is a :class:`NonFiniteError` or one of its subclasses, so that
:func:`dlra.solve` maps exception *types* to statuses instead of matching message text:

* :class:`NonFiniteError` — the vector field or a step produced NaN or inf (status −1);
* :class:`SubstepFailure` — a substep solver failed to integrate its substep (status −1);
* :class:`BlowUpError` — the state grew beyond the blow-up detector's bound (status −2).
"""
from __future__ import annotations

__all__ = ["NonFiniteError", "SubstepFailure", "BlowUpError"]


class NonFiniteError(FloatingPointError):
    """The vector field produced NaN or inf, or a step did."""


class SubstepFailure(NonFiniteError):
    """A substep solver could not integrate its substep (e.g. ``solve_ivp`` failed)."""


class BlowUpError(NonFiniteError):
    """The norm of the state grew beyond the bound of the blow-up detector."""
