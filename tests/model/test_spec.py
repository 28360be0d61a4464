"""The intermediate spec: construction checks, JSON/TOML round trip, REALCOM's default model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.model.compile import check_against_data
from mlimpute import MCMC, PriorSpec, Response, Spec, SpecError
from mlimpute.model.simulate import simulate


def full_spec():
    return Spec(cluster="school",
                responses=[Response("y1"), Response("y2", covariates=["x"], intercept=False),
                           Response("g", level=2)],
                covariates=["x", "w"], level2_covariates=["w"], random_slopes=["x"],
                mcmc=MCMC(burnin=10, between=3, m=4, seed=99),
                priors=PriorSpec(level1_df=2.5, level1_scale=[[1, 0], [0, 2]]))


def cluster_covariance_spec():
    return Spec("c", [Response("y1"), Response("y2")], level1_covariance="cluster",
                priors=PriorSpec(cluster_df_start=40.0, cluster_df_prior=3.0))


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_round_trip_is_lossless(tmp_path, fmt):
    spec = full_spec()
    path = tmp_path / f"model.{fmt}"
    spec.save(path)
    assert Spec.load(path) == spec
    cluster = cluster_covariance_spec()
    cluster.save(path)
    assert Spec.load(path) == cluster and Spec.load(path).level1_covariance == "cluster"
    default = Spec("c", [Response("y")])
    default.save(path)
    assert Spec.load(path) == default


def test_text_forms_round_trip():
    spec = full_spec()
    assert Spec.from_json(spec.to_json()) == spec
    assert Spec.from_toml(spec.to_toml()) == spec
    assert "[mcmc]" in spec.to_toml()


@pytest.mark.parametrize("build, message", [
    (lambda: Spec("c", []), "no response"),
    (lambda: Spec("c", [Response("y", type="poisson")]), "unknown type 'poisson'"),
    (lambda: Spec("c", [Response("y", level=3)]), "level 3 needs 2 classifications"),
    (lambda: Spec("c", [Response("y"), Response("y")]), "'y' is listed more than once"),
    (lambda: Spec("c", [Response("c")]), "cannot also be a response"),
    (lambda: Spec("c", [Response("y")], covariates=["y"]), "both a response and a covariate"),
    (lambda: Spec("c", [Response("y")], mcmc=MCMC(between=0)), "mcmc.between"),
    (lambda: Spec("c", [Response("y")], mcmc=MCMC(seed=-1)), "mcmc.seed"),
    (lambda: Spec.from_dict({"cluster": "c", "responses": [{"name": "y"}], "burnin": 3}),
     "unknown setting 'burnin'"),
    (lambda: Spec.from_toml("cluster = "), "invalid TOML"),
    (lambda: PriorSpec(level1_scale=[[1, 0]]), "square matrix"),
    (lambda: Spec("c", [Response("y")], level1_covariance="random"), "level1_covariance must be"),
    (lambda: Spec("c", [Response("y"), Response("b", type="binary")], level1_covariance="cluster"),
     "'b'"),
    (lambda: PriorSpec(cluster_df_prior=0), "cluster_df_prior"),
])
def test_inconsistent_specs_are_refused_with_one_line(build, message):
    with pytest.raises(SpecError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


def test_load_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("cluster = 1\nresponses = []\n")
    with pytest.raises(SpecError, match="bad.toml"):
        Spec.load(bad)
    with pytest.raises(SpecError, match="cannot read spec"):
        Spec.load(tmp_path / "missing.toml")


def test_propose_builds_realcom_default_model():
    frame, _ = simulate(n_clusters=20, cluster_size=8, n_level1=2, n_level2=1, seed=1)
    frame["complete_l1"] = np.random.default_rng(0).normal(size=len(frame))
    frame["pupil"] = np.arange(1, len(frame) + 1)            # an id: left out
    frame["school_name"] = "S" + frame["cluster"].astype(str)   # the cluster's codes: left out
    frame["cons"] = 1.0                                      # REALCOM's constant: left out
    spec = mlimpute.propose(frame, "cluster")
    assert [(r.name, r.type, r.level) for r in spec.responses] == [
        ("y1", "continuous", 1), ("y2", "continuous", 1), ("g1", "continuous", 2)]
    assert spec.covariates == ["x", "w", "complete_l1"]
    assert spec.level2_covariates == ["w"]          # the one constant within clusters
    assert spec.intercept and spec.random_intercept and spec.random_slopes == []
    check_against_data(spec, frame)


def test_propose_options_and_errors():
    frame, _ = simulate(n_clusters=20, cluster_size=8, n_level1=2, n_level2=0, seed=1)
    spec = mlimpute.propose(frame, "cluster", responses=["y1"], covariates=["x"])
    assert spec.response_names == ["y1"] and spec.covariates == ["x"]
    with pytest.raises(mlimpute.DataError, match="column 'nope'"):
        mlimpute.propose(frame, "nope")
    complete = frame.dropna()
    with pytest.raises(mlimpute.DataError, match="nothing to impute"):
        mlimpute.propose(complete, "cluster")


def test_infer_type_from_dtypes():
    from mlimpute.model.propose import infer_type
    assert infer_type(pd.Series([1.0, np.nan])) == "continuous"
    assert infer_type(pd.Series(pd.Categorical(["a", "b", None]))) == "binary"
    assert infer_type(pd.Series(pd.Categorical(["a", "b", "c"]))) == "categorical"
    assert infer_type(pd.Series(pd.Categorical(["lo", "mid", "hi"], ordered=True))) == "ordinal"
