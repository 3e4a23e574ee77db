"""Shared test problems."""
import numpy as np
import pytest

import dlra


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """The test matrices are small: multithreaded BLAS only adds contention (and numpy and scipy
    ship separate OpenBLAS pools that fight over 2 cores). Results do not depend on it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def tangent_problem():
    """Ẏ = (1 + t)(AY + YB) − YYᵀY: the exact solution keeps rank r (ε = 0, no plateau)."""
    return dlra.problems.RankPreservingCubic()


def loglog_slope(hs, errors):
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def relative_error(Y, reference):
    return float(np.linalg.norm(np.asarray(Y) - reference) / np.linalg.norm(reference))
