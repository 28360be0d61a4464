"""Imputation compatible with the model of interest (substantive-model-compatible, SMC).

External references: patsy's design matrices (the terms), lme4-equivalent pooled fits of
the completed data against the generating truth (random slopes, interactions and squares
of an incomplete x, with the joint model's bias beside them), a probit outcome's
posterior against truth, R jomo's ``jomo.lmer`` on the same data and model, and a
coverage simulation.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.model.compile import compile_model
from mlimpute.errors import MlimputeError
from mlimpute.analysis.fit import fit_one, fit_pooled
from mlimpute.model.propose import propose
from mlimpute.model.simulate import COMPATIBLE_MODELS, simulate_compatible
from mlimpute.model.spec import ModelOfInterest, PriorSpec, Response, Spec
from mlimpute.model.substantive import spec_for_model

from benchmarks.smc_truth import bias_z, jomo_glmer_chain, jomo_glmer_replicates, replicates
from conftest import require_r, run_r, z_scores


def _mixed_frame(seed: int = 0, n_clusters: int = 30, size: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_clusters), size)
    n = len(school)
    frame = pd.DataFrame({
        "school": school,
        "x": rng.normal(size=n),
        "z": rng.normal(size=n),
        "w": np.exp(rng.normal(size=n_clusters))[school],           # a school-level variable
        "g": rng.choice(["north", "south", "west"], size=n),
        "b": rng.choice([0.0, 1.0], size=n),
        "a b": rng.normal(size=n),
        "k3": rng.choice([1, 2, 3], size=n),
    })
    frame["y"] = frame.x + frame.z + rng.normal(size=n)
    return frame


def _run(frame, formula, seed=1, burnin=300, between=50, m=5, **options):
    spec = spec_for_model(frame, ModelOfInterest(formula, **options))
    return mlimpute.impute(frame, spec.with_mcmc(burnin=burnin, between=between, m=m, seed=seed))


# --------------------------------------------------------------------------- terms

def test_design_equals_patsys_on_complete_data():
    """Every term the engine rebuilds from the variables (products, powers with R's ^,
    functions, dummies of text and 0/1 columns, quoted names) equals patsy's column of
    the same name."""
    import patsy

    frame = _mixed_frame()
    formula = ("y ~ x * z + I(x^2) + np.log(w) + g + C(b) + Q('a b') + I((x - 1) ** 3) "
               "+ x:g + C(k3) + b:z + (1 + x | school)")
    complete = frame.copy()
    frame.loc[::7, "x"] = np.nan          # x and g are responses of the covariate model
    frame.loc[3::11, "g"] = None
    frame.loc[5::13, "b"] = np.nan       # a binary 0/1 response, read by its number
    spec = spec_for_model(frame, ModelOfInterest(formula))
    compiled = compile_model(spec, frame)
    data = compiled.data.substantive
    values = data.values.copy()
    for v, source in enumerate(data.sources):          # the engine's values of complete data
        name = compiled.substantive.variables[v]
        if source is not None and name in compiled.categories:
            values[:, v] = complete[name].map({c: k for k, c in enumerate(compiled.categories[name])})
        elif source is not None:
            values[:, v] = complete[name]
    assert sorted(v for v, s in zip(compiled.substantive.variables, data.sources) if s) == \
        ["b", "g", "x"]
    ours = pd.DataFrame(data.fixed.columns(values.T).T, columns=compiled.substantive.fixed_names)
    fixed = ("y ~ x * z + I(x**2) + np.log(w) + g + C(b) + Q('a b') + I((x - 1) ** 3) + x:g "
             "+ C(k3) + b:z")
    theirs = patsy.dmatrix(fixed.split("~")[1], complete, return_type="dataframe")
    assert sorted(ours.columns) == sorted(theirs.columns)
    np.testing.assert_allclose(ours[theirs.columns].to_numpy(), theirs.to_numpy(), rtol=1e-12)
    assert compiled.substantive.random_names == ["Intercept", "x"]


def test_outcome_and_covariates_imputed_observed_values_kept():
    frame, _ = simulate_compatible("interaction", 30, 10, seed=4)
    frame.loc[frame.index[::9], "y"] = np.nan
    result = _run(frame, COMPATIBLE_MODELS["interaction"], m=3)
    assert result.imputed_vars == ["x", "y"]
    for m in range(1, 4):
        done = result.completed(m)
        assert not done[["x", "y"]].isna().any().any()
        for column in frame.columns:
            seen = frame[column].notna()
            assert (done.loc[seen, column] == frame.loc[seen, column]).all()
    again = _run(frame, COMPATIBLE_MODELS["interaction"], m=3)
    pd.testing.assert_frame_equal(result.stacked(), again.stacked())
    draws = result.parameter_draws()
    assert {"model.beta[x:z]", "model.beta[I(x ** 2)]", "model.sigma2",
            "model.omega_b[Intercept,Intercept]"} <= set(draws.columns)


def test_binary_outcome_comes_back_in_its_own_labels():
    frame, _ = simulate_compatible("probit", 30, 10, seed=2)
    frame["y"] = np.where(frame.y == 1, "pass", "fail")
    frame.loc[frame.index[::6], "y"] = None
    result = _run(frame, COMPATIBLE_MODELS["probit"], m=2)
    assert result.spec.model.family == "probit"
    done = result.completed(1)
    assert set(done.y) == {"pass", "fail"}
    assert done.y.dtype == frame.y.dtype


def test_level2_covariate_with_a_cross_level_interaction():
    """A school-level w with missing values is a level-2 response of the covariate model;
    its draws are accepted per school, and it stays constant within schools."""
    rng = np.random.default_rng(5)
    school = np.repeat(np.arange(60), 15)
    w = rng.normal(size=60)
    x = rng.normal(size=len(school)) + 0.5 * w[school]
    y = 1 + 0.5 * x + 0.4 * w[school] + 0.5 * x * w[school] \
        + 0.6 * rng.normal(size=60)[school] + rng.normal(size=len(school))
    frame = pd.DataFrame({"school": school, "y": y, "x": x, "w": w[school]})
    frame.loc[frame.school.isin(range(0, 60, 4)), "w"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.2, "x"] = np.nan
    result = _run(frame, "y ~ x * w + (1 | school)", burnin=400, m=3)
    spec = result.spec
    assert [r.name for r in spec.responses_at(1)] == ["w"]
    done = result.completed(1)
    assert (done.groupby("school").w.nunique() == 1).all()
    means = result.posterior_summary()["mean"]
    assert abs(means["model.beta[x:w]"] - 0.5) < 0.15


# --------------------------------------------------------------------------- against truth

REPS = 3


def _bias(kind: str, compatible: bool, **options) -> pd.Series:
    """Bias of the model of interest's estimates over REPS replicates, in units of their
    standard error (each replicate's pooled SE or posterior SD, averaged, over
    sqrt(REPS))."""
    _, truth = simulate_compatible(kind, seed=0)
    estimates, errors = replicates(kind, REPS, compatible, **options)
    return bias_z(estimates, truth, errors)


def test_random_slope_of_incomplete_x_unbiased_where_the_joint_model_is_not():
    z = _bias("slope", True)
    assert (z.abs() < 4).all(), z
    # the joint model (no random slope for x) loses about half the slope variance
    assert _bias("slope", False)["var(school:x)"] < -4


def test_interaction_and_square_unbiased_where_the_joint_model_is_not():
    z = _bias("interaction", True)
    assert (z.abs() < 4).all(), z
    assert _bias("interaction", False)[["x:z", "I(x ** 2)"]].min() < -4


def test_binary_outcome_with_random_intercept_recovers_truth():
    z = _bias("probit", True, size=(60, 20))
    assert (z.abs() < 4).all(), z


def test_ordinal_covariate_in_an_interaction_recovers_truth():
    """An ordinal x (categories 1..4, its threshold moves accepted with the outcome's
    likelihood too) in ``y ~ x * z``: unbiased across replicates."""
    z = _bias("ordinal", True)
    assert (z.abs() < 4).all(), z


M_COVERAGE = 5


def _coverage(reps: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Whether the 95% intervals of the fixed effects cover the truth, replicate by
    replicate: after multiple imputation, and from the same data before any value was
    removed (the complete-data analysis, the same rows' random draws)."""
    _, truth = simulate_compatible("slope", seed=0)
    terms = ["Intercept", "x", "z"]
    imputed, complete = [], []
    for seed in range(reps):
        frame, _ = simulate_compatible("slope", 40, 15, seed=5000 + seed)
        spec = spec_for_model(frame, ModelOfInterest(COMPATIBLE_MODELS["slope"]))
        result = mlimpute.impute(frame, spec.with_mcmc(burnin=300, between=40, m=M_COVERAGE,
                                                       seed=seed))
        pooled = fit_pooled(result, COMPATIBLE_MODELS["slope"]).loc[terms]
        true = pd.Series(truth)[terms]
        imputed.append((pooled.ci_lower <= true) & (true <= pooled.ci_upper))
        full, _ = simulate_compatible("slope", 40, 15, missing=1e-12, seed=5000 + seed)
        fit = fit_one(full, COMPATIBLE_MODELS["slope"]).loc[terms]
        half = 1.959964 * fit.std_error
        complete.append((fit.estimate - half <= true) & (true <= fit.estimate + half))
    return pd.DataFrame(imputed), pd.DataFrame(complete)


def test_coverage_reduced():
    """8 replicates: the imputed data's intervals miss at most one more time than the
    complete data's on the same replicates, and at most 5 of the 24 intervals miss (P <
    0.01 at 95% coverage).  (The complete-data analysis is the yardstick: a block of
    replicates can under-cover by chance before anything is missing, e.g. 51 of 60 for z
    on seeds 5000-5059 against 0.0445 SD / 0.0468 mean SE over 200 others.)"""
    imputed, complete = _coverage(8)
    assert (imputed.sum() >= complete.sum() - 1).all(), (imputed.mean(), complete.mean())
    assert (~imputed).to_numpy().sum() <= 5, imputed.mean()


@pytest.mark.slow
def test_coverage_500_replicates():
    covered, complete = _coverage(500)
    rate = covered.mean()
    print(rate, complete.mean())
    assert ((rate >= 0.93) & (rate <= 0.97)).all(), rate


# --------------------------------------------------------------------------- against jomo.lmer

@pytest.mark.r
def test_posterior_agrees_with_jomo_lmer(tmp_path):
    """Same data, same model, jomo.lmer's covariate model (every covariate a level-1
    response with an intercept and random intercepts): posterior means of the model of
    interest within 4 combined Monte Carlo SEs."""
    require_r("jomo", "lme4")
    frame, _ = simulate_compatible("slope", 60, 20, seed=11)
    frame.loc[frame.index[::10], "y"] = np.nan
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    formula = COMPATIBLE_MODELS["slope"]
    iterations = 6000
    run_r("jomo_smc_chain.R", f"data={data}", f"out={tmp_path / 'j.csv'}", f"formula={formula}",
          "columns=y,x,z,school", f"iterations={iterations}", "seed=3",
          f"priors={tmp_path / 'p.csv'}")
    theirs = pd.read_csv(tmp_path / "j.csv").iloc[1000:]
    # jomo.lmer's priors: IW(q, complete-case Omega_b) and IW(1, complete-case sigma2)
    priors = pd.read_csv(tmp_path / "p.csv").to_numpy()[0]
    spec = mlimpute.from_jomo_smc(frame[["y", "x", "z", "school"]], formula)
    assert [r.name for r in spec.responses] == ["x", "z"] and spec.covariates == []
    spec = replace(spec, priors=PriorSpec(model_df=2, model_scale=priors[1:].reshape(2, 2).tolist(),
                                          model_residual_df=1, model_residual_scale=float(priors[0])))
    result = mlimpute.impute(frame, spec.with_mcmc(burnin=1000, between=iterations - 1000, m=1,
                                                   seed=4))
    ours = result.parameter_draws()[theirs.columns]
    z = pd.Series(z_scores(ours.to_numpy(), theirs.to_numpy()), index=theirs.columns)
    assert (z.abs() < 4).all(), z


@pytest.mark.r
def test_jomo_glmer_is_a_probit_that_recovers_truth():
    """Before jomo.glmer serves as a reference: its binomial outcome is a probit with the
    latent variance fixed at 1 (its varY draws are all 1), and its posterior means over
    replicates of the probit model's data are unbiased (3 replicates here; 20 in
    docs/validation.md)."""
    require_r("jomo", "lme4")
    _, truth = simulate_compatible("probit", seed=0)
    estimates, errors = jomo_glmer_replicates(3, iterations=1500)
    z = bias_z(estimates, truth, errors)
    assert (z.abs() < 4).all(), z


@pytest.mark.r
def test_posterior_agrees_with_jomo_glmer(tmp_path):
    """A binary outcome with a random intercept, y and x incomplete: jomo.glmer's
    covariate model (from_jomo_smc with family="binomial") and priors, posterior means of
    the probit model of interest within 4 combined Monte Carlo SEs."""
    require_r("jomo", "lme4")
    frame, _ = simulate_compatible("probit", 60, 20, seed=12)
    frame.loc[frame.index[::10], "y"] = np.nan
    iterations = 6000
    theirs, scale = jomo_glmer_chain(frame, iterations, seed=3, folder=tmp_path, priors=True)
    theirs = theirs.iloc[1000:]
    spec = mlimpute.from_jomo_smc(frame[["y", "x", "z", "school"]], COMPATIBLE_MODELS["probit"],
                                  family="binomial")
    assert spec.model.family == "probit"
    # jomo.glmer's prior of the random-intercept variance: IW(1, complete-case logit fit's)
    spec = replace(spec, priors=PriorSpec(model_df=1, model_scale=[[float(scale[0])]]))
    result = mlimpute.impute(frame, spec.with_mcmc(burnin=1000, between=iterations - 1000, m=1,
                                                   seed=4))
    ours = result.parameter_draws()[theirs.columns]
    z = pd.Series(z_scores(ours.to_numpy(), theirs.to_numpy()), index=theirs.columns)
    assert (z.abs() < 4).all(), z


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("formula, message", [
    ("y ~ x + nothere + (1 | school)", "column 'nothere' is not in the data"),
    ("y ~ x + y + (1 | school)", "outcome 'y' is also a covariate"),
    ("y ~ x + w + (1 + w | school)", "constant within each 'school'"),
    ("g ~ x + (1 | school)", "2 categories"),
    ("y ~ x + center(x) + (1 | school)", "not supported"),
    ("y ~ x + (1 | school) + (1 | g)", "one grouping"),
    ("y ~ x + (1 | area)", "not in the data"),
])
def test_bad_model_is_one_line_exit_2_nothing_written(tmp_path, formula, message):
    frame = _mixed_frame()
    frame.loc[::5, "x"] = np.nan
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out.csv"
    run = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "impute", str(source), "-o",
                          str(out), "--model", formula, "--m", "2", "--burnin", "5",
                          "--between", "2", "--quiet"], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_logit_and_categorical_outcomes_are_refused():
    frame = _mixed_frame()
    with pytest.raises(MlimputeError, match="logit is not available"):
        ModelOfInterest("b ~ x + (1 | school)", "logit")
    spec = propose(frame.assign(g=frame.g.mask(frame.index % 7 == 0)), "school")
    with pytest.raises(MlimputeError, match="categorical"):
        spec_for_model(frame, ModelOfInterest("g ~ x + (1 | school)"), spec)
    with pytest.raises(MlimputeError, match="outcome of the model of interest"):
        Spec(cluster="school", responses=[Response("y")], model=ModelOfInterest("y ~ x"))


# --------------------------------------------------------------------------- interfaces

def test_cli_model_pool_uses_the_recorded_formula(tmp_path):
    frame, _ = simulate_compatible("slope", 25, 12, seed=8)
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    out, spec_file = tmp_path / "out.dta", tmp_path / "spec.toml"
    formula = COMPATIBLE_MODELS["slope"]
    run = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "impute", str(source), "-o",
                          str(out), "--model", formula, "--m", "3", "--burnin", "100",
                          "--between", "20", "--seed", "2", "--quiet", "--save-spec",
                          str(spec_file)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    saved = Spec.load(spec_file)
    assert saved.model.formula == formula and saved.cluster == "school"
    assert [r.name for r in saved.responses] == ["x"]
    default = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "pool", str(out), "--quiet"],
                             capture_output=True, text=True)
    given = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "pool", str(out), "--quiet",
                            "--model", formula], capture_output=True, text=True)
    assert default.returncode == 0, default.stderr
    assert default.stdout == given.stdout and "var(school:x)" in default.stdout
    csv_out = tmp_path / "out.csv"
    subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "impute", str(source), "-o",
                    str(csv_out), "--spec", str(spec_file), "--quiet"], check=True)
    bare = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "pool", str(csv_out), "--quiet"],
                          capture_output=True, text=True)
    assert bare.returncode == 2 and "give --model or --spec" in bare.stderr
    with_spec = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "pool", str(csv_out),
                                "--quiet", "--spec", str(spec_file)], capture_output=True, text=True)
    assert with_spec.returncode == 0 and with_spec.stdout == given.stdout


def test_a_saved_spec_with_its_own_model_runs_again():
    """--spec of a compatible run with the same --model repeats it; a different formula is
    one line naming both."""
    frame, _ = simulate_compatible("slope", 20, 8, seed=8)
    spec = spec_for_model(frame, ModelOfInterest(COMPATIBLE_MODELS["slope"]))
    spec = spec.with_mcmc(burnin=20, between=5, m=2, seed=4)
    once = mlimpute.impute(frame, spec)
    again = mlimpute.impute(frame, once.spec, model=COMPATIBLE_MODELS["slope"])
    pd.testing.assert_frame_equal(once.stacked(), again.stacked())
    with pytest.raises(MlimputeError, match="give 'y ~ x"):
        mlimpute.impute(frame, once.spec, model="y ~ x + (1 | school)")


def test_joint_only_keeps_the_joint_model():
    frame, _ = simulate_compatible("slope", 25, 12, seed=8)
    spec = propose(frame, "school").with_mcmc(burnin=50, between=10, m=2, seed=1)
    result = mlimpute.impute(frame, spec, model=COMPATIBLE_MODELS["slope"], compatible=False)
    assert result.spec.model is None
    compatible = mlimpute.impute(frame, spec, model=COMPATIBLE_MODELS["slope"])
    assert compatible.spec.model.formula == COMPATIBLE_MODELS["slope"]
    assert [r.name for r in compatible.spec.responses] == ["x"]


def test_from_jomo_smc_levels_and_family():
    frame = _mixed_frame()
    spec = mlimpute.from_jomo_smc(frame[["y", "x", "w", "school"]], "y ~ x * w + (1 + x | school)",
                                  level=[1, 1, 2, 1], nburn=200, nbetween=20, nimp=3, seed=5)
    assert spec.cluster == "school" and spec.model.family == "gaussian"
    assert [(r.name, spec.level_of(r)) for r in spec.responses] == [("x", 0), ("w", 1)]
    assert (spec.mcmc.burnin, spec.mcmc.between, spec.mcmc.m, spec.mcmc.seed) == (200, 20, 3, 5)
    probit = mlimpute.from_jomo_smc(frame, "b ~ x + (1 | school)", family="binomial")
    assert probit.model.family == "probit"
    with pytest.raises(MlimputeError, match="gaussian' or 'binomial'"):
        mlimpute.from_jomo_smc(frame, "b ~ x + (1 | school)", family="poisson")


def test_spec_round_trip_with_a_model():
    spec = Spec(cluster="school", responses=[Response("x")],
                model=ModelOfInterest("y ~ x * z + (1 + x | school)", "gaussian"))
    assert Spec.from_toml(spec.to_toml()) == spec
    assert "[model]" in spec.to_toml()
    assert Spec.from_json(spec.to_json()) == spec


def test_propose_writes_the_model_and_its_covariate_model(tmp_path):
    frame, _ = simulate_compatible("slope", 20, 8, seed=8)
    frame.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "spec.toml"
    run = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "propose", str(tmp_path / "in.csv"),
                          "-o", str(out), "--model", "y ~ x * z + (1 + x | school)"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    spec = Spec.load(out)
    assert spec.cluster == "school" and spec.model.formula == "y ~ x * z + (1 + x | school)"
    assert [r.name for r in spec.responses] == ["x"] and "y" not in spec.covariates
