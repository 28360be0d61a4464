"""Results a user can trust without an expert: run until converged, how many
imputations, and MNAR sensitivity (delta adjustment)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.engine.convergence import chain_matrix
from mlimpute.engine.diagnostics import ess, rhat
from mlimpute.analysis.fit import fit_pooled
from mlimpute.analysis.pool import how_many_imputations
from mlimpute.model.simulate import simulate, simulate_mixed
from mlimpute.model.spec import Delta, Spec


def _same_output(a, b) -> None:
    pd.testing.assert_frame_equal(a.stacked("flong"), b.stacked("flong"))


# ------------------------------------------------------------------ how many imputations

def test_how_many_imputations_by_hand():
    """von Hippel (2020): M = 1 + (gamma_U / cv)^2 / 2, gamma_U the upper 95% limit of
    the pilot's FMI on the logit scale, logit(gamma) + 1.96 sqrt(2 / M_pilot).
    FMI 0.5, pilot 20: logit 0 + 1.959964 * 0.316228 = 0.619795, gamma_U = 0.650172,
    1 + (13.0034)^2 / 2 = 85.54 -> 86.  FMI 0.3, pilot 20: -0.847298 + 0.619795 =
    -0.227503, gamma_U = 0.443368, 1 + (8.86737)^2 / 2 = 40.32 -> 41."""
    assert how_many_imputations(0.5, 20, 0.05) == 86
    assert how_many_imputations([0.1, 0.3, np.nan], 20, 0.05) == 41    # the largest FMI decides
    # a tighter target needs quadratically more: cv 0.1 -> 1 + (4.43368)^2 / 2 = 10.83 -> 11
    assert how_many_imputations(0.3, 20, 0.1) == 11
    with pytest.raises(mlimpute.MlimputeError):
        how_many_imputations([np.nan], 20)


def test_pool_reports_the_imputations_needed(tmp_path, capsys):
    frame, _ = simulate(n_clusters=20, cluster_size=10, n_level1=2, n_level2=0, seed=3)
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--cluster",
                 "cluster", "--m", "5", "--burnin", "50", "--between", "10", "--seed", "1",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["pool", str(tmp_path / "o.csv"), "--model", "y1 ~ x + (1 | cluster)",
                 "--quiet", "--se-cv", "0.1"]) == 0
    out = capsys.readouterr().out
    pooled = fit_pooled(pd.read_csv(tmp_path / "o.csv"), "y1 ~ x + (1 | cluster)")
    needed = how_many_imputations(pooled["fmi"].dropna(), 5, 0.1)
    assert f"coefficient of variation of 0.1: {needed} " in out


def test_m_auto_adds_imputations_to_the_same_chains_and_repeats_exactly():
    frame, _ = simulate(n_clusters=25, cluster_size=8, n_level1=2, n_level2=1, missing=0.4, seed=5)
    spec = mlimpute.propose(frame, "cluster").with_mcmc(burnin=60, between=7, m="auto",
                                                        pilot_m=4, se_cv=0.15, seed=3, chains=2)
    result = mlimpute.impute(frame, spec, workers=1)
    # M from the pilot's FMI (the means of the imputed variables), by the quadratic rule
    from mlimpute.run.pipeline import Run
    assert result.m >= 4 and result.spec.mcmc.m == result.m
    assert any(note.startswith(f"m: {result.m} imputations") for note in result.notes)
    # no second burn-in: every chain keeps an imputation every `between` iterations after 60
    for sampler in result.samplers:
        iterations = [imp.iteration for imp in sampler.imputations]
        assert iterations == [60 + 7 * (k + 1) for k in range(len(iterations))]
    # the resolved spec repeats the run exactly
    again = mlimpute.impute(frame, result.spec, workers=2)
    _same_output(result, again)
    # and M is what the rule gives for the pilot's largest FMI
    first4 = mlimpute.impute(frame, result.spec.with_mcmc(m=4), workers=1)
    run = Run(frame, first4.model, 3, {}, None, None)
    fmi, _ = run.pilot_fmi(first4.samplers)
    assert result.m == max(how_many_imputations(fmi, 4, 0.15), 4)


# ------------------------------------------------------------------ run until converged

def test_burnin_auto_runs_until_converged_on_a_slowly_mixing_model():
    """A categorical level-2 response in 30 small clusters mixes slowly: the automatic
    burn-in runs past the default 1,000 iterations, ends where R-hat < 1.01 and bulk
    ESS >= 400 over its second half (checked here with ArviZ too), picks the gap from the
    autocorrelation, records both, and the recorded spec repeats the run exactly."""
    # (data seed 5 converges within the cap; some data sets of this shape need more than
    # 16,000 iterations - seed 4 does since simulate draws through Cholesky - and those
    # are the business of the cap test below)
    frame, _ = simulate_mixed(level1=("continuous",), level2=(("categorical", 3),),
                              n_clusters=30, cluster_size=8, seed=5)
    spec = mlimpute.propose(frame, "cluster").with_mcmc(
        burnin="auto", between="auto", m=4, seed=1, chains=2, max_burnin=16000)
    result = mlimpute.impute(frame, spec, workers=2)
    burnin, between = result.spec.mcmc.burnin, result.spec.mcmc.between
    assert burnin > mlimpute.MCMC().burnin
    assert isinstance(between, int) and between > 1
    window = [chain_matrix(s.chain, burnin - burnin // 2)[: burnin // 2] for s in result.samplers]
    moving = np.ptp(np.vstack(window), axis=0) > 0
    assert np.all(rhat(window)[moving] < 1.01)
    assert np.all(ess(window, "bulk")[moving] >= 400)
    az = pytest.importorskip("arviz")
    stacked = np.stack(window)[:, :, moving]
    assert max(az.rhat(stacked[..., k], method="rank") for k in range(stacked.shape[2])) < 1.01
    assert any("burn-in:" in n and " s)" in n for n in result.notes)        # how long it took
    # the criteria were not met halfway: the burn-in really had to be this long
    half = [chain_matrix(s.chain, burnin // 4)[: burnin // 4] for s in result.samplers]
    r_half, e_half = rhat(half)[moving], ess(half, "bulk")[moving]
    assert np.any(r_half >= 1.01) or np.any(e_half < 400)
    again = mlimpute.impute(frame, result.spec, workers=1)
    _same_output(result, again)
    assert again.notes == []                         # nothing was chosen the second time


def test_burnin_that_does_not_converge_by_the_cap_warns_naming_a_parameter():
    frame, _ = simulate(n_clusters=15, cluster_size=6, n_level1=2, n_level2=0, seed=2)
    spec = mlimpute.propose(frame, "cluster").with_mcmc(burnin="auto", max_burnin=40,
                                                        between=5, m=2, seed=1)
    result = mlimpute.impute(frame, spec)
    assert result.spec.mcmc.burnin == 40
    first = result.warnings[0]
    assert first.startswith("the chains did not converge within max_burnin = 40")
    named = first.split("parameter ", 1)[1].split(" ", 1)[0]
    assert named in result.parameter_draws().columns


def test_auto_settings_on_the_command_line_are_saved(tmp_path, capsys):
    frame, _ = simulate(n_clusters=15, cluster_size=6, n_level1=2, n_level2=0, seed=2)
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--cluster",
                 "cluster", "--burnin", "auto", "--max-burnin", "400", "--between", "auto",
                 "--m", "3", "--seed", "4", "--save-spec", str(tmp_path / "s.toml")]) == 0
    err = capsys.readouterr().err
    assert "mlimpute: note: burn-in:" in err and "mlimpute: note: between:" in err
    saved = Spec.load(tmp_path / "s.toml").mcmc
    assert isinstance(saved.burnin, int) and isinstance(saved.between, int) and saved.seed == 4
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o2.csv"), "--spec",
                 str(tmp_path / "s.toml"), "--quiet"]) == 0
    assert (tmp_path / "o.csv").read_bytes() == (tmp_path / "o2.csv").read_bytes()
    with pytest.raises(SystemExit) as stop:
        main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o3.csv"), "--cluster",
              "cluster", "--burnin", "automatic"])
    assert stop.value.code == 2
    assert "expected a whole number, got 'automatic' or 'auto'" in capsys.readouterr().err
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o3.csv"), "--cluster",
                 "cluster", "--burnin", "20", "--between", "auto"]) == 2
    assert "at least 100 iterations" in capsys.readouterr().err
    assert not (tmp_path / "o3.csv").exists()


# ------------------------------------------------------------------ MNAR sensitivity

def _intercept_only(frame) -> Spec:
    """y1 with no covariates (an intercept only) and y2 as usual."""
    spec = mlimpute.propose(frame, "cluster")
    responses = [replace(r, covariates=[]) if r.name == "y1" else r for r in spec.responses]
    return replace(spec, responses=responses).with_mcmc(burnin=50, between=10, m=4, seed=6)


def test_delta_zero_reproduces_the_mar_run_exactly():
    frame, _ = simulate(n_clusters=20, cluster_size=8, n_level1=2, n_level2=1, seed=7)
    spec = _intercept_only(frame)
    plain = mlimpute.impute(frame, spec)
    zero = mlimpute.impute(frame, replace(spec, delta=[Delta("y1", 0.0), Delta("g1", 0.0)]))
    _same_output(plain, zero)


def test_delta_moves_the_pooled_mean_by_delta_times_the_missing_share():
    frame, _ = simulate(n_clusters=20, cluster_size=8, n_level1=2, n_level2=0, seed=7)
    spec = _intercept_only(frame)
    share = frame["y1"].isna().mean()
    plain = fit_pooled(mlimpute.impute(frame, spec), "y1 ~ 1").loc["Intercept", "estimate"]
    for delta in (-0.7, 0.4):
        shifted = mlimpute.impute(frame, replace(spec, delta=[Delta("y1", delta)]))
        pooled = fit_pooled(shifted, "y1 ~ 1").loc["Intercept", "estimate"]
        assert pooled - plain == pytest.approx(delta * share, abs=1e-12)
        # observed values never move; nor does any other response
        for k in range(1, shifted.m + 1):
            completed = shifted.completed(k)
            observed = frame["y1"].notna()
            np.testing.assert_array_equal(completed.loc[observed, "y1"], frame.loc[observed, "y1"])
            pd.testing.assert_series_equal(completed["y2"], mlimpute.impute(frame, spec).completed(k)["y2"])


def test_delta_on_the_latent_scale_and_in_a_subgroup():
    frame, _ = simulate_mixed(level1=("binary", "continuous"), level2=(), n_clusters=20,
                              cluster_size=10, missing=0.3, seed=3)
    frame["girl"] = (np.arange(len(frame)) % 2).astype(float)
    spec = mlimpute.propose(frame, "cluster").with_mcmc(burnin=40, between=5, m=3, seed=2)
    plain = mlimpute.impute(frame, spec)
    up = mlimpute.impute(frame, replace(spec, delta=[Delta("y1", 12.0, "girl == 1")]))
    missing = frame["y1"].isna().to_numpy()
    girls = frame["girl"].to_numpy() == 1
    for k in range(1, 4):
        before, after = plain.completed(k)["y1"], up.completed(k)["y1"]
        assert (after[missing & girls] == "c1").all()            # a latent shift of 12: all 1
        pd.testing.assert_series_equal(after[~(missing & girls)], before[~(missing & girls)])
    with pytest.raises(mlimpute.MlimputeError, match="categorical"):
        cat, _ = simulate_mixed(level1=(("categorical", 3),), level2=(), n_clusters=10, seed=1)
        replace(mlimpute.propose(cat, "cluster"), delta=[Delta("y1", 1.0)])
    with pytest.raises(mlimpute.MlimputeError, match="column 'nope'"):
        mlimpute.impute(frame, replace(spec, delta=[Delta("y1", 1.0, "nope == 1")]))


def test_sensitivity_command_writes_table_and_plot(tmp_path, capsys):
    frame, _ = simulate(n_clusters=15, cluster_size=8, n_level1=2, n_level2=0, seed=3)
    frame.to_csv(tmp_path / "in.csv", index=False)
    table, plot = tmp_path / "sens.csv", tmp_path / "sens.png"
    args = ["sensitivity", str(tmp_path / "in.csv"), "--cluster", "cluster", "--response", "y1",
            "--deltas", "-0.5", "0", "0.5", "--model", "y1 ~ x + (1 | cluster)", "-o", str(table),
            "--plot", str(plot), "--m", "3", "--burnin", "40", "--between", "5", "--seed", "2",
            "--quiet"]
    assert main(args) == 0
    out = pd.read_csv(table)
    assert list(out["delta"].unique()) == [-0.5, 0.0, 0.5]
    assert {"Intercept", "x", "var(cluster)", "icc(cluster)"} <= set(out["term"])
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # delta = 0 is the MAR run: the same as impute + pool with the same settings
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--cluster",
                 "cluster", "--m", "3", "--burnin", "40", "--between", "5", "--seed", "2",
                 "--quiet"]) == 0
    mar = fit_pooled(pd.read_csv(tmp_path / "o.csv"), "y1 ~ x + (1 | cluster)")
    zero = out[out["delta"] == 0].set_index("term")
    assert zero.loc["x", "estimate"] == pytest.approx(mar.loc["x", "estimate"], rel=1e-9)
    capsys.readouterr()
    bad = args[:]
    bad[bad.index("--response") + 1] = "x"      # --response x: a covariate, not imputed
    assert main(bad) == 2
    assert "not a response" in capsys.readouterr().err
    assert main(["impute", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o4.csv"),
                 "--cluster", "cluster", "--delta", "y1=abc"]) == 2
    assert not (tmp_path / "o4.csv").exists()


def test_m_auto_refuses_an_m_that_memory_cannot_hold(monkeypatch):
    """A tight coefficient of variation can ask for thousands of imputations: refused in
    one line, naming the settings, rather than running out of memory later."""
    frame, _ = simulate(n_clusters=15, cluster_size=6, n_level1=2, n_level2=0, seed=2)
    spec = mlimpute.propose(frame, "cluster").with_mcmc(burnin=20, between=2, m="auto",
                                                        pilot_m=3, se_cv=0.01, seed=1)
    monkeypatch.setattr("mlimpute.run.limits.physical_memory", lambda: 20_000)
    with pytest.raises(mlimpute.MlimputeError, match=r"m = 'auto' asks for [\d,]+ imputations"):
        mlimpute.impute(frame, spec)
