"""SVD training (W = U diag(s) Vᵀ, L = L_T + λ_O L_O + λ_R L_R) and Algorithm 3 (training + rank
selection per epoch): finite-difference gradients, the layer, the trainer, checkpoints, bad input."""
import numpy as np
import pytest

from dlra.field import VectorField
from dlra.lowrank import LowRank
from dlra.nn import MLP, SVDTrainer, SVDTraining, svd_mlp
from dlra.nn.svd_training import SVDLayer, orthogonality_loss, regularization_loss, svd_objective


def _perturbed_net(seed=0):
    """Float64 SVD net with biases and non-orthonormal factors (so that every term has a gradient)."""
    rng = np.random.default_rng(seed)
    net = svd_mlp([6, 5, 4, 3], ranks=[4, 3, 3], dtype=np.float64, rng=seed)
    for layer in net.layers:
        layer.b = rng.standard_normal(layer.b.shape)
        Y = layer.weight()
        layer.set_weight(LowRank(Y.U + 0.1 * rng.standard_normal(Y.U.shape), Y.S,
                                 Y.V + 0.1 * rng.standard_normal(Y.V.shape)), np.float64)
    return net, rng.standard_normal((7, 6)), rng.integers(0, 3, 7)


@pytest.mark.parametrize("regularizer", ["nuclear", "hoyer"])
def test_gradients_match_finite_differences(regularizer):
    net, X, y = _perturbed_net()
    lam_o, lam_r = 0.7, 0.3
    integ = SVDTraining("sgd", lambda_o=lam_o, lambda_r=lam_r, regularizer=regularizer)
    items = net.parameters()
    flow = integ.flow(VectorField.wrap(net.vector_field(X, y), items, True), items)
    z = flow.initial_z()
    minus_grad = flow(0.0, z)
    assert len(z) == 3 * 3 + 3   # U, s, V per layer + 3 biases

    def objective(zz):
        net.set_parameters(flow.state(zz))
        return svd_objective(net, X, y, lam_o, lam_r, regularizer)[0]

    h = 1e-6
    worst = 0.0
    for i, zi in enumerate(z):
        for idx in np.ndindex(zi.shape):
            zp = [a.copy() for a in z]
            zm = [a.copy() for a in z]
            zp[i][idx] += h
            zm[i][idx] -= h
            fd = (objective(zp) - objective(zm)) / (2 * h)
            worst = max(worst, abs(fd + minus_grad[i][idx]) / (1 + abs(fd)))
    assert worst < 1e-7
    lo, lr = flow.penalties
    assert lo > 0 and lr > 0


def test_penalties_vanish_or_are_known_on_orthonormal_factors():
    Y = LowRank.random(8, 6, [3.0, 2.0, 1.0, 0.5])
    value, gU, gV = orthogonality_loss(Y.U, Y.V)
    assert value < 1e-28 and np.abs(gU).max() < 1e-13 and np.abs(gV).max() < 1e-13
    # (‖2I − I‖² + 0)/r² = r/r² for U scaled by √2
    assert orthogonality_loss(np.sqrt(2) * Y.U, Y.V, gradient=False)[0] == pytest.approx(1 / 4)
    s = np.array([3.0, -4.0])
    assert regularization_loss(s, "nuclear")[0] == 7.0
    assert regularization_loss(s, "hoyer")[0] == pytest.approx(7 / 5)
    # the Hoyer ratio is scale invariant: its gradient is orthogonal to s
    assert regularization_loss(s, "hoyer")[1] @ s == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="regularizer"):
        regularization_loss(s, "l2")


def test_svd_layer_applies_u_s_vt():
    net = svd_mlp([9, 7, 3], dtype=np.float64, rng=2)
    X = np.random.default_rng(3).standard_normal((5, 9))
    out = X
    for layer in net.layers:
        W = layer.weight().to_dense()
        out = out @ W.T + layer.b[:, 0]
        if layer.activation == "relu":
            out = np.maximum(out, 0)
    assert np.allclose(net.forward(X), out, atol=1e-13)
    assert all(isinstance(layer, SVDLayer) for layer in net.layers)
    assert net.ranks() == [7, 3]   # full rank, the output layer included
    # the gradient pass is the generic low-rank layer's: same result with a non-diagonal core
    layer = net.layers[0]
    Y = layer.weight()
    Q = np.linalg.qr(np.random.default_rng(4).standard_normal((7, 7)))[0]
    g1 = net.gradients(X, np.array([0, 1, 2, 0, 1]))
    layer.set_weight(LowRank(Y.U @ Q, Q.T @ Y.S, Y.V), np.float64)
    assert layer._s is None
    g2 = net.gradients(X, np.array([0, 1, 2, 0, 1]))
    assert np.allclose(g1[0].to_dense(), g2[0].to_dense(), atol=1e-13)
    # training storage U, s, V, bias
    assert layer.training_parameter_count() == 7 * (9 + 7) + 7 + 7


def _blobs(n=400, seed=0):
    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((3, 8))
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.standard_normal((n, 8))
    return {"x_train": X[:300], "y_train": y[:300], "x_val": X[300:], "y_val": y[300:]}


def test_svd_trainer_learns_and_selects_ranks():
    data = _blobs()
    net = svd_mlp([8, 16, 16, 3], rng=0, dtype=np.float64)
    epsilon = 0.02
    trainer = SVDTrainer(net, epsilon=epsilon, delta_precision=1 / 32, lr=3e-3, batch_size=32, progress=False,
                         lambda_r=1e-3)
    history = trainer.fit(data, 3)
    assert history[-1]["val_acc"] > 0.9
    assert history[-1]["loss"] < history[0]["loss"]
    ranks = [[int(r) for r in row["ranks"].split("-")] for row in history]
    assert ranks[0][0] < 8 and ranks[-1][0] <= ranks[0][0]      # the rank selection truncated layer 1
    for row in history:
        assert row["selection_loss_change"] < epsilon
        assert row["selection_evaluations"] <= 6 + 1
        assert 0 <= row["delta"] < 1
    # the continuing model is the truncated SVD: orthonormal factors right after the selection
    sel = trainer.last_selection
    assert net.ranks() == sel.ranks
    assert all(layer.weight().is_orthonormal(1e-10) for layer in net.layers)
    # training storage is U, s, V of the ranks trained with; inference r (m + n) + biases
    first = history[0]
    assert first["params_training"] == sum(min(m, n) * (m + n) + min(m, n) + n
                                           for m, n in ((8, 16), (16, 16), (16, 3)))
    assert 0 < first["orthogonality_loss"] < 1 and first["regularization_loss"] > 0


def test_svd_trainer_without_biases_keeps_them_zero_and_resumes_exactly(tmp_path):
    data = _blobs(seed=1)
    kwargs = dict(epsilon=0.05, delta_precision=1 / 16, lr=3e-3, batch_size=50, progress=False,
                  train_biases=False, regularizer="hoyer", lambda_r=1e-2)
    full = SVDTrainer(svd_mlp([8, 6, 3], rng=1, dtype=np.float64), **kwargs)
    full.fit(data, 3)
    assert all(np.all(layer.b == 0) for layer in full.net.layers)
    part = SVDTrainer(svd_mlp([8, 6, 3], rng=1, dtype=np.float64), **kwargs)
    part.fit(data, 2, out_dir=tmp_path)
    resumed = SVDTrainer.from_checkpoint(tmp_path / "checkpoint.npz", progress=False)
    assert resumed.config == part.config
    resumed.fit(data, 3)
    for a, b in zip(full.net.parameters(), resumed.net.parameters()):
        a = a.to_dense() if isinstance(a, LowRank) else a
        b = b.to_dense() if isinstance(b, LowRank) else b
        assert np.array_equal(a, b)


def test_plain_svd_training_without_selection_keeps_the_rank():
    data = _blobs(seed=2)
    net = svd_mlp([8, 5, 3], rng=2, dtype=np.float32)
    trainer = SVDTrainer(net, lr=1e-2, batch_size=64, progress=False)
    trainer.fit(data, 2)
    assert net.ranks() == [5, 3]
    assert np.isnan(trainer.history[-1]["delta"])


def test_bad_arguments_are_named():
    net = svd_mlp([4, 3, 2], rng=0)
    for kwargs, name in [({"epsilon": -1.0}, "epsilon"), ({"delta_precision": 0.0}, "delta_precision"),
                         ({"rank_rule": "heuristic"}, "rank_rule"), ({"regularizer": "l2"}, "regularizer"),
                         ({"lambda_o": -1.0}, "lambda_o"), ({"lambda_r": float("nan")}, "lambda_r"),
                         ({"selection_samples": 0}, "selection_samples")]:
        with pytest.raises(ValueError, match=name):
            SVDTrainer(net, progress=False, **kwargs)
    with pytest.raises(ValueError, match="net"):
        SVDTrainer(MLP.from_sizes([4, 3, 2], ranks=[2, None]), progress=False)
    with pytest.raises(TypeError, match="net"):
        SVDTrainer("net")


def test_cli_method_svd_trains_selects_and_resumes(tmp_path, capsys):
    from dlra.nn.cli import main

    args = ["--method", "svd", "--epsilon", "0.05", "--delta-precision", "0.125", "--lambda-o", "0.5",
            "--lambda-r", "1e-3", "--regularizer", "hoyer", "--widths", "16", "--train-limit", "600",
            "--data-dir", "embedded", "--no-progress", "--no-plot", "--out", str(tmp_path)]
    assert main(args + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "2", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "SVDTrainer(lambda_o=0.5, lambda_r=0.001, regularizer='hoyer', epsilon=0.05" in out
    assert "resuming from" in out
    import csv
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["selection_loss_change"]) < 0.05 for r in rows)
    assert all(int(r["selection_evaluations"]) <= 4 for r in rows)   # ⌊log₂ 8⌋ + 1 midpoints


@pytest.mark.parametrize("extra, flag", [(["--tau", "0.1"], "--tau"), (["--epsilon", "-1"], "epsilon"),
                                         (["--delta-precision", "2"], "--delta-precision")])
def test_cli_method_svd_bad_options(tmp_path, capsys, extra, flag):
    from dlra.nn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--method", "svd", "--data-dir", "embedded", "--out", str(tmp_path), *extra])
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err


def _load_script(name):
    from test_mnist_figures import _load   # the paper_figures loader of the MNIST script smoke tests

    return _load(name)


def test_theorem_figure_quick(tmp_path, monkeypatch, capsys):
    import csv

    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)
    paths = _load_script("svd_theorems").main(["--quick", "--out", str(tmp_path)])
    assert all(p.endswith((".png", ".pdf", ".csv")) for p in map(str, paths))
    rows1 = list(csv.DictReader(open(tmp_path / "svd_theorems.csv")))
    rows23 = list(csv.DictReader(open(tmp_path / "svd_theorems_loss.csv")))
    assert rows1 and all(r["holds"] == "True" and float(r["ratio_max"]) <= 1 for r in rows1)
    assert rows23 and all(r["holds"] == "True" for r in rows23)
    assert {r["theorem"] for r in rows23} == {"2", "3"}


def test_comparison_script_quick(tmp_path, monkeypatch, capsys):
    import csv

    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)
    _load_script("svd_comparison").main(["--quick", "--out", str(tmp_path), "--no-progress", "--epsilons", "0.05",
                                         "--taus", "0.1", "--vanilla-ranks", "8"])
    rows = list(csv.DictReader(open(tmp_path / "comparison.csv")))
    assert {r["method"] for r in rows} == {"dense", "svd", "svd (poster rule)", "dlrt", "vanilla"}
    assert (tmp_path / "comparison.png").is_file() and (tmp_path / "comparison.md").is_file()


def test_svd_trainer_on_lenet5_conv_layers():
    """The conv layers of LeNet5 hold LowRank weights (out × in·k·k): SVD training and rank selection
    apply unchanged."""
    from dlra.data import load_mnist
    from dlra.nn.lenet import LENET5_MAX_RANKS, LeNet5
    from dlra.nn.svd_training import svd_training_parameter_count

    d = load_mnist("embedded")
    data = {"x_train": d.x_train[:64], "y_train": d.y_train[:64]}
    net = LeNet5(ranks=list(LENET5_MAX_RANKS), rng=0, dtype=np.float32)
    count = svd_training_parameter_count(net)
    assert count == sum(r * (m + n) + r + m for r, (m, n) in zip(LENET5_MAX_RANKS,
                                                                   [(20, 25), (50, 500), (500, 800), (10, 500)]))
    trainer = SVDTrainer(net, epsilon=0.05, delta_precision=1 / 4, lr=1e-3, batch_size=32, progress=False)
    row = trainer.fit(data, 1)[0]
    assert row["params_training"] == count
    assert row["selection_loss_change"] < 0.05
    assert net.ranks() == trainer.last_selection.ranks
    assert all(layer.weight().is_orthonormal(1e-4) for layer in net.layers)


def test_checkpoint_of_another_method_is_refused(tmp_path):
    from dlra.nn import Trainer
    from dlra.nn.checkpoint import CheckpointError

    net = MLP.from_sizes([8, 4, 3], ranks=2, rng=0)
    trainer = Trainer(net, "dlrt", progress=False)
    trainer.save_checkpoint(tmp_path / "c.npz")
    with pytest.raises(CheckpointError, match="SVD"):
        SVDTrainer.from_checkpoint(tmp_path / "c.npz")
