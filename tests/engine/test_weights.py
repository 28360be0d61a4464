"""Sampling weights: under informative selection the weighted imputation model moves
toward the population values (REALCOM's level-1/level-2 weights, pseudo-likelihood
with Pfeffermann et al. 1998 scaling; see mlimpute.engine.model.scaled_weights)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute


def _population_sample(level, seed=0):
    """Two correlated responses, population intercepts 0; units (level 1) or clusters
    (level 2) selected with a probability that grows with the outcome."""
    rng = np.random.default_rng(seed)
    n_clusters, size = 300, 40
    u = rng.normal(0, np.sqrt(0.5), n_clusters)
    cluster = np.repeat(np.arange(n_clusters), size)
    e = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], n_clusters * size)
    y1 = u[cluster] + e[:, 0]
    y2 = 0.5 * u[cluster] + e[:, 1]
    if level == 1:
        prob = np.where(y1 > 0, 0.6, 0.15)
        keep = rng.random(len(y1)) < prob
        weight_unit, weight_cluster = 1 / prob, np.ones(n_clusters)
    else:
        prob_cluster = np.where(u > 0, 0.8, 0.2)
        chosen = rng.random(n_clusters) < prob_cluster
        keep = chosen[cluster]
        weight_unit, weight_cluster = np.ones(len(y1)), 1 / prob_cluster
    frame = pd.DataFrame({"cluster": cluster, "y1": y1, "y2": y2, "w1": weight_unit,
                          "w2": weight_cluster[cluster]})[keep].reset_index(drop=True)
    frame.loc[rng.random(len(frame)) < 0.2, "y1"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.2, "y2"] = np.nan
    return frame


def _intercept(frame, **weights):
    spec = mlimpute.Spec("cluster", [mlimpute.Response("y1"), mlimpute.Response("y2")],
                         mcmc=mlimpute.MCMC(burnin=200, between=800, m=1, seed=4), **weights)
    summary = mlimpute.impute(frame, spec).posterior_summary()
    return summary.loc["beta1[cons,y1]"], summary.loc["beta1[cons,y2]"]


@pytest.mark.parametrize("level, weights", [(1, {"level1_weight": "w1"}),
                                            (2, {"level2_weight": "w2"})])
def test_weighted_estimates_move_toward_population_truth(level, weights):
    frame = _population_sample(level)
    plain = _intercept(frame)
    weighted = _intercept(frame, **weights)
    for p, w in zip(plain, weighted):
        # the selection biases the unweighted intercepts (population value 0) ...
        assert p["mean"] > 0.15
        # ... and the weights remove most of that bias
        assert abs(w["mean"]) < 0.35 * abs(p["mean"])
        assert abs(w["mean"]) < 4 * w["sd"] + 0.05


def test_equal_weights_change_nothing():
    frame = _population_sample(1)
    frame["one"] = 3.0     # any constant: scaled to 1 within clusters
    # weighted models draw fixed and random effects separately: compare like with like
    plain = mlimpute.Spec("cluster", [mlimpute.Response("y1"), mlimpute.Response("y2")],
                          mcmc=mlimpute.MCMC(burnin=5, between=5, m=1, seed=4,
                                             fixed_random="separate"))
    a = mlimpute.impute(frame, plain).parameter_draws()
    b = mlimpute.impute(frame, mlimpute.Spec(**{**plain.__dict__, "level1_weight": "one",
                                               "level2_weight": "one"})).parameter_draws()
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("values, message", [
    ([-1.0], "non-negative"), ([np.nan], "missing values"), ([0.0], "sum to zero"),
])
def test_bad_weights(values, message):
    frame = _population_sample(1).iloc[:200].copy()
    frame["bad"] = values[0] if values[0] != 0.0 else 0.0
    if values[0] == -1.0:
        frame.loc[0, "bad"] = -1.0
        frame.loc[1:, "bad"] = 1.0
    spec = mlimpute.Spec("cluster", [mlimpute.Response("y1")], level1_weight="bad")
    with pytest.raises(mlimpute.DataError, match=f"column 'bad'.*{message}"):
        mlimpute.compile_model(spec, frame)


def test_level2_weight_must_be_constant_within_cluster():
    frame = _population_sample(1).iloc[:200].copy()
    spec = mlimpute.Spec("cluster", [mlimpute.Response("y1")], level2_weight="w1")
    with pytest.raises(mlimpute.DataError, match="constant"):
        mlimpute.compile_model(spec, frame)


def test_cli_weight_options(tmp_path):
    from mlimpute.frontends.cli import main
    frame = _population_sample(2).iloc[:400]
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    spec_path = tmp_path / "s.toml"
    assert main(["propose", str(src), "--cluster", "cluster", "--level1-weight", "w1",
                 "--level2-weight", "w2", "-o", str(spec_path)]) == 0
    spec = mlimpute.Spec.load(spec_path)
    assert (spec.level1_weight, spec.level2_weight) == ("w1", "w2")
    assert "w1" not in spec.covariates and "w2" not in spec.covariates
