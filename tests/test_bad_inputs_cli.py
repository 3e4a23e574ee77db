"""Every user error of the command line is ONE line ``dlra CMD: error: …`` naming the flag or file,
exit status 2, no traceback: corrupt MNIST folders, corrupt checkpoints, bad numbers, unwritable
output folders (refused before any computation), missing figure scripts, a diverging learning rate.

The MNIST folder and the checkpoint are tiny (12 training images, one hidden layer of width 8)."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlra.cli import main
from dlra.data.mnist import MNIST_FILES, save_idx


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)
    monkeypatch.delenv("DLRA_FIGURES_DIR", raising=False)


def write_mnist(directory, n_train=12, n_test=4, labels=None):
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": np.arange(n_train, dtype=np.uint8) % 10 if labels is None else labels,
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": np.arange(n_test, dtype=np.uint8) % 10}
    for key, base in MNIST_FILES.items():
        save_idx(directory / f"{base}.gz", arrays[key])
    return directory


TINY = ["--widths", "8", "--rank", "2", "--batch-size", "6", "--no-progress", "--no-plot"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A valid checkpoint of a one-epoch run on a tiny MNIST folder, and that folder."""
    root = tmp_path_factory.mktemp("ckpt")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLRA_CACHE_DIR", str(root / "cache"))
        data = write_mnist(root / "mnist")
        assert main(["train", "--data-dir", str(data), "--epochs", "1", "--out", str(root / "run")] + TINY) == 0
    return root / "run" / "checkpoint.npz", data


def run(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors exit through SystemExit(2)
        return exc.code


def assert_user_error(capsys, status, command, *needles):
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in (out + err).splitlines() if "error:" in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"dlra {command}: error: ") or (command == "" and lines[0].startswith("dlra: error:"))
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not any(line.startswith("epoch") for line in out.splitlines()), "training ran before the error"
    return lines[0]


# ------------------------------------------------------------------ MNIST folders (--data-dir)
def _corrupt(directory, key, content):
    path = directory / f"{MNIST_FILES[key]}.gz"
    path.write_bytes(content(path.read_bytes()))
    return path.name


def _raw_idx(data):
    return gzip.decompress(data)


MNIST_DEFECTS = {
    "truncated gzip": ("train_images", lambda b: b[: len(b) // 2]),
    "corrupt gzip": ("train_images", lambda b: b[:10] + bytes(200) + b[210:]),
    "wrong magic": ("test_images", lambda b: gzip.compress(b"\x12\x34" + _raw_idx(b)[2:])),
    "truncated IDX": ("train_labels", lambda b: gzip.compress(_raw_idx(b)[:-3])),
    "empty file": ("test_labels", lambda b: b""),
    "not gzip at all": ("train_labels", lambda b: b"hello, I am not an IDX file"),
}


@pytest.mark.parametrize("defect", list(MNIST_DEFECTS))
def test_corrupt_mnist_file(tmp_path, capsys, defect):
    data = write_mnist(tmp_path / "mnist")
    key, content = MNIST_DEFECTS[defect]
    name = _corrupt(data, key, content)
    status = run(["train", "--data-dir", str(data), "--out", str(tmp_path / "out")] + TINY)
    assert_user_error(capsys, status, "train", "--data-dir", name)


def test_label_count_mismatch(tmp_path, capsys):
    data = write_mnist(tmp_path / "mnist", labels=np.zeros(11, np.uint8))
    status = run(["train", "--data-dir", str(data), "--out", str(tmp_path / "out")] + TINY)
    assert_user_error(capsys, status, "train", "--data-dir", "train-labels-idx1-ubyte", "11")


def test_label_200(tmp_path, capsys):
    labels = np.zeros(12, np.uint8)
    labels[3] = 200
    data = write_mnist(tmp_path / "mnist", labels=labels)
    status = run(["train", "--data-dir", str(data), "--out", str(tmp_path / "out")] + TINY)
    assert_user_error(capsys, status, "train", "train-labels-idx1-ubyte", "200")


def test_missing_data_dir_and_missing_file(tmp_path, capsys):
    status = run(["train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")] + TINY)
    assert_user_error(capsys, status, "train", "--data-dir", "nowhere")
    data = write_mnist(tmp_path / "mnist")
    (data / f"{MNIST_FILES['test_labels']}.gz").unlink()
    status = run(["train", "--data-dir", str(data), "--out", str(tmp_path / "out")] + TINY)
    assert_user_error(capsys, status, "train", "--data-dir", "t10k-labels-idx1-ubyte")


@pytest.mark.parametrize("value", ["999999", "-1"])
def test_validation_out_of_range(tmp_path, capsys, value):
    data = write_mnist(tmp_path / "mnist")
    status = run(["train", "--data-dir", str(data), "--validation", value, "--out", str(tmp_path / "o")] + TINY)
    assert_user_error(capsys, status, "train", "--validation", value)


# ------------------------------------------------------------------ numbers and choices
@pytest.mark.parametrize("args, flag", [
    (["--lr", "-1"], "--lr"), (["--lr", "nan"], "--lr"), (["--optimizer", "momentum", "--momentum", "1.5"], "--momentum"),
    (["--init-scale", "0"], "--init-scale"), (["--method", "bug", "--tau", "0.1"], "--tau"),
    (["--epochs", "-1"], "--epochs"), (["--widths", "0"], "--widths"), (["--optimizer", "rmsprop"], "--optimizer"),
    (["--batch-size", "0"], "--batch-size"), (["--lr-decay", "2"], "--lr-decay"), (["--rank", "x"], "--rank"),
])
def test_bad_training_options(tmp_path, capsys, args, flag):
    status = run(["train", "--data-dir", "embedded", "--out", str(tmp_path / "out")] + TINY + args)
    assert_user_error(capsys, status, "train", flag)


# ------------------------------------------------------------------ unwritable output folders
@pytest.mark.parametrize("command", [["train", "--data-dir", "embedded"] + TINY, ["figures", "--only", "v_shape"],
                                     ["compare", "--n", "8", "--rank", "2"], ["demo"]])
@pytest.mark.parametrize("where", ["file", "below a file"])
def test_unwritable_out_is_refused_before_any_computation(tmp_path, capsys, command, where):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker if where == "file" else blocker / "sub"
    status = run(command + ["--out", str(out)])
    line = assert_user_error(capsys, status, command[0], "--out", str(out))
    assert "directory" in line
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("name", ["checkpoint.npz", "history.csv"])
def test_output_file_name_taken_by_a_folder(tmp_path, capsys, name):
    (tmp_path / name).mkdir()
    status = run(["train", "--data-dir", "embedded", "--resume", "--out", str(tmp_path)] + TINY)
    assert_user_error(capsys, status, "train", "--out", name, "not a file")


# ------------------------------------------------------------------ corrupt checkpoints (--resume)
def _rewrite(path, edit_meta=None, edit_arrays=None):
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    if edit_meta:
        meta = edit_meta(meta)
    if edit_arrays:
        edit_arrays(meta, arrays)
    return meta, arrays


def _first_factor(meta):
    return meta["parameters"][0]["__lowrank__"][0]["__array__"]


def _npz(meta=None, **arrays):
    import io
    buffer = io.BytesIO()
    if meta is not None:
        arrays["meta"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _drop(key):
    def edit(meta):
        del meta[key]
        return meta
    return edit


CHECKPOINT_DEFECTS = {
    "not a zip": (lambda good, meta, arrays: b"garbage" * 10, "not a readable .npz"),
    "empty file": (lambda good, meta, arrays: b"", "not a readable .npz"),
    "truncated zip": (lambda good, meta, arrays: good[: len(good) // 2], "not a readable .npz"),
    "missing meta": (lambda good, meta, arrays: _npz(None, **arrays), "no 'meta'"),
    "bad JSON": (lambda good, meta, arrays: _npz("{not json", **arrays), "not valid JSON"),
    "meta not an object": (lambda good, meta, arrays: _npz("[1, 2]", **arrays), "JSON object"),
    "wrong version": (lambda good, meta, arrays: _npz({**meta, "version": 99}, **arrays), "version 99"),
    "missing history": (lambda good, meta, arrays: _npz(_drop("history")(dict(meta)), **arrays), "history"),
    "missing array": (lambda good, meta, arrays: _npz(meta, **{k: v for k, v in arrays.items()
                                                                if k != _first_factor(meta)}), "is missing"),
    "wrong shape": (lambda good, meta, arrays: _npz(meta, **{**arrays, _first_factor(meta): np.zeros((3, 3),
                                                                                                np.float32)}),
                    "shape"),
    "wrong bias shape": (lambda good, meta, arrays: _npz(meta, **{**arrays, meta["parameters"][1]["__array__"]:
                                                                  np.zeros(5, np.float32)}), "does not fit"),
    "NaN weights": (lambda good, meta, arrays: _npz(meta, **{**arrays, _first_factor(meta): np.full_like(
        arrays[_first_factor(meta)], np.nan)}), "NaN"),
    "unknown method": (lambda good, meta, arrays: _npz({**meta, "config": {**meta["config"], "method": "nope"}},
                                                       **arrays), "method"),
    "string array": (lambda good, meta, arrays: _npz(meta, **{**arrays, _first_factor(meta): np.array(["a"])}),
                     "not numeric"),
}


@pytest.mark.parametrize("defect", list(CHECKPOINT_DEFECTS))
def test_corrupt_checkpoint(tmp_path, capsys, checkpoint, defect):
    good_path, data = checkpoint
    good = good_path.read_bytes()
    meta, arrays = _rewrite(good_path)
    make, needle = CHECKPOINT_DEFECTS[defect]
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.npz").write_bytes(make(good, meta, arrays))
    status = run(["train", "--data-dir", str(data), "--resume", "--epochs", "2", "--out", str(out)] + TINY)
    assert_user_error(capsys, status, "train", "--resume", "checkpoint.npz", needle)


def test_good_checkpoint_resumes(tmp_path, capsys, checkpoint):
    """The control of the corruption tests: the unmodified file resumes."""
    good_path, data = checkpoint
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.npz").write_bytes(good_path.read_bytes())
    assert run(["train", "--data-dir", str(data), "--resume", "--epochs", "2", "--out", str(out)] + TINY) == 0
    assert "resuming" in capsys.readouterr().out


# ------------------------------------------------------------------ divergence
@pytest.mark.parametrize("lr", ["1e6", "1e30"])
def test_diverging_learning_rate_says_so(tmp_path, capsys, checkpoint, lr):
    _, data = checkpoint
    status = run(["train", "--data-dir", str(data), "--optimizer", "sgd", "--lr", lr, "--epochs", "3",
                  "--out", str(tmp_path / "out")] + TINY)
    out, err = capsys.readouterr()
    assert status == 2 and "Traceback" not in out + err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert line.startswith("dlra train: error: diverged") and "lower the learning rate (--lr)" in line


# ------------------------------------------------------------------ figures, compare, the command itself
def test_figure_scripts_never_silently_replaced(tmp_path, capsys, monkeypatch):
    status = run(["figures", "--scripts", "/nonexistent", "--list"])
    assert_user_error(capsys, status, "figures", "--scripts", "/nonexistent")
    status = run(["figures", "--scripts", str(tmp_path), "--list"])
    assert_user_error(capsys, status, "figures", "--scripts", str(tmp_path), "no figure scripts")
    monkeypatch.setenv("DLRA_FIGURES_DIR", str(tmp_path / "gone"))
    status = run(["figures", "--list"])
    assert_user_error(capsys, status, "figures", "DLRA_FIGURES_DIR", "gone")


def test_unknown_figure(capsys):
    assert_user_error(capsys, run(["figures", "--only", "nope"]), "figures", "--only", "nope")


@pytest.mark.parametrize("args, flag", [(["--n", "1"], "--n"), (["--rank", "0"], "--rank"),
                                        (["--n", "5", "--rank", "6"], "--rank"), (["--h", "0"], "--h"),
                                        (["--decay", "inf"], "--decay")])
def test_bad_compare_options(capsys, args, flag):
    assert_user_error(capsys, run(["compare"] + args), "compare", flag)


def test_unknown_command(capsys):
    assert_user_error(capsys, run(["bogus"]), "", "bogus")


def test_console_entry_point_prints_no_traceback(tmp_path):
    """Through the real interpreter entry (``python -m dlra.cli``): exit status 2, one line."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "dlra.cli", "figures", "--scripts", str(tmp_path / "x"), "--list"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("dlra figures: error: --scripts") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_divergence_checks_in_python_fire_only_on_divergence(checkpoint):
    """The Trainer raises TrainingDiverged for a step size that blows up (explosion; a spike that
    leaves chance accuracy) and stays silent on a hard problem at chance (random labels)."""
    from dlra.data import load_mnist
    from dlra.nn import MLP, Trainer, TrainingDiverged

    _, folder = checkpoint
    data = load_mnist(folder, validation=2)
    for lr, match in ((1e30, "diverged"), (1e6, "exploded")):
        trainer = Trainer(MLP.from_sizes([784, 8, 10], ranks=[2, None], rng=0), optimizer="sgd", lr=lr,
                          batch_size=5, progress=False)
        with pytest.raises(TrainingDiverged, match=match):
            trainer.fit(data, 2)
    rng = np.random.default_rng(1)
    noise = {"x_train": rng.standard_normal((60, 6)).astype(np.float32), "y_train": rng.integers(0, 3, 60)}
    trainer = Trainer(MLP.from_sizes([6, 5, 3], ranks=[2, None], rng=0), optimizer="sgd", lr=0.05,
                      batch_size=10, progress=False)
    history = trainer.fit(noise, 2)
    assert len(history) == 2


def test_spike_then_chance_accuracy_is_divergence(tmp_path, capsys):
    """SGD with lr 3 on the embedded MNIST: the loss spikes (2.3 → 68) and the network dies at 11 %
    training accuracy; this used to end with exit 0 and a 10 % test accuracy."""
    status = run(["train", "--data-dir", "embedded", "--train-limit", "2000", "--widths", "32", "--rank", "8",
                  "--optimizer", "sgd", "--lr", "3", "--epochs", "2", "--no-progress", "--no-plot",
                  "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2 and "Traceback" not in out + err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "diverged" in line and "chance" in line and "lower the learning rate (--lr)" in line
    assert not (tmp_path / "checkpoint.npz").exists()          # the collapsed epoch is not checkpointed


def test_non_finite_weights_are_divergence_but_other_value_errors_are_not():
    from dlra.nn import MLP, Trainer, TrainingDiverged

    X, y = np.ones((4, 6)), np.array([0, 1, 2, 0])
    net = MLP.from_sizes([6, 5, 3], ranks=[2, None], rng=0)
    items = net.parameters()
    items[1] = np.full_like(items[1], np.inf)
    net.set_parameters(items)
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        Trainer(net, optimizer="sgd", lr=0.1, progress=False).train_step(X, y)
    healthy = Trainer(MLP.from_sizes([6, 5, 3], ranks=[2, None], rng=0), optimizer="sgd", lr=0.1, progress=False)
    with pytest.raises(ValueError) as info:
        healthy.train_step(np.ones((4, 7)), y)                   # a wrong batch is not a divergence
    assert not isinstance(info.value, TrainingDiverged)
