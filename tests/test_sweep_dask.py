"""convergence_sweep on a real Dask cluster through joblib's Dask backend equals the serial run."""
import joblib
import pytest

import dlra
import dlra.diagnostics as dg

distributed = pytest.importorskip("dask.distributed")


def test_convergence_sweep_on_dask_local_cluster_matches_serial():
    p = dlra.problems.RotatingMatrix(n=20, rank=3)
    kw = dict(hs=[0.2, 0.1], thetas=[1e-4], substep="euler", eps_samples=1)
    methods = ["adaptive_bug", dg.method_spec("parallel_bug", "parallel BUG")]
    serial = dg.convergence_sweep(p, methods, **kw)
    # two threads: with a single slot joblib falls back to its sequential backend
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
            on_dask = dg.convergence_sweep(p, methods, **kw)
        assert len(stream.data) >= 1            # the points really ran as tasks of the cluster
    ignore = {"wall_time"}
    assert len(on_dask) == len(serial) == 4
    for a, b in zip(serial, on_dask):
        assert {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}
