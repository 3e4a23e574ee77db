"""Bad input fails early with a message naming the argument; NaN from F ends the run cleanly."""
import numpy as np
import pytest

import dlra


def field(t, Y):
    return -np.asarray(Y)


Y0 = dlra.LowRank.random(8, 6, [1.0, 0.5], rng=0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(t_span=(1, 0)), ValueError, "t_span must satisfy t0 < t1"),
    (dict(t_span=(0,)), ValueError, "t_span must be a pair"),
    (dict(h=-0.1), ValueError, "h must be a positive"),
    (dict(h=np.nan), ValueError, "h must be a positive"),
    (dict(method="rk45"), ValueError, "method must be one of"),
    (dict(theta=-1e-3, method="adaptive_bug"), ValueError, "theta must be finite and nonnegative"),
    (dict(theta=1e-3, method="bug"), ValueError, "fixed-rank method"),
    (dict(t_eval=[0.5, 0.2]), ValueError, "t_eval must be a strictly increasing"),
    (dict(t_eval=[2.0]), ValueError, "t_eval must lie inside t_span"),
    (dict(Y0=np.ones((4, 3))), ValueError, "needs rank="),
    (dict(Y0=np.ones((4, 3)), rank=5), ValueError, r"rank must be an integer in \[1, min\(m, n\) = 3\]"),
    (dict(Y0=dlra.LowRank(np.ones((3, 4)), np.eye(4), np.ones((5, 4)))), ValueError, r"Y0 has rank 4 > min\(m, n\) = 3"),
    (dict(Y0=dlra.LowRank(np.full((8, 1), np.nan), np.eye(1), np.ones((6, 1)))), ValueError, "Y0 is not finite"),
    (dict(Y0=[Y0, np.array([[np.inf]])]), ValueError, r"Y0\[1\] is not finite"),
    (dict(Y0="abc"), TypeError, "Y0 must be a LowRank"),
    (dict(Y0=[np.ones((2, 2))]), TypeError, "at least one LowRank"),
    (dict(F=42), TypeError, "F must be callable"),
    (dict(substep="leapfrog"), ValueError, "unknown substep solver"),
    (dict(max_norm=-1.0), ValueError, "max_norm must be a positive"),
    (dict(method="ksl", scheme="yoshida"), ValueError, "scheme must be 'lie' or 'strang'"),
    (dict(method="bug", order=3), TypeError, "bad option for method 'bug'"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, error, match):
    args = dict(F=field, Y0=Y0, t_span=(0, 1), h=0.1, method="bug")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        dlra.solve(args.pop("F"), args.pop("Y0"), args.pop("t_span"), args.pop("h"), **args)


def test_wrong_shape_from_F_is_reported():
    with pytest.raises(ValueError, match=r"F\(t, Y\)\[0\] has shape \(3, 3\), expected \(8, 6\)"):
        dlra.solve(lambda t, Y: np.ones((3, 3)), Y0, (0, 1), 0.1, method="bug")
    with pytest.raises(ValueError, match="returned 1 values for a state of 2 matrices"):
        dlra.solve(lambda t, Y: [np.ones((8, 6))], [Y0, Y0], (0, 1), 0.1, method="bug")


@pytest.mark.parametrize("method", sorted(dlra.METHODS))
def test_nan_from_F_ends_the_run_with_a_failed_status(method):
    def F(t, Y):
        D = -np.asarray(Y)
        return D * np.nan if t > 0.25 else D

    theta = 1e-8 if dlra.METHODS[method].requires_truncation else None
    sol = dlra.solve(F, Y0, (0, 1), 0.1, method=method, theta=theta)
    assert sol.status == -1 and not sol.success
    assert "t = 0.3" in sol.message and "non-finite" in sol.message or "NaN" in sol.message
    assert sol.t[-1] <= 0.3 + 1e-12
    for Y in sol.Y:  # no NaN reaches the saved states
        assert np.all(np.isfinite(np.asarray(Y)))


def test_blow_up_is_reported():
    sol = dlra.solve(lambda t, Y: 50 * np.asarray(Y), Y0, (0, 1), 0.1, method="bug", max_norm=1e6)
    assert sol.status == -2 and "blow-up" in sol.message


def test_step_rejects_bad_arguments():
    with pytest.raises(ValueError, match="h must be a positive"):
        dlra.BUG().step(field, 0.0, Y0, 0.0)
    with pytest.raises(ValueError, match="t must be a finite"):
        dlra.BUG().step(field, np.inf, Y0, 0.1)
    with pytest.raises(TypeError, match="theta"):
        dlra.BUG(theta=0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_all_finite_finds_every_bad_entry_and_survives_overflow(dtype):
    """all_finite's first pass is a dot product Σ|a|²: every NaN/±inf entry (also in an imaginary part,
    and in a strided view) must be found, and huge finite entries whose squares overflow must pass."""
    from dlra.linalg import all_finite
    a = np.arange(1, 21, dtype=dtype).reshape(5, 4)
    assert all_finite(a) and all_finite(a.T) and all_finite(a[:, ::2]) and all_finite(a[:0])
    for bad in (np.nan, np.inf, -np.inf):
        for i, j in ((0, 0), (2, 3), (4, 1)):
            b = a.copy()
            b[i, j] = bad
            assert not all_finite(b) and not all_finite(b.T) and not all_finite(b[:, j:j + 1])
            if np.iscomplexobj(b):
                c = a.copy()
                c[i, j] = complex(1.0, bad)
                assert not all_finite(c)
    assert all_finite(np.full((3, 3), np.finfo(dtype).max / 2, dtype=dtype))
