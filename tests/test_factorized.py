"""Factorised low-rank training (Kamalakara et al. 2022): initialisations, regularisers, effective
rank, pre-training, interpolation, and the factored initialisation of large layers."""
import tracemalloc

import numpy as np
import pytest

from dlra import SGD, AdaptiveBUG, RelativeTolerance
from dlra.lowrank import LowRank
from dlra.nn import (INITS, MLP, LowRankLayer, Trainer, VanillaFactorGD, dense_init, effective_rank, factor_init,
                     factorize, interpolate, pretrain_dense, rank_above, regularized_field, spectral_init)
from dlra.nn.factorized import (_polar_term, frobenius_decay_gradients, marchenko_pastur_singular_values,
                                spectrum_columns)


def _rand(rng, m, n):
    return rng.standard_normal((m, n))


# ------------------------------------------------------------------------------- initialisation
def test_spectral_init_is_the_truncated_svd_to_round_off():
    rng = np.random.default_rng(0)
    W = _rand(rng, 40, 25)
    P, sigma, Qh = np.linalg.svd(W, full_matrices=False)
    for r in (1, 7, 25):
        U, V = spectral_init(W, r)
        best = (P[:, :r] * sigma[:r]) @ Qh[:r]
        assert np.linalg.norm(U @ V.T - best) <= 1e-13 * np.linalg.norm(W)
        # Eckart–Young: the error is the ℓ² tail of the singular values
        assert np.isclose(np.linalg.norm(W - U @ V.T), np.linalg.norm(sigma[r:]), rtol=1e-12, atol=1e-12)
        # balanced: UᵀU = VᵀV = Σ_r
        assert np.allclose(U.T @ U, np.diag(sigma[:r]), atol=1e-12)
        assert np.allclose(V.T @ V, np.diag(sigma[:r]), atol=1e-12)
    with pytest.raises(ValueError, match="rank"):
        spectral_init(W, 26)
    with pytest.raises(ValueError, match="W"):
        spectral_init(np.ones(3), 1)


def test_inits_share_the_norm_and_differ_only_where_they_should():
    m, n, r = 30, 50, 6
    ref = np.linalg.svd(dense_init(n, m, rng=3), full_matrices=False)
    norm = np.linalg.norm(ref[1][:r])
    Ys = {init: factor_init(n, m, r, init, rng=3) for init in INITS}
    si = Ys["spectral"]
    assert np.allclose(si.to_dense(), (ref[0][:, :r] * ref[1][:r]) @ ref[2][:r], atol=1e-12)
    for init in ("random_values", "flat_values", "random_directions"):
        Y = Ys[init]
        assert np.isclose(Y.norm(), norm, rtol=1e-12)
        sv = Y.singular_values()
        if init == "flat_values":
            assert np.allclose(sv, norm / np.sqrt(r), rtol=1e-12)
        if init == "random_directions":
            assert np.allclose(sv, ref[1][:r], rtol=1e-12)
            # random directions: far from SI's left subspace
            assert np.linalg.norm(ref[0][:, :r].T @ Y.U) < 0.9 * np.sqrt(r)
        else:
            # SI's directions, exactly: the column spaces coincide
            assert np.allclose(Y.U, ref[0][:, :r], atol=1e-12) and np.allclose(Y.V, ref[2][:r].T, atol=1e-12)
    # "random": independent Gaussian factors, E‖U Vᵀ‖² = E‖W₀‖² = m n s² (loosely, one draw)
    Y = Ys["random"]
    assert np.array_equal(Y.S, np.eye(r))
    s2 = 2.0 / n
    assert 0.5 < Y.norm() ** 2 / (m * n * s2) < 2.0


def test_layer_default_init_unchanged_and_vanilla_keeps_random_factors():
    # the default spectral init is still the truncated SVD of dense_init with the same generator
    layer = LowRankLayer(20, 15, 4, rng=7)
    W0 = dense_init(20, 15, rng=7)
    assert np.allclose(layer.weight().to_dense(), LowRank.from_dense(W0, rank=4).to_dense(), atol=1e-12)
    with pytest.raises(ValueError, match="init"):
        LowRankLayer(20, 15, 4, init="svd")


def test_marchenko_pastur_values_match_a_gaussian_matrix():
    rng = np.random.default_rng(1)
    for m, n in ((600, 300), (400, 400)):
        G = 0.3 * rng.standard_normal((m, n))
        sv = np.linalg.svd(G, compute_uv=False)
        pred = marchenko_pastur_singular_values(m, n, 40, std=0.3)
        # edge fluctuations are O(n^{-2/3}) (Tracy–Widom); the bulk quantiles are tighter
        assert np.max(np.abs(pred - sv[:40]) / sv[:40]) < 0.05
        assert np.all(np.diff(pred) <= 0)


def test_large_layer_is_built_in_factored_form_with_bounded_memory():
    tracemalloc.start()
    layer = LowRankLayer(20000, 20000, 5, rng=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the dense W₀ would take 3.2 GB; the factors 2 · 20000 · 5 · 8 B = 1.6 MB
    assert peak < 20e6
    Y = layer.weight()
    assert Y.is_orthonormal(atol=1e-12)
    std = np.sqrt(2.0 / 20000)
    assert np.allclose(np.diag(Y.S), marchenko_pastur_singular_values(20000, 20000, 5, std), rtol=1e-12)
    # same spectrum as a moderately sized dense init, to leading order (compare 800 × 800)
    small = np.linalg.svd(dense_init(800, 800, rng=0), compute_uv=False)[:5]
    assert np.allclose(marchenko_pastur_singular_values(800, 800, 5, np.sqrt(2 / 800)), small, rtol=0.04)


# ------------------------------------------------------------------------------- effective rank
def test_effective_rank_of_known_spectra():
    assert effective_rank(np.ones(7)) == pytest.approx(7.0, rel=1e-14)
    assert effective_rank(np.array([3.0, 0, 0, 0])) == pytest.approx(1.0, abs=1e-15)
    assert effective_rank(np.zeros(3)) == 0.0
    rng = np.random.default_rng(2)
    s = np.sort(rng.random(10))[::-1]
    e = effective_rank(s)
    assert 1.0 < e < 10.0
    assert effective_rank(5 * s) == pytest.approx(e, rel=1e-14)          # scale invariant
    p = s / s.sum()
    assert e == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-14)
    assert rank_above(np.array([1.0, 0.5, 0.011, 0.009, 0.0])) == 3
    with pytest.raises(ValueError, match="sigma"):
        effective_rank(np.array([1.0, -1.0]))


def test_history_records_effective_rank_per_layer():
    from dlra.data import load_mnist
    data = load_mnist("embedded")
    small = {"x_train": data.x_train[:512], "y_train": data.y_train[:512]}
    net = MLP.from_sizes([784, 24, 16, 10], ranks=6, rng=0, dtype=np.float64)
    trainer = Trainer(net, "vanilla", optimizer="sgd", lr=0.05, progress=False)
    row = trainer.fit(small, 1)[-1]
    for k, layer in enumerate(net.layers, 1):
        sv = np.linalg.svd(np.asarray(layer.weight().to_dense() if layer.lowrank else layer.weight()),
                           compute_uv=False)
        assert row[f"erank_{k}"] == pytest.approx(effective_rank(sv), rel=1e-9)
        assert row[f"rank1pct_{k}"] == rank_above(sv)
    assert row == {**row, **spectrum_columns(net)}


# ------------------------------------------------------------------------------- regularisers
def test_frobenius_decay_gradients_finite_differences():
    rng = np.random.default_rng(4)
    U, V, lam = _rand(rng, 9, 3), _rand(rng, 7, 3), 0.3

    def pen(U, V):
        return 0.5 * lam * np.linalg.norm(U @ V.T) ** 2

    gU, gV = frobenius_decay_gradients(U, V, lam)
    eps = 1e-6
    for A, g, which in ((U, gU, 0), (V, gV, 1)):
        D = rng.standard_normal(A.shape)
        plus = pen(U + eps * D, V) if which == 0 else pen(U, V + eps * D)
        minus = pen(U - eps * D, V) if which == 0 else pen(U, V - eps * D)
        assert (plus - minus) / (2 * eps) == pytest.approx(np.sum(g * D), rel=1e-7)


def _zero_field(shape):
    return lambda t, items: [np.zeros(shape)]


def test_frobenius_decay_in_the_vanilla_factor_flow_and_in_dlrt():
    rng = np.random.default_rng(5)
    m, n, r, lam, h = 12, 10, 3, 0.4, 0.1
    U, V = _rand(rng, m, r), _rand(rng, n, r)
    G = regularized_field(_zero_field((m, n)), [0], frobenius_decay=lam)
    # vanilla: one SGD step on the factors is U − h λ U(VᵀV), V − h λ V(UᵀU), computed without U Vᵀ
    Y1 = VanillaFactorGD().step(G, 0.0, [LowRank(U, np.eye(r), V)], h)[0]
    gU, gV = frobenius_decay_gradients(U, V, lam)
    assert np.allclose(Y1.U, U - h * gU, atol=1e-13) and np.allclose(Y1.V, V - h * gV, atol=1e-13)
    # DLRT: the K-, L- and S-flows all get −λ(·), so one Euler step scales W by (1 − hλ) exactly
    Y0 = LowRank(U, np.eye(r), V).orthonormalize()
    W1 = AdaptiveBUG(substep=SGD(), truncation=RelativeTolerance(1e-8)).step(G, 0.0, [Y0], h)[0]
    assert np.linalg.norm(W1.to_dense() - (1 - h * lam) * Y0.to_dense()) <= 1e-13 * Y0.norm()
    assert W1.rank == r


def test_weight_decay_on_factors_and_nuclear_term_finite_differences():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((64, 6))
    net = MLP.from_sizes([6, 5, 3], ranks=[2, None], rng=1, dtype=np.float64, init="random")
    y = rng.integers(0, 3, 64)
    lam = 0.2
    trainer = Trainer(net, "vanilla", optimizer="sgd", lr=1.0, weight_decay=lam, progress=False)
    items = net.parameters()
    U, V = items[0].U.copy(), items[0].V.copy()
    # one SGD step of length h = 1 on the factors gives −∇_U (L + λ/2 (‖U‖² + ‖V‖²)) = U1 − U
    new = trainer.integrator.step(trainer._field(X, y), 0.0, items, 1.0)
    dU = new[0].U - U

    def objective(U_):
        net.set_parameters([LowRank(U_, np.eye(2), V), *items[1:]])
        return net.loss(X, y) + 0.5 * lam * (np.sum(U_ ** 2) + np.sum(V ** 2)) + 0.5 * lam * np.sum(items[2] ** 2)

    D = rng.standard_normal(U.shape)
    eps = 1e-6
    fd = (objective(U + eps * D) - objective(U - eps * D)) / (2 * eps)
    assert fd == pytest.approx(-np.sum(dU * D), rel=1e-6)
    # nuclear-norm term: −P Qᵀ is −∇‖W‖_* along tangent directions of the rank-r manifold
    Y = LowRank(_rand(rng, 8, 3), _rand(rng, 3, 3), _rand(rng, 7, 3))
    polar = _polar_term(Y).to_dense()
    P, _, Q = Y.svd()
    D = P @ _rand(rng, 3, 3) @ Q.T + P @ _rand(rng, 3, 7) + _rand(rng, 8, 3) @ Q.T
    nuc = lambda A: np.sum(np.linalg.svd(A, compute_uv=False))  # noqa: E731
    fd = (nuc(Y.to_dense() + eps * D) - nuc(Y.to_dense() - eps * D)) / (2 * eps)
    assert fd == pytest.approx(np.sum(polar * D), rel=1e-6)


def test_regularizer_arguments_are_checked():
    net = MLP.from_sizes([6, 5, 3], ranks=2, rng=1)
    with pytest.raises(ValueError, match="weight_decay"):
        Trainer(net, "dlrt", weight_decay=1e-3, progress=False)
    with pytest.raises(ValueError, match="frobenius_decay"):
        Trainer(net, "vanilla", frobenius_decay=-1.0, progress=False)
    with pytest.raises(ValueError, match="nuclear_decay"):
        Trainer(net, "dlrt", nuclear_decay=float("nan"), progress=False)


def test_dlrt_orthonormalises_random_factors_without_changing_w():
    net = MLP.from_sizes([6, 5, 3], ranks=2, rng=1, dtype=np.float64, init="random")
    W = net.layers[0].weight().to_dense()
    Trainer(net, "dlrt", progress=False)
    Y = net.layers[0].weight()
    assert Y.is_orthonormal(atol=1e-12)
    assert np.allclose(Y.to_dense(), W, atol=1e-13)


# ------------------------------------------------------------------------------- pre-training
def test_pretrain_then_factorise_at_full_rank_reproduces_the_dense_net():
    rng = np.random.default_rng(8)
    data = {"x_train": rng.standard_normal((100, 8)), "y_train": rng.integers(0, 3, 100)}
    dense = MLP.from_sizes([8, 6, 5, 3], rng=2, dtype=np.float64)
    trainer = pretrain_dense(dense, data, 7, optimizer="sgd", lr=0.1, batch_size=32)
    assert trainer.step == 7
    low = factorize(dense, [6, 5, None])
    X = rng.standard_normal((20, 8))
    assert [layer.lowrank for layer in low.layers] == [True, True, False]
    assert np.max(np.abs(low.forward(X) - dense.forward(X))) <= 1e-13 * np.max(np.abs(dense.forward(X)))
    # and the vanilla split of the factorised layers is the spectral init of the dense weights
    vanilla = Trainer(low, "vanilla", progress=False)
    U, V = spectral_init(dense.layers[0].W, 6)
    Y = low.layers[0].weight()
    from dlra.nn.baselines import split_factors
    Uv, Vv = split_factors(Y)
    assert np.allclose(Uv @ Vv.T, U @ V.T, atol=1e-13) and vanilla.integrator.weight_decay == 0.0
    # at a lower rank the error of each layer is the Eckart–Young tail
    low2 = factorize(dense, 2)
    sv = np.linalg.svd(dense.layers[1].W, compute_uv=False)
    err = np.linalg.norm(dense.layers[1].W - low2.layers[1].weight().to_dense())
    assert err == pytest.approx(np.linalg.norm(sv[2:]), rel=1e-12)


# ------------------------------------------------------------------------------- interpolation
def test_interpolation_endpoints_and_quadratic_loss_of_a_linear_model():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((50, 5))
    y = rng.integers(0, 4, 50)
    a = MLP.from_sizes([5, 4], ranks=[3], activation="identity", loss="mse", rng=1, dtype=np.float64)
    b = MLP.from_sizes([5, 4], rng=2, loss="mse", dtype=np.float64)
    rows = interpolate(a, b, [0.0, 0.25, 0.5, 1.0, 1.5], X, y)
    la, acc_a = a.evaluate(X, y)
    lb, acc_b = b.evaluate(X, y)
    assert rows[0]["loss"] == pytest.approx(la, rel=1e-13) and rows[0]["accuracy"] == acc_a
    assert rows[3]["loss"] == pytest.approx(lb, rel=1e-13) and rows[3]["accuracy"] == acc_b
    # one linear layer with MSE: the loss is a quadratic in α, so three points predict the others
    alphas = np.array([r["alpha"] for r in rows])
    losses = np.array([r["loss"] for r in rows])
    coef = np.polyfit(alphas[[0, 2, 3]], losses[[0, 2, 3]], 2)
    assert np.allclose(np.polyval(coef, alphas[[1, 4]]), losses[[1, 4]], rtol=1e-10)
    c = MLP.from_sizes([5, 3], rng=2, dtype=np.float64)
    with pytest.raises(ValueError, match="same layer sizes"):
        interpolate(a, c, [0.5], X, y)


# ------------------------------------------------------------------------------- CLI
def test_cli_init_decays_and_pretraining(tmp_path, capsys):
    from dlra.nn.cli import main
    from dlra.nn.training import Trainer as T
    out = tmp_path / "run"
    args = ["--data-dir", "embedded", "--train-limit", "300", "--widths", "16", "16", "--rank", "4",
            "--epochs", "1", "--method", "vanilla", "--init", "flat_values", "--weight-decay", "1e-3",
            "--frobenius-decay", "1e-3", "--pretrain-steps", "3", "--no-progress", "--no-plot", "--out", str(out)]
    assert main(args) == 0
    assert "pre-trained dense for 3 steps" in capsys.readouterr().out
    meta, _ = T.read_checkpoint(out / "checkpoint.npz")
    assert meta["config"]["weight_decay"] == 1e-3 and meta["config"]["frobenius_decay"] == 1e-3
    for bad in (["--weight-decay", "-1"], ["--method", "dense", "--init", "random"],
                ["--method", "dlrt", "--weight-decay", "0.1"]):
        with pytest.raises(SystemExit) as exc:
            main(["--data-dir", "embedded", "--out", str(tmp_path / "bad"), *bad])
        assert exc.value.code == 2
        assert "dlra train: error:" in capsys.readouterr().err


# ------------------------------------------------------------------------------- study scripts
def test_study_scripts_quick(tmp_path, monkeypatch):
    """The four factorized_*.py scripts run end to end in --quick mode (embedded data, widths 32,
    one epoch, one seed, one learning rate) and write their tables and figures."""
    import importlib.util
    import sys
    from pathlib import Path
    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)
    scripts = Path(__file__).resolve().parent.parent / "paper_figures"
    monkeypatch.syspath_prepend(str(scripts))
    argv = ["--quick", "--out", str(tmp_path), "--no-progress", "--lrs", "0.003"]
    for name in ("factorized_init", "factorized_regularization", "factorized_pretraining",
                 "factorized_interpolation"):
        spec = importlib.util.spec_from_file_location(f"_test_{name}", scripts / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        extra = ["--lambdas", "0.01"] if name == "factorized_regularization" else []
        module.main(argv + extra)
    for stem in ("init", "regularization", "pretraining", "interpolation"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 0
        assert (tmp_path / f"{stem}_summary.md").read_text().count("|") > 10


# ------------------------------------------------------------------------------- convolutions (LeNet5)
def _conv_net(rank, init="spectral"):
    """A tiny conv net: 3×3 conv (6×6×2 → 4×4×3, pool 2 → 2×2×3) of rank ``rank``, then FC 12 → 3."""
    from dlra.nn import Conv2D, DenseLayer
    conv = Conv2D((6, 6, 2), 3, 3, rank, pool=2, rng=3, **({"init": init} if rank else {}))
    return MLP([conv, DenseLayer(12, 3, "identity", rng=4)], dtype=np.float64)


def test_spectral_init_of_a_conv_layer_is_eckart_young_of_its_matrix():
    from dlra.nn import Conv2D
    # same seed: the low-rank layer's W₀ is the dense layer's filter matrix C_out × k·k·C_in
    W = Conv2D((9, 9, 4), 10, 3, None, rng=7).weight()
    assert W.shape == (10, 36)
    P, sigma, Qh = np.linalg.svd(W, full_matrices=False)
    for r in (1, 4, 10):
        Y = Conv2D((9, 9, 4), 10, 3, r, rng=7, init="spectral").weight()
        best = (P[:, :r] * sigma[:r]) @ Qh[:r]
        assert np.linalg.norm(Y.to_dense() - best) <= 1e-13 * np.linalg.norm(W)
        assert np.isclose(np.linalg.norm(W - Y.to_dense()), np.linalg.norm(sigma[r:]), rtol=1e-12, atol=1e-12)
        U, V = spectral_init(W, r)
        assert np.linalg.norm(U @ V.T - Y.to_dense()) <= 1e-13 * np.linalg.norm(W)
    # the ablations act on the same matrix: SI directions with flat values keep ‖Σ_r‖_F
    flat = Conv2D((9, 9, 4), 10, 3, 4, rng=7, init="flat_values").weight()
    assert np.allclose(flat.singular_values(), np.linalg.norm(sigma[:4]) / 2, rtol=1e-12)
    # effective rank of a LeNet5 is recorded per layer, conv layers from their matrices
    from dlra.nn import LeNet5
    net = LeNet5([4, 8, 16, None], rng=0, dtype=np.float64)
    cols = spectrum_columns(net)
    assert cols["erank_1"] == pytest.approx(effective_rank(net.layers[0].weight().singular_values()), rel=1e-12)
    assert cols["rank1pct_2"] == 8 and 1 < cols["erank_2"] <= 8 and cols["erank_4"] <= 10


def test_frobenius_decay_of_a_conv_layer_finite_differences():
    rng = np.random.default_rng(11)
    X, y, lam = rng.standard_normal((16, 72)), rng.integers(0, 3, 16), 0.3
    # vanilla U Vᵀ: one SGD step of length 1 is −∇ of L + (λ/2)‖U Vᵀ‖²_F (+ the dense layer's term)
    net = _conv_net(2, init="random")
    trainer = Trainer(net, "vanilla", optimizer="sgd", lr=1.0, frobenius_decay=lam, progress=False)
    items = net.parameters()
    U, V = items[0].U.copy(), items[0].V.copy()
    new = trainer.integrator.step(trainer._field(X, y), 0.0, items, 1.0)

    def objective(U_, V_):
        net.set_parameters([LowRank(U_, np.eye(2), V_), *items[1:]])
        return net.loss(X, y) + 0.5 * lam * np.linalg.norm(U_ @ V_.T) ** 2

    eps = 1e-6
    for which, step in ((0, new[0].U - U), (1, new[0].V - V)):
        D = rng.standard_normal(step.shape)
        args = [(U + eps * D, V), (U - eps * D, V)] if which == 0 else [(U, V + eps * D), (U, V - eps * D)]
        fd = (objective(*args[0]) - objective(*args[1])) / (2 * eps)
        assert fd == pytest.approx(-np.sum(step * D), rel=1e-6)
    # DLRT: the regularised field at the conv weight is −∇_W L − λW, checked against the dense conv net
    net = _conv_net(2)
    items = net.parameters()
    G = regularized_field(net.vector_field(X, y), [0, 2], frobenius_decay=lam)(0.0, items)[0]
    Gd = G @ np.eye(G.shape[1])
    from dlra.nn.factorized import densify
    dense = densify(net)
    W = dense.layers[0].weight().copy()
    pd = dense.parameters()

    def penalised(W_):
        dense.set_parameters([W_, *pd[1:]])
        return dense.loss(X, y) + 0.5 * lam * np.sum(W_ ** 2)

    D = rng.standard_normal(W.shape)
    fd = (penalised(W + eps * D) - penalised(W - eps * D)) / (2 * eps)
    assert fd == pytest.approx(-np.sum(Gd * D), rel=1e-6)


def test_pretrain_then_factorise_lenet5_at_full_rank_reproduces_the_dense_net():
    from dlra.nn import Conv2D, LeNet5
    rng = np.random.default_rng(12)
    shape = (16, 16, 1)   # conv 12×12 → pool 6×6 → conv 2×2 → pool 1×1×50 → FC 50 → 500 → 10
    data = {"x_train": rng.random((64, 256)), "y_train": rng.integers(0, 10, 64)}
    dense = LeNet5(None, rng=2, dtype=np.float64, image_shape=shape)
    assert pretrain_dense(dense, data, 3, optimizer="sgd", lr=0.1, batch_size=32).step == 3
    X = rng.random((10, 256))
    full = factorize(dense, [20, 50, 50, None])
    assert [type(layer).__name__ for layer in full.layers] == ["Conv2D", "Conv2D", "LowRankLayer", "DenseLayer"]
    assert all(layer.lowrank for layer in full.layers[:3]) and full.layers[1].pool == 2
    out = dense.forward(X)
    assert np.max(np.abs(full.forward(X) - out)) <= 1e-12 * np.max(np.abs(out))
    # an int rank is clipped to each layer's full rank; the truncation error is the Eckart–Young tail
    low = factorize(dense, 32)
    assert low.ranks() == [20, 32, 32] and isinstance(low.layers[0], Conv2D)
    W2 = dense.layers[1].weight()
    sv = np.linalg.svd(W2, compute_uv=False)
    assert np.linalg.norm(W2 - low.layers[1].weight().to_dense()) == pytest.approx(np.linalg.norm(sv[32:]), rel=1e-12)


def test_interpolation_endpoints_reproduce_two_lenet5_nets():
    from dlra.nn import LeNet5
    rng = np.random.default_rng(13)
    shape = (16, 16, 1)
    X, y = rng.random((40, 256)), rng.integers(0, 10, 40)
    a = LeNet5([4, 8, 16, None], rng=0, dtype=np.float64, image_shape=shape)
    b = factorize(LeNet5(None, rng=1, dtype=np.float64, image_shape=shape), [10, 20, 30, None])
    rows = interpolate(a, b, [0.0, 0.5, 1.0], X, y)
    for row, net in ((rows[0], a), (rows[2], b)):
        loss, acc = net.evaluate(X, y)
        assert row["loss"] == pytest.approx(loss, rel=1e-12) and row["accuracy"] == acc
    # the midpoint is the net with the averaged weights W = U S Vᵀ and biases
    mid = LeNet5(None, rng=5, dtype=np.float64, image_shape=shape)
    mid.set_parameters([0.5 * (p.to_dense() if isinstance(p, LowRank) else p)
                        + 0.5 * (q.to_dense() if isinstance(q, LowRank) else q)
                        for p, q in zip(a.parameters(), b.parameters())])
    assert rows[1]["loss"] == pytest.approx(mid.evaluate(X, y)[0], rel=1e-12)
    c = LeNet5(None, rng=1, dtype=np.float64, image_shape=(16, 16, 1), activation="tanh")
    with pytest.raises(ValueError, match="same layer sizes"):
        interpolate(a, c, [0.5], X, y)


def test_cli_and_study_script_on_lenet5(tmp_path, capsys, monkeypatch):
    """``dlra train --model lenet5 --pretrain-steps`` factorises the pre-trained LeNet5; the study
    scripts take ``--model lenet5`` (here the pre-training script in --quick mode)."""
    import importlib.util
    import sys
    from pathlib import Path

    from dlra.nn.cli import main
    out = tmp_path / "run"
    assert main(["--data-dir", "embedded", "--train-limit", "64", "--model", "lenet5", "--rank", "8", "--epochs", "1",
                 "--method", "vanilla", "--pretrain-steps", "2", "--no-progress", "--no-plot", "--out", str(out)]) == 0
    assert "factorised at ranks [8, 8, 8]" in capsys.readouterr().out
    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)
    scripts = Path(__file__).resolve().parent.parent / "paper_figures"
    monkeypatch.syspath_prepend(str(scripts))
    spec = importlib.util.spec_from_file_location("_test_factorized_pretraining_lenet5",
                                                  scripts / "factorized_pretraining.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main(["--quick", "--model", "lenet5", "--out", str(tmp_path / "study"), "--no-progress", "--lrs", "0.003"])
    table = (tmp_path / "study" / "pretraining_summary.md").read_text()
    assert "rank 4/8/8" in table and table.count("|") > 10
    runs = sorted(p.name for p in (tmp_path / "study" / "runs").iterdir())
    assert any(name.startswith("vanilla_r4-8-8-d_") and "lenet5" in name and "valonly" in name for name in runs)
