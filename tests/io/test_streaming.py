"""Streaming output: CSV and Parquet are written one imputation at a time and equal the
in-memory stacked table; stacked_parts never holds more than one completed data set."""
from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.io import write_stacked
from mlimpute.model.simulate import simulate

from conftest import require_r


@pytest.fixture(scope="module")
def result():
    frame, _ = simulate(n_clusters=15, cluster_size=6, n_level1=2, n_level2=1, seed=2)
    frame["g"] = pd.Categorical((["a", "b", "c"] * len(frame))[:len(frame)])
    frame.loc[::7, "g"] = None
    spec = mlimpute.propose(frame, "cluster").to_dict()
    spec["mcmc"] = {"burnin": 20, "between": 3, "m": 4, "seed": 5}
    return mlimpute.impute(frame, mlimpute.Spec.from_dict(spec))


@pytest.mark.parametrize("suffix, style", [(".csv", "flong"), (".csv", "long"),
                                           (".parquet", "flong"), (".parquet", "long")])
def test_streamed_file_equals_the_whole_table_written(result, tmp_path, suffix, style):
    streamed, whole = tmp_path / f"streamed{suffix}", tmp_path / f"whole{suffix}"
    write_stacked(result.stacked_parts(style), streamed)
    mlimpute.write_data(result.stacked(style), whole)
    back, _ = mlimpute.read_data(streamed)
    assert len(back) == 5 * len(result.original)
    pd.testing.assert_frame_equal(back, mlimpute.read_data(whole)[0])
    if suffix == ".csv":
        assert streamed.read_bytes() == whole.read_bytes()


def test_stacked_dta_read_by_pandas_equals_the_table(result, tmp_path):
    """.dta is not streamed: check what the writer made with a reader we did not write
    (pandas' own Stata reader, not pyreadstat)."""
    path = tmp_path / "s.dta"
    write_stacked(result.stacked_parts("flong"), path)
    back = pd.read_stata(path, convert_categoricals=False)
    table = result.stacked("flong")
    assert list(back.columns) == list(table.columns) and len(back) == len(table)
    for name in ("y1", "y2", "g1", "x", "_mi_m", "_mi_id"):
        np.testing.assert_array_equal(back[name].to_numpy(dtype=float), table[name].to_numpy(dtype=float))
    codes = table["g"].cat.codes.to_numpy(dtype=float) + 1
    codes[table["g"].isna().to_numpy()] = np.nan
    np.testing.assert_array_equal(back["g"].to_numpy(dtype=float), codes)


def test_stacked_rds_read_by_r_equals_the_table(result, tmp_path):
    require_r()
    path = tmp_path / "s.rds"
    write_stacked(result.stacked_parts("long"), path)
    script = ("d <- readRDS(commandArgs(TRUE)[1]); d$g <- as.character(d$g); "
              "write.csv(format(d, digits = 17), commandArgs(TRUE)[2], row.names = FALSE)")
    subprocess.run(["Rscript", "-e", script, str(path), str(tmp_path / "r.csv")], check=True)
    back = pd.read_csv(tmp_path / "r.csv", keep_default_na=False, dtype=str)
    table = result.stacked("long")
    assert list(back.columns) == list(table.columns) and len(back) == len(table)
    for name in ("y1", "y2", "g1", "x"):
        values = pd.to_numeric(back[name].str.strip().replace("NA", np.nan))
        np.testing.assert_array_equal(values.to_numpy(dtype=float), table[name].to_numpy(dtype=float))
    ours = ["NA" if pd.isna(v) else v for v in table["g"].astype(object)]
    assert back["g"].str.strip().tolist() == ours


def test_parts_are_built_as_consumed(result, monkeypatch):
    """No completed data set is made before the block that holds it is taken: an eager
    implementation (all M built up front) fails the counts below."""
    made = []
    original = type(result).completed

    def counting(self, m):
        made.append(m)
        return original(self, m)
    monkeypatch.setattr(type(result), "completed", counting)
    parts = result.stacked_parts("flong")
    first = next(parts)
    assert (first["_mi_m"] == 0).all() and len(first) == len(result.original)
    assert made == []
    second = next(parts)
    assert int(second["_mi_m"].iloc[0]) == 1 and made == [1]
    assert [int(p["_mi_m"].iloc[0]) for p in parts] == [2, 3, 4] and made == [1, 2, 3, 4]


def test_a_failed_stream_leaves_nothing(result, tmp_path):
    def broken():
        yield next(result.stacked_parts("flong"))
        raise RuntimeError("disk full")
    with pytest.raises(mlimpute.FormatError, match="disk full"):
        write_stacked(broken(), tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []
