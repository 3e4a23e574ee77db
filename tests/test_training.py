"""DLRT training: the step is the core integrator's step, pass counts, exactness, rank adaptivity,
checkpoint/resume, reproducibility, baselines and accuracy on real MNIST data (issue 4)."""
import numpy as np
import pytest

import dlra
from dlra.data import load_mnist
from dlra.nn import MLP
from dlra.nn.baselines import VanillaFactorGD, split_factors
from dlra.nn.training import Trainer, make_integrator, training_parameter_counts


@pytest.fixture(scope="module")
def mnist():
    return load_mnist("embedded")


@pytest.fixture(scope="module")
def small(mnist):
    """1200 training images of the embedded (real) MNIST subset, 300 for validation and test."""
    return {"x_train": mnist.x_train[:1200], "y_train": mnist.y_train[:1200],
            "x_val": mnist.x_val[:300], "y_val": mnist.y_val[:300],
            "x_test": mnist.x_test[:300], "y_test": mnist.y_test[:300]}


def batch(seed=0, n=40, n_in=30, n_out=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)), rng.integers(0, n_out, n)


def tiny_net(ranks=4, seed=1, dtype=np.float64):
    return MLP.from_sizes([30, 24, 20, 5], ranks=ranks, rng=seed, dtype=dtype)


def dense_state(items):
    return [item.to_dense() if isinstance(item, dlra.LowRank) else np.asarray(item) for item in items]


def assert_states_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(dense_state(a), dense_state(b)):
        np.testing.assert_array_equal(x, y)


def assert_factors_equal(a, b):
    """Bitwise equality of the stored factors (stronger than equal products)."""
    for x, y in zip(a, b):
        if isinstance(x, dlra.LowRank):
            for f in ("U", "S", "V"):
                np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
        else:
            np.testing.assert_array_equal(x, y)


class FreshS(dlra.SGD):
    """SGD that evaluates F afresh at the start of the S-step instead of reusing F(t0, W0)."""

    def integrate(self, flow, t0, t1, z0, f0=None):
        return super().integrate(flow, t0, t1, z0, None if flow.kind == "S" else f0)


class FreshSAdam(dlra.Adam):
    def integrate(self, flow, t0, t1, z0, f0=None):
        return super().integrate(flow, t0, t1, z0, None if flow.kind == "S" else f0)


# ------------------------------------------------------------------ the step is the core's step
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_dlrt_step_is_core_integrator_step_with_one_pass(optimizer):
    X, y = batch()
    net = tiny_net()
    trainer = Trainer(net, "dlrt", tau=0.05, optimizer=optimizer, lr=0.05, progress=False)
    reference = tiny_net()
    integrator = make_integrator("dlrt", optimizer, tau=0.05)
    assert isinstance(integrator, dlra.AdaptiveBUG)
    for step in range(3):
        Xb, yb = batch(seed=10 + step)
        passes = net.passes
        trainer.train_step(Xb, yb)
        assert net.passes - passes == 1          # K, L and S share one forward/backward pass
        new = integrator.step(reference.vector_field(Xb, yb), step * 0.05, reference.parameters(), h=0.05)
        reference.set_parameters(new)
        assert_factors_equal(net.parameters(), reference.parameters())
    assert trainer.rank_history[-1]["step"] == 3
    assert [trainer.rank_history[-1][f"rank_{k}"] for k in (1, 2)] == net.ranks()


def test_fixed_rank_bug_step_makes_two_passes():
    X, y = batch()
    net = tiny_net()
    trainer = Trainer(net, "bug", optimizer="sgd", lr=0.05, progress=False)
    passes = net.passes
    trainer.train_step(X, y)
    assert net.passes - passes == 2          # the S-step starts from M S0 Nᵀ ≠ W0
    assert net.ranks() == [4, 4]


@pytest.mark.parametrize("fresh_cls, plain_cls", [(FreshS, dlra.SGD), (FreshSAdam, dlra.Adam)])
def test_one_pass_step_equals_two_pass_step(fresh_cls, plain_cls):
    """Reusing F(t0, W0) for the augmented S-step is exact: Û Ŝ0 V̂ᵀ = W0."""
    for seed in range(3):
        X, y = batch(seed=seed)
        net1, net2 = tiny_net(seed=seed), tiny_net(seed=seed)
        one = dlra.AdaptiveBUG(substep=plain_cls(), truncation=dlra.RelativeTolerance(0.05))
        two = dlra.AdaptiveBUG(substep=fresh_cls(), truncation=dlra.RelativeTolerance(0.05))
        p1 = net1.passes
        Y1 = one.step(net1.vector_field(X, y), 0.0, net1.parameters(), h=0.05)
        assert net1.passes - p1 == 1
        p2 = net2.passes
        Y2 = two.step(net2.vector_field(X, y), 0.0, net2.parameters(), h=0.05)
        assert net2.passes - p2 == 2
        assert [Y.rank for Y in Y1 if isinstance(Y, dlra.LowRank)] == \
               [Y.rank for Y in Y2 if isinstance(Y, dlra.LowRank)]
        for a, b in zip(dense_state(Y1), dense_state(Y2)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(1.0, np.abs(b).max()))


def test_step_without_truncation_loses_nothing():
    """τ = 0, SGD: W1 = W0 + h P_Û F0 P_V̂ with span Û = span[U0, F0 V0], span V̂ = span[V0, F0ᵀ U0]
    (checks the orientation of the SVD factors), ranks double, dense items b1 = b0 + h F0_b."""
    X, y = batch(seed=3)
    r, h = 4, 0.1
    net = tiny_net(ranks=r)
    W0 = net.copy_parameters()
    F0 = [-g.to_dense() if isinstance(g, dlra.nn.FactoredGradient) else -g for g in net.gradients(X, y)]
    trainer = Trainer(net, "dlrt", tau=0.0, optimizer="sgd", lr=h, progress=False)
    trainer.train_step(X, y)
    W1 = net.parameters()
    assert net.ranks() == [2 * r, 2 * r]
    for k, (w0, w1, f) in enumerate(zip(W0, W1, F0)):
        if isinstance(w0, dlra.LowRank):
            Q_U = np.linalg.qr(np.hstack([w0.U, f @ w0.V]))[0]
            Q_V = np.linalg.qr(np.hstack([w0.V, f.T @ w0.U]))[0]
            expected = w0.to_dense() + h * Q_U @ (Q_U.T @ f @ Q_V) @ Q_V.T
            np.testing.assert_allclose(w1.to_dense(), expected, rtol=0, atol=1e-12 * np.abs(expected).max())
            # new bases orthonormal, core diagonal (the truncated SVD)
            np.testing.assert_allclose(w1.U.T @ w1.U, np.eye(2 * r), atol=1e-12)
            np.testing.assert_allclose(w1.V.T @ w1.V, np.eye(2 * r), atol=1e-12)
        else:
            np.testing.assert_allclose(w1, w0 + h * f, rtol=0, atol=1e-14)


def test_ranks_fall_as_tau_grows(small):
    final = []
    for tau in (0.0, 0.05, 0.15, 0.4):
        net = MLP.from_sizes([784, 64, 64, 10], ranks=24, rng=0)
        trainer = Trainer(net, "dlrt", tau=tau, lr=3e-3, batch_size=200, progress=False)
        trainer.fit(small, 1)
        final.append(net.ranks())
    for lower, higher in zip(final, final[1:]):
        assert all(a >= b for a, b in zip(lower, higher)), final
    assert sum(final[0]) > sum(final[-1])
    assert final[0] == [64, 64]       # nothing truncated: the rank doubles each step up to min(m, n)


def test_theta_and_rank_caps():
    X, y = batch()
    net = tiny_net(ranks=4)
    trainer = Trainer(net, "dlrt", theta=1e-12, max_rank=6, optimizer="sgd", lr=0.05, progress=False)
    assert isinstance(trainer.integrator.truncation, dlra.AbsoluteTolerance)
    trainer.train_step(X, y)
    assert net.ranks() == [6, 6]
    net = tiny_net(ranks=4)
    trainer = Trainer(net, "dlrt", tau=0.99, min_rank=3, optimizer="sgd", lr=0.05, progress=False)
    trainer.train_step(X, y)
    assert net.ranks() == [3, 3]


# ------------------------------------------------------------------ reproducibility and resume
def run(data, epochs, seed=0, method="dlrt", optimizer="adam", ranks=16, out_dir=None, lr_decay=1.0):
    net = MLP.from_sizes([784, 64, 64, 10], ranks=None if method == "dense" else ranks, rng=seed)
    trainer = Trainer(net, method, optimizer=optimizer, batch_size=100, seed=seed, progress=False,
                      lr_decay=lr_decay, **({"tau": 0.1} if method == "dlrt" else {}))
    trainer.fit(data, epochs, out_dir=out_dir)
    return trainer


def test_same_seed_gives_identical_runs(small):
    a, b, c = run(small, 1), run(small, 1), run(small, 1, seed=1)
    assert_factors_equal(a.net.parameters(), b.net.parameters())
    assert a.rank_history == b.rank_history
    assert not np.array_equal(dense_state(a.net.parameters())[0], dense_state(c.net.parameters())[0])


@pytest.mark.parametrize("method, optimizer", [("dlrt", "adam"), ("dlrt", "momentum"), ("vanilla", "sgd"),
                                               ("dense", "adam"), ("bug", "adam")])
def test_checkpoint_resume_equals_uninterrupted_run(small, tmp_path, method, optimizer):
    full = run(small, 2, method=method, optimizer=optimizer)
    first = run(small, 1, method=method, optimizer=optimizer, out_dir=tmp_path)
    for name in ("checkpoint.npz", "history.csv", "ranks_per_step.csv"):
        assert (tmp_path / name).is_file()
    resumed = Trainer.from_checkpoint(tmp_path / "checkpoint.npz", progress=False)
    assert (resumed.epoch, resumed.step) == (first.epoch, first.step)
    resumed.fit(small, 2)
    assert_factors_equal(resumed.net.parameters(), full.net.parameters())
    assert resumed.rank_history == full.rank_history
    assert [row["test_acc"] for row in resumed.history] == [row["test_acc"] for row in full.history]
    # the same through load_checkpoint on a freshly built trainer
    other = run(small, 0, method=method, optimizer=optimizer)
    other.load_checkpoint(tmp_path / "checkpoint.npz").fit(small, 2)
    assert_factors_equal(other.net.parameters(), full.net.parameters())


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_checkpoint_resume_at_half_width_rank_equals_uninterrupted_run(small, tmp_path, optimizer):
    """At rank 32 of width 64 the augmented bases span the whole space and are taken from the previous
    truncation's complement (no QR); the checkpoint keeps that relation (and, for stateless SGD, the
    square basis it refers to), so the resumed run is still bit-identical to the uninterrupted one."""
    from dlra.lineage import complement

    def fit(epochs, out_dir=None):
        net = MLP.from_sizes([784, 64, 64, 10], ranks=32, rng=0)
        trainer = Trainer(net, "dlrt", optimizer=optimizer, batch_size=200, seed=0, progress=False,
                          tau=1e-3, min_rank=32, max_rank=32)
        trainer.fit(small, epochs, out_dir=out_dir)
        return trainer

    full = fit(2)
    first = fit(1, out_dir=tmp_path)
    assert complement(first.net.layers[1].Y.U) is not None  # the fast path is in use
    resumed = Trainer.from_checkpoint(tmp_path / "checkpoint.npz", progress=False)
    assert complement(resumed.net.layers[1].Y.U) is not None
    resumed.fit(small, 2)
    assert resumed.net.ranks()[:2] == [32, 32]
    assert_factors_equal(resumed.net.parameters(), full.net.parameters())


def test_lr_decay_shortens_the_steps_and_resumes_exactly(small, tmp_path):
    """Epoch e uses h = lr·decay^e; the flow time t is the sum of the steps; resume keeps both."""
    full = run(small, 2, lr_decay=0.5)
    steps_per_epoch = full.step // 2
    assert np.isclose(full.t, full.lr * steps_per_epoch * (1 + 0.5))
    run(small, 1, lr_decay=0.5, out_dir=tmp_path)
    resumed = Trainer.from_checkpoint(tmp_path / "checkpoint.npz", progress=False)
    assert resumed.current_lr == full.lr * 0.5
    resumed.fit(small, 2)
    assert_factors_equal(resumed.net.parameters(), full.net.parameters())
    constant = Trainer(MLP.from_sizes([784, 64, 64, 10], ranks=16, rng=0), "dlrt", tau=0.1, batch_size=100,
                       progress=False)
    with pytest.raises(ValueError, match="lr_decay"):
        constant.load_checkpoint(tmp_path / "checkpoint.npz")


def test_checkpoint_with_other_configuration_is_refused(small, tmp_path):
    run(small, 1, out_dir=tmp_path)
    net = MLP.from_sizes([784, 64, 64, 10], ranks=16, rng=0)
    with pytest.raises(ValueError, match="lr"):
        Trainer(net, "dlrt", tau=0.1, lr=1e-2, batch_size=100, progress=False).load_checkpoint(
            tmp_path / "checkpoint.npz")
    net = MLP.from_sizes([784, 32, 10], ranks=16, rng=0)
    with pytest.raises(ValueError, match="network"):
        Trainer(net, "dlrt", tau=0.1, batch_size=100, progress=False).load_checkpoint(tmp_path / "checkpoint.npz")
    with pytest.raises(FileNotFoundError):
        Trainer.from_checkpoint(tmp_path / "missing.npz")


# ------------------------------------------------------------------ metrics and baselines
def test_history_rows_and_parameter_counts(small):
    trainer = run(small, 1)
    row = trainer.history[-1]
    for key in ("epoch", "loss", "train_acc", "val_acc", "test_acc", "ranks", "rank_1", "rank_2",
                "params_inference", "params_training", "compression_inference", "compression_training",
                "passes_per_step", "seconds"):
        assert key in row
    assert row["passes_per_step"] == 1.0
    assert row["ranks"] == f"{row['rank_1']}-{row['rank_2']}"
    r1, r2 = row["rank_1"], row["rank_2"]
    assert row["params_inference"] == r1 * (784 + 64) + r2 * (64 + 64) + 64 * 10 + 64 + 64 + 10
    assert row["params_training"] == (2 * r1 * (784 + 64) + r1 ** 2 + 2 * r2 * (64 + 64) + r2 ** 2
                                      + 64 * 10 + 64 + 64 + 10)
    dense = 784 * 64 + 64 * 64 + 64 * 10 + 64 + 64 + 10
    assert row["params_dense"] == dense
    assert row["compression_inference"] == pytest.approx(1 - row["params_inference"] / dense)
    assert row["loss"] < 2.3 and 0 <= row["test_acc"] <= 1
    dense_trainer = run(small, 1, method="dense")
    assert dense_trainer.history[-1]["compression_training"] == 0.0
    assert dense_trainer.history[-1]["ranks"] == ""
    vanilla = run(small, 1, method="vanilla", optimizer="sgd")
    counts = training_parameter_counts(vanilla.net, "vanilla")
    assert counts["training"] == counts["inference"]


def test_vanilla_step_is_gradient_descent_on_the_factors():
    X, y = batch(seed=4)
    h = 0.05
    net = tiny_net()
    W0 = net.copy_parameters()
    F0 = [-g.to_dense() if isinstance(g, dlra.nn.FactoredGradient) else -g for g in net.gradients(X, y)]
    trainer = Trainer(net, "vanilla", optimizer="sgd", lr=h, progress=False)
    assert isinstance(trainer.integrator, VanillaFactorGD)
    trainer.train_step(X, y)
    for w0, w1, f in zip(W0, net.parameters(), F0):
        if isinstance(w0, dlra.LowRank):
            U, V = split_factors(w0)
            np.testing.assert_allclose(U @ V.T, w0.to_dense(), atol=1e-12)
            np.testing.assert_array_equal(w1.S, np.eye(w0.rank))
            np.testing.assert_allclose(w1.U, U + h * f @ V, atol=1e-12)
            np.testing.assert_allclose(w1.V, V + h * f.T @ U, atol=1e-12)
        else:
            np.testing.assert_allclose(w1, w0 + h * f, atol=1e-14)


def test_bad_arguments():
    net = tiny_net()
    with pytest.raises(ValueError, match="dense"):
        Trainer(net, "dense")
    with pytest.raises(ValueError, match="low-rank"):
        Trainer(tiny_net(ranks=None), "dlrt")
    with pytest.raises(ValueError, match="tau"):
        Trainer(net, "bug", tau=0.1)
    with pytest.raises(ValueError, match="only one"):
        Trainer(net, "dlrt", tau=0.1, theta=0.1)
    with pytest.raises(ValueError, match="method"):
        Trainer(net, "nonsense")
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(net, optimizer="rmsprop")
    with pytest.raises(ValueError, match="lr"):
        Trainer(net, lr=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(net, batch_size=0)
    with pytest.raises(ValueError, match="x_train"):
        Trainer(net, progress=False).fit({"x_train": np.zeros((3, 7)), "y_train": np.zeros(3, int)}, 1)


@pytest.mark.slow
def test_dlrt_reaches_90_percent_on_real_mnist(mnist):
    """DLRT (τ = 0.1, Adam) on the embedded real MNIST subset (5,000 training images)."""
    net = MLP.from_sizes([784, 128, 128, 10], ranks=64, rng=0)
    trainer = Trainer(net, "dlrt", tau=0.1, lr=2e-3, batch_size=64, seed=0, progress=False)
    history = trainer.fit(mnist, 6)
    assert history[-1]["test_acc"] >= 0.90, history[-1]
    assert max(net.ranks()) < 64                # τ truncated the ranks
    assert history[-1]["compression_inference"] > 0.3


# ------------------------------------------------------------------ the command line
def test_cli_train_writes_outputs_and_resumes(tmp_path, capsys):
    from dlra.nn import cli as nn_cli

    out = tmp_path / "run"
    common = ["--data-dir", "embedded", "--train-limit", "600", "--widths", "32", "32", "--rank", "8",
              "--batch-size", "100", "--out", str(out), "--no-progress"]
    assert nn_cli.main(["--epochs", "1", "--tau", "0.1"] + common) == 0
    for name in ("history.csv", "ranks_per_step.csv", "checkpoint.npz", "ranks.png"):
        assert (out / name).is_file(), name
    text = capsys.readouterr().out
    assert "epoch   1/1" in text and "test accuracy" in text
    assert nn_cli.main(["--epochs", "2", "--resume"] + common) == 0
    assert "resuming" in capsys.readouterr().out
    import csv
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    with open(out / "ranks_per_step.csv") as handle:
        steps = list(csv.DictReader(handle))
    assert len(steps) == 12 and {"step", "epoch", "rank_1", "rank_2"} <= set(steps[0])
    # an uninterrupted two-epoch run gives the same final weights
    straight = tmp_path / "straight"
    common[common.index(str(out))] = str(straight)
    assert nn_cli.main(["--epochs", "2", "--tau", "0.1"] + common) == 0
    a = Trainer.from_checkpoint(out / "checkpoint.npz", progress=False).net.parameters()
    b = Trainer.from_checkpoint(straight / "checkpoint.npz", progress=False).net.parameters()
    assert_factors_equal(a, b)


@pytest.mark.parametrize("method", ["dense", "vanilla", "ksl"])
def test_cli_baselines_and_other_methods(tmp_path, method):
    from dlra.nn import cli as nn_cli

    args = ["--method", method, "--epochs", "1", "--data-dir", "embedded", "--train-limit", "300",
            "--widths", "32", "--rank", "8", "--out", str(tmp_path), "--no-progress", "--no-plot"]
    assert nn_cli.main(args) == 0
    assert (tmp_path / "history.csv").is_file()


def test_cli_rejects_bad_arguments(tmp_path):
    from dlra.nn import cli as nn_cli

    with pytest.raises(SystemExit):
        nn_cli.main(["--method", "bug", "--tau", "0.1", "--train-limit", "100", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        nn_cli.main(["--epochs", "-1", "--out", str(tmp_path)])
