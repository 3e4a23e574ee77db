"""Substeps by ``scipy.integrate.solve_ivp`` (any of its methods, with rtol/atol)."""
from __future__ import annotations

import numbers

import numpy as np
from scipy.integrate import solve_ivp
from scipy.integrate import OdeSolver

from ..errors import SubstepFailure
from .base import SubstepSolver

__all__ = ["ScipyIVP"]

#: the method names of ``solve_ivp``
METHODS = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")


class ScipyIVP(SubstepSolver):
    """Integrate each substep with ``scipy.integrate.solve_ivp``.

    The list of arrays is flattened into one vector (complex when any array is complex; use an
    explicit method such as RK45 or DOP853, or BDF, for complex problems — LSODA is real only).
    """

    def __init__(self, method="RK45", rtol=1e-8, atol=1e-10, **options):
        if not (method in METHODS or isinstance(method, type) and issubclass(method, OdeSolver)):
            raise ValueError(f"method must be one of {', '.join(METHODS)} or an OdeSolver class, got {method!r}")
        for name, value in (("rtol", rtol), ("atol", atol)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a real number, got {value!r}")
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be positive and finite, got {value!r}")
        self.method, self.rtol, self.atol, self.options = method, float(rtol), float(atol), options
        self.order = {"RK23": 3, "RK45": 5, "DOP853": 8}.get(method, 4)

    def __repr__(self):
        return f"ScipyIVP({self.method!r}, rtol={self.rtol:g}, atol={self.atol:g})"

    def integrate(self, flow, t0, t1, z0, f0=None):
        shapes = [z.shape for z in z0]
        sizes = [z.size for z in z0]
        dtype = np.result_type(*z0)
        offsets = np.cumsum([0] + sizes)

        def unpack(y):
            return [y[offsets[i]:offsets[i + 1]].reshape(shapes[i]) for i in range(len(shapes))]

        def rhs(t, y):
            return np.concatenate([d.ravel() for d in flow(t, unpack(y))]).astype(dtype, copy=False)

        y0 = np.concatenate([z.ravel() for z in z0]).astype(dtype)
        sol = solve_ivp(rhs, (t0, t1), y0, method=self.method, rtol=self.rtol, atol=self.atol,
                        **self.options)
        if sol.status < 0 or not np.all(np.isfinite(sol.y[:, -1])):
            raise SubstepFailure(f"solve_ivp substep failed on [{t0}, {t1}]: {sol.message}")
        return [a.copy() for a in unpack(sol.y[:, -1])]
