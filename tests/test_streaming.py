"""Streaming output: CSV and Parquet are written one imputation at a time and equal the
in-memory stacked table; stacked_parts never holds more than one completed data set."""
from __future__ import annotations

import pandas as pd
import pytest

import mlimpute
from mlimpute.io import write_stacked
from mlimpute.simulate import simulate


@pytest.fixture(scope="module")
def result():
    frame, _ = simulate(n_clusters=15, cluster_size=6, n_level1=2, n_level2=1, seed=2)
    frame["g"] = pd.Categorical((["a", "b", "c"] * len(frame))[:len(frame)])
    frame.loc[::7, "g"] = None
    spec = mlimpute.propose(frame, "cluster").to_dict()
    spec["mcmc"] = {"burnin": 20, "between": 3, "m": 4, "seed": 5}
    return mlimpute.impute(frame, mlimpute.Spec.from_dict(spec))


@pytest.mark.parametrize("suffix, style", [(".csv", "flong"), (".csv", "long"),
                                           (".parquet", "flong"), (".parquet", "long"),
                                           (".dta", "flong"), (".rds", "long")])
def test_streamed_file_equals_the_whole_table_written(result, tmp_path, suffix, style):
    streamed, whole = tmp_path / f"streamed{suffix}", tmp_path / f"whole{suffix}"
    write_stacked(result.stacked_parts(style), streamed)
    mlimpute.write_data(result.stacked(style), whole)
    back, _ = mlimpute.read_data(streamed)
    assert len(back) == 5 * len(result.original)
    pd.testing.assert_frame_equal(back, mlimpute.read_data(whole)[0])
    if suffix == ".csv":
        assert streamed.read_bytes() == whole.read_bytes()


def test_parts_are_built_as_consumed(result):
    parts = result.stacked_parts("flong")
    first = next(parts)
    assert (first["_mi_m"] == 0).all() and len(first) == len(result.original)
    assert [int(p["_mi_m"].iloc[0]) for p in parts] == [1, 2, 3, 4]


def test_a_failed_stream_leaves_nothing(result, tmp_path):
    def broken():
        yield next(result.stacked_parts("flong"))
        raise RuntimeError("disk full")
    with pytest.raises(mlimpute.FormatError, match="disk full"):
        write_stacked(broken(), tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []
