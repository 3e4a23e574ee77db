"""Machine description shared by the benchmark scripts."""
from __future__ import annotations

import os
import platform
import subprocess

__all__ = ["cpu_model", "set_thread_env"]


def cpu_model():
    """'<model name>, <n> logical CPUs' from lscpu (platform.processor() as a fallback)."""
    cpu = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs"


def set_thread_env(n):
    """Ask every BLAS/OpenMP runtime for ``n`` threads (n > 0) through the environment; call it
    before numpy is imported."""
    if n > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
            os.environ[var] = str(n)
