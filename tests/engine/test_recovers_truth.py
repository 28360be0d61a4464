"""On simulated two-level data with known parameters and MAR missingness, the posterior
means recover the generating values.

The posterior mean of a parameter differs from the truth by about one posterior SD
(sampling variation of the data), so each parameter must lie within 4 posterior SDs
(plus Monte Carlo error).  A large data set keeps the posterior SDs small, so a biased
step (a wrong prior, a missing term in a conditional) fails the test.
"""
from __future__ import annotations

import numpy as np
import pytest

import mlimpute
from mlimpute.model.simulate import simulate


def _truth_table(result, truth):
    """Generating value of every parameter, by the names parameter_draws uses (working
    columns: latents of categorical responses are name.k)."""
    m = result.model
    values = {}
    for a, cov in enumerate(["cons", "x", "w"]):
        for r, resp in enumerate(m.level1_working):
            values[f"beta1[{cov},{resp}]"] = truth.beta1[a, r]
    for a, cov in enumerate(["cons", "w"]):
        for r, resp in enumerate(m.level2_working):
            values[f"beta2[{cov},{resp}]"] = truth.beta2[a, r]
    for name, matrix, labels in (("omega_e", truth.omega_e, m.level1_working),
                                 ("omega_u", truth.omega_u, result.random_effect_names)):
        for a in range(len(labels)):
            for b in range(a + 1):
                values[f"{name}[{labels[a]},{labels[b]}]"] = matrix[a, b]
    return values


@pytest.mark.parametrize("n_level1,n_level2", [(3, 1), (2, 2)])
def test_posterior_means_recover_generating_parameters(n_level1, n_level2):
    frame, truth = simulate(n_clusters=250, cluster_size=20, n_level1=n_level1,
                            n_level2=n_level2, seed=100 + n_level1)
    spec = mlimpute.propose(frame, "cluster")
    spec = mlimpute.Spec.from_dict({**spec.to_dict(),
                                    "mcmc": {"burnin": 300, "between": 1500, "m": 1, "seed": 9}})
    result = mlimpute.impute(frame, spec)
    summary = result.posterior_summary()
    expected = _truth_table(result, truth)
    assert set(expected) == set(summary.index)
    for name, value in expected.items():
        row = summary.loc[name]
        tolerance = 4 * np.hypot(row["sd"], row["mcse"])
        assert abs(row["mean"] - value) < tolerance, (name, row["mean"], value, tolerance)


def test_missing_values_are_imputed_from_the_model_not_the_observed_mean():
    """Under MAR on x the observed mean of y1 is biased; the imputations correct it."""
    frame, truth = simulate(n_clusters=200, cluster_size=20, n_level1=1, n_level2=0,
                            missing=0.4, seed=5)
    full, _ = simulate(n_clusters=200, cluster_size=20, n_level1=1, n_level2=0,
                       missing=1e-9, seed=5)
    spec = mlimpute.propose(frame, "cluster")
    spec = mlimpute.Spec.from_dict({**spec.to_dict(),
                                    "mcmc": {"burnin": 200, "between": 50, "m": 10, "seed": 1}})
    result = mlimpute.impute(frame, spec)
    true_mean = full["y1"].mean()
    observed_mean = frame["y1"].mean()
    imputed_mean = np.mean([d["y1"].mean() for d in result.completed_all()])
    # the MAR mechanism (more missing for large x) makes complete cases biased ...
    assert abs(observed_mean - true_mean) > 0.05
    # ... and MI removes most of that bias
    assert abs(imputed_mean - true_mean) < 0.3 * abs(observed_mean - true_mean)


@pytest.mark.parametrize("size", [
    pytest.param((150, 20, 1500), id="ci"),
    pytest.param((400, 25, 4000), id="full", marks=pytest.mark.slow),
])
def test_mixed_types_recover_generating_parameters(size):
    """Continuous, binary, 3-category and ordinal responses at level 1, continuous and
    3-category at level 2, MAR: every parameter (latent scale) within 4 posterior SDs,
    ordinal thresholds included, and fixed entries exactly at their values."""
    from mlimpute.model.simulate import simulate_mixed
    n_clusters, cluster_size, iterations = size
    frame, truth = simulate_mixed(
        level1=("continuous", "binary", ("categorical", 3), ("ordinal", 4)),
        level2=("continuous", ("categorical", 3)), n_clusters=n_clusters,
        cluster_size=cluster_size, missing=0.2, seed=71)
    spec = mlimpute.propose(frame, "cluster")
    assert [r.type for r in spec.responses] == ["continuous", "binary", "categorical", "ordinal",
                                                "continuous", "categorical"]
    spec = mlimpute.Spec.from_dict({**spec.to_dict(), "mcmc": {
        "burnin": 500, "between": iterations, "m": 1, "seed": 2}})
    result = mlimpute.impute(frame, spec)
    summary = result.posterior_summary()
    expected = _truth_table(result, truth)
    expected["thresholds[y4,2]"], expected["thresholds[y4,3]"] = 0.8, 1.6
    assert set(expected) == set(summary.index)
    for name, value in expected.items():
        row = summary.loc[name]
        if row["sd"] == 0:
            assert row["mean"] == value, name
            continue
        tolerance = 4 * np.hypot(row["sd"], row["mcse"])
        assert abs(row["mean"] - value) < tolerance, (name, row["mean"], value, tolerance)
    for completed in result.completed_all():
        for name in ["y2", "y3", "y4", "g2"]:
            assert list(completed[name].cat.categories) == list(frame[name].cat.categories)
            assert completed[name].notna().all()
