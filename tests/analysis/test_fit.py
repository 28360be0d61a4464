"""The model of interest: REML fits against lme4, pooling, and MI interval coverage."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute import MlimputeError
from mlimpute.analysis.fit import fit_one, fit_pooled
from mlimpute.model.formula import Formula
from mlimpute.analysis.variance_components import kind_of
from mlimpute.model.simulate import simulate

from conftest import require_r, run_r


def test_formula_parsing():
    f = Formula.parse("y ~ x + C(g) + (1 | school)")
    assert (f.fixed, f.group, f.random) == ("y ~ x + C(g)", "school", "1")
    f = Formula.parse("y ~ x + (1 + x | school)")
    assert (f.fixed, f.group, f.random) == ("y ~ x", "school", "1 + x")
    assert Formula.parse("y ~ x").group is None
    # one parser for lme4's notation: nested groupings expanded as lme4 does, inner
    # parentheses in a random expression, I() in the fixed part
    f = Formula.parse("y ~ x + I(x**2) + (1 + C(g) | school/class) + (0 + x | area)")
    assert f.fixed == "y ~ x + I(x**2)"
    assert [(t.expression, t.group) for t in f.terms] == [
        ("1 + C(g)", "school"), ("1 + C(g)", "class:school"), ("0 + x", "area")]
    for bad, why in [("y ~ x + (1 || g)", "uncorrelated"), ("y ~ x + (1 | g + h)", "grouping"),
                     ("y ~ x | g", "outside a random term"), ("y ~ (1 | g) + (x | g)", "two random terms")]:
        with pytest.raises(MlimputeError, match=why):
            Formula.parse(bad)


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
    fixed = [t for t in ours.index if kind_of(t) is None]
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
    assert fixed == [t for t in ours.index if kind_of(t) is None]
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


def _coverage(replicates: int, seed: int) -> pd.Series:
    """Share of replicates whose pooled 95% interval covers the truth, in
    y1 ~ x + w + (1 | cluster) with MAR missingness in y1 and y2: the coefficient of x
    (0.4), the cluster variance (0.3, pooled on the log-SD scale), the residual variance
    (1.0) and the ICC (0.3 / 1.3, pooled on the logit scale)."""
    truth = {"x": 0.4, "var(cluster)": 0.3, "var(residual)": 1.0, "icc(cluster)": 0.3 / 1.3}
    hits = pd.Series(0.0, index=list(truth))
    for r in range(replicates):
        frame, generated = simulate(n_clusters=30, cluster_size=12, n_level1=2, n_level2=0,
                                    missing=0.35, seed=seed + r)
        assert generated.beta1[1, 0] == truth["x"] and generated.omega_u[0, 0] == truth["var(cluster)"]
        spec = mlimpute.propose(frame, "cluster")
        spec.mcmc = mlimpute.MCMC(burnin=150, between=30, m=5, seed=r)
        pooled = fit_pooled(mlimpute.impute(frame, spec), "y1 ~ x + w + (1 | cluster)")
        for term, value in truth.items():
            hits[term] += pooled.loc[term, "ci_lower"] <= value <= pooled.loc[term, "ci_upper"]
    return hits / replicates


def test_mi_interval_coverage_reduced():
    """CI form: 40 replicates; a coverage of 95% gives at least 33 hits with probability
    > 0.99, while an imputation that ignored the MAR mechanism or the clustering (or a
    variance pooled without its between-imputation part) would fall far below."""
    coverage = _coverage(40, seed=1000)
    assert (coverage >= 33 / 40).all(), coverage


@pytest.mark.slow
def test_mi_interval_coverage_full():
    """1,000 replicates (SE of a coverage about 0.7%): the fixed effect covers 93-97%.
    The variance components and the ICC may over-cover: the imputation model uses y2,
    which the analysis model does not, and Rubin's variance is then conservative (Meng
    1994); 300 replicates gave 0.98 for the cluster variance, 0.94 for the residual
    variance, 0.97 for the ICC (complete data, the same intervals: 0.96, 0.92, 0.96).
    Under-coverage is what would be wrong."""
    coverage = _coverage(1000, seed=5000)
    assert 0.93 <= coverage["x"] <= 0.97, coverage
    assert ((coverage >= 0.93) & (coverage <= 0.99)).all(), coverage


@pytest.mark.r
@pytest.mark.parametrize("formula, seed", [("y1 ~ x + w + (1 | cluster)", 2),
                                           ("y1 ~ x + (1 + x | cluster)", 5)])
def test_variance_component_errors_match_lme4_reml_hessian(tmp_path, formula, seed):
    """Per-imputation standard errors of the variances, the correlation and the ICC
    against the Hessian of lme4's own REML deviance (tests/r/lmer_components.R)."""
    require_r("lme4")
    frame, _ = simulate(n_clusters=60, cluster_size=15, n_level1=1, n_level2=0, missing=1e-9, seed=seed)
    frame.to_csv(tmp_path / "d.csv", index=False)
    run_r("lmer_components.R", tmp_path / "d.csv", tmp_path / "o.csv", formula)
    ref = pd.read_csv(tmp_path / "o.csv").set_index("name")
    ours = fit_one(frame, formula)
    assert set(ref.index) <= set(ours.index)
    np.testing.assert_allclose(ours.loc[ref.index, "estimate"], ref["estimate"], rtol=5e-4)
    np.testing.assert_allclose(ours.loc[ref.index, "std_error"], ref["std_error"], rtol=1e-3)


def test_components_are_pooled_on_log_sd_fisher_z_and_logit_scales():
    """The pooled variance, correlation and ICC recomputed by hand from the
    per-imputation fits: Rubin's rules on the transformed scale, transformed back."""
    from scipy import stats
    rng = np.random.default_rng(9)
    cluster = np.repeat(np.arange(40), 12)
    x = rng.normal(size=len(cluster))
    u = rng.multivariate_normal([0, 0], [[0.4, 0.1], [0.1, 0.2]], size=40)[cluster]
    y = 0.5 + 0.4 * x + u[:, 0] + u[:, 1] * x + rng.normal(size=len(cluster))
    frame = pd.DataFrame({"cluster": cluster, "x": x, "y1": np.where(rng.random(len(x)) <
                                                                  0.2 + 0.2 * (x > 0), np.nan, y),
                          "y2": y + rng.normal(size=len(x))})
    spec = mlimpute.propose(frame, "cluster")
    spec.random_slopes = ["x"]
    spec.mcmc = mlimpute.MCMC(burnin=100, between=20, m=4, seed=2)
    result = mlimpute.impute(frame, spec)
    formula = "y1 ~ x + (1 + x | cluster)"
    fits = [fit_one(f, formula) for f in result.completed_all()]
    pooled = fit_pooled(result, formula)
    for term, forward, back, slope in [
            ("var(cluster)", lambda v: np.log(v) / 2, lambda t: np.exp(2 * t), lambda v: 1 / (2 * v)),
            ("cor(cluster:Intercept,x)", np.arctanh, np.tanh, lambda r: 1 / (1 - r * r))]:
        q = np.array([f.loc[term, "estimate"] for f in fits])
        u = (np.array([f.loc[term, "std_error"] for f in fits]) * slope(q)) ** 2
        m = len(q)
        b = forward(q).var(ddof=1)
        total = u.mean() + (1 + 1 / m) * b
        df = (m - 1) / ((1 + 1 / m) * b / total) ** 2
        centre = forward(q).mean()
        half = stats.t.ppf(0.975, df) * np.sqrt(total)
        assert pooled.loc[term, "estimate"] == pytest.approx(back(centre), rel=1e-10)
        assert pooled.loc[term, "ci_lower"] == pytest.approx(back(centre - half), rel=1e-10)
        assert pooled.loc[term, "ci_upper"] == pytest.approx(back(centre + half), rel=1e-10)


@pytest.mark.r
@pytest.mark.parametrize("family", ["logit", "probit"])
def test_binary_glm_matches_r(tmp_path, family):
    require_r()
    from mlimpute.model.simulate import simulate_mixed
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


def _schools_classes_areas(seed: int) -> pd.DataFrame:
    """Pupils in 4 classes of each of 40 schools (class ids 1-4 repeat across schools),
    crossed with 25 neighbourhoods; a random slope of x by school."""
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(40), 4 * 12)
    klass = np.repeat(np.arange(160), 12) % 4
    area = rng.integers(0, 25, len(school))
    x = rng.normal(size=len(school))
    y = (1 + 0.5 * x + rng.normal(0, 0.6, 40)[school] + rng.normal(0, 0.4, 160)[school * 4 + klass]
         + rng.normal(0, 0.5, 25)[area] + 0.3 * rng.normal(size=40)[school] * x
         + rng.normal(size=len(school)))
    return pd.DataFrame({"y": y, "x": x, "school": school + 1, "class": klass + 1, "area": area})


@pytest.mark.r
@pytest.mark.parametrize("formula", ["y ~ x + (1 | school/class)",
                                     "y ~ x + (1 | school) + (1 | class:school)",
                                     "y ~ x + (1 | school) + (1 | area)",
                                     "y ~ x + (1 + x | school) + (1 | area)"])
def test_nested_and_crossed_fits_match_lme4(tmp_path, formula):
    """Several random terms, nested (class ids repeat across schools: class 1 of school 1
    is not class 1 of school 2) or crossed: estimates, fixed-effect standard errors,
    variance-component and ICC standard errors against lme4 (and the Hessian of its REML
    deviance)."""
    require_r("lme4")
    frame = _schools_classes_areas(3)
    frame.to_csv(tmp_path / "d.csv", index=False)
    run_r("lmer_fit.R", tmp_path / "d.csv", tmp_path / "fit.csv", formula)
    run_r("lmer_components.R", tmp_path / "d.csv", tmp_path / "vc.csv", formula)
    fixed = pd.read_csv(tmp_path / "fit.csv").set_index("name").loc[["Intercept", "x"]]
    components = pd.read_csv(tmp_path / "vc.csv").set_index("name")
    ours = fit_one(frame, formula)
    np.testing.assert_allclose(ours.loc[fixed.index, "estimate"], fixed["estimate"], rtol=1e-5)
    np.testing.assert_allclose(ours.loc[fixed.index, "std_error"], fixed["std_error"], rtol=1e-4)
    assert set(components.index) <= set(ours.index)
    # the likelihood is flat in a small slope variance: there (0.0059) lme4's optimiser
    # stops 4e-6 away, at a REML deviance 4e-9 worse than ours; so 1e-4 of the residual
    # variance is the absolute tolerance
    np.testing.assert_allclose(ours.loc[components.index, "estimate"], components["estimate"],
                               rtol=1e-4, atol=1e-4 * ours.loc["var(residual)", "estimate"])
    np.testing.assert_allclose(ours.loc[components.index, "std_error"], components["std_error"],
                               rtol=1e-3)


def test_nested_model_of_interest_pools_from_the_command_line(tmp_path, capsys):
    frame = _schools_classes_areas(4)
    frame.loc[np.random.default_rng(0).random(len(frame)) < 0.2, "y"] = np.nan
    frame.to_csv(tmp_path / "in.csv", index=False)
    from mlimpute.frontends.cli import main
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--cluster",
                 "school", "--exclude", "class", "area", "--m", "3", "--burnin", "50",
                 "--between", "10", "--seed", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["pool", str(tmp_path / "o.csv"), "--model", "y ~ x + (1 | school/class)",
                 "--quiet", "-o", str(tmp_path / "t.csv")]) == 0
    table = pd.read_csv(tmp_path / "t.csv").set_index("term")
    assert {"x", "var(school)", "var(class:school)", "icc(school)", "var(residual)"} <= set(table.index)
    assert (table.loc["var(class:school)", ["ci_lower", "ci_upper"]] > 0).all()
    with pytest.raises(MlimputeError, match=r"uncorrelated random effects \(\|\|\)"):
        fit_one(frame.dropna(), "y ~ x + (1 + x || school)")
    with pytest.raises(MlimputeError, match="grouping 'school' appears in two random terms"):
        fit_one(frame.dropna(), "y ~ x + (1 | school) + (0 + x | school)")


@pytest.mark.r
def test_a_search_that_strays_to_extreme_variances_turns_back(tmp_path):
    """A completed data set on which the REML search once stepped to variances so large
    that the fixed effects' matrix lost its rank in floating point (the fit then stopped
    with "rank deficient"): the deviance is infinite there, the search turns back, and
    the fit equals lme4's."""
    from mlimpute.model.simulate import COMPATIBLE_MODELS, simulate_compatible
    frame, _ = simulate_compatible("slope", 50, 20, seed=112)
    spec = mlimpute.propose(frame, "school").with_mcmc(burnin=300, between=40, m=5, seed=12)
    completed = mlimpute.impute(frame, spec).completed(2)
    formula = COMPATIBLE_MODELS["slope"]
    completed.to_csv(tmp_path / "d.csv", index=False)
    run_r("lmer_fit.R", tmp_path / "d.csv", tmp_path / "o.csv", formula)
    ref = pd.read_csv(tmp_path / "o.csv").drop_duplicates("name").set_index("name")
    ours = fit_one(completed, formula)
    fixed = ["Intercept", "x", "z"]
    np.testing.assert_allclose(ours.loc[fixed, "estimate"], ref.loc[fixed, "estimate"], rtol=1e-4)
    np.testing.assert_allclose(ours.loc[fixed, "std_error"], ref.loc[fixed, "std_error"], rtol=1e-3)
    with pytest.raises(MlimputeError, match="rank deficient"):
        fit_one(completed.assign(z2=2 * completed.z), "y ~ x + z + z2 + (1 + x | school)")


def _boundary_data():
    """Pupils in classes in schools where classes add nothing: the pupil noise has its
    class means pulled towards the school's, so the classes differ less than chance
    alone would make them and REML puts their variance at 0."""
    rng = np.random.default_rng(11)
    school = np.repeat(np.arange(25), 24)
    klass = np.repeat(np.arange(100), 6)
    x = rng.normal(size=600)
    noise = pd.Series(rng.normal(size=600))
    class_mean = noise.groupby(klass).transform("mean")
    school_mean = noise.groupby(school).transform("mean")
    noise = noise - 0.8 * (class_mean - school_mean)
    y = 1 + 0.5 * x + rng.normal(scale=0.7, size=25)[school] + noise.to_numpy()
    return pd.DataFrame({"y": y, "x": x, "school": school, "klass": klass})


def test_a_variance_on_the_boundary_leaves_the_others_their_standard_errors():
    """ScotsSec's var(second) was 7.6e-15 and every component's SE became NaN.  The fit
    on the boundary is the fit of the model without that term, so the other components'
    standard errors must be that model's."""
    from mlimpute.analysis.fit import fit_one
    from mlimpute.analysis.variance_components import boundary_terms
    frame = _boundary_data()
    full = fit_one(frame, "y ~ x + (1 | school) + (1 | klass)")
    assert full.loc["var(klass)", "estimate"] <= 1e-8 * full.loc["var(residual)", "estimate"]
    assert boundary_terms(full) == ["var(klass)", "icc(klass)"]
    reduced = fit_one(frame, "y ~ x + (1 | school)")
    assert np.isnan(full.loc["var(klass)", "std_error"]) and np.isnan(full.loc["icc(klass)", "std_error"])
    for term in ("x", "var(school)", "var(residual)", "icc(school)"):
        np.testing.assert_allclose(full.loc[term, ["estimate", "std_error"]].to_numpy(float),
                                   reduced.loc[term, ["estimate", "std_error"]].to_numpy(float),
                                   rtol=2e-3, err_msg=term)


def test_pool_marks_a_complete_case_component_on_the_boundary(tmp_path, capsys):
    from mlimpute.frontends.cli import main
    frame = _boundary_data()
    frame.loc[frame.index[::5], "x"] = np.nan
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--cluster",
                 "klass", "school", "--m", "2", "--burnin", "20", "--between", "5", "--seed", "1",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["pool", str(tmp_path / "o.csv"), "--model", "y ~ x + (1 | school) + (1 | klass)",
                 "--quiet"]) == 0
    shown = capsys.readouterr().out
    assert "complete cases: var(klass), icc(klass) estimated on the boundary" in shown
    row = next(line for line in shown.splitlines() if line.startswith("var(school)"))
    assert "NaN" not in row.split()[2]                   # cc_std_error of var(school)
