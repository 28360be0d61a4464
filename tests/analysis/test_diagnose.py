"""Chain diagnostics: rank-normalised R-hat, bulk/tail ESS (against ArviZ), lag checks,
plots, CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlimpute.frontends.cli import main
from mlimpute.analysis.diagnose import diagnose, summarize, warnings_for
from mlimpute.engine.diagnostics import effective_sample_size, ess, first_lag_below, rhat
from mlimpute.model.simulate import simulate

RNG = np.random.default_rng(3)


def _ar1(n, phi):
    x = np.zeros(n)
    e = RNG.normal(size=n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _ar1_chains(chains, n, phi, k, rng):
    x = np.zeros((chains, n, k))
    e = rng.normal(size=(chains, n, k))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


@pytest.mark.parametrize("chains, n, phi", [(2, 801, 0.9), (4, 500, 0.0), (3, 300, 0.97),
                                            (2, 1000, -0.3), (1, 999, 0.5)])
def test_rhat_and_ess_equal_arviz(chains, n, phi):
    """Our Vehtari et al. (2021) diagnostics against ArviZ's, on chains that mix well,
    badly, anticorrelate, disagree in location and in scale, and have ties."""
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(int(100 * phi) + n)
    x = _ar1_chains(chains, n, phi, 4, rng)
    x[..., 1] += 0.4 * np.arange(chains)[:, None]            # chains in different places
    x[..., 2] = np.round(x[..., 2])                          # ties
    x[..., 3] *= (1 + np.arange(chains))[:, None]            # chains of different spread
    for kind in ("bulk", "tail", "mean"):
        theirs = [az.ess(x[..., k], method=kind) for k in range(4)]
        np.testing.assert_allclose(ess((x,), kind), theirs, rtol=1e-9)
    if chains > 1:          # ArviZ refuses R-hat of one chain; we split it in halves
        theirs = [az.rhat(x[..., k], method="rank") for k in range(4)]
        np.testing.assert_allclose(rhat((x,)), theirs, rtol=1e-9)


def test_rank_normal_scores_equal_scipys_ndtri_with_ties():
    """The normal scores of the rank normalisation (looked up per distinct rank, so that a
    run need not load scipy.special) are scipy's ndtri of the same fractions, ties too."""
    from scipy.special import ndtri
    from mlimpute.engine.diagnostics import rank_normalize

    rng = np.random.default_rng(11)
    chains = rng.normal(size=(3, 400, 4))
    chains[:, :, 1] = np.round(chains[:, :, 1], 1)          # many ties: averaged ranks
    chains[:, :, 2] = 0.0
    chains[0, :5, 2] = 1.0                                  # one tie group of 1,195 draws
    z = rank_normalize(chains)
    s = chains.shape[0] * chains.shape[1]
    for k in range(chains.shape[2]):
        flat = chains[:, :, k].reshape(-1)
        # average ranks by brute force: 1 + (number below) + (number tied - 1) / 2
        below = (flat[None, :] < flat[:, None]).sum(axis=1)
        tied = (flat[None, :] == flat[:, None]).sum(axis=1)
        expected = ndtri((1 + below + (tied - 1) / 2 - 0.375) / (s + 0.25))
        np.testing.assert_allclose(z[:, :, k].reshape(-1), expected, rtol=1e-13, atol=1e-13)


def test_rhat_and_ess_on_known_chains():
    iid = RNG.normal(size=(4000, 2))
    assert np.all(np.abs(rhat(iid) - 1) < 0.01)
    drifting = np.linspace(0, 3, 4000)[:, None] + RNG.normal(size=(4000, 1))
    assert rhat(drifting)[0] > 1.2
    # a chain whose halves differ only in spread: caught by the folded R-hat
    spread = np.concatenate([RNG.normal(size=2000), 3 * RNG.normal(size=2000)])[:, None]
    assert rhat(spread)[0] > 1.1
    # ESS of an AR(1) chain is about n (1 - phi) / (1 + phi)
    phi = 0.8
    ess = effective_sample_size(_ar1(20000, phi)[:, None])[0]
    assert 0.8 < ess / (20000 * (1 - phi) / (1 + phi)) < 1.25
    assert abs(effective_sample_size(iid)[0] / 4000 - 1) < 0.15
    # the gap at which consecutive draws of an AR(1) chain correlate below 0.05:
    # phi^L < 0.05, L = ceil(log 0.05 / log 0.8) = 14 (estimated, so within a few lags)
    long = _ar1_chains(1, 200_000, phi, 1, np.random.default_rng(1))[0]
    assert 12 <= first_lag_below(long, 0.05) <= 16
    assert first_lag_below(iid, 0.05) == 1


def test_warnings_in_words():
    draws = pd.DataFrame({"slow": _ar1(600, 0.99), "fine": RNG.normal(size=600),
                          "fixed": np.ones(600)})
    table = summarize(draws, between=5)
    notes = warnings_for(table, between=5, m=120)       # 600 draws, one kept every 5
    assert any("120 imputations carry only about" in n and "slow" in n for n in notes)
    assert any("lag 5" in n and "increase 'between'" in n for n in notes)
    assert any("R-hat of 1.01 or more after burn-in (worst slow" in n for n in notes)
    assert not warnings_for(summarize(draws[["fine", "fixed"]], between=5), between=5, m=120)
    # a chain in two places with plenty of effective draws: a plain non-convergence warning
    apart = pd.DataFrame({"apart": np.r_[RNG.normal(size=3000), 1 + RNG.normal(size=3000)]})
    (note,) = warnings_for(summarize(apart), m=None)
    assert note.startswith("1 parameters have R-hat of 1.01 or more after burn-in (worst apart")
    # after a burn-in that met the criteria, R-hat on fewer than 400 effective draws is the
    # noise of a short run: not a warning; on more it still is
    short = pd.DataFrame({"mean": [0.0, 0.0], "sd": [1.0, 1.0], "ess_bulk": [50.0, 900.0],
                          "ess_tail": [60.0, 900.0], "rhat": [1.08, 1.02]}, index=["noisy", "real"])
    (note,) = warnings_for(short, burnin_converged=True)
    assert "worst real" in note and note.startswith("1 parameters")
    assert "worst noisy" in warnings_for(short)[0]
    # an autocorrelation above 0.1 only by its own noise (Bartlett's SE) does not warn
    noisy = short.assign(acf_lag9=[0.19, 0.05], acf_se=[0.06, 0.02])
    assert not [n for n in warnings_for(noisy, between=9) if "lag 9" in n]
    assert [n for n in warnings_for(noisy.assign(acf_se=[0.03, 0.02]), between=9) if "lag 9" in n]


def test_impute_diagnostics_and_diagnose_command(tmp_path):
    frame, _ = simulate(n_clusters=12, cluster_size=6, n_level1=2, n_level2=1, seed=4)
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    chain = tmp_path / "chain.csv"
    folder = tmp_path / "diag"
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster",
                 "--m", "2", "--burnin", "30", "--between", "10", "--seed", "1", "--quiet",
                 "--chain", str(chain), "--diagnostics", str(folder)]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["beta1.png", "beta2.png", "omega_e.png", "omega_u.png", "summary.csv"]
    summary = pd.read_csv(folder / "summary.csv", index_col="parameter")
    assert {"mean", "sd", "ess_bulk", "ess_tail", "rhat", "acf_lag10"} <= set(summary.columns)
    again = tmp_path / "again"
    assert main(["diagnose", str(chain), "-o", str(again), "--between", "10"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(again / "summary.csv"), pd.read_csv(folder / "summary.csv"))
    assert main(["diagnose", str(src), "-o", str(again)]) == 2


def test_short_chain_warns_on_stderr(tmp_path, capsys):
    frame, _ = simulate(n_clusters=12, cluster_size=6, n_level1=2, n_level2=0, seed=4)
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster",
                 "--m", "2", "--burnin", "5", "--between", "2", "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "mlimpute: warning:" in err


def _report_text(tmp_path, *options: str) -> str:
    """Impute a small simulated data set from the command line with --report; the HTML."""
    frame, _ = simulate(n_clusters=15, cluster_size=8, n_level1=2, n_level2=1, seed=4)
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    report = tmp_path / "report.html"
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster",
                 "--m", "2", "--burnin", "20", "--between", "5", "--seed", "1", "--quiet",
                 "--report", str(report), *options]) == 0
    return report.read_text()


def test_html_report_is_self_contained(tmp_path):
    text = _report_text(tmp_path, "--model", "y1 ~ x + (1 | cluster)", "--joint-only")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("trace and autocorrelation' src='data:image/png;base64,") == 4  # 4 blocks
    assert text.count(": observed and imputed' src='data:image/png;base64,") == 3    # y1 y2 g1
    assert "Model of interest" in text and "var(cluster)" in text
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_report_of_a_compatible_imputation_shows_the_model_of_interest(tmp_path):
    """Without --joint-only the model of interest is part of the imputation model: its
    blocks (beta, Omega_b, sigma2) get trace plots of their own and its formula is in the
    spec; y1 is imputed from it."""
    text = _report_text(tmp_path, "--model", "y1 ~ x + (1 | cluster)")
    assert text.count("trace and autocorrelation' src='data:image/png;base64,") == 7
    assert "model.beta[x]" in text and "[model]" in text
    assert text.count(": observed and imputed' src='data:image/png;base64,") == 3


def test_report_reuses_the_cli_diagnostics(tmp_path, monkeypatch):
    """--report takes the summary the run computed for its warnings (one diagnose call)."""
    import mlimpute.frontends.commands
    import mlimpute.run.pipeline
    import mlimpute.analysis.report
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return diagnose(*args, **kwargs)
    monkeypatch.setattr(mlimpute.frontends.commands, "diagnose", counting)
    monkeypatch.setattr(mlimpute.run.pipeline, "diagnose", counting)
    monkeypatch.setattr(mlimpute.analysis.report, "diagnose", counting)
    text = _report_text(tmp_path)
    assert len(calls) == 1
    assert text.count("trace and autocorrelation' src='data:image/png;base64,") == 4


def test_plots_show_every_chain_and_page_large_blocks(tmp_path):
    """A 10 x 10 covariance block (55 parameters) comes out as pages of readable size,
    and the second chain's colour (matplotlib's C1, orange) is in the traces."""
    from PIL import Image

    from mlimpute.analysis.diagnose import PER_PAGE, plot
    rng = np.random.default_rng(1)
    names = [f"omega_u[{a},{b}]" for a in range(10) for b in range(a + 1)]
    chains = [pd.DataFrame(rng.normal(size=(150, len(names))), columns=names) for _ in range(2)]
    paths = plot(chains, tmp_path, burnin=50)
    assert len(paths) == -(-len(names) // PER_PAGE) == 5
    assert [p.name for p in paths[:2]] == ["omega_u_1.png", "omega_u_2.png"]
    for path in (paths[0], paths[-1]):
        width, height = Image.open(path).size
        assert width == 800 and height <= 1700
    pixels = np.asarray(Image.open(paths[0]).convert("RGB")).reshape(-1, 3).astype(int)
    orange = np.abs(pixels - [255, 127, 14]).sum(axis=1) < 40
    assert orange.sum() > 100
    one = plot([c.iloc[:, :3] for c in chains[:1]], tmp_path / "one", burnin=50)
    pixels = np.asarray(Image.open(one[0]).convert("RGB")).reshape(-1, 3).astype(int)
    assert (np.abs(pixels - [255, 127, 14]).sum(axis=1) < 40).sum() == 0


def test_report_speaks_the_datas_labels_and_shows_missingness_and_distributions(tmp_path):
    """Terms like C(sex)[T.1] appear as 'Sex of pupil: girl'; the missingness patterns
    table counts rows; every imputed variable gets an observed-vs-imputed figure."""
    import re

    import mlimpute
    from mlimpute.io import Metadata
    from mlimpute.analysis.report import build_report, labelled_terms, missingness_patterns
    frame, _ = simulate(n_clusters=12, cluster_size=8, n_level1=2, n_level2=0, seed=6)
    frame["sex"] = np.arange(len(frame)) % 2
    meta = Metadata(variable_labels={"sex": "Sex of pupil", "y1": "maths score"},
                    value_labels={"sex": {0: "boy", 1: "girl"}})
    assert labelled_terms(["Intercept", "C(sex)[T.1]", "y1", "x"], meta) == \
        ["Intercept", "Sex of pupil: girl", "maths score", "x"]
    patterns = missingness_patterns(frame, ["y1", "y2"])
    assert patterns["rows"].sum() == len(frame)
    expected = frame[["y1", "y2"]].isna().value_counts()
    assert sorted(patterns["rows"]) == sorted(expected.to_numpy().tolist())
    spec = mlimpute.propose(frame, "cluster")
    spec.mcmc.burnin, spec.mcmc.between, spec.mcmc.m, spec.mcmc.seed = 10, 3, 2, 1
    result = mlimpute.impute(frame, spec)
    from mlimpute.analysis.fit import fit_pooled
    pooled = fit_pooled(result, "y1 ~ x + C(sex) + (1 | cluster)")
    page = build_report(result, pooled, "y1 ~ x + C(sex) + (1 | cluster)", metadata=meta)
    assert "Sex of pupil: girl" in page and "C(sex)[T.1]" not in page
    assert "<h2>Missing values</h2>" in page and "maths score (y1)" in page
    assert len(re.findall(r"alt='[^']+: observed and imputed'", page)) == len(result.imputed_vars)
