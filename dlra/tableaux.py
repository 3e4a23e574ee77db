"""Butcher tableaux of the explicit Runge–Kutta methods, defined once.

Used by the Runge–Kutta substep solver and by the projected Runge–Kutta integrator. The stage
times are ``c_i = Σ_j a_ij`` over **all** j (a published projected-RK code skips column 0, which is
wrong for time-dependent F).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ButcherTableau", "TABLEAUX", "tableau"]


@dataclass(frozen=True)
class ButcherTableau:
    name: str
    order: int
    a: np.ndarray  # strictly lower triangular (explicit)
    b: np.ndarray

    @property
    def c(self):
        return self.a.sum(axis=1)

    @property
    def stages(self):
        return self.b.size


def _t(name, order, a, b):
    return ButcherTableau(name, order, np.array(a, dtype=float), np.array(b, dtype=float))


TABLEAUX = {
    "euler": _t("euler", 1, [[0.0]], [1.0]),
    # explicit midpoint rule
    "rk2": _t("rk2", 2, [[0, 0], [0.5, 0]], [0, 1]),
    # Heun's second-order method (trapezoidal predictor-corrector)
    "heun": _t("heun", 2, [[0, 0], [1, 0]], [0.5, 0.5]),
    # Kutta's third-order method
    "rk3": _t("rk3", 3, [[0, 0, 0], [0.5, 0, 0], [-1, 2, 0]], [1 / 6, 2 / 3, 1 / 6]),
    # classical fourth-order Runge–Kutta
    "rk4": _t("rk4", 4, [[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]],
              [1 / 6, 1 / 3, 1 / 3, 1 / 6]),
}
_BY_ORDER = {1: "euler", 2: "rk2", 3: "rk3", 4: "rk4"}


def tableau(method):
    """Tableau by name (``"euler"``, ``"rk2"``, ``"heun"``, ``"rk3"``, ``"rk4"``) or by order 1–4."""
    if isinstance(method, ButcherTableau):
        return method
    if isinstance(method, (int, np.integer)) and not isinstance(method, bool):
        if method not in _BY_ORDER:
            raise ValueError(f"order must be 1, 2, 3 or 4, got {method}")
        return TABLEAUX[_BY_ORDER[int(method)]]
    if method not in TABLEAUX:
        raise ValueError(f"unknown Runge–Kutta method {method!r}; choose from {sorted(TABLEAUX)}")
    return TABLEAUX[method]
