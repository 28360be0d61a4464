"""Independent chains: seeds from SeedSequence.spawn, M split among chains, output
identical whatever the number of worker processes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.engine import GibbsSampler
from mlimpute.engine.parallel import split_imputations
from mlimpute.model.simulate import simulate


@pytest.fixture(scope="module")
def frame():
    data, _ = simulate(n_clusters=15, cluster_size=8, n_level1=2, n_level2=1, seed=9)
    return data


def _spec(frame, chains, m=5):
    spec = mlimpute.propose(frame, "cluster")
    spec.mcmc = mlimpute.MCMC(burnin=15, between=4, m=m, seed=123, chains=chains)
    return spec


def test_split():
    assert split_imputations(20, 3) == [7, 7, 6]
    assert split_imputations(5, 5) == [1] * 5
    with pytest.raises(ValueError):
        split_imputations(2, 3)
    with pytest.raises(mlimpute.SpecError, match="cannot exceed"):
        mlimpute.MCMC(m=2, chains=3)


def test_output_does_not_depend_on_the_number_of_workers(frame):
    one = mlimpute.impute(frame, _spec(frame, 3), workers=1)
    two = mlimpute.impute(frame, _spec(frame, 3), workers=2)
    assert one.m == two.m == 5
    pd.testing.assert_frame_equal(one.stacked(), two.stacked())
    pd.testing.assert_frame_equal(one.parameter_draws(True), two.parameter_draws(True))
    assert len(one.chain_draws()) == 3


def test_a_run_shorter_than_starting_workers_keeps_its_chains_in_process(frame, monkeypatch):
    """Left to choose, a run of a few iterations does not start a pool of processes (it
    would cost more than the sampling), a long one does; the output is the same."""
    from mlimpute.engine import parallel
    pools = []
    real = parallel.worker_pool

    def counting(workers, setup=None):
        pools.append(workers)
        return real(workers, setup)
    monkeypatch.setattr(parallel, "worker_pool", counting)
    short = mlimpute.impute(frame, _spec(frame, 2))
    assert pools == []
    forced = mlimpute.impute(frame, _spec(frame, 2), workers=2)
    assert pools == [2]
    pd.testing.assert_frame_equal(short.stacked(), forced.stacked())
    long_run = _spec(frame, 2)
    long_run.mcmc = mlimpute.MCMC(burnin=20000, between=100, m=2, seed=1, chains=2)
    from mlimpute.run.api import _workers_for
    probe = GibbsSampler(mlimpute.compile_model(long_run, frame).data, np.random.default_rng(1))
    assert _workers_for(probe, long_run.mcmc, None, None) is None


def test_chain_k_is_the_sampler_with_the_kth_spawned_seed(frame):
    result = mlimpute.impute(frame, _spec(frame, 2), workers=1)
    seeds = np.random.SeedSequence(123).spawn(2)
    second = GibbsSampler(result.model.data, np.random.default_rng(seeds[1])).run(15, 4, 2)
    np.testing.assert_array_equal(result.imputations[3].level1, second.imputations[0].level1)
    np.testing.assert_array_equal(result.samplers[1].chain.omega_u, second.chain.omega_u)


def test_cli_chains_write_a_chain_column_and_diagnose_across_chains(tmp_path, frame):
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    chain = tmp_path / "chain.csv"
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster",
                 "--m", "4", "--burnin", "20", "--between", "5", "--seed", "2", "--chains", "2",
                 "--workers", "2", "--quiet", "--chain", str(chain)]) == 0
    draws = pd.read_csv(chain)
    assert sorted(draws["chain"].unique()) == [1, 2]
    assert (draws.groupby("chain")["burnin"].sum() == 20).all()
    assert main(["diagnose", str(chain), "-o", str(tmp_path / "d")]) == 0
    stacked = pd.read_csv(tmp_path / "o.csv")
    assert sorted(stacked["_mi_m"].unique()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("threads", [1, 2])
def test_the_sampler_runs_with_the_blas_threads_asked_for(threads, monkeypatch):
    """MLIMPUTE_BLAS_THREADS sets the sampler's BLAS threads through threadpoolctl (one by
    default); the machine's own OPENBLAS_* settings are not touched."""
    from threadpoolctl import threadpool_info

    from mlimpute.run.api import sampler_blas_threads
    monkeypatch.setenv("MLIMPUTE_BLAS_THREADS", str(threads))
    most = max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
    with sampler_blas_threads():
        inside = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert inside == {min(threads, most)}
    assert max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas") == most


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_malformed_blas_thread_setting_is_one_line(value, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MLIMPUTE_BLAS_THREADS", value)
    frame, _ = simulate(n_clusters=6, cluster_size=5, n_level1=1, n_level2=0, seed=1)
    frame.to_csv(tmp_path / "in.csv", index=False)
    code = main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
                 "--cluster", "cluster", "--m", "2", "--burnin", "5", "--between", "2",
                 "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "MLIMPUTE_BLAS_THREADS" in err[0], err
    assert not (tmp_path / "out.csv").exists()


def test_auto_burn_in_of_a_model_of_interest_in_worker_processes_equals_one_process(tmp_path):
    """burnin = "auto" sends each chain's state to a worker and back at every stage; with
    a random slope in the model of interest (whose designs share one buffer) the chains
    must go on exactly as in this process: once they ran off to NaN and wrote the
    outcome's missing values as imputed (Hsb82, 2 chains)."""
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("slope", n_clusters=18, cluster_size=8, seed=5)
    frame.loc[frame.index[::6], "y"] = np.nan
    runs = []
    for workers in (1, 2):
        spec = mlimpute.spec_for_model(frame, mlimpute.ModelOfInterest("y ~ x + z + (1 + x | school)"))
        spec = spec.with_mcmc(burnin="auto", max_burnin=1100, between=10, m=2, chains=2, seed=3)
        result = mlimpute.impute(frame, spec, workers=workers)
        assert result.spec.mcmc.burnin >= 2000 or "converged" in " ".join(result.notes)
        runs.append(result)
    assert runs[0].stacked("flong").equals(runs[1].stacked("flong"))
    assert runs[0].parameter_draws(True).equals(runs[1].parameter_draws(True))
    completed = runs[1].completed(2)
    assert completed["y"].notna().all() and completed["x"].notna().all()
