"""Shared test problems."""
import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

import dlra


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """The test matrices are small: multithreaded BLAS only adds contention (and numpy and scipy
    ship separate OpenBLAS pools that fight over 2 cores). Results do not depend on it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


class TangentProblem:
    """Ẏ = (1 + t)(A Y + Y B) − Y Yᵀ Y: F(Y) lies in the tangent space at every rank-r Y, so the
    exact solution keeps rank r (ε = 0: no modelling plateau) and is the DLRA solution. The
    explicit time dependence checks the stage times of the Runge–Kutta methods."""

    def __init__(self, n=30, r=4, seed=1):
        rng = np.random.default_rng(seed)
        self.n, self.r = n, r
        self.A = 0.5 * rng.standard_normal((n, n)) / np.sqrt(n)
        self.B = 0.5 * rng.standard_normal((n, n)) / np.sqrt(n)
        self.Y0 = dlra.LowRank.random(n, n, [1, 0.5, 0.1, 0.01][:r], rng=rng)
        self._ref = {}

    def F(self, t, Y):
        Yd = np.asarray(Y)
        return (1 + t) * (self.A @ Yd + Yd @ self.B) - Yd @ (Yd.T @ Yd)

    def reference(self, t):
        if t not in self._ref:
            n = self.n
            sol = solve_ivp(lambda s, y: self.F(s, y.reshape(n, n)).ravel(), (0, t),
                            self.Y0.to_dense().ravel(), method="DOP853", rtol=1e-13, atol=1e-15)
            self._ref[t] = sol.y[:, -1].reshape(n, n)
        return self._ref[t]


@pytest.fixture(scope="session")
def tangent_problem():
    return TangentProblem()


def loglog_slope(hs, errors):
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def relative_error(Y, reference):
    return float(np.linalg.norm(np.asarray(Y) - reference) / np.linalg.norm(reference))
