""".rds / .RData in and out, checked against R itself: R writes files that we read, we
write files that R reads (tests/r/rdata_files.R describes them column by column), and
the stacked output opens in R as mids / mitml.list with factor levels intact."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.errors import FormatError
from mlimpute.io import Metadata
from mlimpute.model.simulate import simulate

from conftest import require_r, run_r


@pytest.fixture(scope="module")
def r_made(tmp_path_factory):
    require_r()
    folder = tmp_path_factory.mktemp("rfiles")
    run_r("rdata_files.R", "make", folder)
    return folder


def describe(path, tmp_path) -> pd.DataFrame:
    out = tmp_path / f"{path.name}.describe.csv"
    run_r("rdata_files.R", "describe", path, out)
    return pd.read_csv(out, keep_default_na=False, encoding="utf-8").set_index("column")


@pytest.mark.parametrize("name", ["types.rds", "types.RData"])
def test_reads_what_r_wrote(r_made, name):
    frame, meta = mlimpute.read_data(r_made / name)
    assert list(frame.columns) == ["cluster", "score", "count", "group", "grade", "flag", "name", "sex"]
    assert frame["cluster"].dtype == np.int32                   # integer without NA
    assert str(frame["count"].dtype) == "Int32" and frame["count"].isna().tolist() == [False, True] + [False] * 3
    np.testing.assert_array_equal(frame["score"], [1.5, np.nan, -2.25, 3, 1e6])
    group = frame["group"]
    assert list(group.cat.categories) == ["a", "b", "unused"] and not group.cat.ordered
    assert group.isna().tolist() == [False, True, False, False, False]
    grade = frame["grade"]
    assert list(grade.cat.categories) == ["low", "mid", "high"] and grade.cat.ordered
    assert grade.astype(object).where(grade.notna(), None).tolist() == ["low", "high", None, "mid", "low"]
    assert frame["flag"].astype(object).where(frame["flag"].notna(), None).tolist() == [True, None, False, True, False]
    assert frame["name"].tolist()[3] == "\u00e9t\u00e9" and frame["name"].isna().tolist()[2]
    np.testing.assert_array_equal(frame["sex"], [1, 2, np.nan, 2, 1])
    assert meta.value_labels["sex"] == {1.0: "boy", 2.0: "girl"}
    assert meta.variable_labels["sex"] == "Pupil sex"


def test_types_follow_r_classes(r_made):
    from mlimpute.model.propose import infer_type
    frame, _ = mlimpute.read_data(r_made / "types.rds")
    assert infer_type(frame["grade"]) == "ordinal"
    assert infer_type(frame["group"]) == "categorical"
    assert infer_type(frame["score"]) == "continuous"


@pytest.mark.parametrize("suffix", [".rds", ".RData"])
def test_r_reads_what_we_wrote(r_made, tmp_path, suffix):
    frame, meta = mlimpute.read_data(r_made / "types.rds")
    frame["big"] = np.array([1, 2, 3, 4, 2**40], dtype=np.int64)    # beyond R's integer
    frame["small"] = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    path = tmp_path / f"out{suffix}"
    mlimpute.write_data(frame, path, meta)
    r = describe(path, tmp_path)
    assert r.loc["cluster", "type"] == "integer" and r.loc["small", "type"] == "integer"
    assert r.loc["big", "type"] == "double" and r.loc["big", "values"].endswith("1099511627776")
    assert r.loc["score", "values"] == "1.5|NA|-2.25|3|1e+06" and r.loc["score", "na"] == "2"
    assert r.loc["count", "na"] == "2"
    assert r.loc["group", "class"] == "factor" and r.loc["group", "levels"] == "a|b|unused"
    assert r.loc["group", "values"] == "a|NA|b|b|a"
    assert r.loc["grade", "class"] == "ordered factor" and r.loc["grade", "levels"] == "low|mid|high"
    assert r.loc["grade", "values"] == "low|high|NA|mid|low"
    assert r.loc["flag", "type"] == "logical" and r.loc["flag", "values"] == "TRUE|NA|FALSE|TRUE|FALSE"
    assert r.loc["name", "type"] == "character" and r.loc["name", "values"] == "x|y|NA|\u00e9t\u00e9|z"
    assert r.loc["sex", "values"] == "1|2|NA|2|1"               # numbers kept (labels not written)
    back, _ = mlimpute.read_data(path)                          # and our reader agrees
    pd.testing.assert_frame_equal(back.drop(columns="big"), frame.drop(columns="big"), check_dtype=False)
    assert mlimpute.read_data(path)[0]["small"].dtype == np.int32


@pytest.mark.parametrize("name, message", [
    ("list.rds", "not a data.frame"),
    ("two.RData", r"holds 2 data frames \(d, d2\)"),
    ("difftime.rds", "column 'gap' has R class 'difftime'"),
    ("listcol.rds", "column 'items'"),
])
def test_unreadable_r_objects_are_refused_in_one_line(r_made, tmp_path, name, message):
    with pytest.raises(FormatError, match=message) as info:
        mlimpute.read_data(r_made / name)
    assert "\n" not in str(info.value) and name in str(info.value)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["impute", str(r_made / name), "-o", str(tmp_path / "o.rds"), "--cluster",
                 "cluster", "--quiet"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def run_r_expression(code: str) -> str:
    """What an R expression prints (its checks fail with R's error)."""
    import subprocess
    run = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-1500:]
    return run.stdout.strip()


def test_corrupt_rds(tmp_path):
    bad = tmp_path / "bad.rds"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(FormatError, match="bad.rds"):
        mlimpute.read_data(bad)


def test_dates_times_and_labels_come_back_as_r_classes(r_made, tmp_path):
    """R's Date and POSIXct are read as dates and times and written back as the same
    classes; value labels become haven_labelled columns (as haven writes them), variable
    labels the 'label' attribute, so a .dta read by Stata and written as .rds keeps them."""
    require_r()
    import datetime as dt
    frame, _ = mlimpute.read_data(r_made / "date.rds")
    assert frame["when"].tolist()[:4] == [dt.date(2020, 1, 1) + dt.timedelta(days=k) for k in range(4)]
    assert pd.isna(frame["when"].iloc[4])
    assert str(frame["at"].dt.tz) == "UTC" and frame["at"].iloc[1].hour == 9
    out = tmp_path / "back.rds"
    mlimpute.write_data(frame, out)
    check = run_r_expression(
        f'o <- readRDS("{r_made / "date.rds"}"); b <- readRDS("{out}");'
        'stopifnot(identical(class(b$when), "Date"), identical(b$when, o$when),'
        ' inherits(b$at, "POSIXct"), identical(attr(b$at, "tzone"), "UTC"),'
        ' isTRUE(all.equal(as.numeric(b$at), as.numeric(o$at)))); cat("ok")')
    assert check == "ok"
    labelled = pd.DataFrame({"sex": [1.0, 2.0, np.nan], "n": pd.array([1, 2, None], dtype="Int32")})
    meta = Metadata(value_labels={"sex": {1.0: "boy", 2.0: "girl"}, "n": {1: "one", 2: "two"}},
                    variable_labels={"sex": "Pupil sex"})
    mlimpute.write_data(labelled, tmp_path / "l.rds", meta)
    check = run_r_expression(
        f'b <- readRDS("{tmp_path / "l.rds"}");'
        'stopifnot(inherits(b$sex, "haven_labelled"), identical(attr(b$sex, "labels"), c(boy = 1, girl = 2)),'
        ' identical(attr(b$sex, "label"), "Pupil sex"), is.integer(b$n),'
        ' identical(attr(b$n, "labels"), c(one = 1L, two = 2L))); cat("ok")')
    assert check == "ok"
    back, meta_back = mlimpute.read_data(tmp_path / "l.rds")
    assert meta_back.value_labels["sex"] == {1.0: "boy", 2.0: "girl"}
    assert meta_back.variable_labels == {"sex": "Pupil sex"}


def test_cli_keeps_stata_labels_and_dates_in_rds_output(tmp_path):
    """A labelled .dta with a %td column imputed to .rds (R's long shape): the labels are
    haven's, the dates R's Date, observed values as they were."""
    require_r()
    import datetime as dt

    import pyreadstat
    frame, _ = simulate(n_clusters=10, cluster_size=6, n_level1=1, n_level2=0, seed=3)
    frame["sex"] = (np.arange(len(frame)) % 2 + 1).astype(float)
    frame["when"] = [dt.date(2020, 1, 1) + dt.timedelta(days=int(k)) for k in range(len(frame))]
    frame.loc[frame.index[::7], "when"] = None
    source = tmp_path / "in.dta"
    pyreadstat.write_dta(frame, str(source), variable_value_labels={"sex": {1: "boy", 2: "girl"}},
                         variable_format={"when": "%td"})
    out = tmp_path / "out.rds"
    assert main(["impute", str(source), "-o", str(out), "--cluster", "cluster", "--m", "2",
                 "--burnin", "10", "--between", "2", "--seed", "1", "--quiet"]) == 0
    check = run_r_expression(
        f'b <- readRDS("{out}"); o <- b[b$.imp == 0, ]; i <- b[b$.imp == 1, ];'
        'stopifnot(inherits(b$sex, "haven_labelled"), identical(names(attr(b$sex, "labels")), c("boy", "girl")),'
        ' identical(class(b$when), "Date"), !anyNA(i$when),'
        ' identical(i$when[!is.na(o$when)], o$when[!is.na(o$when)])); cat("ok")')
    assert check == "ok"


def test_cli_rds_in_long_rds_out_opens_as_mids_and_mitml(tmp_path):
    require_r("mice", "mitml")
    frame, _ = simulate(n_clusters=20, cluster_size=10, n_level1=2, n_level2=0, seed=5)
    labels = np.array(["low", "mid", "high"])
    rng = np.random.default_rng(1)
    grade = pd.Categorical(labels[rng.integers(0, 3, len(frame))], categories=labels, ordered=True)
    frame["grade"] = grade
    frame.loc[rng.random(len(frame)) < 0.2, "grade"] = np.nan
    source = tmp_path / "in.rds"
    mlimpute.write_data(frame, source)
    out = tmp_path / "imp.rds"
    assert main(["impute", str(source), "-o", str(out), "--cluster", "cluster", "--m", "3",
                 "--burnin", "30", "--between", "5", "--seed", "2", "--quiet"]) == 0
    stacked, _ = mlimpute.read_data(out)
    assert list(stacked.columns[:2]) == [".imp", ".id"]
    assert sorted(stacked[".imp"].unique()) == [0, 1, 2, 3]
    assert stacked["grade"].cat.ordered and list(stacked["grade"].cat.categories) == list(labels)
    imputed = stacked[stacked[".imp"] > 0]
    assert imputed["grade"].notna().all() and imputed["y1"].notna().all()
    r = describe(out, tmp_path)
    assert r.loc["grade", "class"] == "ordered factor" and r.loc["grade", "levels"] == "low|mid|high"
    run_r("open_long.R", out, tmp_path / "pooled.csv", "y1 ~ x + grade")
    pooled = pd.read_csv(tmp_path / "pooled.csv").set_index("term")
    assert (pooled["m"] == 3).all()
    np.testing.assert_allclose(pooled["mice_estimate"], pooled["mitml_estimate"], rtol=1e-10)
