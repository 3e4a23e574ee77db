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
    (["benchmarks/bench_lenet5.py", "--batch", "8", "--repeat", "1", "--no-files"], "numba DLRT r=9/16/28"),
])
def test_benchmark_script_runs(args, expect):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert expect in result.stdout
