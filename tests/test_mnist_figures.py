"""Smoke tests of the MNIST reproduction scripts (paper_figures/mnist_*.py) in ``--quick`` mode:
embedded data only (DLRA_DATA_DIR is removed), tiny widths, one epoch, one seed."""
import csv
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "paper_figures"


def _load(name):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(f"_test_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(autouse=True)
def _embedded_only(monkeypatch):
    monkeypatch.delenv("DLRA_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("mnist")


def test_table_quick(out, capsys):
    written = _load("mnist_table").main(["--quick", "--out", str(out), "--no-progress"])
    assert all(Path(p).is_file() for p in written)
    runs = _rows(out / "table_runs.csv")
    assert [r["method"] for r in runs] == ["dense"] + ["dlrt"] * 4
    for r in runs:
        assert 0.0 <= float(r["test_acc"]) <= 1.0
    dlrt = [r for r in runs if r["method"] == "dlrt"]
    # larger τ truncates more: the compression rate does not decrease with τ
    cr = [float(r["compression_inference"]) for r in dlrt]
    assert cr == sorted(cr)
    table = (out / "table.md").read_text()
    assert "| 0.05 |" in table and "98.56" in table
    assert "NOT comparable" in capsys.readouterr().err
    # a second call reuses the finished runs (resume)
    info = (out / "runs").iterdir()
    assert len(list(info)) == 5
    _load("mnist_table").main(["--quick", "--out", str(out), "--no-progress"])
    assert len(list((out / "runs").iterdir())) == 5


def test_rank_evolution_quick(out):
    written = _load("mnist_rank_evolution").main(["--quick", "--out", str(out), "--no-progress"])
    for suffix in (".csv", ".png", ".pdf"):
        path = out / f"rank_evolution{suffix}"
        assert path.is_file() and path.stat().st_size > 0
    rows = _rows(out / "rank_evolution.csv")
    assert {float(r["tau"]) for r in rows} == {0.05, 0.15}
    assert all(1 <= int(r["rank_1"]) <= 64 for r in rows)
    assert not list(out.glob(".tmp-*"))
    assert len(written) == 3


def test_init_robustness_quick(out):
    _load("mnist_init_robustness").main(["--quick", "--out", str(out), "--no-progress"])
    for suffix in (".csv", "_summary.csv", ".md", ".png", ".pdf"):
        assert (out / f"init_robustness{suffix}").is_file()
    summary = _rows(out / "init_robustness_summary.csv")
    assert [float(r["decay"]) for r in summary] == [1.0, 2.0, 10.0]
    rows = _rows(out / "init_robustness.csv")
    # the fixed rank is kept by both methods
    assert {r["ranks"] for r in rows} == {"20-20-20-20"}
