"""Checks of the data against the spec: one-line errors naming the column."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute import DataError, Response, Spec, SpecError
from mlimpute.model.compile import compile_model
from mlimpute.model.simulate import simulate


@pytest.fixture
def frame():
    data, _ = simulate(n_clusters=10, cluster_size=6, n_level1=2, n_level2=1, seed=3)
    return data


def spec_for(**kw):
    base = dict(cluster="cluster", responses=[Response("y1"), Response("y2"), Response("g1", level=2)],
                covariates=["x", "w"])
    base.update(kw)
    return Spec(**base)


@pytest.mark.parametrize("change, spec_kw, message", [
    (lambda f: f.assign(cluster=f["cluster"].where(f.index != 3)), {}, "column 'cluster'.*missing"),
    (lambda f: f.drop(columns="y2"), {}, "column 'y2'.*not in the data"),
    (lambda f: f.assign(x=f["x"].where(f.index != 0)), {}, "column 'x'.*fully observed"),
    (lambda f: f.assign(y1="text"), {}, "column 'y1'.*must be numeric"),
    (lambda f: f.assign(y1=np.nan), {}, "column 'y1'.*no observed value"),
    (lambda f: f.assign(g1=f["g1"] + np.arange(len(f))), {}, "column 'g1'.*varies in cluster"),
    (lambda f: f, {"level2_covariates": ["x"]}, "column 'x'.*constant within"),
    (lambda f: f.assign(x2=f["x"] * 2), {"covariates": ["x", "x2"]}, "collinear"),
    (lambda f: f.assign(y1=np.where(f.index == 0, np.inf, f["y1"])), {}, "column 'y1'.*infinite"),
])
def test_bad_data_gives_one_line_error_naming_the_column(frame, change, spec_kw, message):
    with pytest.raises((DataError, SpecError), match=message) as info:
        compile_model(spec_for(**spec_kw), change(frame))
    assert "\n" not in str(info.value)


def test_a_type_the_engine_lacks_is_refused_clearly(frame, monkeypatch):
    from mlimpute.engine import REGISTRY
    monkeypatch.delitem(REGISTRY, "binary")
    frame = frame.assign(cat=pd.Categorical(np.where(frame["x"] > 0, "a", "b")))
    frame.loc[0, "cat"] = np.nan
    spec = spec_for(responses=[Response("y1"), Response("cat", type="binary")])
    with pytest.raises(SpecError, match="'binary' is not supported by this version"):
        compile_model(spec, frame)


def test_text_covariate_is_dummy_coded(frame):
    frame = frame.assign(group=np.where(frame.index % 3 == 0, "a", np.where(frame.index % 3 == 1, "b", "c")))
    model = compile_model(spec_for(covariates=["x", "group"]), frame)
    assert model.level1_covariates == ["cons", "x", "group[b]", "group[c]"]
    x = model.data.level1.x
    assert np.array_equal(x[:, 2], (frame["group"] == "b").to_numpy(float))


def test_per_response_covariates_become_zero_constraints(frame):
    spec = spec_for(responses=[Response("y1", covariates=["x"]), Response("y2", intercept=False)])
    model = compile_model(spec, frame)
    mask = model.data.level1.coef_mask
    assert model.level1_covariates == ["cons", "x", "w"]
    assert mask[:, 0].tolist() == [True, True, False]
    assert mask[:, 1].tolist() == [False, True, True]
    spec = spec.__class__.from_dict({**spec.to_dict(), "mcmc": {"burnin": 5, "between": 5, "m": 1, "seed": 1}})
    result = mlimpute.impute(frame, spec)
    assert "beta1[w,y1]" not in result.parameter_draws().columns
    assert (result.sampler.chain.beta1[:, 2, 0] == 0).all()


def test_level2_response_missing_in_some_rows_of_a_cluster_takes_the_cluster_value(frame):
    frame = frame.copy()
    first = frame.index[frame["cluster"] == frame["cluster"].iloc[0]]
    if frame.loc[first, "g1"].isna().all():
        frame.loc[first, "g1"] = 1.5
    frame.loc[first[0], "g1"] = np.nan
    value = frame.loc[first, "g1"].dropna().iloc[0]
    spec = Spec.from_dict({**spec_for().to_dict(), "mcmc": {"burnin": 2, "between": 1, "m": 1, "seed": 1}})
    completed = mlimpute.impute(frame, spec).completed(1)
    assert completed.loc[first[0], "g1"] == value
