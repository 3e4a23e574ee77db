"""Checkpoints (dlra.nn.checkpoint) and optimiser state_dict: round trips are exact, a writer
killed by SIGKILL leaves a temporary that the next run removes, refused files leave the trainer
untouched."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dlra
from dlra.nn import MLP
from dlra.nn.checkpoint import CheckpointError
from dlra.nn.training import Trainer


def tiny_data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 12)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return {"x_train": X, "y_train": y, "x_test": X[:20], "y_test": y[:20]}


def tiny_trainer(optimizer="adam"):
    net = MLP.from_sizes([12, 10, 8, 3], ranks=[4, 4, None], rng=0)
    return Trainer(net, "dlrt", tau=0.05, optimizer=optimizer, batch_size=20, progress=False)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_state_dict_round_trip_continues_identically(optimizer):
    a = tiny_trainer(optimizer)
    a.fit(tiny_data(), 1)
    state = a.integrator.substep.state_dict()
    assert state and all(set(e) == {"lefts", "rights", "moments", "count"} for e in state.values())
    b = tiny_trainer(optimizer)
    b.net.set_parameters(a.net.copy_parameters())
    b.integrator.substep.load_state_dict(state)
    X, y = tiny_data(1)["x_train"][:20], tiny_data(1)["y_train"][:20]
    a.train_step(X, y)
    b.train_step(X, y)
    for p, q in zip(a.net.parameters(), b.net.parameters()):
        np.testing.assert_array_equal(p.to_dense() if isinstance(p, dlra.LowRank) else p,
                                      q.to_dense() if isinstance(q, dlra.LowRank) else q)


def test_load_state_dict_rejects_malformed_state():
    adam = dlra.Adam()
    with pytest.raises(TypeError, match="state"):
        adam.load_state_dict([1, 2])
    entry = {"lefts": [None], "rights": [np.eye(3)], "moments": {"m": [np.zeros((4, 3))]}, "count": 1}
    with pytest.raises(ValueError, match="moments"):
        adam.load_state_dict({"K": entry})                       # Adam needs m and v
    entry["moments"]["v"] = [np.zeros((4, 2))]
    with pytest.raises(ValueError, match="one shape"):
        adam.load_state_dict({"K": entry})
    entry["moments"]["v"] = [np.zeros((4, 3))]
    entry["rights"] = [np.eye(5)]
    with pytest.raises(ValueError, match="rights"):
        adam.load_state_dict({"K": entry})
    entry["rights"], entry["count"] = [np.eye(3)], -1
    with pytest.raises(ValueError, match="count"):
        adam.load_state_dict({"K": entry})
    assert adam.state == {}                                       # nothing was half-loaded


def test_sigkilled_checkpoint_write_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    target = tmp_path / "checkpoint.npz"
    code = ("import os, signal, sys\nfrom dlra.io import atomic_open\n"
            "with atomic_open(sys.argv[1], 'wb') as f:\n"
            "    f.write(b'x' * 1000); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=str(tmp_path.parent), timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(dlra.__file__).parent.parent)})
    assert proc.returncode == -9
    stale = list(tmp_path.glob(".checkpoint.npz.*.tmp"))
    assert len(stale) == 1 and not target.exists()
    (tmp_path / "unrelated.tmp").write_text("keep")
    tiny_trainer().fit(tiny_data(), 1, out_dir=tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))
    assert (tmp_path / "unrelated.tmp").is_file() and target.is_file()


def test_refused_checkpoint_leaves_trainer_unchanged(tmp_path):
    a = tiny_trainer()
    a.fit(tiny_data(), 1, out_dir=tmp_path)
    meta, arrays = Trainer.read_checkpoint(tmp_path / "checkpoint.npz")
    # the weight factors of the first layer replaced by ones of the wrong shape
    ref = meta["parameters"][0]["__lowrank__"][0]["__array__"]
    arrays[ref] = np.zeros((3, 3), dtype=arrays[ref].dtype)
    np.savez(tmp_path / "bad.npz", meta=np.array(json.dumps(meta)), **arrays)
    b = tiny_trainer()
    before = b.net.copy_parameters()
    with pytest.raises(CheckpointError, match="bad.npz"):
        b.load_checkpoint(tmp_path / "bad.npz")
    for p, q in zip(before, b.net.parameters()):
        np.testing.assert_array_equal(p.to_dense() if isinstance(p, dlra.LowRank) else p,
                                      q.to_dense() if isinstance(q, dlra.LowRank) else q)
    assert (b.epoch, b.step) == (0, 0)
