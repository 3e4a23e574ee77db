"""Blow-up detection for :func:`dlra.solve`: an absolute limit and sustained growth.

An explicit substep or a projected Runge–Kutta stage beyond its stability limit makes the norm
grow geometrically, by a roughly constant factor per step, while every value stays finite (and,
for a quadratic field such as a differential Riccati equation, may even saturate), so a NaN check
alone reports success. The detector raises :class:`~dlra.errors.BlowUpError` after step n when

* ‖Yₙ‖ > ``max_norm`` (absolute; "auto": 1e8·max(1, ‖Y0‖)), or
* the norm grew by a factor ≥ ``step_growth`` (2) on each of the last ``steps`` (3) steps **and**
  ‖Yₙ‖ > ``growth_limit`` · max(‖Y0‖, ‖Y1‖) (default 100): growth relative to the previous steps
  and to the start together.

A solution that doubles within one step is not resolved by any explicit method at that h; a
legitimately fast-growing solution (Ẏ = λY with hλ ≥ log 2) needs ``growth_limit=None``.
"""
from __future__ import annotations

import math

from .errors import BlowUpError

__all__ = ["BlowUpDetector", "DEFAULT_GROWTH_LIMIT"]

#: default factor over the start's scale ‖Y0‖, ‖Y1‖ beyond which sustained growth is a blow-up
DEFAULT_GROWTH_LIMIT = 100.0


class BlowUpDetector:
    """Checks the norm after every step; see the module docstring for the rules.

    Parameters
    ----------
    norm0 : float
        ‖Y0‖.
    max_norm : float, "auto" or None
    growth_limit : float > 1, "auto" or None
        Factor over max(‖Y0‖, ‖Y1‖); None switches the growth rule off.
    step_growth : float > 1
        Per-step growth factor that counts as geometric growth.
    steps : int ≥ 1
        Number of consecutive steps of such growth.
    """

    def __init__(self, norm0, *, max_norm="auto", growth_limit="auto", step_growth=2.0, steps=3):
        self.max_norm = 1e8 * max(1.0, float(norm0)) if max_norm == "auto" else max_norm
        if growth_limit == "auto":
            growth_limit = DEFAULT_GROWTH_LIMIT
        if growth_limit is not None and (isinstance(growth_limit, bool)
                                         or not isinstance(growth_limit, (int, float))
                                         or not math.isfinite(growth_limit) or growth_limit <= 1):
            raise ValueError(f"growth_limit must be a finite number > 1, 'auto' or None, got {growth_limit!r}")
        self.growth_limit = growth_limit
        self.step_growth, self.steps = float(step_growth), int(steps)
        self.scale = float(norm0)
        self.previous = float(norm0)
        self.streak = 0
        self.count = 0

    def check(self, norm, step, t):
        """Raise :class:`BlowUpError` if ``norm`` (‖Y‖ after ``step``, at time ``t``) is a blow-up."""
        if not math.isfinite(norm):
            raise BlowUpError(f"‖Y‖ = {norm} is not finite")
        if self.max_norm is not None and norm > self.max_norm:
            raise BlowUpError(f"‖Y‖ = {norm:.3g} exceeds max_norm = {self.max_norm:.3g}")
        self.count += 1
        if self.count == 1:
            self.scale = max(self.scale, norm)
        self.streak = self.streak + 1 if norm >= self.step_growth * self.previous else 0
        self.previous = norm
        g = self.growth_limit
        if g is not None and self.streak >= self.steps and norm > g * self.scale:
            raise BlowUpError(f"‖Y‖ = {norm:.3g} grew by a factor ≥ {self.step_growth:g} on each of the "
                              f"last {self.streak} steps, to more than growth_limit = {g:g} times the "
                              f"start's scale {self.scale:.3g}: h is beyond the method's stability limit")
