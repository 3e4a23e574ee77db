"""Smoke tests of the LeNet5 scripts (paper_figures/lenet5_table.py, mnist_init_robustness.py
--model lenet5, init_scale_study.py) in ``--quick`` mode on the embedded data, and a check that the
selection stage never sees the test split."""
from pathlib import Path

import numpy as np
import pytest
from test_mnist_figures import _embedded_only, _load, _rows  # noqa: F401  (helpers and autouse fixture)


def test_lenet5_table_quick_selects_on_validation_only(tmp_path):
    written = _load("lenet5_table").main(["--quick", "--out", str(tmp_path), "--no-progress"])
    assert all(Path(p).is_file() for p in written)
    selection_runs = [d for d in (tmp_path / "runs").iterdir() if d.name.endswith("_valonly")]
    assert len(selection_runs) == 2                       # dense and DLRT probes
    for run in selection_runs:                            # no test accuracy was computed there
        assert all(np.isnan(float(r["test_acc"])) for r in _rows(run / "history.csv"))
    table = _rows(tmp_path / "table.csv")
    assert [r["method"] for r in table] == ["dense", "dlrt"]
    assert all(0 <= float(r["test_acc_mean"]) <= 100 for r in table)


def test_selection_refuses_the_test_split():
    selection = _load("_selection")
    with pytest.raises(ValueError, match="test"):
        selection.select([], {"lr": [1e-3]}, {"x_test": np.zeros((1, 784))}, "unused", epochs=1, tag="x")


def test_lenet5_robustness_and_init_scale_quick(tmp_path):
    written = _load("mnist_init_robustness").main(
        ["--quick", "--model", "lenet5", "--train-limit", "128", "--decays", "10",
         "--out", str(tmp_path), "--no-progress"])
    assert all(Path(p).is_file() for p in written)
    summary = _rows(tmp_path / "init_robustness_summary.csv")
    assert [float(r["decay"]) for r in summary] == [10.0]
    written = _load("init_scale_study").main(["--quick", "--models", "lenet5", "--out", str(tmp_path),
                                              "--no-progress"])
    rows = _rows(tmp_path / "init_scale.csv")
    assert len(rows) == 2 and all(r["model"] == "lenet5" for r in rows)


def test_lenet5_robustness_two_seeds_mean_and_std_per_epoch(tmp_path):
    """With several seeds the per-epoch table is the mean and sample std of the per-run accuracies."""
    written = _load("mnist_init_robustness").main(
        ["--model", "lenet5", "--train-limit", "128", "--epochs", "2", "--seeds", "0", "1", "--decays", "10",
         "--out", str(tmp_path), "--no-progress"])
    assert all(Path(p).is_file() for p in written)
    runs = _rows(tmp_path / "init_robustness.csv")
    per_epoch = _rows(tmp_path / "init_robustness_per_epoch.csv")
    assert len(per_epoch) == 2 * 2                         # 2 methods × 2 epochs
    for row in per_epoch:
        acc = 100 * np.array([float(r["test_acc"]) for r in runs
                              if r["method"] == row["method"] and r["epoch"] == row["epoch"]])
        assert len(acc) == 2
        assert float(row["test_acc_mean"]) == pytest.approx(acc.mean(), abs=1e-9)
        assert float(row["test_acc_std"]) == pytest.approx(acc.std(ddof=1), abs=1e-9)
    summary = _rows(tmp_path / "init_robustness_summary.csv")[0]
    final = [r for r in per_epoch if r["method"] == "dlrt" and int(r["epoch"]) == 2][0]
    assert float(summary["dlrt_final_std"]) == pytest.approx(float(final["test_acc_std"]), abs=1e-9)
    assert "±" in (tmp_path / "init_robustness.md").read_text()


def test_fc_table_selection_protocol_quick(tmp_path):
    written = _load("mnist_table").main(["--quick", "--out", str(tmp_path), "--no-progress", "--select-lrs", "1e-3",
                                         "--select-init-scales", "1.0", "--select-lr-decays", "1.0"])
    assert (tmp_path / "selection.csv").is_file() and all(Path(p).is_file() for p in written)
    for run in (d for d in (tmp_path / "runs").iterdir() if d.name.endswith("_valonly")):
        assert all(np.isnan(float(r["test_acc"])) for r in _rows(run / "history.csv"))


def test_slide_counts_reproduce_the_slides_parameter_columns():
    """The slides' parameter counts (inference, training) for their ranks, copied from the table."""
    table = _load("lenet5_table")
    counts = {(10, 23, 62): (37445, 532176), (9, 16, 28): (20033, 251477), (2, 2, 3): (6647, 35654)}
    for ranks, (inference, training) in counts.items():
        cr, cr_train = table.slide_counts(ranks)
        assert abs(cr - 100 * (1 - inference / 430500)) < 1e-9
        assert abs(cr_train - 100 * (1 - training / 861000)) < 1e-9
