"""BLAS thread limits of the Python API (issue 13): the size rule, its overrides, and that Trainer.fit
and dlra.solve really run under the limit (read back with threadpoolctl inside the run)."""
import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

import dlra  # noqa: E402
from dlra.nn import MLP  # noqa: E402
from dlra.nn.training import Trainer, network_work  # noqa: E402
from dlra.threads import ENV_VAR, SINGLE_THREAD_WORK, resolve_threads  # noqa: E402


def blas_count():
    info = [d for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
    return min(d["num_threads"] for d in info)


@pytest.fixture
def two_threads(monkeypatch):
    """BLAS at 2 threads around the test (skipped where BLAS cannot run 2), env override unset."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if blas_count() != 2:
            pytest.skip("BLAS does not run 2 threads here")
        yield


def test_size_rule_and_overrides(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_threads(None, SINGLE_THREAD_WORK - 1) == 1
    assert resolve_threads(None, SINGLE_THREAD_WORK) is None  # large products: BLAS left alone
    assert resolve_threads(3, 0) == 3
    assert resolve_threads(0, 0) is None
    monkeypatch.setenv(ENV_VAR, "2")
    assert resolve_threads(None, 0) == 2
    assert resolve_threads(1, 10 ** 12) == 1  # the argument beats the environment
    monkeypatch.setenv(ENV_VAR, "0")
    assert resolve_threads(None, 0) is None


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_bad_thread_counts_are_named(bad, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="threads"):
        resolve_threads(bad)
    net = MLP.from_sizes([6, 5, 3], ranks=2, rng=0)
    with pytest.raises(ValueError, match="threads"):
        Trainer(net, threads=bad)
    with pytest.raises(ValueError, match="threads"):
        dlra.solve(lambda t, Y: np.zeros((6, 5)), np.ones((6, 5)), (0, 1), 0.5, method="bug", rank=1,
                   threads=bad)


def test_bad_environment_is_named(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "many")
    with pytest.raises(ValueError, match=ENV_VAR):
        resolve_threads(None)


def test_network_work_counts_the_largest_product():
    net = MLP.from_sizes([784, 500, 10], ranks=[20, None], rng=0)
    # low-rank 500×784 layer at r = 20: batch·r·(m + n) = 256·20·1284; QR 784·40² is smaller
    assert network_work(net, 256) == max(256 * 20 * 1284, 784 * 40 ** 2, 256 * 10 * 500)
    dense = MLP.from_sizes([784, 500, 10], ranks=None, rng=0)
    assert network_work(dense, 256) == 256 * 784 * 500


def tiny_data(n=64):
    rng = np.random.default_rng(0)
    return {"x_train": rng.standard_normal((n, 12)), "y_train": rng.integers(0, 3, n)}


@pytest.mark.parametrize("threads, expected", [(None, 1), (0, 2), (1, 1)])
def test_fit_runs_under_the_limit(two_threads, threads, expected):
    net = MLP.from_sizes([12, 10, 3], ranks=3, rng=0)
    trainer = Trainer(net, lr=1e-2, batch_size=32, progress=False, threads=threads)
    seen = []
    trainer.fit(tiny_data(), epochs=1, callback=lambda row: seen.append(blas_count()))
    assert seen == [expected]
    assert blas_count() == 2  # restored afterwards


def test_fit_limit_from_environment(two_threads, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    trainer = Trainer(MLP.from_sizes([12, 10, 3], ranks=3, rng=0), lr=1e-2, batch_size=32, progress=False)
    seen = []
    trainer.fit(tiny_data(), epochs=1, callback=lambda row: seen.append(blas_count()))
    assert seen == [2]


@pytest.mark.parametrize("threads, expected", [(None, 1), (0, 2)])
def test_solve_runs_under_the_limit(two_threads, threads, expected):
    A = np.random.default_rng(1).standard_normal((8, 8))
    seen = []

    def record(t, Y, info):
        seen.append(blas_count())

    sol = dlra.solve(lambda t, Y: A, np.eye(8), (0, 0.2), 0.1, method="bug", rank=2, threads=threads,
                     step_callback=record)
    assert sol.status == 0
    assert seen == [expected, expected]
    assert blas_count() == 2


def test_adaptive_solve_runs_under_the_limit(two_threads):
    A = np.random.default_rng(1).standard_normal((8, 8))
    seen = []

    def record(t, Y, info):
        seen.append(blas_count())

    controller = dlra.StepSizeController(rtol=1e-3, atol=1e-6)
    sol = dlra.solve(lambda t, Y: A, np.eye(8), (0, 0.2), controller, rank=2, theta=1e-8, step_callback=record)
    assert sol.status == 0 and seen and set(seen) == {1}
    assert blas_count() == 2


def test_conv_network_work_uses_the_im2col_product():
    from dlra.nn.lenet import LeNet5
    net = LeNet5(ranks=None, rng=0)
    conv2 = net.layers[1]
    m, n = conv2.weight_shape
    positions = conv2.conv_shape[0] * conv2.conv_shape[1]
    assert network_work(net, 4) >= 4 * positions * m * n
