"""Three-level nested and cross-classified joint imputation models (classifications as a
list through spec, compile, engine and output)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute import Response, Spec
from mlimpute.errors import DataError, SpecError
from mlimpute.model.propose import propose
from mlimpute.model.simulate import simulate_mixed, simulate_multilevel

from conftest import assert_matches_reference

@pytest.mark.reference
def test_two_level_output_matches_the_previous_engine(blas_threads):
    """The two-level output of the engine before classifications became a list (commit
    fbed242, the release before the step-block redesign), for a mixed-type model, stored
    by tests/reference/previous_engine.py: the redesigned engine gives the same imputations
    and draws for the same seed, up to rounding."""
    df, _ = simulate_mixed(level1=("continuous", "binary", ("categorical", 3), ("ordinal", 4)),
                           level2=("continuous", ("categorical", 3)), n_clusters=25,
                           cluster_size=8, seed=3)
    # fixed_random = "separate": the sampler of releases before the joint draw of fixed
    # and random effects (which changes the draws, not the posterior)
    spec = propose(df, "cluster").with_mcmc(burnin=30, between=5, m=3, seed=7,
                                            fixed_random="separate")
    result = mlimpute.impute(df, spec)
    assert_matches_reference(result.stacked("flong"), "previous_engine_stacked.csv")
    assert_matches_reference(result.parameter_draws(include_burnin=True),
                             "previous_engine_draws.csv")
    # the same model written with clusters = [...] is the same model, to the bit
    again = mlimpute.impute(df, Spec.from_dict({**{k: v for k, v in spec.to_dict().items()
                                                   if k != "cluster"}, "clusters": ["cluster"]}))
    assert again.stacked("flong").equals(result.stacked("flong"))


def _spec(crossed: bool, **mcmc) -> Spec:
    inner = "area" if crossed else "class"
    return Spec(clusters=[inner, "school"], crossed=crossed, covariates=["x", "w"],
                responses=[Response("y"), Response("k", type="categorical"),
                           Response("c", level=inner), Response("s", level="school")]
                ).with_mcmc(**mcmc)


@pytest.mark.parametrize("crossed", [False, True], ids=["nested", "crossed"])
def test_posterior_means_recover_the_generating_values(crossed):
    """40 schools x 4 classes x 20 pupils (or pupils in 40 schools x 40 areas), responses
    at every level, one categorical, MAR: every parameter's posterior mean lies within 4
    posterior SD of its generating value."""
    df, truth = simulate_multilevel(crossed=crossed, seed=3)
    result = mlimpute.impute(df, _spec(crossed, burnin=800, between=30, m=40, seed=1))
    draws = result.parameter_draws()
    assert set(truth) == set(draws.columns)
    z = {}
    for name, value in truth.items():
        sd = draws[name].std()
        if sd > 0:
            z[name] = (draws[name].mean() - value) / sd
        else:                                   # fixed by the model (latent variances)
            assert draws[name].iloc[0] == pytest.approx(value)
    assert max(abs(v) for v in z.values()) < 4, sorted(z.items(), key=lambda kv: -abs(kv[1]))[:3]
    # observed values come back untouched, every level's imputations are constant within
    # its units
    completed = result.completed(1)
    observed = df["y"].notna()
    assert completed.loc[observed, "y"].equals(df.loc[observed, "y"])
    inner = "area" if crossed else "class"
    assert (completed.groupby(inner)["c"].nunique() == 1).all()
    assert (completed.groupby("school")["s"].nunique() == 1).all()
    assert completed[["y", "k", "c", "s"]].notna().all().all()


def test_nested_classes_must_lie_in_one_school_compared_by_value():
    df, _ = simulate_multilevel(n_schools=6, classes=3, pupils=5, seed=1)
    spec = _spec(False, burnin=5, between=1, m=1, seed=1)
    bad = df.copy()
    bad.loc[bad.index[0], "school"] = 2           # a pupil of class 1 put in school 2
    with pytest.raises(DataError, match=r"column 'class': class 1 lies in two 'school' units "
                                        r"\(1 and 2\)"):
        mlimpute.impute(bad, spec)
    # class ids that restart within schools are the same class by value: refused ...
    restart = df.assign(**{"class": (df["class"] - 1) % 3 + 1})
    with pytest.raises(DataError, match="is not nested in 'school'"):
        mlimpute.impute(restart, spec)
    # ... unless the formula nests them as lme4 does, class 1 of school 1 != of school 2
    from_formula = mlimpute.from_mitml(restart, "y + k ~ x + w + (1 | school/class)")
    assert from_formula.clusters == ["class:school", "school"] and not from_formula.crossed
    result = mlimpute.impute(restart, from_formula.with_mcmc(burnin=5, between=1, m=1, seed=1))
    assert len(result.model.labels[0]) == 18 and list(result.model.labels[0][:2]) == ["1:1", "1:2"]
    # crossed classifications need no nesting
    from dataclasses import replace
    mlimpute.impute(bad, replace(spec, crossed=True))


def test_propose_finds_each_variables_level():
    df, _ = simulate_multilevel(n_schools=6, classes=3, pupils=5, seed=2)
    spec = propose(df, ["class", "school"], covariates=["x", "w"])
    assert {r.name: r.level for r in spec.responses} == {"y": 1, "k": 1, "c": 2, "s": 3}
    assert spec.clusters == ["class", "school"] and not spec.crossed
    crossed, _ = simulate_multilevel(n_schools=6, classes=3, pupils=5, crossed=True, seed=2)
    spec = propose(crossed, ["area", "school"], covariates=["x", "w"], crossed=True)
    assert {r.name: r.level for r in spec.responses} == {"y": 1, "k": 1, "c": 2, "s": 3}


def test_spec_round_trip_and_old_specs_still_load(tmp_path):
    spec = _spec(True, burnin=5, between=1, m=1, seed=1)
    for suffix in (".toml", ".json"):
        spec.save(tmp_path / f"s{suffix}")
        assert Spec.load(tmp_path / f"s{suffix}") == spec
    text = (tmp_path / "s.toml").read_text()
    assert 'clusters = [\n    "area",\n    "school",\n]' in text or 'clusters = ["area", "school"]' in text
    old = tmp_path / "old.toml"
    old.write_text('cluster = "school"\n[[responses]]\nname = "y"\n[[responses]]\nname = "g"\n'
                   'level = 2\n')
    loaded = Spec.load(old)
    assert loaded.clusters == ["school"] and loaded.level2_responses[0].name == "g"
    assert "clusters" not in loaded.to_dict()


@pytest.mark.parametrize("build, message", [
    (lambda: Spec(clusters=["class", "school"], responses=[Response("y", level=4)]),
     "level 4 needs 3 classifications"),
    (lambda: Spec(clusters=["class", "school"], responses=[Response("y", level="area")]),
     "level 'area' is not one of the clusters"),
    (lambda: Spec(cluster="class", clusters=["school", "class"], responses=[Response("y")]),
     "disagree"),
    (lambda: Spec(clusters=["class", "class"], responses=[Response("y")]),
     "listed more than once"),
    (lambda: Spec(clusters=["class", "school"], responses=[Response("y")],
                  level1_covariance="cluster"), "needs a single classification"),
    (lambda: Spec(clusters=["class", "school"], responses=[Response("y")],
                  random_slopes={"area": ["x"]}), "'area' is not one of the clusters"),
    (lambda: Spec(clusters=["class", "school"], responses=[Response("y")],
                  cluster_weights={"area": "w"}), "'area' is not one of the clusters"),
    (lambda: Spec(clusters=["class", "school"], responses=[Response("school")]),
     "cannot also be a response"),
])
def test_inconsistent_multilevel_specs_are_refused(build, message):
    with pytest.raises(SpecError, match=message):
        build()


def test_weights_random_slopes_and_delta_at_every_level():
    df, _ = simulate_multilevel(n_schools=8, classes=3, pupils=6, seed=4)
    df["wp"] = 1.0
    df["wc"] = 1.0
    df["ws"] = 1.0
    # weighted models draw fixed and random effects separately: compare like with like
    base = _spec(False, burnin=20, between=2, m=2, seed=3, fixed_random="separate")
    plain = mlimpute.impute(df, base)
    from dataclasses import replace
    # weights of one change nothing but the code path: the same imputations to rounding
    weighted = mlimpute.impute(df, replace(base, level1_weight="wp",
                                           cluster_weights={"class": "wc", "school": "ws"}))
    for a, b in zip(plain.imputations, weighted.imputations):
        for x, y in zip(a.levels, b.levels):
            np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-8)
    # unequal school weights change the parameter draws
    df["ws"] = np.where(df["school"] % 2 == 0, 3.0, 1.0)
    changed = mlimpute.impute(df, replace(base, cluster_weights={"school": "ws"}))
    assert not np.allclose(changed.parameter_draws()["beta3[cons,s]"],
                           plain.parameter_draws()["beta3[cons,s]"])
    # random slopes in the school classification; a delta on the school-level response
    sloped = mlimpute.impute(df, replace(base, random_slopes={"school": ["x"]},
                                         delta=[mlimpute.Delta("s", 1.5)]))
    assert "omega_u3[y:x,y:cons]" in sloped.parameter_draws().columns
    unshifted = mlimpute.impute(df, replace(base, random_slopes={"school": ["x"]}))
    missing = df["s"].isna()
    moved = sloped.completed(1).loc[missing, "s"] - unshifted.completed(1).loc[missing, "s"]
    np.testing.assert_allclose(moved, 1.5)


def test_show_and_impute_from_the_command_line(tmp_path):
    df, _ = simulate_multilevel(n_schools=6, classes=3, pupils=5, seed=2)
    data = tmp_path / "pupils.csv"
    df.to_csv(data, index=False)
    run = lambda *args: subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", *args],
                                       capture_output=True, text=True)
    shown = run("propose", str(data), "--cluster", "class", "school", "--covariates", "x", "w",
                "-o", str(tmp_path / "spec.toml"))
    assert shown.returncode == 0, shown.stderr
    out = run("show", str(tmp_path / "spec.toml")).stdout
    assert "Three-level joint imputation model (units i in j = 'class' in k = 'school')" in out
    assert "y_ijk = b1.0 cons + b1.1 x_ijk + b1.2 w_ijk + u1.0_j + u1.0_k + e1_ijk" in out
    assert "c_jk = " in out and "+ u3.0_k + v3_j" in out
    assert "~ N(0, Omega_u2)" in out and "~ N(0, Omega_u3)" in out
    done = run("impute", str(data), "-o", str(tmp_path / "out.csv"), "--cluster", "class",
               "school", "--covariates", "x", "w", "--m", "2", "--burnin", "10", "--between",
               "2", "--seed", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    stacked = pd.read_csv(tmp_path / "out.csv")
    assert len(stacked) == 3 * len(df)
    # a class in two schools: one line naming it, status 2, nothing written
    df.loc[0, "school"] = 2
    df.to_csv(data, index=False)
    bad = run("impute", str(data), "-o", str(tmp_path / "bad.csv"), "--cluster", "class",
              "school", "--quiet")
    assert bad.returncode == 2 and "class 1 lies in two 'school' units" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.csv").exists()
    crossed = run("impute", str(data), "-o", str(tmp_path / "x.csv"), "--cluster", "class",
                  "school", "--crossed", "--covariates", "x", "w", "--m", "1", "--burnin", "5",
                  "--between", "1", "--quiet")
    assert crossed.returncode == 0, crossed.stderr


# --------------------------------------------------------------------------- simulations

#: y = 1 + 0.5 x + school (var 0.3) + class (var 0.2) + residual (var 1); x varies at
#: every level (school SD 0.6, class SD 0.5, pupil SD 1)
TRUTH = {"Intercept": 1.0, "x": 0.5, "var(school)": 0.3}


def _three_level(seed: int, schools: int = 30, classes: int = 3, pupils: int = 10,
                 whole_classes: float = 0.0) -> pd.DataFrame:
    """Pupils in classes in schools.  Without `whole_classes`: about 30% of x missing,
    more often where y is high (MAR given y).  With it: y missing in that share of whole
    classes (a class that skipped the test) and in 10% of the other pupils."""
    rng = np.random.default_rng(seed)
    n_class = schools * classes
    school = np.repeat(np.arange(schools), classes * pupils)
    cls = np.repeat(np.arange(n_class), pupils)
    x = (0.6 * rng.normal(size=schools)[school] + 0.5 * rng.normal(size=n_class)[cls]
         + rng.normal(size=len(cls)))
    y = (TRUTH["Intercept"] + TRUTH["x"] * x + np.sqrt(0.3) * rng.normal(size=schools)[school]
         + np.sqrt(0.2) * rng.normal(size=n_class)[cls] + rng.normal(size=len(cls)))
    frame = pd.DataFrame({"school": school + 1, "class": cls + 1, "x": x, "y": y})
    if whole_classes:
        gone = rng.random(n_class) < whole_classes
        frame.loc[gone[cls] | (rng.random(len(cls)) < 0.1), "y"] = np.nan
    else:
        p_missing = 1 / (1 + np.exp(-(-1.2 + 0.8 * (y - 1))))
        frame.loc[rng.random(len(cls)) < p_missing, "x"] = np.nan
    return frame


def _covered(seed: int) -> dict[str, bool]:
    """One replicate: impute x with the three-level joint model, pool
    y ~ x + (1 | school/class) and see which 95% intervals cover the truth."""
    from mlimpute.analysis.fit import fit_pooled
    frame = _three_level(seed)
    spec = Spec(clusters=["class", "school"], responses=[Response("x"), Response("y")]
                ).with_mcmc(burnin=200, between=30, m=5, seed=seed)
    pooled = fit_pooled(mlimpute.impute(frame, spec), "y ~ x + (1 | school/class)")
    return {term: bool(pooled.loc[term, "ci_lower"] <= value <= pooled.loc[term, "ci_upper"])
            for term, value in TRUTH.items()}


def _coverage(replicates: int, seed: int, workers: int = 1) -> pd.Series:
    from mlimpute.engine.parallel import process_map
    hits = process_map(_covered, [seed + r for r in range(replicates)], workers)
    return pd.DataFrame(hits).mean()


def test_three_level_coverage_reduced():
    """CI form, 24 replicates: a coverage of 95% gives at least 20 hits with probability
    0.97 (and 19 with 0.993); imputing x with the clustering ignored, or without y, falls
    well below."""
    coverage = _coverage(24, seed=7000)
    assert (coverage >= 20 / 24).all(), coverage


@pytest.mark.slow
def test_three_level_coverage_full():
    """500 replicates (SE of a coverage about 1%): the intercept, the slope of x and the
    school-level variance are covered 93-97% of the time."""
    coverage = _coverage(500, seed=20000, workers=2)
    assert ((coverage >= 0.93) & (coverage <= 0.97)).all(), coverage


def _school_variances(seed: int, m: int = 3) -> dict[str, float]:
    """The pooled school-level variance of y ~ x + (1 | school/class) after imputing y
    (missing in whole classes) with two levels (class only) and with three."""
    from mlimpute.analysis.fit import fit_pooled
    frame = _three_level(seed, whole_classes=0.35)
    out = {}
    for name, clusters in (("two levels", ["class"]), ("three levels", ["class", "school"])):
        spec = Spec(clusters=clusters, covariates=["x"], responses=[Response("y")]
                    ).with_mcmc(burnin=200, between=30, m=m, seed=seed)
        pooled = fit_pooled(mlimpute.impute(frame, spec), "y ~ x + (1 | school/class)")
        out[name] = pooled.loc["var(school)", "estimate"]
    return out


def _two_versus_three(replicates: int, seed: int, m: int, workers: int = 1) -> pd.DataFrame:
    from functools import partial
    from mlimpute.engine.parallel import process_map
    rows = process_map(partial(_school_variances, m=m), [seed + r for r in range(replicates)],
                       workers)
    return pd.DataFrame(rows)


def _assert_two_levels_biased(table: pd.DataFrame) -> None:
    mean, se = table.mean(), table.std(ddof=1) / np.sqrt(len(table))
    truth = TRUTH["var(school)"]
    assert abs(mean["three levels"] - truth) < 3 * se["three levels"], (mean, se)
    assert mean["two levels"] < truth - 4 * se["two levels"], (mean, se)


def test_two_level_imputation_of_three_level_data_biases_the_school_variance():
    """The motivating case, 8 replicates in CI: y missing in 35% of whole classes.
    Imputing with classes only draws a missing class's effect without its school's other
    classes, and the school-level variance of the model of interest shrinks (about 0.11
    for a true 0.3); the three-level model recovers it."""
    _assert_two_levels_biased(_two_versus_three(8, seed=9000, m=3))


@pytest.mark.slow
def test_two_level_imputation_bias_full():
    _assert_two_levels_biased(_two_versus_three(100, seed=30000, m=5, workers=2))


def test_every_response_type_and_per_response_covariates_at_every_level():
    """Binary, ordinal and categorical responses of classes and schools, with their own
    covariates: valid categories, constant within their units, observed cells untouched,
    and (MCAR) imputed shares like the observed ones."""
    rng = np.random.default_rng(5)
    df, _ = simulate_multilevel(n_schools=30, classes=4, pupils=6, seed=5)
    n_class = df["class"].max()
    latent = rng.normal(size=n_class) + 0.3 * df.groupby("class")["w"].first().to_numpy()
    ordinal = np.digitize(latent, [-0.5, 0.5])                      # 0, 1, 2
    category = rng.integers(0, 3, n_class)
    df["o"] = pd.Categorical.from_codes(ordinal[df["class"] - 1], ["low", "mid", "high"],
                                        ordered=True)
    df["cat"] = pd.Categorical.from_codes(category[df["class"] - 1], ["p", "q", "r"])
    school_flag = (rng.random(30) < 0.5).astype(float)
    df["b"] = school_flag[df["school"] - 1]
    for name, unit, share in (("o", "class", 0.25), ("cat", "class", 0.25), ("b", "school", 0.2)):
        gone = rng.random(df[unit].max()) < share
        df.loc[gone[df[unit] - 1], name] = np.nan
    spec = Spec(clusters=["class", "school"], covariates=["x", "w"],
                responses=[Response("y"), Response("o", type="ordinal", level="class",
                                                   covariates=["w"]),
                           Response("cat", type="categorical", level="class", covariates=[]),
                           Response("b", type="binary", level="school")]
                ).with_mcmc(burnin=300, between=20, m=10, seed=2)
    result = mlimpute.impute(df, spec)
    draws = result.parameter_draws()
    assert "beta2[w,o]" in draws and "beta2[x,o]" not in draws and "beta2[w,cat.1]" not in draws
    assert "thresholds[o,2]" in draws
    shares = []
    for completed in result.completed_all():
        for name, unit in (("o", "class"), ("cat", "class"), ("b", "school")):
            assert completed[name].notna().all()
            assert (completed.groupby(unit, observed=True)[name].nunique() == 1).all()
            observed = df[name].notna()
            assert completed.loc[observed, name].astype(str).equals(df.loc[observed, name].astype(str))
        assert completed["o"].dtype == df["o"].dtype and completed["cat"].dtype == df["cat"].dtype
        shares.append(completed.groupby("class")["cat"].first().value_counts(normalize=True))
    observed = df.dropna(subset=["cat"]).groupby("class")["cat"].first().value_counts(normalize=True)
    # 120 classes, 30 of them imputed: shares within 0.1 of the observed ones
    np.testing.assert_allclose(pd.concat(shares, axis=1).mean(axis=1)[observed.index], observed,
                               atol=0.1)
