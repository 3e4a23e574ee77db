"""Packaging beyond pyproject.toml: the figure scripts of ``paper_figures/`` ship inside the wheel
as the package ``dlra.paper_figures`` and the benchmark scripts of ``benchmarks/`` (which the timing
figure reuses) as ``dlra.benchmarks`` — mapped, not moved — so that ``dlra figures`` and
``dlra demo`` work from an installed, non-editable copy."""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["dlra", "dlra.*"]) + ["dlra.paper_figures", "dlra.benchmarks"],
      package_dir={"dlra.paper_figures": "paper_figures", "dlra.benchmarks": "benchmarks"})
