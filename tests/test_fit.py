"""The model of interest: REML fits against lme4, pooling, and MI interval coverage."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute import MlimputeError
from mlimpute.fit import Formula, fit_one, fit_pooled
from mlimpute.simulate import simulate

from conftest import require_r, run_r


def test_formula_parsing():
    f = Formula.parse("y ~ x + C(g) + (1 | school)")
    assert (f.fixed, f.group, f.random) == ("y ~ x + C(g)", "school", "1")
    f = Formula.parse("y ~ x + (1 + x | school)")
    assert (f.fixed, f.group, f.random) == ("y ~ x", "school", "1 + x")
    assert Formula.parse("y ~ x").group is None


@pytest.mark.r
@pytest.mark.parametrize("formula, seed, rtol, se_rtol", [
    ("y1 ~ x + w + (1 | cluster)", 2, 2e-5, 2e-4),
    # fixed-effect SEs are lme4's (X'V^-1X)^-1, not statsmodels' full-Hessian ones
    ("y1 ~ x + (1 + x | cluster)", 5, 1e-4, 5e-4),
])
def test_reml_fit_matches_lme4(tmp_path, formula, seed, rtol, se_rtol):
    require_r("lme4")
    frame, _ = simulate(n_clusters=60, cluster_size=15, n_level1=1, n_level2=0, missing=1e-9, seed=seed)
    frame.to_csv(tmp_path / "d.csv", index=False)
    run_r("lmer_fit.R", tmp_path / "d.csv", tmp_path / "o.csv", formula)
    ref = pd.read_csv(tmp_path / "o.csv").drop_duplicates("name").set_index("name")
    ours = fit_one(frame, formula)
    fixed = [t for t in ours.index if not t.startswith("var(")]
    compared = fixed + ["var(residual)"] + (["var(cluster)"] if "var(cluster)" in ours.index else [])
    np.testing.assert_allclose(ours.loc[compared, "estimate"], ref.loc[compared, "estimate"], rtol=rtol)
    np.testing.assert_allclose(ours.loc[fixed, "std_error"], ref.loc[fixed, "std_error"], rtol=se_rtol)


@pytest.mark.r
def test_names_that_are_not_python_identifiers_match_lme4(tmp_path):
    """R's dotted names and backticked names with spaces, as R users write them."""
    require_r("lme4")
    frame, _ = simulate(n_clusters=40, cluster_size=12, n_level1=1, n_level2=0, missing=1e-9, seed=8)
    frame = frame.rename(columns={"x": "Read.Dis", "w": "w 2", "cluster": "school.id"})
    formula = "y1 ~ Read.Dis + `w 2` + (1 + Read.Dis | school.id)"
    frame.to_csv(tmp_path / "d.csv", index=False)
    run_r("lmer_fit.R", tmp_path / "d.csv", tmp_path / "o.csv", formula)
    ref = pd.read_csv(tmp_path / "o.csv").drop_duplicates("name").set_index("name")
    ours = fit_one(frame, formula)
    fixed = ["Intercept", "Read.Dis", "w 2"]
    assert fixed == [t for t in ours.index if not t.startswith("var(")]
    np.testing.assert_allclose(ours.loc[fixed, "estimate"], ref.loc[fixed, "estimate"], rtol=1e-4)
    variances = ["var(residual)", "var(school.id)"]          # optimisers stop 1e-4 apart
    np.testing.assert_allclose(ours.loc[variances, "estimate"], ref.loc[variances, "estimate"],
                               rtol=5e-4)
    np.testing.assert_allclose(ours.loc[fixed, "std_error"], ref.loc[fixed, "std_error"], rtol=5e-4)


def test_bad_formulas_name_the_problem():
    frame, _ = simulate(n_clusters=10, cluster_size=5, n_level1=1, n_level2=0, missing=1e-9, seed=1)
    with pytest.raises(MlimputeError, match="column 'nope'"):
        fit_one(frame, "y1 ~ nope + (1 | cluster)")
    with pytest.raises(MlimputeError, match="grouping column 'school'"):
        fit_one(frame, "y1 ~ x + (1 | school)")
    with pytest.raises(MlimputeError, match="at least 2 imputations"):
        fit_pooled([frame], "y1 ~ x")


def _coverage(replicates: int, seed: int) -> float:
    """Share of replicates whose pooled 95% interval for the coefficient of x (true 0.4)
    in y1 ~ x + w + (1 | cluster) covers the truth, MAR missingness in y1 and y2."""
    hits = 0
    for r in range(replicates):
        frame, truth = simulate(n_clusters=30, cluster_size=12, n_level1=2, n_level2=0,
                                missing=0.35, seed=seed + r)
        spec = mlimpute.propose(frame, "cluster")
        spec.mcmc = mlimpute.MCMC(burnin=150, between=30, m=5, seed=r)
        pooled = fit_pooled(mlimpute.impute(frame, spec), "y1 ~ x + w + (1 | cluster)")
        row = pooled.loc["x"]
        hits += row["ci_lower"] <= truth.beta1[1, 0] <= row["ci_upper"]
    return hits / replicates


def test_mi_interval_coverage_reduced():
    """CI form: 40 replicates; a coverage of 95% gives at least 33 hits with probability
    > 0.99, while an imputation that ignored the MAR mechanism or the clustering would
    fall far below."""
    assert _coverage(40, seed=1000) >= 33 / 40


@pytest.mark.slow
def test_mi_interval_coverage_full():
    """1,000 replicates: coverage between 93% and 97% (SE about 0.7%)."""
    assert 0.93 <= _coverage(1000, seed=5000) <= 0.97


@pytest.mark.r
@pytest.mark.parametrize("family", ["logit", "probit"])
def test_binary_glm_matches_r(tmp_path, family):
    require_r()
    from mlimpute.simulate import simulate_mixed
    frame, _ = simulate_mixed(level1=("binary",), level2=(), n_clusters=50, cluster_size=20,
                              missing=0.0, seed=8)
    frame.to_csv(tmp_path / "d.csv", index=False)
    run_r("glm_fit.R", tmp_path / "d.csv", tmp_path / "o.csv", "y1 ~ x + w", family)
    ref = pd.read_csv(tmp_path / "o.csv").set_index("name")
    ours = fit_one(frame, "y1 ~ x + w", family=family)
    np.testing.assert_allclose(ours["estimate"], ref.loc[ours.index, "estimate"], rtol=1e-5)  # IRLS tolerances
    # R uses the expected information, statsmodels the observed one for a non-canonical
    # link (probit): the standard errors agree to a few parts in 10,000
    np.testing.assert_allclose(ours["std_error"], ref.loc[ours.index, "std_error"], rtol=1e-3)
    with pytest.raises(MlimputeError, match="random effects with a"):
        fit_one(frame, "y1 ~ x + (1 | cluster)", family=family)


def test_pooled_fits_from_a_stacked_frame_in_parallel_equal_the_serial_ones():
    frame, _ = simulate(n_clusters=20, cluster_size=10, n_level1=2, n_level2=0, seed=6)
    spec = mlimpute.propose(frame, "cluster")
    spec.mcmc = mlimpute.MCMC(burnin=30, between=10, m=3, seed=1)
    result = mlimpute.impute(frame, spec)
    serial = fit_pooled(result, "y1 ~ x + (1 | cluster)")
    parallel = fit_pooled(result.stacked("flong"), "y1 ~ x + (1 | cluster)", workers=2)
    pd.testing.assert_frame_equal(serial, parallel)
