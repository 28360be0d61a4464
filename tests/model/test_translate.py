"""Specs translated from R calls (jomo arguments, mitml formulas/types, mice
predictorMatrix + method): the model is the one R runs, checked by running jomo and
mitml on the same data and comparing posterior means (tests/engine/test_vs_jomo's criterion),
and the calls the joint model cannot represent are refused in one line."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlimpute.model.compile import check_against_data
from mlimpute import SpecError
from mlimpute.model.simulate import simulate
from mlimpute.model.translate import from_jomo, from_mice, from_mitml

from conftest import require_r, run_r
from jomo_reference import BURNIN, assert_agree, our_draws

ITERATIONS = 3000


@pytest.fixture(scope="module")
def frame():
    data, _ = simulate(n_clusters=40, cluster_size=15, n_level1=2, n_level2=1, seed=3)
    data["cons"] = 1.0
    return data


def model_of(spec):
    """The parts of a spec that define the imputation model (not settings)."""
    d = spec.to_dict()
    return {k: d[k] for k in ("cluster", "responses", "covariates", "level2_covariates",
                              "random_intercept", "random_slopes", "level1_covariance")}


def test_jomo_call_against_jomo(tmp_path, frame):
    """jomo(Y = data[c("y1","y2")], Y2 = data["g1"], X = data[c("cons","x")],
    X2 = data[c("cons","w")], Z = data[c("cons","x")], clus = data$cluster).
    Continuous responses: jomo is not the reference for latent types (docs/validation.md)."""
    require_r("jomo")
    spec = from_jomo(frame, ["y1", "y2"], "cluster", Y2=["g1"], X=["cons", "x"], X2=["cons", "w"],
                     Z=["cons", "x"])
    assert [(r.name, r.level) for r in spec.responses] == [("y1", 1), ("y2", 1), ("g1", 2)]
    assert spec.covariates == ["x"] and spec.level2_covariates == ["w"] and spec.random_slopes == ["x"]
    frame.to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "jomo.csv"
    run_r("jomo_chain.R", f"data={tmp_path / 'data.csv'}", f"out={out}", "cluster=cluster",
          "l1con=y1,y2", "l1cat=", "l2con=g1", "l2cat=", "x1=cons,x", "x2=cons,w", "z=cons,x",
          f"iterations={BURNIN + ITERATIONS}", "seed=5")
    theirs = pd.read_csv(out).iloc[BURNIN:]
    assert_agree(our_draws(frame.drop(columns="cons"), spec, ITERATIONS, seed=6), theirs)


def test_jomo_factors_and_defaults(frame):
    """Factors are jomo's unordered types with the last level as reference (ordered ones
    too: jomo has no ordinal model); no X/X2/Z is an intercept and random intercept only;
    an X without a column of ones drops the intercept; meth = "random" is cluster covariance."""
    data = frame.copy()
    data["b"] = pd.Categorical(np.where(data["x"] > 0, "hi", "lo"))
    data["o"] = pd.Categorical(np.where(data["x"] > 1, "c", np.where(data["x"] > 0, "b", "a")),
                               ordered=True)
    spec = from_jomo(data, ["y1", "b", "o"], "cluster", nburn=10, nbetween=3, nimp=2, seed=1)
    assert [(r.type, r.reference) for r in spec.responses] == \
        [("continuous", "first"), ("binary", "last"), ("categorical", "last")]
    assert spec.covariates == [] and spec.random_slopes == [] and spec.random_intercept
    assert (spec.mcmc.burnin, spec.mcmc.between, spec.mcmc.m, spec.mcmc.seed) == (10, 3, 2, 1)
    no_constant = from_jomo(data, ["y1"], "cluster", X=["x"], meth="random", a=6.0)
    assert no_constant.responses[0].intercept is False and no_constant.covariates == ["x"]
    assert no_constant.level1_covariance == "cluster" and no_constant.priors.cluster_df_start == 6.0


@pytest.mark.parametrize("formulas, random", [
    (["y1 + y2 ~ 1 + x + (1 + x | cluster)"], "none"),
    (["y1 + y2 ~ 1 + x + (1 | cluster)", "g1 ~ 1 + w"], "none"),
])
def test_mitml_formula_against_mitml(tmp_path, frame, formulas, random):
    require_r("mitml")
    data = frame.drop(columns="cons")
    if len(formulas) == 1:
        data = data.drop(columns="g1")
    spec = from_mitml(data, formulas if len(formulas) > 1 else formulas[0], random_L1=random)
    data.to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "mitml.csv"
    run_r("mitml_chain.R", f"data={tmp_path / 'data.csv'}", f"out={out}", f"f1={formulas[0]}",
          *([f"f2={formulas[1]}"] if len(formulas) > 1 else []), f"random={random}",
          f"burnin={BURNIN}", f"iterations={ITERATIONS}", "seed=7")
    assert_agree(our_draws(data, spec, ITERATIONS, seed=8), pd.read_csv(out))


def test_mitml_type_is_its_formula(frame):
    data = frame.drop(columns="cons")
    by_type = from_mitml(data, type=[{"cluster": -2, "y1": 1, "y2": 1, "x": 3, "w": 0},
                                     {"g1": 1, "w": 2}])
    by_formula = from_mitml(data, ["y1 + y2 ~ 1 + x + (1 + x | cluster)", "g1 ~ 1 + w"])
    assert model_of(by_type) == model_of(by_formula)
    vector = from_mitml(data[["cluster", "x", "y1"]], type=[-2, 2, 1])
    assert vector.covariates == ["x"] and vector.random_slopes == [] and vector.random_intercept
    no_intercept = from_mitml(data, "y1 ~ 0 + x + (0 + x | cluster)")
    assert not no_intercept.random_intercept and no_intercept.responses[0].intercept is False
    cluster_cov = from_mitml(data, "y1 + y2 ~ x + (1|cluster)", random_L1="mean")
    assert cluster_cov.level1_covariance == "cluster"


def test_mice_predictor_matrix(frame):
    data = frame.drop(columns="cons")
    columns = list(data.columns)            # cluster, x, w, y1, y2, g1
    matrix = pd.DataFrame(0, index=columns, columns=columns)
    for target in ("y1", "y2"):
        matrix.loc[target, ["cluster", "x", "w", "y1", "y2", "g1"]] = [-2, 2, 1, 0, 1, 1]
        matrix.loc[target, target] = 0
    matrix.loc["g1", ["cluster", "w", "y1", "y2"]] = [-2, 1, 1, 1]
    method = {"y1": "2l.pan", "y2": "2l.pan", "g1": "2lonly.norm"}
    spec = from_mice(data, matrix, method, m=7)
    assert [(r.name, r.level, r.type, r.covariates) for r in spec.responses] == \
        [("y1", 1, "continuous", ["x", "w"]), ("y2", 1, "continuous", ["x", "w"]),
         ("g1", 2, "continuous", ["w"])]
    assert spec.cluster == "cluster" and spec.random_slopes == ["x"] and spec.mcmc.m == 7
    check_against_data(spec, data)
    norm = from_mice(data.drop(columns="g1"), matrix.drop(index="g1", columns="g1"),
                     {"y1": "2l.norm", "y2": "2l.norm"})
    assert norm.level1_covariance == "cluster"


def _matrix(data, rows):
    m = pd.DataFrame(0, index=data.columns, columns=data.columns)
    for target, codes in rows.items():
        for column, code in codes.items():
            m.loc[target, column] = code
    return m


@pytest.mark.parametrize("make, message", [
    (lambda d: from_jomo(d, ["y1"], "cluster", meth="fixed"), "'fixed' has no counterpart"),
    (lambda d: from_jomo(d, ["y1"], "cluster", X=["nope"]), "column 'nope' is not in the data"),
    (lambda d: from_mitml(d, "y1 ~ x*w + (1|cluster)"), "term 'x\\*w' is derived"),
    (lambda d: from_mitml(d, "y1 ~ I(x^2) + (1|cluster)"), "is derived"),
    (lambda d: from_mitml(d, "y1 ~ x"), "no cluster term"),
    (lambda d: from_mitml(d, type={"cluster": -2, "y1": 1, "w": -1}), "type -1"),
    (lambda d: from_mitml(d, "y1 ~ x + (1|cluster)", type={"y1": 1}), "exactly one"),
    (lambda d: from_mice(d, _matrix(d, {"y1": {"cluster": -2, "x": 1}}), {"y1": "pmm", "y2": "2l.pan", "g1": "2lonly.norm"}),
     "mice method 'pmm' is not a conditional"),
    (lambda d: from_mice(d, _matrix(d, {"y1": {"cluster": -2, "x": 3}, "y2": {"cluster": -2}, "g1": {"cluster": -2}}),
                         {"y1": "2l.pan", "y2": "2l.pan", "g1": "2lonly.norm"}), "cluster-mean predictor 'x'"),
    (lambda d: from_mice(d, _matrix(d, {"y1": {"cluster": -2, "x": 2}, "y2": {"cluster": -2, "x": 1},
                                        "g1": {"cluster": -2}}),
                         {"y1": "2l.pan", "y2": "2l.pan", "g1": "2lonly.norm"}), "random effects differ"),
    (lambda d: from_mice(d, _matrix(d, {"y1": {"cluster": -2}}), {"y1": "2l.pan"}),
     "column 'y2': has missing values but an empty mice method"),
    (lambda d: from_mice(d, _matrix(d, {"y1": {"cluster": -2}, "y2": {"cluster": -2}, "g1": {"cluster": -2}}),
                         {"y1": "2l.norm", "y2": "2l.pan", "g1": "2lonly.norm"}), "use one kind for all"),
])
def test_unrepresentable_calls_are_refused_in_one_line(frame, make, message):
    with pytest.raises(SpecError, match=message) as info:
        make(frame.drop(columns="cons"))
    assert "\n" not in str(info.value)
