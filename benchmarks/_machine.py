"""Machine description shared by the benchmark scripts."""
from __future__ import annotations

import os
import platform
import subprocess

__all__ = ["cpu_model"]


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
