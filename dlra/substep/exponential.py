"""Exponential substeps for stiff structured fields.

For a :class:`~dlra.fields.LinearMatrixField` the K-, L- and S-flows of every integrator are
semilinear Sylvester equations

    Ż = 𝓛 Z + g(t, Z),    𝓛 Z = P Z + Z Q,

with P = A (K-step), B (L-step) or Uᴴ A U (S-step), Q the small projected other side and g the
projected source and nonlinear term (:mod:`dlra.fields`). Left and right multiplication commute, so

    e^{τ𝓛} Z = e^{τP} Z e^{τQ}        (one action of e^{τP} on an m×r block, one r×r exponential),
    𝓛⁻¹ W    = Sylvester solve P Z + Z Q = W   (Bartels–Stewart),
    h φ₁(h𝓛) w = (e^{h𝓛} − I) 𝓛⁻¹ w.

Schemes (Hochbruck & Ostermann, "Exponential integrators", Acta Numerica 19 (2010) 209–286):

* ``"euler"``: exponential Euler  Z₁ = e^{h𝓛} Z₀ + h φ₁(h𝓛) g(t₀, Z₀) = e^{h𝓛}(Z₀ + W) − W,
  𝓛W = g₀. Order 1; **exact** when g is constant (affine field with a constant source), which
  makes it the closed-form substep of the differential Lyapunov equation.
* ``"etd2"``: the second-order exponential Runge–Kutta method of Cox & Matthews (J. Comput. Phys.
  176, 2002), ETD2RK: a = e^{h𝓛}Z₀ + hφ₁ g₀, Z₁ = a + hφ₂(h𝓛)(g(t₀ + h, a) − g₀) with
  hφ₂(h𝓛) w = 𝓛⁻¹(φ₁(h𝓛) w − w).
* ``"lawson"``: Lawson's integrating-factor Runge–Kutta method (SIAM J. Numer. Anal. 4, 1967) for
  any explicit tableau: Zᵢ = e^{cᵢh𝓛}Z₀ + h Σⱼ aᵢⱼ e^{(cᵢ−cⱼ)h𝓛} gⱼ, Z₁ = e^{h𝓛}Z₀ + h Σⱼ bⱼ
  e^{(1−cⱼ)h𝓛} gⱼ. The order of the tableau; only exponentials (no Sylvester solves), so it also
  works when 𝓛 is singular.

All three are exact for the linear part, hence stable for the stiff heat/Lyapunov operators at any
h (hλ_max ≫ 1) where explicit Runge–Kutta substeps blow up. The φ-schemes need 𝓛 invertible
(spectra of P and −Q disjoint). With the projector-splitting integrator the backward S-step is the
exponential of −𝓛 in the small bases (growth e^{h‖UᴴAU‖}, moderate for smooth bases, but not
bounded by the stiffness-independent theory of the BUG family).
"""
from __future__ import annotations

import numbers

from ..tableaux import tableau as get_tableau
from .base import SubstepSolver

__all__ = ["Exponential"]

_SCHEMES = {"euler": 1, "etd2": 2, "lawson": None}


class Exponential(SubstepSolver):
    """Exponential substeps for flows of a structured field; see the module docstring.

    Parameters
    ----------
    scheme : "euler", "etd2" or "lawson"
    tableau : tableau of the Lawson scheme ("euler", "rk2", "heun", "rk3", "rk4" or an order)
    substeps : int ≥ 1
        Equal substeps per call (only matters when g is not constant).
    """

    def __init__(self, scheme="euler", tableau="rk4", substeps=1):
        if scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {sorted(_SCHEMES)}, got {scheme!r}")
        if isinstance(substeps, bool) or not isinstance(substeps, numbers.Integral) or substeps < 1:
            raise ValueError(f"substeps must be an integer >= 1, got {substeps!r}")
        self.scheme, self.substeps = scheme, int(substeps)
        self.tableau = get_tableau(tableau) if scheme == "lawson" else None
        self.order = _SCHEMES[scheme] or self.tableau.order

    def __repr__(self):
        extra = f", tableau={self.tableau.name!r}" if self.tableau is not None else ""
        return f"Exponential({self.scheme!r}{extra}, substeps={self.substeps})"

    def integrate(self, flow, t0, t1, z0, f0=None):
        reduced = getattr(flow, "reduced", None)
        linear = getattr(reduced, "linear", None)
        if linear is None:
            raise ValueError(f"Exponential substeps need a structured field (dlra.fields.LinearMatrixField, "
                             f"one matrix) with orthonormal bases; the {flow.kind!r} flow has none")
        if len(z0) != 1:
            raise ValueError("Exponential substeps integrate one matrix (no dense items in the state)")
        g = reduced.remainder
        dt = (t1 - t0) / self.substeps
        z = z0[0]
        step = {"euler": self._euler, "etd2": self._etd2, "lawson": self._lawson}[self.scheme]
        for k in range(self.substeps):
            z = step(linear, g, t0 + k * dt, z, dt)
        return [z]

    @staticmethod
    def _phi1(linear, h, w):
        """h φ₁(h𝓛) w = e^{h𝓛} W − W with 𝓛 W = w (zero for w = 0)."""
        if not w.any():
            return w
        W = linear.solve(w)
        return linear.expm(h, W) - W

    def _euler(self, linear, g, t, z, h):
        return linear.expm(h, z) + self._phi1(linear, h, g(t, [z])[0])

    def _etd2(self, linear, g, t, z, h):
        g0 = g(t, [z])[0]
        a = linear.expm(h, z) + self._phi1(linear, h, g0)
        w = g(t + h, [a])[0] - g0
        if not w.any():
            return a
        phi1_w = self._phi1(linear, h, w) / h
        return a + linear.solve(phi1_w - w)

    def _lawson(self, linear, g, t, z, h):
        tab = self.tableau
        c = tab.c
        stages = []
        for i in range(tab.stages):
            zi = linear.expm(c[i] * h, z)
            for j in range(i):
                if tab.a[i, j] != 0.0:
                    zi = zi + (h * tab.a[i, j]) * linear.expm((c[i] - c[j]) * h, stages[j])
            stages.append(g(t + c[i] * h, [zi])[0])
        out = linear.expm(h, z)
        for j in range(tab.stages):
            if tab.b[j] != 0.0:
                out = out + (h * tab.b[j]) * linear.expm((1.0 - c[j]) * h, stages[j])
        return out
