"""Stacked .dta output is an mi-set flong data set: the _dta[_mi_*] characteristics are in
the file, as read by our own parser of the format and by R's readstata13, and the data
are still read intact by pyreadstat and pandas."""
from __future__ import annotations

from datetime import datetime


import numpy as np
import pandas as pd
import pyreadstat
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.io import Metadata
from mlimpute.model.simulate import simulate

from conftest import require_r, run_r
from dta_parser import parse_characteristics


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mi")
    frame, _ = simulate(n_clusters=10, cluster_size=6, n_level1=2, n_level2=1, seed=3)
    src = tmp / "in.csv"
    frame.to_csv(src, index=False)
    outputs = {}
    for fmt in (118, 114, 117):
        out = tmp / f"mi{fmt}.dta"
        assert main(["impute", str(src), "-o", str(out), "--cluster", "cluster", "--m", "3",
                     "--burnin", "10", "--between", "3", "--seed", "1", "--quiet",
                     "--dta-format", str(fmt)]) == 0
        outputs[fmt] = out
    return frame, outputs


@pytest.mark.parametrize("fmt", [118, 114, 117])
def test_mi_characteristics_are_written(run, fmt):
    frame, outputs = run
    chars = parse_characteristics(outputs[fmt])
    assert chars[("_dta", "_mi_marker")] == "_mi_ds_1"
    assert chars[("_dta", "_mi_style")] == "flong"
    assert chars[("_dta", "_mi_M")] == "3"
    assert chars[("_dta", "_mi_N")] == str(len(frame))
    assert chars[("_dta", "_mi_ivars")] == "y1 y2 g1"
    assert chars[("_dta", "_mi_pvars")] == "" and chars[("_dta", "_mi_rvars")] == ""
    # seconds since 1960 of the header's time stamp (as pyreadstat reads it): not the
    # clock's, so the same run gives the same bytes; a CSV input has none, so Stata's
    # origin of time
    _, meta = pyreadstat.read_dta(str(outputs[fmt]), metadataonly=True)
    stamp = (meta.modification_time - datetime(1960, 1, 1)).total_seconds()
    assert int(chars[("_dta", "_mi_update")]) == stamp == 0


def test_mi_update_is_in_seconds_as_stata_stores_it(tmp_path, monkeypatch):
    """Stata's u_mi_curtime stores tc(now)/1000: seconds since 1960.  A stamp of
    2023-11-14 22:13:20 is 2,015,446,400 s; in milliseconds `mi query` showed year ~68,883."""
    from mlimpute.io.stack import mi_characteristics
    frame = pd.DataFrame({"y": [1.0, np.nan]})
    chars = mi_characteristics(frame, ["y"], 2, datetime(2023, 11, 14, 22, 13, 20))
    seconds = int(chars[("_dta", "_mi_update")])
    assert seconds == (datetime(2023, 11, 14, 22, 13, 20) - datetime(1960, 1, 1)).days * 86400 + 80000
    assert datetime(1960, 1, 1).year + seconds / (365.25 * 86400) < 2024


@pytest.mark.parametrize("fmt", [118, 114])
def test_data_still_read_by_pyreadstat_and_pandas(run, fmt):
    frame, outputs = run
    by_pyreadstat, _ = pyreadstat.read_dta(str(outputs[fmt]))
    by_pandas = pd.read_stata(outputs[fmt])
    assert len(by_pyreadstat) == len(by_pandas) == 4 * len(frame)
    np.testing.assert_array_equal(by_pyreadstat["_mi_m"].to_numpy(), by_pandas["_mi_m"].to_numpy())
    original = by_pyreadstat[by_pyreadstat["_mi_m"] == 0]
    np.testing.assert_array_equal(original["y1"].to_numpy(), frame["y1"].to_numpy())


@pytest.mark.r
@pytest.mark.parametrize("fmt", [118, 114])
def test_readstata13_sees_the_characteristics(run, tmp_path, fmt):
    require_r("readstata13")
    frame, outputs = run
    run_r("dta_characteristics.R", outputs[fmt], tmp_path / "ch.csv")
    ch = pd.read_csv(tmp_path / "ch.csv", keep_default_na=False)
    found = {(r.variable, r.name): r.contents for r in ch.itertuples()}
    assert found[("_dta", "_mi_style")] == "flong"
    assert found[("_dta", "_mi_ivars")] == "y1 y2 g1"
    assert int(ch["rows"].iloc[0]) == 4 * len(frame)


def test_characteristics_on_any_dta_write(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    meta = Metadata(characteristics={("_dta", "note1"): "hello", ("a", "source"): "survey"})
    path = tmp_path / "c.dta"
    mlimpute.write_data(frame, path, meta)
    assert parse_characteristics(path) == {("_dta", "note1"): "hello", ("a", "source"): "survey"}
    # and as a reader we did not write sees them (the parser above follows the same manual)
    require_r("readstata13")
    run_r("dta_characteristics.R", path, tmp_path / "ch.csv")
    ch = pd.read_csv(tmp_path / "ch.csv", keep_default_na=False)
    assert {(r.variable, r.name): r.contents for r in ch.itertuples()} == \
        {("_dta", "note1"): "hello", ("a", "source"): "survey"}
    back, _ = mlimpute.read_data(path)
    assert back["b"].tolist() == ["x", "y"]
