"""A Stata user's data come back whole: extended missing values with their tags and never
imputed, value-label set names (shared sets too), display formats, integer storage types;
data already mi set are refused; ``--sample`` (the ado's if/in) keeps every row; id-like
columns are not made covariates.

The input .dta is written by R's haven (not by us) and the output is read by haven and
readstata13, so the checks do not rest on our own reader or writer.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from mlimpute.frontends.cli import main
from mlimpute.io import read_data

from conftest import require_r

MAKE = r"""
library(haven)
set.seed(7)
n <- 120; cl <- rep(1:12, each = 10)
u <- rnorm(12)[cl]
x <- rnorm(n)
y <- 1 + 0.5 * x + u + rnorm(n)
y[sample(n, 20)] <- NA
y[c(3, 50)] <- tagged_na("a"); y[77] <- tagged_na("b")
q1 <- ifelse(x + rnorm(n) > 0, 1, 0); q1[sample(n, 15)] <- NA
q2 <- ifelse(x + rnorm(n) > 0.3, 1, 0)
d <- data.frame(pupil = 1:n, school = cl, x = x)
d$y <- y
attr(d$y, "format.stata") <- "%9.2f"
attr(d$y, "label") <- "maths score"
d$q1 <- labelled(q1, c(no = 0, yes = 1), label = "question 1")
d$q2 <- labelled(q2, c(no = 0, yes = 1))
d$sex <- labelled(rep(c(0, 1), n / 2), c(boy = 0, girl = 1))
write_dta(d, commandArgs(TRUE)[1], version = 14)
"""

READ = r"""
library(readstata13)
f <- commandArgs(TRUE)[1]
d <- read.dta13(f, convert.factors = FALSE, generate.factors = FALSE, missing.type = TRUE)
h <- haven::read_dta(f)
tags <- haven::na_tag(h$y)
out <- list(
  label_sets = as.list(setNames(attr(d, "val.labels"), names(d))),
  label_tables = names(attr(d, "label.table")),
  formats = as.list(setNames(attr(d, "formats"), names(d))),
  types = as.list(setNames(attr(d, "types"), names(d))),
  m = h$`_mi_m`, y_tag = ifelse(is.na(tags), "", tags), y = ifelse(is.na(h$y), NA, h$y),
  miss = h$`_mi_miss`)
cat(jsonlite::toJSON(out, na = "null", auto_unbox = TRUE, digits = NA))
"""


@pytest.fixture(scope="module")
def stata_file(tmp_path_factory):
    require_r("haven", "readstata13", "jsonlite")
    folder = tmp_path_factory.mktemp("stata")
    path = folder / "pupils.dta"
    subprocess.run(["Rscript", "-e", MAKE, str(path)], check=True, capture_output=True)
    return path


def read_in_r(path) -> dict:
    run = subprocess.run(["Rscript", "-e", READ, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(run.stdout)


@pytest.fixture(scope="module", params=[118, 114])
def imputed(stata_file, request, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / f"mi{request.param}.dta"
    code = main(["impute", str(stata_file), "-o", str(out), "--cluster", "school", "--m", "3",
                 "--burnin", "20", "--between", "5", "--seed", "2", "--quiet",
                 "--dta-format", str(request.param)])
    assert code == 0
    return out, read_in_r(out)


def test_extended_missing_values_keep_their_tags_in_every_m_and_are_not_imputed(imputed):
    _, r = imputed
    m = np.array(r["m"])
    tags = np.array(r["y_tag"])
    n = int((m == 0).sum())
    rows = {k: np.flatnonzero(tags[m == k]) for k in range(4)}
    assert rows[0].tolist() == [2, 49, 76]                    # R's rows 3, 50, 77
    for k in range(4):
        assert rows[k].tolist() == rows[0].tolist()
        assert tags[m == k][[2, 49, 76]].tolist() == ["a", "a", "b"]
    y = np.array([np.nan if v is None else v for v in r["y"]], dtype=float)
    soft = np.isnan(y[m == 0]) & (tags[m == 0] == "")
    assert soft.sum() > 0
    for k in range(1, 4):                                       # soft missing imputed
        assert not np.isnan(y[m == k][soft]).any()
    # _mi_miss counts soft missing only: hard missing is not "incomplete" in Stata's mi
    miss0 = np.array(r["miss"], dtype=float)[:n]
    assert miss0[[2, 49, 76]].tolist() == [float(soft[2] or False), float(soft[49]), float(soft[76])]


def test_value_label_sets_keep_their_names_shared_sets_written_once(imputed):
    _, r = imputed
    sets = r["label_sets"]
    assert sets["q1"] == "q1" and sets["q2"] == "q2" and sets["sex"] == "sex"
    assert sorted(r["label_tables"]) == ["q1", "q2", "sex"]


def test_shared_label_set_is_one_table(stata_file, tmp_path):
    frame, meta = read_data(stata_file)
    # give q1 and q2 one set, as `label values q1 q2 yesno` does in Stata
    meta.value_label_names.update(q1="yesno", q2="yesno")
    from mlimpute.io import write_data
    for fmt in (118, 114):
        out = tmp_path / f"out{fmt}.dta"
        write_data(frame, out, meta, dta_format=fmt)
        r = read_in_r_sets(out)
        assert r["sets"]["q1"] == "yesno" and r["sets"]["q2"] == "yesno"
        assert sorted(r["tables"]) == ["sex", "yesno"]


def read_in_r_sets(path) -> dict:
    script = ("library(readstata13); d <- read.dta13(commandArgs(TRUE)[1], convert.factors = FALSE)\n"
              "cat(jsonlite::toJSON(list(sets = as.list(setNames(attr(d, 'val.labels'), names(d))), "
              "tables = names(attr(d, 'label.table'))), auto_unbox = TRUE))")
    run = subprocess.run(["Rscript", "-e", script, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(run.stdout)


def test_formats_and_integer_storage_come_back(imputed):
    _, r = imputed
    assert r["formats"]["y"] == "%9.2f"
    # haven writes pupil and school as Stata longs: readstata13's code is 253 in format
    # 114 and 65528 in 117+ (a double would be 255 / 65526)
    assert r["types"]["pupil"] == r["types"]["school"]
    assert r["types"]["pupil"] in (253, 65528)


def test_data_already_mi_set_are_refused_and_nothing_is_written(imputed, tmp_path, capsys):
    out, _ = imputed
    before = out.read_bytes()
    code = main(["impute", str(out), "-o", str(tmp_path / "again.dta"), "--cluster", "school",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "already hold multiple imputations" in err and "mi extract 0" in err
    assert not (tmp_path / "again.dta").exists() and out.read_bytes() == before


def test_sample_keeps_every_row_and_imputes_within_it(stata_file, tmp_path):
    frame, _ = read_data(stata_file)
    frame["touse"] = (frame["school"] <= 8).astype(int)
    src = tmp_path / "s.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "s_mi.csv"
    assert main(["impute", str(src), "-o", str(out), "--cluster", "school", "--m", "2",
                 "--burnin", "10", "--between", "3", "--seed", "1", "--quiet",
                 "--sample", "touse"]) == 0
    stacked = pd.read_csv(out)
    assert len(stacked) == 3 * len(frame)
    inside = (frame["touse"] == 1).to_numpy()
    for m in (1, 2):
        block = stacked[stacked["_mi_m"] == m].reset_index(drop=True)
        outside = block.loc[~inside, ["y", "q1"]]
        pd.testing.assert_frame_equal(outside, frame.loc[~inside, ["y", "q1"]],
                                      check_dtype=False)
        assert not block.loc[inside, "q1"].isna().any()


def test_id_like_columns_are_left_out_and_said(stata_file, tmp_path, capsys):
    code = main(["propose", str(stata_file), "--cluster", "school", "-o", str(tmp_path / "s.toml")])
    err = capsys.readouterr().err
    assert code == 0
    text = (tmp_path / "s.toml").read_text()
    assert "pupil" not in text and "'pupil' is left out" in err and "different value in every row" in err
    assert '"x"' in text and '"sex"' in text


def test_notes_come_back_next_to_mis_bookkeeping(tmp_path):
    """Stata's notes are characteristics (_dta[note1], var[note1]); a file written by R's
    readstata13 with notes keeps them through imputation, as readstata13 reads them back."""
    require_r("readstata13", "jsonlite")
    src, out = tmp_path / "notes.dta", tmp_path / "notes_mi.dta"
    make = ("library(readstata13); set.seed(2); n <- 60\n"
            "d <- data.frame(school = rep(1:6, each = 10), x = rnorm(n))\n"
            "d$y <- d$x + rnorm(n); d$y[seq(1, n, 7)] <- NA\n"
            "attr(d, 'expansion.fields') <- list(c('_dta', 'note1', 'collected in 2019'), "
            "c('_dta', 'note0', '1'), c('y', 'note1', 'score out of 10'), c('y', 'note0', '1'))\n"
            "save.dta13(d, commandArgs(TRUE)[1])")
    subprocess.run(["Rscript", "-e", make, str(src)], check=True, capture_output=True)
    assert main(["impute", str(src), "-o", str(out), "--cluster", "school", "--m", "2",
                 "--burnin", "10", "--between", "3", "--seed", "1", "--quiet"]) == 0
    read = ("library(readstata13); e <- read.dta13(commandArgs(TRUE)[1])\n"
            "cat(jsonlite::toJSON(attr(e, 'expansion.fields')))")
    run = subprocess.run(["Rscript", "-e", read, str(out)], check=True, capture_output=True,
                         text=True)
    fields = {(a, b): c for a, b, c in json.loads(run.stdout)}
    assert fields[("_dta", "note1")] == "collected in 2019"
    assert fields[("y", "note1")] == "score out of 10"
    assert fields[("_dta", "_mi_style")] == "flong" and fields[("_dta", "_mi_M")] == "2"


def test_extended_missing_outcome_of_a_model_of_interest_is_not_imputed(stata_file, tmp_path):
    """The outcome of --model is imputed from the model of interest, not as a response:
    its .a/.b cells must still come back tagged, and its soft missing cells filled."""
    out = tmp_path / "smc.dta"
    assert main(["impute", str(stata_file), "-o", str(out), "--model", "y ~ x + (1 | school)",
                 "--m", "2", "--burnin", "20", "--between", "5", "--seed", "2", "--quiet"]) == 0
    r = read_in_r(out)
    m, tags = np.array(r["m"]), np.array(r["y_tag"])
    y = np.array([np.nan if v is None else v for v in r["y"]], dtype=float)
    soft = np.isnan(y[m == 0]) & (tags[m == 0] == "")
    for k in range(1, 3):
        assert tags[m == k][[2, 49, 76]].tolist() == ["a", "a", "b"]
        assert not np.isnan(y[m == k][soft]).any()


COMPRESSED = r"""
library(readstata13)
set.seed(3)
n <- 120; school <- rep(1:12, each = 10)
x <- rnorm(n)
g <- as.integer(cut(x + rnorm(n), c(-Inf, -0.5, 0.5, Inf)))
g[sample(n, 15)] <- NA
score <- as.integer(round(100 + 20 * x + rnorm(n, 0, 10))); score[sample(n, 12)] <- NA
save.dta13(data.frame(school = school, x = x, g = g, score = score), commandArgs(TRUE)[1],
           compress = TRUE, version = 118)
"""


@pytest.mark.parametrize("fmt, codes", [(118, {"byte": 65530, "int": 65529, "double": 65526}),
                                        (114, {"byte": 251, "int": 252, "double": 255})])
def test_byte_and_int_storage_come_back(tmp_path, fmt, codes):
    """pyreadstat writes every integer as long: a survey's byte and int variables (here
    saved by readstata13 with compress = TRUE) are stored as they came where their values
    still fit, a variable imputed with fractions becomes double, and mi's own variables
    are int (_mi_m) and byte (_mi_miss) as mi set makes them."""
    require_r("readstata13", "jsonlite")
    source = tmp_path / "compressed.dta"
    subprocess.run(["Rscript", "-e", COMPRESSED, str(source)], check=True, capture_output=True)
    before = read_in_r_types(source)
    assert before["types"]["school"] == 65530 and before["types"]["score"] == 65529
    out = tmp_path / "mi.dta"
    assert main(["impute", str(source), "-o", str(out), "--cluster", "school", "--categorical", "g",
                 "--m", "2", "--burnin", "20", "--between", "5", "--seed", "1", "--quiet",
                 "--dta-format", str(fmt)]) == 0
    after = read_in_r_types(out)
    types = after["types"]
    assert types["school"] == codes["byte"] and types["g"] == codes["byte"]
    assert types["score"] == codes["double"]                  # imputed as continuous
    assert types["_mi_m"] == codes["int"] and types["_mi_miss"] == codes["byte"]
    m = np.array(after["m"])
    for name in ("school", "g", "x"):
        column = np.array([np.nan if v is None else v for v in after[name]], dtype=float)
        original = np.array([np.nan if v is None else v for v in before[name]], dtype=float)
        for k in (0, 1, 2):
            block = column[m == k]
            seen = ~np.isnan(original)
            np.testing.assert_array_equal(block[seen], original[seen])
            if k:
                assert not np.isnan(block).any()
    miss = np.array([np.nan if v is None else v for v in after["_mi_miss"]], dtype=float)
    assert set(miss[m == 0]) <= {0.0, 1.0} and np.isnan(miss[m > 0]).all()


def read_in_r_types(path) -> dict:
    script = r"""
    library(readstata13)
    d <- read.dta13(commandArgs(TRUE)[1], convert.factors = FALSE)
    out <- c(list(types = as.list(setNames(attr(d, "types"), names(d)))),
             lapply(d, function(v) v), list(m = if ("_mi_m" %in% names(d)) d$`_mi_m` else 0))
    cat(jsonlite::toJSON(out, na = "null", auto_unbox = TRUE, digits = NA))
    """
    run = subprocess.run(["Rscript", "-e", script, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(run.stdout)
