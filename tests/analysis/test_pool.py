"""Rubin's rules agree with mitml::testEstimates to 1e-8 on the same estimates."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mlimpute import MlimputeError
from mlimpute.analysis.pool import rubin

from conftest import require_r, run_r


def _inputs(m=7, k=3, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(m, k)) * [0.05, 0.3, 1.0] + [1.0, -0.5, 0.2]
    u = rng.uniform(0.01, 0.05, size=(m, k))
    return pd.DataFrame(q, columns=["a", "b", "c"]), pd.DataFrame(u, columns=["a", "b", "c"])


@pytest.mark.r
@pytest.mark.parametrize("df_complete", [None, 45.0])
def test_matches_mitml_test_estimates(tmp_path, df_complete):
    require_r("mitml")
    q, u = _inputs()
    frame = pd.concat([q.add_prefix("q_"), u.add_prefix("u_")], axis=1)
    frame.to_csv(tmp_path / "in.csv", index=False)
    run_r("pool_mitml.R", tmp_path / "in.csv", tmp_path / "out.csv",
          "Inf" if df_complete is None else df_complete)
    ref = pd.read_csv(tmp_path / "out.csv").set_index("name")
    ours = rubin(q, u, df_complete=df_complete)
    for col in ["estimate", "std_error", "t", "df", "p_value", "riv", "fmi"]:
        np.testing.assert_allclose(ours[col].to_numpy(), ref.loc[ours.index, col].to_numpy(),
                                   rtol=1e-8, err_msg=col)


def test_closed_form_for_two_imputations():
    ours = rubin([[1.0], [3.0]], [[0.5], [1.5]])
    b, ubar = 2.0, 1.0
    t = ubar + 1.5 * b
    assert ours["estimate"].iloc[0] == 2.0
    assert ours["std_error"].iloc[0] == pytest.approx(np.sqrt(t))
    assert ours["df"].iloc[0] == pytest.approx(1 / (1.5 * b / t) ** 2)


def test_needs_two_imputations():
    with pytest.raises(MlimputeError, match="at least 2 imputations"):
        rubin([[1.0]], [[0.1]])


@pytest.mark.r
@pytest.mark.parametrize("df_complete", [None, 60.0])
@pytest.mark.parametrize("m, k", [(6, 3), (5, 1)])      # k (m - 1) = 4: Reiter's df at its limit
def test_d1_d2_match_mitml(tmp_path, df_complete, m, k):
    from mlimpute.analysis.pool import wald_d1, wald_d2, wald_statistics
    require_r("mitml")
    rng = np.random.default_rng(4)
    q = rng.normal(size=(m, k)) * 0.2 + [0.3, -0.1, 0.2][:k]
    base = np.array([[0.04, 0.01, 0.0], [0.01, 0.05, 0.01], [0.0, 0.01, 0.03]])[:k, :k]
    u = np.array([base * rng.uniform(0.8, 1.2) for _ in range(m)])
    d = wald_statistics(q, u)
    pd.DataFrame(q).to_csv(tmp_path / "q.csv", index=False)
    pd.DataFrame(u.reshape(m * k, k)).to_csv(tmp_path / "u.csv", index=False)
    pd.DataFrame({"d": d}).to_csv(tmp_path / "d.csv", index=False)
    run_r("pool_wald.R", tmp_path / "q.csv", tmp_path / "u.csv", tmp_path / "d.csv",
          tmp_path / "out.csv", "Inf" if df_complete is None else df_complete)
    ref = pd.read_csv(tmp_path / "out.csv").set_index("method")
    for method, ours in (("D1", wald_d1(q, u, df_complete)), ("D2", wald_d2(d, k))):
        for ours_key, ref_key in (("F", "F"), ("df2", "df2"), ("riv", "riv")):
            np.testing.assert_allclose(ours[ours_key], ref.loc[method, ref_key], rtol=1e-8,
                                       err_msg=f"{method} {ours_key}")


@pytest.mark.r
def test_scalar_matches_mice_pool_scalar(tmp_path):
    require_r("mice")
    q, u = _inputs(m=5)
    pd.DataFrame({"q": q["b"], "u": u["b"]}).to_csv(tmp_path / "in.csv", index=False)
    n, k = 50, 2
    run_r("pool_mice.R", tmp_path / "in.csv", tmp_path / "out.csv", n, k)
    ref = pd.read_csv(tmp_path / "out.csv").iloc[0]
    ours = rubin(q[["b"]], u[["b"]], df_complete=n - k).iloc[0]
    np.testing.assert_allclose(
        [ours["estimate"], ours["std_error"] ** 2, ours["df"], ours["riv"], ours["fmi"]],
        [ref["estimate"], ref["variance"], ref["df"], ref["riv"], ref["fmi"]], rtol=1e-8)


@pytest.mark.r
@pytest.mark.parametrize("formula, null, rtol", [
    ("y1 ~ x + w", "y1 ~ 1", 1e-8),
    ("y1 ~ x + w + (1 | cluster)", "y1 ~ w + (1 | cluster)", 1e-4),
])
def test_d3_matches_mitml_test_models(tmp_path, formula, null, rtol):
    """Maximum-likelihood fits: closed form for lm (1e-8); statsmodels vs lme4
    optimisers for lmer (agreeing to about 1e-5 in the log-likelihoods)."""
    import mlimpute
    from mlimpute.analysis.fit import compare_models_d3
    from mlimpute.model.simulate import simulate
    require_r("mitml", "lme4")
    frame, _ = simulate(n_clusters=30, cluster_size=10, n_level1=2, n_level2=0, missing=0.3, seed=2)
    spec = mlimpute.propose(frame, "cluster")
    spec.mcmc = mlimpute.MCMC(burnin=50, between=20, m=5, seed=3)
    result = mlimpute.impute(frame, spec)
    result.stacked("long").to_csv(tmp_path / "long.csv", index=False)
    run_r("pool_d3.R", tmp_path / "long.csv", tmp_path / "out.csv", formula, null)
    ref = pd.read_csv(tmp_path / "out.csv").iloc[0]
    ours = compare_models_d3(result, formula, null)
    assert ours["df1"] == ref["df1"]
    np.testing.assert_allclose([ours["F"], ours["riv"], ours["df2"]], [ref["F"], ref["riv"], ref["df2"]],
                               rtol=rtol)


@pytest.mark.r
@pytest.mark.parametrize("df_complete", [None, 40.0])
def test_linear_hypotheses_match_mitml_test_constraints(tmp_path, df_complete, capsys):
    """`mlimpute pool --test ... --df-com` against mitml's testConstraints and
    testEstimates on the same completed data sets (lm: the covariances are closed form)."""
    require_r("mitml")
    from mlimpute.frontends.cli import main
    from mlimpute.model.simulate import simulate
    frame, _ = simulate(n_clusters=15, cluster_size=8, n_level1=1, n_level2=0, seed=8)
    frame = frame.rename(columns={"x": "I.x", "w": "G.x"})     # dotted names, as mitml's vignettes
    source, stacked = tmp_path / "in.csv", tmp_path / "stacked.csv"
    frame.to_csv(source, index=False)
    assert main(["impute", str(source), "-o", str(stacked), "--cluster", "cluster", "--m", "5",
                 "--burnin", "50", "--between", "10", "--seed", "4", "--quiet"]) == 0
    hypotheses = ["G.x - I.x = 0", "2*I.x + G.x = 1"]
    table = tmp_path / "pooled.csv"
    args = ["pool", str(stacked), "--model", "y1 ~ I.x + G.x", "--quiet", "-o", str(table),
            *[a for h in hypotheses for a in ("--test", h)]]
    if df_complete is not None:
        args += ["--df-com", str(df_complete)]
    capsys.readouterr()
    assert main(args) == 0
    shown = capsys.readouterr().out
    run_r("test_constraints.R", stacked, "y1 ~ I.x + G.x", tmp_path / "ref.csv",
          "Inf" if df_complete is None else df_complete, "G.x - I.x", "2*I.x + G.x - 1")
    ref = pd.read_csv(tmp_path / "ref.csv").set_index("what")["value"]
    from mlimpute.analysis.fit import fit_each
    from mlimpute.analysis.hypotheses import wald_test_of
    from mlimpute.analysis.imputed_file import split_stacked
    _, completed, _ = split_stacked(pd.read_csv(stacked), "stacked")
    ours = wald_test_of(fit_each(completed, "y1 ~ I.x + G.x"), hypotheses, df_complete)
    for key in ("F", "df1", "df2", "p_value", "riv"):
        np.testing.assert_allclose(ours[key], ref[key], rtol=1e-7, err_msg=key)
    assert f"F = {ours['F']:.4g} on 2 and {ours['df2']:.4g} df" in shown
    pooled = pd.read_csv(table).set_index(pd.read_csv(table).columns[0])
    for term, name in (("Intercept", "(Intercept)"), ("I.x", "I.x"), ("G.x", "G.x")):
        np.testing.assert_allclose(pooled.loc[term, "df"], ref[f"df:{name}"], rtol=1e-7)


def test_hypotheses_are_read_as_written():
    from mlimpute.analysis.hypotheses import constraint_matrix, parse_constraint
    names = ["Intercept", "G.SES", "I.SES", "x:z", "C(g)[T.b]"]
    row, value = parse_constraint("2*x:z + C(g)[T.b] = 1", names)
    assert row.tolist() == [0, 0, 0, 2, 1] and value == 1
    row, value = parse_constraint("I.SES = G.SES + 0.5", names)
    assert row.tolist() == [0, -1, 1, 0, 0] and value == 0.5
    assert parse_constraint("G.SES - I.SES", names)[0].tolist() == [0, 1, -1, 0, 0]
    for bad, message in (("G.SES - nosuch = 0", "'nosuch' is not a coefficient"),
                         ("a = b = c", "more than one '='"), ("= 0", "empty"),
                         ("G.SES I.SES", "expected + or -"), ("3 = 1", "names no coefficient")):
        with pytest.raises(MlimputeError, match=re.escape(message)):
            parse_constraint(bad, names)
    with pytest.raises(MlimputeError, match="not independent"):
        constraint_matrix(["G.SES = 0", "2*G.SES = 0"], names)
