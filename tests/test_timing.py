"""dlra.timing: the QR/SVD and product accounting is off by default (it costs a few per cent of a
small DLRT step) and counts when enabled; time in F is always counted."""
import numpy as np

import dlra
from dlra import timing


def _one_step():
    p = dlra.problems.Lyapunov(n=60, rank=4)
    dlra.AdaptiveBUG(substep="euler", theta=1e-8).step(p.F, 0.0, p.Y0, 1e-3)


def test_timing_is_off_by_default_and_counts_when_enabled():
    assert not timing.enabled()
    timing.reset()
    _one_step()
    snap = timing.snapshot()
    assert snap["linalg"] == 0.0 and snap["products"] == 0.0 and snap["F"] > 0.0
    previous = timing.enable()
    try:
        assert previous is False and timing.enabled()
        timing.reset()
        _one_step()
        snap = timing.snapshot()
        assert snap["linalg"] > 0.0 and snap["products"] > 0.0 and snap["F"] > 0.0
    finally:
        timing.enable(previous)
    assert not timing.enabled()
    with timing.timed("linalg") as block:  # the disabled context still works as a context
        np.linalg.qr(np.eye(3))
    assert block is not None and timing.snapshot()["linalg"] == snap["linalg"]
