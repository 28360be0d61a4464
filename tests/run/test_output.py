"""Completed and stacked data: observed values untouched, determinism, _mi columns, writers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import mlimpute
from mlimpute.model.simulate import simulate


@pytest.fixture(scope="module")
def data():
    frame, _ = simulate(n_clusters=30, cluster_size=10, n_level1=2, n_level2=1, seed=2)
    frame["note"] = "x"                      # a column outside the model rides along
    frame = frame.astype({"note": object})
    return frame


def _spec(frame, seed=7, m=3):
    spec = mlimpute.propose(frame, "cluster", exclude=["note"])
    return mlimpute.Spec.from_dict({**spec.to_dict(),
                                    "mcmc": {"burnin": 20, "between": 5, "m": m, "seed": seed}})


@pytest.fixture(scope="module")
def result(data):
    return mlimpute.impute(data, _spec(data))


def test_observed_values_are_bit_identical_in_every_imputation(data, result):
    for m in range(1, result.m + 1):
        completed = result.completed(m)
        assert list(completed.columns) == list(data.columns)
        for col in data.columns:
            observed = data[col].notna()
            left = completed.loc[observed, col].to_numpy()
            right = data.loc[observed, col].to_numpy()
            if left.dtype.kind == "f":
                assert np.array_equal(left.view(np.int64), right.view(np.int64)), col
            else:
                assert (left == right).all(), col
        assert not completed[result.imputed_vars].isna().any().any()


def test_input_frame_is_not_modified(data):
    before = data.copy()
    mlimpute.impute(data, _spec(data))
    pd.testing.assert_frame_equal(data, before)


def test_level2_imputations_are_constant_within_cluster(result):
    for completed in result.completed_all():
        assert (completed.groupby("cluster")["g1"].nunique() == 1).all()


def test_same_seed_same_output_different_seed_different_output(data, result):
    again = mlimpute.impute(data, _spec(data))
    pd.testing.assert_frame_equal(result.stacked(), again.stacked())
    other = mlimpute.impute(data, _spec(data, seed=8))
    assert not result.completed(1).equals(other.completed(1))


def test_flong_shape_and_mi_columns(data, result):
    stacked = result.stacked("flong")
    n = len(data)
    assert len(stacked) == n * (result.m + 1)
    assert list(stacked["_mi_m"].unique()) == list(range(result.m + 1))
    for m in range(result.m + 1):
        block = stacked[stacked["_mi_m"] == m]
        assert block["_mi_id"].tolist() == list(range(1, n + 1))
    original = stacked[stacked["_mi_m"] == 0]
    expected = data[result.imputed_vars].isna().any(axis=1).astype(float).to_numpy()
    assert np.array_equal(original["_mi_miss"].to_numpy(), expected)
    assert stacked.loc[stacked["_mi_m"] > 0, "_mi_miss"].isna().all()
    # m = 0 is the original data, missing values and all
    pd.testing.assert_frame_equal(original[data.columns].reset_index(drop=True),
                                  data.reset_index(drop=True))


def test_r_long_shape(data, result):
    long = result.stacked("long")
    assert list(long.columns[:2]) == [".imp", ".id"]
    assert list(long.columns[2:]) == list(data.columns)
    assert long[".imp"].tolist() == np.repeat(np.arange(result.m + 1), len(data)).tolist()
    assert long[".id"].tolist() == list(range(1, len(data) + 1)) * (result.m + 1)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".dta"])
def test_writers_round_trip_values_exactly(tmp_path, result, suffix):
    stacked = result.stacked("flong")
    path = tmp_path / f"out{suffix}"
    mlimpute.write_data(stacked, path)
    back, _ = mlimpute.read_data(path)
    assert list(back.columns) == list(stacked.columns)
    for col in ["y1", "y2", "g1", "x", "w"]:
        a = back[col].to_numpy(dtype=float)
        b = stacked[col].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)]), col
    assert back["_mi_m"].astype(int).tolist() == stacked["_mi_m"].astype(int).tolist()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_dta_is_a_format_older_stata_opens_and_pandas_reads(tmp_path, result):
    path = tmp_path / "out.dta"
    mlimpute.write_data(result.stacked(), path)
    assert path.read_bytes()[:60].startswith(b"<stata_dta><header><release>118</release>")
    by_pandas = pd.read_stata(path)
    by_pyreadstat, _ = pyreadstat.read_dta(str(path))
    assert len(by_pandas) == len(by_pyreadstat) == len(result.stacked())
    old = tmp_path / "old.dta"
    mlimpute.write_data(result.stacked(), old, dta_format=114)
    assert old.read_bytes()[0] == 114


def test_failed_write_leaves_no_file_and_keeps_existing_one(tmp_path, result):
    target = tmp_path / "out.dta"
    target.write_text("previous")
    bad = result.stacked().rename(columns={"y1": "a_name_that_is_far_too_long_for_stata_vars"})
    with pytest.raises(mlimpute.FormatError, match="has more than 32 characters"):
        mlimpute.write_data(bad, target)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.dta"]


def test_chain_is_kept_and_labelled(result):
    draws = result.parameter_draws()
    assert len(draws) == result.sampler.chain.beta1.shape[0] - result.sampler.chain.burnin
    assert "omega_u[g1,y1:cons]" in draws.columns
    assert len(result.parameter_draws(include_burnin=True)) == result.sampler.iterations


def test_fitted_equations_show_the_posterior_means(result):
    text = mlimpute.render_fitted(result)
    means = result.posterior_summary()["mean"]
    assert f"{means['beta1[x,y1]']:.3f} x_ij" in text
    assert f"g1_j = {means['beta2[cons,g1]']:.3f} cons" in text
    assert f"{means['omega_e[y2,y1]']:8.3f}" in text


def test_fitted_equations_in_latex(result):
    tex = mlimpute.render_fitted(result, latex=True)
    means = result.posterior_summary()["mean"]
    assert tex.startswith("\\begin{align*}") and tex.rstrip().endswith("\\end{align*}")
    assert f"{abs(means['beta1[x,y1]']):.3f}" in tex and "\\Omega_u" in tex
    assert tex.count("\\begin{pmatrix}") == tex.count("\\end{pmatrix}") == 2


@pytest.mark.r
def test_long_output_opens_in_mice_and_mitml_and_pools_alike(tmp_path, result):
    from conftest import require_r, run_r
    from mlimpute.analysis.fit import fit_pooled
    require_r("mice", "mitml")
    long = result.stacked("long").drop(columns=["note"])
    long.to_csv(tmp_path / "long.csv", index=False)
    run_r("open_long.R", tmp_path / "long.csv", tmp_path / "o.csv", "y1 ~ x + w")
    ref = pd.read_csv(tmp_path / "o.csv").set_index("term")
    assert (ref["m"] == result.m).all()
    ours = fit_pooled(result, "y1 ~ x + w")
    for term in ["Intercept", "x", "w"]:
        for source in ("mice", "mitml"):
            np.testing.assert_allclose(ours.loc[term, "estimate"], ref.loc[term, f"{source}_estimate"], rtol=1e-8)
            np.testing.assert_allclose(ours.loc[term, "std_error"], ref.loc[term, f"{source}_se"], rtol=1e-8)
