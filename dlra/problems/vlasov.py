"""Vlasov–Poisson 1x1v, linear Landau damping, as a matrix ODE.

    f_t + v f_x − E(x) f_v = 0,   ∂_x E = 1 − ρ,  ρ(x) = ∫ f dv,   x ∈ [0, 2π/k) periodic, v ∈ [−v_max, v_max],
    f(0, x, v) = (1 + α cos(kx)) e^{−v²/2} / √(2π)    (α = 0.01, k = 0.5).

On the grid x_i (n_x points), v_j (n_v points) the matrix F_ij = f(x_i, v_j) obeys

    Ḟ = −D_x F diag(v) + diag(E(F)) F D_vᵀ,

with D_x, D_v the spectral (Fourier) differentiation matrices (f is negligible at |v| = v_max, so the
v-grid is treated as periodic) and E from ρ = F 1 Δv by FFT. For F = U S Vᴴ both terms are of rank r
(−(D_x U) S (diag(v) V)ᴴ and (E∘U) S (D_v V)ᴴ), so the field is returned as a LowRank of rank 2r.
This is the DLRA test case of Einkemmer & Lubich, "A low-rank projector-splitting integrator for
the Vlasov–Poisson equation", SIAM J. Sci. Comput. 40 (2018) B1330–B1360: the electric field's
amplitude decays at the linear Landau rate γ ≈ −0.1533 (k = 0.5), its energy ½∫E² at 2γ; mass
∫∫ f is conserved by the exact flow. The initial value has rank 1, where the field is normal to the
manifold; ``Y0`` represents it in rank-r bases (low Fourier modes ⊗ Hermite functions).
"""
from __future__ import annotations

import numpy as np

from ..lowrank import LowRank
from .base import Problem, as_dense

__all__ = ["LandauDamping", "LANDAU_RATE", "peak_decay_rate"]

#: linear Landau damping rate of the k = 0.5 mode (Vlasov–Poisson, Maxwellian of unit temperature)
LANDAU_RATE = -0.1533


def _spectral_derivative(n, length):
    kappa = 2 * np.pi / length * np.fft.fftfreq(n, d=1.0 / n)
    if n % 2 == 0:
        kappa[n // 2] = 0.0  # the Nyquist mode has no derivative of a real function
    return np.real(np.fft.ifft(1j * kappa[:, None] * np.fft.fft(np.eye(n), axis=0), axis=0))


def peak_decay_rate(t, amplitude, t_min=0.0, t_max=np.inf):
    """Slope of log(amplitude) through its local maxima in [t_min, t_max] (least squares)."""
    t, a = np.asarray(t, dtype=float), np.log(np.asarray(amplitude, dtype=float))
    peaks = [i for i in range(1, len(a) - 1) if a[i] >= a[i - 1] and a[i] > a[i + 1] and t_min <= t[i] <= t_max]
    if len(peaks) < 2:
        raise ValueError("fewer than two peaks in the fitting window")
    return float(np.polyfit(t[peaks], a[peaks], 1)[0])


class LandauDamping(Problem):
    """Linear Landau damping (``alpha`` = 0.01, ``k`` = 0.5) on an n_x × n_v grid."""

    name = "landau_damping"

    def __init__(self, nx=64, nv=256, rank=10, v_max=6.0, alpha=0.01, k=0.5, t_span=(0.0, 40.0)):
        if not 1 <= rank <= min(nx, nv):
            raise ValueError(f"rank must be in [1, min(nx, nv) = {min(nx, nv)}], got {rank}")
        self.nx, self.nv, self.k, self.alpha = nx, nv, k, alpha
        self.shape, self.t_span = (nx, nv), tuple(t_span)
        self.length = 2 * np.pi / k
        self.x = self.length * np.arange(nx) / nx
        self.v = -v_max + 2 * v_max * np.arange(nv) / nv
        self.dx, self.dv = self.length / nx, 2 * v_max / nv
        self.Dx = _spectral_derivative(nx, self.length)
        self.Dv = _spectral_derivative(nv, 2 * v_max)
        self._kappa = 2 * np.pi / self.length * np.fft.fftfreq(nx, d=1.0 / nx)
        maxwell = np.exp(-self.v ** 2 / 2) / np.sqrt(2 * np.pi)
        ux = 1 + alpha * np.cos(k * self.x)
        # f0 = ux ⊗ maxwell has rank 1, and P(Y)F = 0 there (the field is normal to the rank-1
        # manifold): represent it in rank-`rank` bases of low Fourier modes in x and Hermite
        # functions in v (Einkemmer & Lubich 2018, §4), with zero singular values besides the first
        fourier = [ux] + [fn(m * k * self.x) for m in range(1, rank) for fn in (np.cos, np.sin)][:rank - 1]
        hermite = [self.v ** m * maxwell for m in range(rank)]
        U = np.linalg.qr(np.stack(fourier, axis=1))[0]
        V = np.linalg.qr(np.stack(hermite, axis=1))[0]
        self.rank = rank
        self.Y0 = LowRank(U, (U.T @ ux)[:, None] * (maxwell @ V)[None, :], V)

    def density(self, Y):
        """ρ(x) = ∫ f dv."""
        if isinstance(Y, LowRank):
            return (Y.U @ (Y.S @ (Y.V.conj().T @ np.ones(self.nv)))).real * self.dv
        return np.asarray(Y).sum(axis=1) * self.dv

    def electric_field(self, Y):
        """E with ∂_x E = 1 − ρ and zero mean (FFT)."""
        rhs = np.fft.fft(1.0 - self.density(Y))
        Ehat = np.zeros_like(rhs)
        nonzero = self._kappa != 0
        Ehat[nonzero] = rhs[nonzero] / (1j * self._kappa[nonzero])
        return np.real(np.fft.ifft(Ehat))

    def electric_energy(self, Y):
        """½ ∫ E² dx."""
        return float(0.5 * np.sum(self.electric_field(Y) ** 2) * self.dx)

    def mass(self, Y):
        """∫∫ f dx dv."""
        return float(np.sum(self.density(Y)) * self.dx)

    def F(self, t, Y):
        E = self.electric_field(Y)
        if isinstance(Y, LowRank):
            transport = LowRank(self.Dx @ Y.U, -Y.S, self.v[:, None] * Y.V)
            force = LowRank(E[:, None] * Y.U, Y.S, self.Dv @ Y.V)
            return LowRank.concatenate([transport, force])
        Y = as_dense(Y)
        return -(self.Dx @ Y) * self.v[None, :] + E[:, None] * (Y @ self.Dv.T)

    def reference(self, t):  # pragma: no cover - no closed form; the checks are the rate and the invariants
        raise NotImplementedError("Landau damping has no closed-form solution; compare with LANDAU_RATE")
