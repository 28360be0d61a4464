"""A catalogue of hostile input, run as a new user would: every case must end in one line
on stderr and exit status 2 (or, where the input is fine after all, a correct run), with
the user's files untouched and nothing half-written left behind.

Families: paths where an output would land on an input or on another output (names,
``..``, symbolic and hard links, folders that fill up with files); data that must not be
changed on reading (missing markers, zero-padded ids, duplicate names); data and options
the sampler cannot take (magnitudes, single cluster, constant responses, priors, chain
sizes); corrupt files (real files of every format truncated at many offsets) and output
checks that must happen before sampling.  Signals are in ``test_shutdown.py``, random
bytes in ``test_fuzz_readers.py``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.errors import MlimputeError
from mlimpute.io import read_data, write_data
from mlimpute.io.paths import FilePlan
from mlimpute.model.simulate import simulate

from conftest import require_r

FAST = ["--m", "2", "--burnin", "4", "--between", "2", "--seed", "1", "--quiet"]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder holding in.csv (two level-1 responses with missing values, a level-2
    response, a covariate), the current directory of the test."""
    frame, _ = simulate(n_clusters=10, cluster_size=6, n_level1=2, n_level2=1, seed=3)
    frame.to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> content hash of every file under `folder` (symlinks by their target name)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = "link->" + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "dir"
    return out


def refused(capsys, *args, expect: str) -> None:
    """Run the CLI in-process; it must exit 2 with one line naming `expect`."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:             # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("mlimpute: error:"), err
    assert expect in lines[0], lines[0]
    assert "Traceback" not in err and "internal error" not in err


# ---------------------------------------------------------------------- 1. outputs onto inputs

def _alias(work: Path, how: str) -> str:
    """Another way to name in.csv."""
    if how == "same":
        return "in.csv"
    if how == "dot":
        return "./in.csv"
    if how == "dotdot":
        (work / "sub").mkdir(exist_ok=True)
        return "sub/../in.csv"
    if how == "absolute":
        return str(work / "in.csv")
    if how == "symlink":
        os.symlink("in.csv", work / "link.csv")
        return "link.csv"
    if how == "hardlink":
        os.link(work / "in.csv", work / "hard.csv")
        return "hard.csv"
    raise AssertionError(how)


ALIASES = ["same", "dot", "dotdot", "absolute", "symlink", "hardlink"]
WRITERS = ["-o", "--chain", "--save-spec", "--report"]


@pytest.mark.parametrize("how", ALIASES)
@pytest.mark.parametrize("option", WRITERS)
def test_no_output_may_land_on_the_input(work, capsys, option, how):
    target = _alias(work, how)
    args = ["impute", "in.csv", "--cluster", "cluster", *FAST]
    args += [option, target] if option == "-o" else ["-o", "out.csv", option, target]
    before = snapshot(work)
    refused(capsys, *args, expect="would overwrite the input file")
    assert snapshot(work) == before


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_the_spec_file_is_an_input_too(work, capsys, how):
    mlimpute.propose(pd.read_csv(work / "in.csv"), "cluster").save(work / "model.toml")
    alias = {"same": "model.toml", "symlink": "spec_link.toml", "hardlink": "spec_hard.toml"}[how]
    if how == "symlink":
        os.symlink("model.toml", work / alias)
    if how == "hardlink":
        os.link(work / "model.toml", work / alias)
    before = snapshot(work)
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--spec", "model.toml", *FAST,
            "--save-spec", alias, expect="would overwrite the spec file")
    assert snapshot(work) == before


@pytest.mark.parametrize("outputs", [
    ["-o", "out.csv", "--chain", "out.csv"],
    ["-o", "out.csv", "--chain", "./sub/../out.csv"],
    ["-o", "out.csv", "--save-spec", "same.toml", "--report", "same.toml"],
    ["-o", "out.csv", "--report", "r.csv", "--chain", "r.csv"],
    ["-o", "out.csv", "--save-spec", "out.csv"],
], ids=["o-chain", "o-chain-dotdot", "spec-report", "report-chain", "o-spec"])
def test_two_outputs_may_not_be_one_file(work, capsys, outputs):
    (work / "sub").mkdir()
    before = snapshot(work)
    refused(capsys, "impute", "in.csv", "--cluster", "cluster", *FAST, *outputs,
            expect="are the same file")
    assert snapshot(work) == before


def _input_named_summary(work: Path) -> tuple[str, str]:
    (work / "in.csv").rename(work / "summary.csv")
    return "summary.csv", "."


def _input_symlinked_as_plot(work: Path) -> tuple[str, str]:
    (work / "d").mkdir()
    os.symlink("../in.csv", work / "d" / "beta1.png")
    return "in.csv", "d"


def _input_hard_linked_as_summary(work: Path) -> tuple[str, str]:
    (work / "diag").mkdir()
    os.link(work / "in.csv", work / "diag" / "summary.csv")
    return "in.csv", "diag"


@pytest.mark.parametrize("arrange", [_input_named_summary, _input_symlinked_as_plot,
                                     _input_hard_linked_as_summary])
def test_diagnostics_folder_may_not_replace_the_input(work, capsys, arrange):
    data, folder = arrange(work)
    before = snapshot(work)
    refused(capsys, "impute", data, "-o", "out.csv", "--cluster", "cluster", *FAST,
            "--diagnostics", folder, expect="would overwrite the input file")
    assert snapshot(work) == before


def test_impvals_folder_may_not_replace_the_input(work, capsys):
    (work / "imp").mkdir()
    (work / "imp" / "imp1").write_bytes((work / "in.csv").read_bytes())
    os.rename(work / "imp" / "imp1", work / "imp" / "impvals.txt")
    before = snapshot(work)
    # the input is read as CSV under a name the impvals writer would replace
    os.symlink("imp/impvals.txt", work / "data.csv")
    refused(capsys, "impute", "data.csv", "--impvals", "-o", "imp", "--cluster", "cluster", *FAST,
            expect="would overwrite the input file")
    assert {k: v for k, v in snapshot(work).items() if k != "data.csv"} == before


def test_impvals_folder_replaces_only_its_own_names(work, capsys):
    """imp1.csv in the folder is not a file --impvals writes (imp1, imp2, impvals.txt)."""
    (work / "imp").mkdir()
    (work / "in.csv").rename(work / "imp" / "imp1.csv")
    assert main(["impute", "imp/imp1.csv", "--impvals", "-o", "imp", "--cluster", "cluster",
                 *FAST]) == 0
    dotted = ["imp1.", "imp2."] if os.name != "nt" else []      # realcomImputeLoad's names
    assert sorted(p.name for p in (work / "imp").iterdir()) == sorted(
        ["imp1", "imp1.csv", "imp2", "impvals.txt", *dotted])


def test_chain_diagnose_and_pool_outputs_may_not_replace_their_inputs(work, capsys):
    assert main(["impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", *FAST,
                 "--chain", "chain.csv"]) == 0
    capsys.readouterr()
    before = snapshot(work)
    refused(capsys, "pool", "out.csv", "--model", "y1 ~ x", "-o", "out.csv",
            expect="would overwrite the input file")
    (work / "d").mkdir()
    os.link(work / "chain.csv", work / "d" / "summary.csv")
    refused(capsys, "diagnose", "chain.csv", "-o", "d", expect="would overwrite the chain file")
    os.unlink(work / "d" / "summary.csv")
    refused(capsys, "propose", "in.csv", "-o", "./in.csv", "--cluster", "cluster",
            expect="would overwrite the input file")
    assert {k: v for k, v in snapshot(work).items() if k != "d"} == \
        {k: v for k, v in before.items() if not k.startswith("d")}


@pytest.mark.parametrize("output, expect", [
    ("nofolder/out.csv", "folder 'nofolder' does not exist"),
    ("sub.csv", "is a folder, not a file name"),
    ("in.csv/out.csv", "'in.csv' is not a folder"),
])
def test_output_places_are_checked_before_sampling(work, capsys, output, expect):
    (work / "sub.csv").mkdir()
    before = snapshot(work)
    refused(capsys, "impute", "in.csv", "-o", output, "--cluster", "cluster",
            "--m", "2", "--burnin", "100000", "--between", "100000", "--quiet", expect=expect)
    assert snapshot(work) == before


def test_unwritable_folder_is_refused_before_sampling(work, monkeypatch):
    """A read-only mount: os.access says no (root bypasses permission bits, not mounts)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p).name == "ro"
                        else real(p, mode, **kw))
    (work / "ro").mkdir()
    with pytest.raises(MlimputeError, match="folder 'ro' is not writable"):
        FilePlan().read("input file", "in.csv").write("output file", "ro/out.csv").check()
    with pytest.raises(MlimputeError, match="not writable"):
        FilePlan().folder("--diagnostics folder", "ro/new/diag", ("*.png",)).check()


def test_unknown_formula_terms_and_chain_formats_are_refused_before_sampling(work, capsys):
    slow = ["--m", "2", "--burnin", "100000", "--between", "100000", "--quiet"]
    before = snapshot(work)
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", *slow,
            "--report", "r.html", "--model", "y1 ~ nosuch + (1 | cluster)",
            expect="column 'nosuch' is not in the data")
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", *slow,
            "--chain", "chain.dta", expect="not Stata variable names")
    assert snapshot(work) == before


def test_unicode_names_are_refused_before_sampling_for_old_dta_formats(work, capsys):
    frame = pd.read_csv(work / "in.csv").rename(columns={"x": "größe"})
    frame.to_csv(work / "uni.csv", index=False)
    refused(capsys, "impute", "uni.csv", "-o", "out.dta", "--cluster", "cluster", "--dta-format",
            "114", "--m", "2", "--burnin", "100000", "--quiet", expect="ASCII only")
    assert main(["impute", "uni.csv", "-o", "out.dta", "--cluster", "cluster", *FAST]) == 0


def test_column_names_stata_cannot_hold_are_refused_before_sampling(work, capsys):
    frame = pd.read_csv(work / "in.csv").rename(columns={"x": "Read Dis"})
    frame.to_csv(work / "odd.csv", index=False)
    refused(capsys, "impute", "odd.csv", "-o", "out.dta", "--cluster", "cluster",
            "--m", "2", "--burnin", "100000", "--quiet", expect="column 'Read Dis' is not a Stata name")
    assert not (work / "out.dta").exists()


# ---------------------------------------------------------------------- 2. reading changes nothing

@pytest.mark.parametrize("spelling", ["None", "null", "n/a", "NaN", "nan", ".", "NULL", "-"])
def test_csv_category_spellings_are_data_not_missing(tmp_path, spelling):
    path = tmp_path / "cats.csv"
    path.write_text(f"id,g\n1,{spelling}\n2,b\n3,\n4,NA\n")
    frame, _ = read_data(path)
    assert frame["g"].tolist()[:2] == [spelling, "b"]
    assert frame["g"].isna().tolist() == [False, False, True, True]


def test_extra_missing_markers_are_an_explicit_option(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,y\n1,.\n2,-99\n3,1.5\n")
    frame, _ = read_data(path, na_values=[".", "-99"])
    assert frame["y"].isna().tolist() == [True, True, False] and frame["y"].dtype == float
    with pytest.raises(MlimputeError, match="CSV input only"):
        read_data(_dta(tmp_path), na_values=["."])


def _dta(tmp_path) -> Path:
    path = tmp_path / "x.dta"
    write_data(pd.DataFrame({"a": [1.0, 2.0]}), path)
    return path


def test_zero_padded_ids_stay_distinct_clusters_and_come_back_as_written(work, capsys):
    rng = np.random.default_rng(5)
    ids = ["01", "1", "001", "02", "2", "10", "010", "7", "07", "3"]
    rows = []
    for k, cid in enumerate(ids):
        for i in range(6):
            y = rng.normal() + k * 0.3
            rows.append({"school": cid, "pupil": f"{k:03d}{i}", "x": rng.normal(),
                         "y": "" if i == 0 else repr(y)})
    text = "school,pupil,x,y\n" + "".join(f"{r['school']},{r['pupil']},{r['x']!r},{r['y']}\n" for r in rows)
    (work / "ids.csv").write_text(text)
    assert main(["impute", "ids.csv", "-o", "ids_mi.csv", "--cluster", "school",
                 "--exclude", "pupil", *FAST]) == 0
    back = pd.read_csv(work / "ids_mi.csv", dtype=str, keep_default_na=False)
    original = back[back["_mi_m"] == "0"]
    assert original["school"].tolist() == [r["school"] for r in rows]
    assert original["pupil"].tolist() == [r["pupil"] for r in rows]
    result_frame, _ = read_data(work / "ids.csv")
    assert result_frame["school"].nunique() == 10


def test_duplicate_column_names_are_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,y,y\n1,2,3\n")
    with pytest.raises(MlimputeError, match="column name 'y' appears more than once"):
        read_data(path)


@pytest.mark.parametrize("text, expect", [
    (",y\n1,2\n", "column 1 of the header has no name"),
    ("", "empty file"),
    ("id,y\n1,2,3\n", "cannot read as CSV"),
    ("id,y\n1,2\n", None),
    ("\ufeffid,y\n1,2\n", None),
    ("id;y\n1;2\n", "one column holding semicolons"),
    ("id\ty\n1\t2\n", "one column holding tabs"),
])
def test_csv_header_problems(tmp_path, text, expect):
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    if expect is None:
        frame, _ = read_data(path)
        assert list(frame.columns) == ["id", "y"] and frame["y"].tolist() == [2]
    else:
        with pytest.raises(MlimputeError, match=expect):
            read_data(path)


def test_csv_numbers_are_exact_and_big_integers_kept(tmp_path):
    path = tmp_path / "n.csv"
    values = [0.1, 1 / 3, 1e-300, 123456789.123456789, -2.5e17]
    big = 9007199254740993            # 2**53 + 1: not a float64
    path.write_text("a,b,c,d\n" + "".join(f"{v!r},{big},{big + k},x{k}\n" for k, v in enumerate(values))
                    + f",{big},,y\n")
    frame, _ = read_data(path)
    assert frame["a"].tolist()[:5] == values
    assert frame["b"].dtype == "int64" and (frame["b"] == big).all()
    assert str(frame["c"].dtype) == "Int64" and frame["c"].iloc[4] == big + 4
    assert frame["d"].tolist() == [f"x{k}" for k in range(5)] + ["y"]


def test_parquet_with_duplicate_names_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3.0, 4.0])], names=["y", "y"]),
                   tmp_path / "dup.parquet")
    with pytest.raises(MlimputeError, match="column name 'y' appears more than once"):
        read_data(tmp_path / "dup.parquet")


def test_rds_with_duplicate_names_is_refused(tmp_path):
    """R itself writes the file: a data.frame whose names R's check.names would have mended."""
    require_r()
    path = tmp_path / "dup.rds"
    subprocess.run(["Rscript", "-e", "d <- data.frame(id = 1:2, y = c(1.5, 2), z = 3:4); "
                    f"names(d)[3] <- 'y'; saveRDS(d, '{path}')"], check=True)
    with pytest.raises(MlimputeError, match="column name 'y' appears more than once"):
        read_data(path)


# ---------------------------------------------------------------------- 3./4. data the model cannot take

def _variant(work: Path, change) -> str:
    frame = pd.read_csv(work / "in.csv")
    change(frame)
    frame.to_csv(work / "v.csv", index=False)
    return "v.csv"


def _set(column, value):
    def change(frame):
        frame[column] = value
    return change


def _at(column, row, value):
    def change(frame):
        frame.loc[row, column] = value
    return change


def _scale(column, factor):
    def change(frame):
        frame[column] = frame[column] * factor
    return change


def _observed_to(column, value):
    def change(frame):
        frame.loc[frame[column].notna(), column] = value
    return change


@pytest.mark.parametrize("change, expect", [
    (_scale("y1", 1e300), "column 'y1': values as large as"),
    (_scale("x", 1e200), "column 'x': values as large as"),
    (_scale("x", 1e12), "column 'x': values of size"),
    (_set("cluster", 7), "every row is in one cluster (7)"),
    (_set("cluster", "only"), "every row is in one cluster ('only')"),
    (_observed_to("y1", 3.0), "column 'y1': every observed value is 3"),
    (_set("y1", np.nan), "column 'y1': every value is missing"),
    (_at("x", 0, np.inf), "column 'x': covariate has infinite values"),
    (_set("x", 1.0), None),
], ids=["huge-response", "huge-covariate", "covariate-scale", "one-cluster-number",
        "one-cluster-text", "constant-response", "empty-response", "infinite-covariate",
        "constant-covariate"])
def test_data_the_sampler_cannot_take(work, capsys, change, expect):
    name = _variant(work, change)
    if expect is None:        # a constant covariate: left out by the default model, and said
        assert main(["impute", name, "-o", "out.csv", "--cluster", "cluster", *FAST[:-1]]) == 0
        assert "column 'x' is left out of the covariates (the same value" in capsys.readouterr().err
        refused(capsys, "impute", name, "-o", "out2.csv", "--cluster", "cluster", *FAST,
                "--covariates", "x", expect="collinear: drop 'x'")
        return
    refused(capsys, "impute", name, "-o", "out.csv", "--cluster", "cluster", *FAST, expect=expect)
    assert not (work / "out.csv").exists()


def test_constant_level2_response_is_refused(work, capsys):
    frame = pd.read_csv(work / "in.csv")
    level2 = [c for c in frame.columns if c.startswith("g")][0]
    frame.loc[frame[level2].notna(), level2] = 2.5
    frame.to_csv(work / "v.csv", index=False)
    refused(capsys, "impute", "v.csv", "-o", "out.csv", "--cluster", "cluster", *FAST,
            expect=f"column '{level2}': every observed value is 2.5")


def test_magnitude_is_not_reported_as_collinearity(work):
    frame = pd.read_csv(work / "in.csv")
    frame["x"] = frame["x"] * 1e12
    with pytest.raises(MlimputeError) as info:
        mlimpute.impute(frame, cluster="cluster")
    assert "collinear" not in str(info.value) and "rescale" in str(info.value)
    frame["x2"] = frame["x"] * 2.0                 # really collinear, whatever the scale
    with pytest.raises(MlimputeError, match="collinear"):
        mlimpute.impute(frame, cluster="cluster")


@pytest.mark.parametrize("args, expect", [
    (["--workers", "-1"], "--workers: must be at least 1"),
    (["--workers", "0"], "--workers: must be at least 1"),
    (["--chains", "0"], "--chains: must be at least 1"),
    (["--burnin", "-5"], "--burnin: must be at least 0"),
    (["--between", "0"], "--between: must be at least 1"),
    (["--seed", "-1"], "--seed: must be at least 0"),
    (["--m", "two"], "--m: expected a whole number"),
    (["--chains", "5"], "cannot exceed mcmc.m"),
    (["--burnin", "1000000000000"], "GiB of draws"),
    (["--between", "100000000000"], "GiB of draws"),
    (["--random-slopes", "y1"], "'y1' is a response"),
    (["--random-slopes", "cluster"], "is the cluster identifier"),
    (["--exclude", "x", "--random-slopes", "x"], "not a covariate of the level-1 equations"),
    (["--random-slopes", "nosuch"], "not a covariate"),
    (["--na-values", "."], None),
    (["--dta-format", "200"], "--dta-format: invalid choice"),
    (["--style", "wide"], "--style: invalid choice"),
    (["--continuous", "x"], "given a type but has no missing values"),
    (["--binary", "y1"], "binary response has a non-integer code"),
    (["--level1-weight", "nosuch"], "column 'nosuch'"),
    (["--level2-weight", "x"], "weights must be finite and non-negative"),
    (["--level2-weight", "y1"], "level-2 weight has 16 missing values"),
    (["--burnin", "automatic"], "--burnin: expected a whole number, got 'automatic' or 'auto'"),
    (["--between", "auto"], "between = 'auto' reads the autocorrelation of the burn-in"),
    (["--max-burnin", "3"], "--max-burnin: must be at least 8"),
    (["--m", "auto", "--pilot-m", "1"], "--pilot-m: must be at least 2"),
    (["--m", "auto", "--pilot-m", "3", "--chains", "4"], "cannot exceed mcmc.pilot_m"),
    (["--se-cv", "0"], "--se-cv: must be between 0 and 1"),
    (["--se-cv", "1.5"], "--se-cv: must be between 0 and 1"),
    (["--model", "y1 ~ x + nosuch + (1 | cluster)"], "column 'nosuch' is not in the data"),
    (["--model", "y1 ~ x + (1 | cluster)", "--family", "logit"], "--family: invalid choice"),
    (["--model", "y1 ~ x + (1 + w | cluster)"], "constant within each 'cluster'"),
    (["--m", "auto", "--model", "y1 ~ nosuch"], "column 'nosuch' is not in the data"),
    (["--delta", "y1"], "expected RESPONSE=SHIFT"),
    (["--delta", "y1=abc"], "the shift 'abc' is not a number"),
    (["--delta", "y1=inf"], "the shift must be a finite number"),
    (["--delta", "x=0.5"], "delta: 'x' is not a response of the model"),
    (["--delta", "y1=0.5 if nosuch == 1"], "column 'nosuch' is not in the data"),
    (["--delta", "y1=0.5 if x =="], "expected COLUMN or COLUMN == VALUE"),
    (["--delta", "y1=0.5 if x == high"], "column 'x' is numeric but 'high' is not a number"),
    (["--delta", "g1=0.5 if x > 0"], "must be constant within each 'cluster'"),
    (["--delta", "y1=0.5 if y2 > 0"], None),
])
def test_bad_options(work, capsys, args, expect):
    given = {a for a in args if a.startswith("--")}
    defaults = [a for flag, value in (("--m", "2"), ("--burnin", "4"), ("--between", "2"))
                if flag not in given for a in (flag, value)]
    full = ["impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", *defaults, "--quiet", *args]
    if expect is None:        # accepted: CSV input, extra markers
        assert main(full) == 0
        return
    refused(capsys, *full, expect=expect)
    assert not (work / "out.csv").exists()


def _spec(work: Path, extra: str, raw: bytes | None = None) -> str:
    text = ('cluster = "cluster"\nresponses = [{ name = "y1" }, { name = "y2" }]\n'
            'covariates = ["x"]\n' + extra)
    (work / "s.toml").write_bytes(raw if raw is not None else text.encode())
    return "s.toml"


@pytest.mark.parametrize("extra, raw, expect", [
    ("[priors]\nlevel1_df = -1000\n", None, "raise priors.level1_df"),
    ("[priors]\nlevel2_df = -1000\n", None, "raise priors.level2_df"),
    ("[priors]\nlevel1_scale = [[1, 2], [2, 1]]\n", None, "symmetric positive definite"),
    ("[priors]\nlevel1_scale = [[1, 0]]\n", None, "square matrix"),
    ("[priors]\nlevel1_df = nan\n", None, "must be a number"),
    ("[priors]\nlevel1_df = \"ten\"\n", None, "must be a number"),
    ("[mcmc]\nburnin = -3\n", None, "mcmc.burnin must be an integer >= 0"),
    ("[mcmc]\nm = 1.5\n", None, "mcmc.m must be an integer"),
    ("[mcmc]\nburnin = 1000000000000\n", None, "GiB of draws"),
    ("colour = 1\n", None, "unknown setting 'colour'"),
    ("", b"cluster = \"cluster\"\n# caf\xe9 in latin-1\n", "must be UTF-8 text"),
    ("", b"cluster = [\n", "invalid TOML"),
    ("", b"\x00\x01\x02", "invalid TOML"),
    ("version = 7\n", None, "spec version 7 is not supported"),
    ("random_slopes = [\"y1\"]\n", None, "both a response and a covariate"),
    ("level1_covariance = \"diagonal\"\n", None, "level1_covariance must be"),
    ("[mcmc]\nburnin = \"AUTO\"\n", None, "mcmc.burnin must be an integer >= 0 or 'auto'"),
    ("[mcmc]\nse_cv = 0\n", None, "mcmc.se_cv must be a number between 0 and 1"),
    ("[mcmc]\nmax_burnin = true\n", None, "mcmc.max_burnin must be an integer"),
    ("delta = \"y1=1\"\n", None, "delta must be a list"),
    ("[[delta]]\nresponse = \"y1\"\nshift = \"big\"\n", None, "the shift must be a finite number"),
    ("[[delta]]\nresponse = \"y1\"\nshift = 1\ncolour = 2\n", None, "delta: unknown setting 'colour'"),
    ("[[delta]]\nresponse = \"nosuch\"\nshift = 1\n", None, "delta: 'nosuch' is not a response"),
    ("[[delta]]\nresponse = \"y1\"\nshift = 1\nwhere = \"\"\n", None, "'where' must be a condition"),
])
def test_bad_specs(work, capsys, extra, raw, expect):
    name = _spec(work, extra, raw)
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--spec", name, "--quiet", expect=expect)
    assert not (work / "out.csv").exists()


# ---------------------------------------------------------------------- corrupt files

def _real_files(folder: Path) -> dict[str, Path]:
    frame, _ = simulate(n_clusters=6, cluster_size=5, n_level1=2, n_level2=1, seed=9)
    frame["g"] = pd.Categorical(np.where(frame["x"] > 0, "hi", "lo"))
    files = {}
    for suffix in (".csv", ".parquet", ".dta", ".rds", ".RData"):
        path = folder / f"real{suffix}"
        write_data(frame, path)
        files[suffix] = path
    path = folder / "real114.dta"
    write_data(frame, path, dta_format=114)
    files["114"] = path
    return files


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    return _real_files(tmp_path_factory.mktemp("real"))


@pytest.mark.parametrize("kind", [".csv", ".parquet", ".dta", "114", ".rds", ".RData"])
def test_truncated_files_give_the_documented_error_or_a_valid_frame(tmp_path, real_files, kind):
    source = real_files[kind]
    data = source.read_bytes()
    cuts = sorted({0, 1, 2, 8, 16, 64, 100, 200, 512, 1024, len(data) // 3, len(data) // 2,
                   len(data) - 64, len(data) - 8, len(data) - 1} & set(range(len(data))))
    assert len(cuts) >= 12
    for cut in cuts:
        path = tmp_path / f"cut{cut}{source.suffix}"
        path.write_bytes(data[:cut])
        try:
            frame, _ = read_data(path)
        except MlimputeError as exc:
            message = str(exc)
            assert "\n" not in message and path.name in message
        else:
            assert isinstance(frame, pd.DataFrame)
        assert path.read_bytes() == data[:cut]      # reading never changes a file


@pytest.mark.parametrize("kind", [".csv", ".parquet", ".dta", ".rds"])
def test_truncated_input_at_the_command_line(work, capsys, real_files, kind):
    data = real_files[kind].read_bytes()
    (work / f"cut{kind}").write_bytes(data[: len(data) // 2])
    code = main(["impute", f"cut{kind}", "-o", "out.csv", "--cluster", "cluster", *FAST])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err and "internal error" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and not (work / "out.csv").exists()


# ---------------------------------------------------------------------- late failures of writers

def test_nullable_integer_response_is_written_to_parquet_in_one_type(work):
    """Imputations of an Int64 column are not integers: every block (m = 0 too) is float64,
    observed values unchanged."""
    frame = pd.read_csv(work / "in.csv")
    frame["y1"] = (frame["y1"] * 10).round().astype("Int64")
    frame.to_parquet(work / "int.parquet")
    assert main(["impute", "int.parquet", "-o", "out.parquet", "--cluster", "cluster", *FAST]) == 0
    stacked = pd.read_parquet(work / "out.parquet")
    assert stacked["y1"].dtype == "float64"
    original = stacked[stacked["_mi_m"] == 0]["y1"].to_numpy()
    np.testing.assert_array_equal(original, frame["y1"].astype("float64").to_numpy())
    imputed = stacked[stacked["_mi_m"] == 1]["y1"].to_numpy()[frame["y1"].isna().to_numpy()]
    assert np.isfinite(imputed).all() and (imputed != np.round(imputed)).any()


@pytest.mark.parametrize("args, expect", [
    (["--deltas", "nan"], "every delta must be a finite number"),
    (["--response", "x"], "column 'x' is not a response of the imputation model"),
    (["--plot", "s.pdf"], "the plot is written as PNG"),
    (["--plot", "in.csv"], "in.csv"),
    (["-o", "in.csv"], "in.csv"),
    (["--where", "nosuch"], "column 'nosuch' is not in the data"),
    (["--model", "y1 ~ nosuch"], "column 'nosuch' is not in the data"),
])
def test_bad_sensitivity_runs(work, capsys, args, expect):
    options = {"--response": "y1", "--deltas": "0.5", "--model": "y1 ~ x", "-o": "s.csv"}
    for flag, value in zip(args[::2], args[1::2]):
        options[flag] = value
    full = ["sensitivity", "in.csv", "--cluster", "cluster", *FAST,
            *[a for pair in options.items() for a in pair]]
    refused(capsys, *full, expect=expect)
    assert not (work / "s.csv").exists() and not (work / "s.pdf").exists()


# ---------------------------------------------------------------------- the R entry point

def test_r_entry_gives_one_line_errors_never_a_traceback(work, monkeypatch):
    """What the R package stop()s with: the user's errors as they are (an unknown prior is
    refused like a spec file's), anything unexpected as one 'internal error' line."""
    from mlimpute import r_entry
    frame = pd.read_csv(work / "in.csv")
    write_data(frame, work / "in.rds")
    args = (str(work / "in.rds"), str(work / "out.rds"))
    result = r_entry.impute_rds(*args, cluster="cluster", m=2, burnin=3, between=2,
                                priors={"colour": 1})
    assert result["error"].startswith("priors: unknown setting 'colour'")

    def broken(*a, **k):
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr(r_entry, "impute", broken)
    result = r_entry.impute_rds(*args, cluster="cluster", m=2, burnin=3, between=2)
    assert result["error"] == "internal error: RuntimeError: boom (please report it)"
    assert not (work / "out.rds").exists()


@pytest.fixture
def pupils(tmp_path, monkeypatch):
    """pupils.csv: pupils in classes (ids unique across schools) in schools, responses at
    every level (multilevel.csv), the current directory of the test."""
    from mlimpute.model.simulate import simulate_multilevel
    frame, _ = simulate_multilevel(n_schools=6, classes=3, pupils=5, seed=2)
    frame["wc"] = 1.0
    frame.to_csv(tmp_path / "pupils.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return frame


def _pupils_variant(frame, change) -> str:
    changed = frame.copy()
    change(changed)
    changed.to_csv("variant.csv", index=False)
    return "variant.csv"


@pytest.mark.parametrize("change, clusters, extra, expect", [
    (lambda f: f.__setitem__("school", f["school"].where(f.index != 0, 2)), ["class", "school"],
     [], "column 'class': class 1 lies in two 'school' units (1 and 2)"),
    (None, ["school", "class"], [], "list the classifications innermost first ('class' before 'school')"),
    (lambda f: f.__setitem__("class", (f["class"] - 1) % 3 + 1), ["class", "school"], [],
     "give the class ids unique across schools, or declare the classifications crossed"),
    (lambda f: f.__setitem__("school", f["school"].where(f.index != 3)), ["class", "school"], [],
     "column 'school': the cluster identifier has 1 missing values"),
    (None, ["class", "class"], [], "column 'class' is listed more than once"),
    (None, ["class", "district"], [], "column 'district' is not in the data"),
    (lambda f: f.__setitem__("school", 1), ["class", "school"], [],
     "column 'school': every row is in one cluster (1)"),
    (lambda f: f.__setitem__("s", f["s"].where(f.index != 0, 99.0)), ["class", "school"],
     ["--spec"], "column 's': a level-3 response must be constant within each 'school', but it "
                 "varies in school 1"),
    (lambda f: f.__setitem__("wc", np.where(f["school"] == 2, 0.0, 1.0)), ["class", "school"],
     ["--spec", "wc"], "every weight of the 'class' units in school 2 is zero"),
    (None, ["class", "school"], ["--cluster-covariance"], "needs a single classification"),
    (None, ["class", "school"], ["--random-slopes", "school"], "'school' is a cluster identifier"),
], ids=["class-in-two-schools", "outermost-first", "ids-restart", "missing-id", "same-twice",
        "no-such-column", "one-school", "level3-varies", "zero-weights-in-a-school",
        "cluster-covariance", "slope-on-a-cluster"])
def test_several_classifications_bad_input(pupils, capsys, change, clusters, extra, expect):
    data = _pupils_variant(pupils, change) if change else "pupils.csv"
    args = ["impute", data, "-o", "out.csv", "--cluster", *clusters, "--covariates", "x", "w",
            "--responses", "y", "k", "c", "s", *FAST]
    if extra[:1] == ["--spec"]:                 # the model as a spec file, weights as named
        spec = mlimpute.Spec(clusters=clusters, covariates=["x", "w"],
                             responses=[mlimpute.Response("y"), mlimpute.Response("c", level=2),
                                        mlimpute.Response("s", level=3)],
                             cluster_weights={"class": extra[1]} if extra[1:] else {})
        spec.save("spec.toml")
        args = ["impute", data, "-o", "out.csv", "--spec", "spec.toml", *FAST]
    else:
        args += extra
    refused(capsys, *args, expect=expect)
    assert not Path("out.csv").exists()


# ---------------------------------------------------------------------------------------
# A run that cannot go on, or whose imputations are not complete, writes nothing.

def test_a_non_finite_draw_stops_the_run_in_one_line_naming_block_and_iteration(work, capsys,
                                                                                 monkeypatch):
    from mlimpute.engine.steps import Covariance1
    real, calls = Covariance1.step, []

    def broken(self, s, adapt):
        real(self, s, adapt)
        calls.append(1)
        if len(calls) == 7:                       # the 7th iteration's Omega_e
            s.omega_e = s.omega_e * np.nan
    monkeypatch.setattr(Covariance1, "step", broken)
    refused(capsys, "impute", "in.csv", "-o", "out.dta", "--cluster", "cluster", "--workers", "1",
            *FAST, "--burnin", "20",
            expect="the draw of the level-1 covariance matrix (Omega_e) was not a finite number "
                   "at iteration 7")
    assert not Path("out.dta").exists()


@pytest.mark.parametrize("output", ["out.csv", "out.dta", "out.rds", "imp_folder"])
def test_no_writer_writes_an_imputation_with_a_missing_cell(work, capsys, monkeypatch, output):
    from mlimpute.run.result import ImputationResult
    real = ImputationResult.completed

    def with_a_hole(self, m):
        frame = real(self, m)
        if m == 2:
            name = self.imputed_vars[0]
            frame.loc[frame.index[self.original[name].isna()][0], name] = np.nan
        return frame
    monkeypatch.setattr(ImputationResult, "completed", with_a_hole)
    extra = ["--impvals"] if output == "imp_folder" else []
    refused(capsys, "impute", "in.csv", "-o", output, "--cluster", "cluster", *extra, *FAST,
            expect="imputation 2 of column 'y1' still has 1 missing cells; nothing was written")
    assert not Path(output).exists()
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".")]   # no temporary left


# ---------------------------------------------------------------------------------------
# pool checks a stacked file before it trusts it.

@pytest.fixture
def stacked(work):
    """out.csv: 3 imputations of in.csv, flong; returns the stacked frame."""
    assert main(["impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", "--m", "3",
                 "--burnin", "10", "--between", "2", "--seed", "1", "--quiet"]) == 0
    return pd.read_csv("out.csv")


def _relabel(frame, old, new):
    frame.loc[frame["_mi_m"] == old, "_mi_m"] = new
    return frame


def _first_rows_of(frame, m, name, value):
    rows = frame.index[(frame["_mi_m"] == m)][:3]
    frame.loc[rows, name] = value
    return frame


def _observed_row(frame, m):
    observed_ids = frame.loc[(frame["_mi_m"] == 0) & frame["y1"].notna(), "_mi_id"].iloc[:2]
    rows = frame.index[(frame["_mi_m"] == m) & frame["_mi_id"].isin(observed_ids)]
    frame.loc[rows, "y1"] = frame.loc[rows, "y1"] + 1.0
    return frame


def _imputed_hole(frame, m):
    missing_ids = frame.loc[(frame["_mi_m"] == 0) & frame["y1"].isna(), "_mi_id"].iloc[:1]
    frame.loc[(frame["_mi_m"] == m) & frame["_mi_id"].isin(missing_ids), "y1"] = np.nan
    return frame


POOL_MODEL = ["--model", "y1 ~ x + (1 | cluster)", "--quiet"]


@pytest.mark.parametrize("damage, expect", [
    (lambda f: _relabel(f, 3, 2), "imputation 2 has {twice} rows, the original {n}"),
    (lambda f: f.drop(f.index[(f["_mi_m"] == 2)][:20]), "imputation 2 has {cut} rows, the original {n}"),
    (lambda f: _relabel(f.astype({"_mi_m": float}), 2, 1.5), "column '_mi_m' holds 1.5: imputation numbers are whole numbers"),
    (lambda f: _relabel(f, 1, -1), "column '_mi_m' holds -1"),
    (lambda f: _relabel(f, 2, 5), "_mi_m numbers the completed data sets up to 5 but 2, 4 are missing"),
    (lambda f: f[f["_mi_m"] > 0], "no original data (_mi_m == 0)"),
    (lambda f: _imputed_hole(f, 2), "imputation 2 of column 'y1' has 1 missing values: it is not a completed data set"),
    (lambda f: _observed_row(f, 3), "imputation 3 changes 2 observed values of column 'y1'"),
    (lambda f: f.drop(columns="_mi_m"), "column '_mi_m' is missing (the file has '_mi_id')"),
    (lambda f: f.assign(_mi_id=f["_mi_id"].where(f["_mi_m"] != 1, f["_mi_id"] + 1000)),
     "imputation 1's '_mi_id' values are not those of the original"),
    (lambda f: _first_rows_of(f.astype({"_mi_m": object}), 1, "_mi_m", "one"),
     "column '_mi_m' must hold imputation numbers"),
])
def test_pool_refuses_a_stacked_file_it_cannot_trust(stacked, capsys, damage, expect):
    damage(stacked.copy()).to_csv("bad.csv", index=False)
    n = int((stacked["_mi_m"] == 0).sum())
    refused(capsys, "pool", "bad.csv", *POOL_MODEL, expect=expect.format(n=n, twice=2 * n, cut=n - 20))


def test_pool_force_fits_a_file_written_elsewhere_and_says_what_it_let_through(stacked, capsys):
    stacked.drop(stacked.index[(stacked["_mi_m"] == 2)][:20]).to_csv("cut.csv", index=False)
    assert main(["pool", "cut.csv", *POOL_MODEL, "--force"]) == 0
    captured = capsys.readouterr()
    n = int((stacked["_mi_m"] == 0).sum())
    assert f"imputation 2 has {n - 20} rows, the original {n} (--force)" in captured.err
    assert "3 imputations pooled" in captured.out


def test_pool_checks_stata_and_r_files_the_same_way(stacked, capsys):
    from mlimpute.frontends.r_entry import pool_rds
    bad = _relabel(stacked.copy(), 3, 2)
    write_data(bad, "bad.dta")
    n = int((stacked["_mi_m"] == 0).sum())
    refused(capsys, "pool", "bad.dta", *POOL_MODEL, expect=f"imputation 2 has {2 * n} rows")
    long = bad.rename(columns={"_mi_m": ".imp", "_mi_id": ".id"}).drop(columns="_mi_miss")
    write_data(long, "bad.rds")
    answer = pool_rds("bad.rds", "y1 ~ x + (1 | cluster)", "table.csv")
    assert f"imputation 2 has {2 * n} rows" in answer["error"] and not Path("table.csv").exists()


def test_pool_complete_cases_are_those_of_the_models_variables(stacked, capsys):
    """The cc columns fit the rows complete in the model's variables, as lme4's na.omit
    does, not the rows complete in every column of the file."""
    from mlimpute.analysis.fit import fit_one
    assert main(["pool", "out.csv", "--model", "y1 ~ x + (1 | cluster)", "-o", "t.csv",
                 "--quiet"]) == 0
    table = pd.read_csv("t.csv").set_index("term")
    original = stacked[stacked["_mi_m"] == 0]
    assert original["y2"].isna().any()                  # rows the old cc column dropped
    expected = fit_one(original.dropna(subset=["y1", "x", "cluster"]), "y1 ~ x + (1 | cluster)")
    np.testing.assert_allclose(table.loc["x", "cc_estimate"], expected.loc["x", "estimate"],
                               rtol=1e-6)


def test_a_probit_model_of_interest_is_pooled_as_probit_never_as_linear(tmp_path, monkeypatch,
                                                                         capsys):
    """The family an imputation recorded (the .dta's characteristics, the saved spec) is
    what pool fits; a mixed probit model, which pool cannot fit yet, is refused in one
    line instead of being fitted as a linear mixed model."""
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("probit", n_clusters=15, cluster_size=8, seed=1)
    frame.to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["impute", "in.csv", "-o", "out.dta", "--model", "y ~ x + z + (1 | school)",
                 "--save-spec", "used.toml", *FAST]) == 0
    assert mlimpute.Spec.load("used.toml").model.family == "probit"     # "auto" resolved
    for source in ([], ["--spec", "used.toml"]):
        refused(capsys, "pool", "out.dta", *source, "--quiet",
                expect="random effects with a probit model are not supported")
    assert main(["pool", "out.dta", "--model", "y ~ x + z", "--quiet"]) == 0
    assert "y ~ x + z (probit): 2 imputations pooled" in capsys.readouterr().out


@pytest.mark.parametrize("null, expect", [
    ("y2 ~ 1 + (1 | cluster)", "has outcome 'y2', the model 'y1': D3 compares nested models of the same outcome"),
    ("y1 ~ x", "has other random terms than"),
    ("y1 ~ x + w + (1 | cluster)", "is not nested in"),
])
def test_pool_refuses_a_null_model_d3_cannot_compare(stacked, capsys, null, expect):
    stacked.assign(w=stacked["_mi_id"] % 3).to_csv("out3.csv", index=False)
    refused(capsys, "pool", "out3.csv", "--model", "y1 ~ x + (1 | cluster)", "--null-model", null,
            "-o", "t.csv", "--quiet", expect=expect)
    assert not Path("t.csv").exists()


def test_failed_sensitivity_run_leaves_its_outputs_alone(work, capsys, monkeypatch):
    Path("sens.csv").write_text("mine\n")
    refused(capsys, "sensitivity", "in.csv", "--cluster", "cluster", "--response", "y1",
            "--deltas", "0", "0", "--model", "y1 ~ x + (1 | cluster)", "-o", "sens.csv", *FAST,
            expect="--deltas: 0 is given twice")
    refused(capsys, "sensitivity", "in.csv", "--cluster", "cluster", "--response", "y1",
            "--deltas", "0", "1e308", "--model", "y1 ~ x + (1 | cluster)", "-o", "sens.csv", *FAST,
            expect="--deltas: 1e+308 is beyond 1e+100")
    import mlimpute.run.sensitivity as sens

    def cannot_draw(*args, **kwargs):
        raise MlimputeError("the plot cannot be drawn")
    monkeypatch.setattr(sens, "render_plot", cannot_draw)
    refused(capsys, "sensitivity", "in.csv", "--cluster", "cluster", "--response", "y1",
            "--deltas", "0", "0.5", "--model", "y1 ~ x + (1 | cluster)", "-o", "sens.csv",
            "--plot", "sens.png", *FAST, expect="the plot cannot be drawn")
    assert Path("sens.csv").read_text() == "mine\n" and not Path("sens.png").exists()


def test_failed_diagnose_leaves_its_folder_alone(work, capsys, monkeypatch):
    assert main(["impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", "--chain", "chain.csv",
                 *FAST, "--burnin", "30"]) == 0
    Path("diag").mkdir()
    before = snapshot(Path("diag"))
    import mlimpute.analysis.diagnose as diagnose
    real, pages = diagnose._plot_page, []

    def fails_on_the_second_page(*args, **kwargs):
        pages.append(1)
        if len(pages) == 2:
            raise MlimputeError("no room for a plot")
        return real(*args, **kwargs)
    monkeypatch.setattr(diagnose, "_plot_page", fails_on_the_second_page)
    refused(capsys, "diagnose", "chain.csv", "-o", "diag", "--quiet", expect="no room for a plot")
    assert snapshot(Path("diag")) == before


@pytest.fixture
def compatible(tmp_path, monkeypatch):
    """in.csv for --model runs: y, x (incomplete), z, school, c (1-3, incomplete), neg."""
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("slope", n_clusters=15, cluster_size=8, seed=1)
    frame["c"] = np.random.default_rng(0).integers(1, 4, len(frame)).astype(float)
    frame.loc[frame.index[::5], "c"] = np.nan
    frame["neg"] = frame["z"]
    frame.loc[frame.index[::9], "neg"] = np.nan
    frame.to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("model, expect", [
    ("y ~ x + C(c) + (1 | school)", "the term 'C(c)' takes 'c' as categorical, but the imputation "
                                    "model imputes 'c' as continuous"),
    ("school ~ x + (1 | school)", "the outcome 'school' is a grouping"),
    ("y ~ log(neg) + (1 | school)", "takes log() of 'neg', which is imputed as continuous"),
    ("y ~ x + sqrt(neg) + (1 | school)", "takes sqrt() of 'neg', which is imputed as continuous"),
    ("y ~ log(z) + x + (1 | school)", "the term 'log(z)' takes log() of values that are not positive"),
])
def test_model_terms_the_sampler_cannot_honour_are_refused_before_sampling(compatible, capsys,
                                                                           model, expect):
    refused(capsys, "impute", "in.csv", "-o", "o.csv", "--model", model, *FAST, expect=expect)
    assert not Path("o.csv").exists()


def test_a_categorical_term_works_once_its_variable_is_declared_categorical(compatible):
    assert main(["impute", "in.csv", "-o", "o.csv", "--model", "y ~ x + C(c) + (1 | school)",
                 "--categorical", "c", *FAST]) == 0
    completed = read_data("o.csv")[0].query("_mi_m == 1")
    assert set(completed["c"].unique()) <= {1.0, 2.0, 3.0}


@pytest.mark.parametrize("args, expect", [
    (["--max-burnin", "1000000000000", "--burnin", "auto"], "max_burnin = 1,000,000,000,000 (--max-burnin"),
    (["--pilot-m", "1000000000", "--m", "auto"], "pilot_m = 1,000,000,000 (--pilot-m"),
    (["--between", "auto", "--burnin", "50"], "between = 'auto' reads the autocorrelation of the "
                                              "burn-in, which needs at least 100 iterations (burnin = 50)"),
    (["--between", "auto", "--burnin", "auto", "--max-burnin", "60"], "(max_burnin = 60)"),
    (["--delta", "y1=1e308"], "the shift 1e+308 is beyond 1e+100"),
])
def test_settings_that_cannot_run_are_named_before_sampling(work, capsys, monkeypatch, args, expect):
    from mlimpute.engine import GibbsSampler

    def never(*a, **k):
        raise AssertionError("sampled before refusing")
    monkeypatch.setattr(GibbsSampler, "advance", never)
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--cluster", "cluster", "--seed", "1",
            "--quiet", *args, expect=expect)


def test_two_classifications_that_are_one_partition_are_refused(work, capsys):
    frame = pd.read_csv("in.csv")
    frame["copy"] = frame["cluster"] * 10 + 7
    frame.to_csv("in2.csv", index=False)
    for crossed in ([], ["--crossed"]):
        refused(capsys, "impute", "in2.csv", "-o", "out.csv", "--cluster", "cluster", "copy",
                *crossed, *FAST, expect="columns 'cluster' and 'copy' group the rows the same way")


def test_a_malformed_model_is_named_not_the_missing_cluster(work, capsys):
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--model", "y1 ~ x +", *FAST,
            expect="formula 'y1 ~ x +'")
    refused(capsys, "impute", "in.csv", "-o", "out.csv", "--model", "~ x + (1 | cluster)", *FAST,
            expect="no outcome before '~'")


def test_ctrl_c_names_the_signal(work, capsys, monkeypatch):
    import mlimpute.frontends.commands

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setitem(mlimpute.frontends.commands.COMMANDS, "impute", interrupted)
    assert main(["impute", "in.csv", "-o", "out.csv", "--cluster", "cluster"]) == 130
    assert "mlimpute: stopped (SIGINT); unfinished output removed" in capsys.readouterr().err


def test_a_numeric_column_with_a_stray_text_field_gets_a_note(work, capsys):
    frame = pd.read_csv("in.csv")
    frame["age"] = np.arange(len(frame)) % 7 + 10
    frame = frame.astype({"age": object})
    frame.loc[4, "age"] = "oops"
    frame.to_csv("in2.csv", index=False)
    assert main(["propose", "in2.csv", "--cluster", "cluster", "-o", "m.toml"]) == 0
    err = capsys.readouterr().err
    assert "column 'age' is numeric except for 1 field: 'oops' (line 6), so it is read as text" in err
