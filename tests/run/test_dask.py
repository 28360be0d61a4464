"""The Dask backend: chains as tasks on a local dask.distributed cluster of several worker
processes give exactly the local backend's output for the same seed, through the Python
API (a Client or a dask:// address) and the command line (--scheduler)."""
from __future__ import annotations

import distributed
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.errors import MlimputeError
from mlimpute.model.simulate import simulate



@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def data():
    frame, _ = simulate(n_clusters=25, cluster_size=8, n_level1=2, n_level2=1, seed=9)
    spec = mlimpute.propose(frame, "cluster").to_dict()
    spec["mcmc"] = {"burnin": 40, "between": 7, "m": 6, "chains": 3, "seed": 123}
    return frame, mlimpute.Spec.from_dict(spec)


def test_dask_client_gives_the_local_output(cluster, data):
    frame, spec = data
    local = mlimpute.impute(frame, spec, workers=1).stacked("flong")
    with distributed.Client(cluster) as client:
        remote = mlimpute.impute(frame, spec, scheduler=client)
        workers_used = len(client.scheduler_info()["workers"])
    assert workers_used == 3
    pd.testing.assert_frame_equal(remote.stacked("flong"), local)
    address = cluster.scheduler_address.replace("tcp://", "dask://")
    by_address = mlimpute.impute(frame, spec, scheduler=address)
    pd.testing.assert_frame_equal(by_address.stacked("flong"), local)
    pd.testing.assert_frame_equal(by_address.parameter_draws(), remote.parameter_draws())


def test_command_line_scheduler(cluster, data, tmp_path):
    frame, spec = data
    frame.to_csv(tmp_path / "in.csv", index=False)
    spec.save(tmp_path / "spec.toml")
    address = cluster.scheduler_address.replace("tcp://", "dask://")
    common = ["impute", str(tmp_path / "in.csv"), "--spec", str(tmp_path / "spec.toml"), "--quiet"]
    assert main(common + ["-o", str(tmp_path / "dask.csv"), "--scheduler", address]) == 0
    assert main(common + ["-o", str(tmp_path / "local.csv"), "--workers", "2"]) == 0
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_unreachable_or_malformed_scheduler(data, tmp_path):
    frame, spec = data
    with pytest.raises(MlimputeError, match="expected dask://host:port"):
        mlimpute.impute(frame, spec, scheduler="http://nowhere")
    with pytest.raises(MlimputeError, match="cannot reach the Dask scheduler at dask://127.0.0.1:9"):
        mlimpute.impute(frame, spec, scheduler="dask://127.0.0.1:9")
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--cluster",
                 "cluster", "--quiet", "--scheduler", "dask://127.0.0.1:9"]) == 2
    assert not (tmp_path / "o.csv").exists()
