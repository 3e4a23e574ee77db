"""The benchmark scripts still run (tiny sizes, one round). No timing is asserted: speed is
measured by the scripts themselves and recorded in BENCHMARKS.md."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args, expect", [
    (["benchmarks/bench_integrators.py", "--sizes", "300", "--rank", "5", "--repeat", "1", "--no-files",
      "--substeps", "euler"], "rank-adaptive BUG / BUG"),
    (["benchmarks/bench_training.py", "--widths", "64", "--ranks", "4", "8", "--batch", "32", "--repeat", "1",
      "--no-files", "--no-progress"], "DLRT, r = 8"),
    (["benchmarks/bench_qr.py", "--quick", "--repeat", "1", "--no-files"], "CholeskyQR2 vs Householder"),
    (["benchmarks/bench_lenet5.py", "--batch", "8", "--repeat", "1", "--no-files"], "numba DLRT r=9/16/28"),
])
def test_benchmark_script_runs(args, expect):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert expect in result.stdout


def test_torch_benchmark_runs():
    """bench_torch.py (PyTorch is a benchmark-only dependency: skipped without it)."""
    pytest.importorskip("torch")
    args = ["benchmarks/bench_torch.py", "--width", "32", "--batch", "16", "--tau-ranks", "4", "3", "3", "2",
            "--startup-ranks", "8", "--repeat", "1", "--no-files", "--no-progress"]
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "numba DLRT / torch KLS reference step at rank 8: wall" in result.stdout


def test_api_vs_cli_benchmark_runs(tmp_path):
    """bench_api_vs_cli.py runs the README's training example and `dlra train` (tiny: 256 images)."""
    args = ["benchmarks/bench_api_vs_cli.py", "--rounds", "1", "--train-limit", "256", "--no-files"]
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "README example / CLI epoch time" in result.stdout


def test_lenet5_benchmark_runs_without_torch():
    """PyTorch is optional: without it bench_lenet5.py still times the numba networks (ratios to the
    numba dense step) instead of failing on the import."""
    code = ("import sys, runpy; sys.modules['torch'] = None; "
            "sys.argv = ['bench_lenet5.py', '--batch', '8', '--repeat', '1', '--no-files']; "
            "runpy.run_path('benchmarks/bench_lenet5.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "step / numba dense" in result.stdout and "torch: not installed" in result.stdout
