"""REALCOM-IMPUTE text files: reading what realcomImpute.ado writes, writing the impvals
output realcomImputeLoad.ado reads, and clear errors for broken files."""
from __future__ import annotations

import os

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.io.realcom import read_realcom, write_realcom
from mlimpute.model.propose import propose_from_realcom
from mlimpute.model.simulate import simulate, simulate_mixed


@pytest.fixture
def realcom_file(tmp_path):
    frame, _ = simulate_mixed(level1=("continuous", ("categorical", 3)), level2=("continuous",),
                              n_clusters=15, cluster_size=8, seed=4)
    frame["y2"] = frame["y2"].cat.codes.replace(-1, np.nan).astype(float) + 1     # codes 1..3
    path = tmp_path / "pupils.txt"
    write_realcom(frame, path, [("y1", "continuous"), ("y2", "categorical"), ("g1", "continuous")],
                  "cluster", ["x", "w"])
    return frame, path


def test_file_layout_and_round_trip(realcom_file):
    frame, path = realcom_file
    lines = path.read_text().splitlines()
    assert lines[:4] == ["3", "4", "1\t2\t1", "y1\ty2\tg1\tcluster\tcons\tx\tw"]
    assert "-9.999e+29" in path.read_text()
    back, info = read_realcom(path)
    assert info["responses"] == [("y1", "continuous"), ("y2", "categorical"), ("g1", "continuous")]
    assert (info["cluster"], info["constant"], info["covariates"]) == ("cluster", "cons", ["x", "w"])
    for col in ["y1", "y2", "g1", "x", "w"]:
        np.testing.assert_array_equal(back[col].to_numpy(), frame[col].to_numpy(dtype=float))
    spec = propose_from_realcom(back, info)
    assert [(r.name, r.type, r.level) for r in spec.responses] == [
        ("y1", "continuous", 1), ("y2", "categorical", 1), ("g1", "continuous", 2)]
    assert spec.covariates == ["x", "w"] and spec.level2_covariates == ["w"]


def test_impute_writes_impvals_as_realcom_import_load_reads_them(tmp_path, realcom_file):
    frame, path = realcom_file
    out = tmp_path / "imputed"
    assert main(["impute", str(path), "--realcom", "-o", str(out), "--m", "3", "--burnin", "10",
                 "--between", "3", "--seed", "1", "--quiet"]) == 0
    index = (out / "impvals.txt").read_text().splitlines()
    names = index[0].split("\t")
    assert names == ["y1", "y2", "g1"]
    assert int(index[2].split("\t")[0]) == 3
    files = index[3].split("\t")
    assert len(files) == 3
    for name in files:
        # text converted by float(): exact in every pandas (pandas 2's parser may miss a bit)
        values = pd.read_csv(out / name, sep="\t", header=None, names=names, dtype=str).apply(lambda c: c.map(float))
        assert len(values) == len(frame) and not values.isna().any().any()
        observed = frame["y1"].notna()
        np.testing.assert_array_equal(values.loc[observed, "y1"], frame.loc[observed, "y1"])
        assert set(values["y2"].unique()) <= {1.0, 2.0, 3.0}
        # realcomImputeLoad opens `filename'. (insheet "imp1."): that name must hold the
        # same data on every system, not only on Windows, where the dot is dropped
        assert (out / f"{name}.").read_bytes() == (out / name).read_bytes()


def test_weights_file_is_read(tmp_path, realcom_file):
    frame, path = realcom_file
    weights = np.column_stack([np.linspace(0.5, 2, len(frame)), np.ones(len(frame))])
    pd.DataFrame(weights).to_csv(path.with_name("pupils_wts.txt"), sep="\t", header=False, index=False)
    back, info = read_realcom(path)
    assert info["level1_weight"] == "_level1_weight" and info["level2_weight"] is None
    np.testing.assert_allclose(back["_level1_weight"], weights[:, 0])
    spec = propose_from_realcom(back, info)
    assert spec.level1_weight == "_level1_weight" and "_level1_weight" not in spec.covariates


@pytest.mark.parametrize("edit, message", [
    (lambda ls: ["4"] + ls[1:], "line 3: 3 type codes for 4 responses"),
    (lambda ls: ls[:2] + ["1\t7\t1"] + ls[3:], "line 3, column 2: unknown type code 7"),
    (lambda ls: ls[:3] + ["y1\ty2"] + ls[4:], "line 4: 2 names"),
    (lambda ls: ls[:5] + ["1.0\t2.0"] + ls[6:], "line 6: expected 7 values, found 2"),
    (lambda ls: ls[:5] + ["1.0\tabc" + "\t1" * 5] + ls[6:], "line 6: 'abc' is not a number"),
    (lambda ls: ["three"] + ls[1:], "line 1: expected the number of responses"),
])
def test_broken_files_give_one_line_errors_with_line_numbers(tmp_path, realcom_file, edit, message):
    _, path = realcom_file
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "impute", str(path), "--realcom",
                           "-o", str(out), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert not out.exists()


def test_realcom_stata_syntax_translates_to_the_same_spec(realcom_file):
    from mlimpute.io.realcom import parse_realcom_syntax
    frame, path = realcom_file
    info = parse_realcom_syntax("realcomImpute y1 m.y2 g1 x w using pupils.txt, numresponses(3) "
                                "cons(cons) level2id(cluster) replace")
    assert info["responses"] == [("y1", "continuous"), ("y2", "categorical"), ("g1", "continuous")]
    assert (info["covariates"], info["cluster"], info["using"]) == (["x", "w"], "cluster", "pupils.txt")
    from_syntax = propose_from_realcom(frame.assign(cons=1.0), info)
    back, file_info = read_realcom(path)
    assert from_syntax == propose_from_realcom(back, file_info)
    weighted = parse_realcom_syntax("realcomImpute o.a b using f, numresponses(1) cons(c) "
                                    "level2id(s) level1wgt(w1) level2wgt(w2)")
    assert weighted["responses"] == [("a", "ordinal")]
    assert (weighted["level1_weight"], weighted["level2_weight"]) == ("w1", "w2")


@pytest.mark.parametrize("command, message", [
    ("realcomImpute a b using f, cons(c) level2id(s)", "numresponses() is required"),
    ("realcomImpute a b using f, numresponses(3) cons(c) level2id(s)", "numresponses(3) but 2"),
    ("ice a b, m(5)", "expected 'realcomImpute"),
])
def test_realcom_syntax_errors(command, message):
    from mlimpute.errors import FormatError
    from mlimpute.io.realcom import parse_realcom_syntax
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_realcom_syntax(command)


def test_impvals_from_a_stata_file_for_mlwin(tmp_path):
    """MLwiN users: MLwiN writes the data as .dta (PSTA), mlimpute --impvals writes the
    REALCOM files its imputation menu reads; the values are the completed data sets'."""
    frame, _ = simulate(n_clusters=10, cluster_size=6, n_level1=2, n_level2=0, seed=8)
    source = tmp_path / "fromMLwiN.dta"
    mlimpute.write_data(frame, source, dta_format=114)
    out = tmp_path / "forMLwiN"
    args = ["impute", str(source), "--impvals", "-o", str(out), "--cluster", "cluster",
            "--m", "2", "--burnin", "10", "--between", "3", "--seed", "4", "--quiet"]
    assert main(args) == 0
    index = (out / "impvals.txt").read_text().splitlines()
    assert index[0].split("\t") == ["y1", "y2"] and index[2] == "2"
    stacked = tmp_path / "same.csv"
    assert main(args[:2] + args[5:] + ["-o", str(stacked)]) == 0        # same run, stacked
    completed = pd.read_csv(stacked)
    for m, name in enumerate(index[3].split("\t"), start=1):
        values = pd.read_csv(out / name, sep="\t", header=None, names=["y1", "y2"])
        expected = completed.loc[completed["_mi_m"] == m, ["y1", "y2"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(values, expected)
    assert main(["impute", str(source), "--impvals", "-o", str(tmp_path / "x.csv"), "--cluster",
                 "cluster", "--quiet"]) == 2


def test_failed_impvals_run_leaves_no_partial_set(tmp_path, monkeypatch):
    from mlimpute.io import realcom
    frame, _ = simulate(n_clusters=6, cluster_size=5, n_level1=1, n_level2=0, seed=2)
    result = mlimpute.impute(frame, mlimpute.Spec.from_dict({
        **mlimpute.propose(frame, "cluster").to_dict(),
        "mcmc": {"burnin": 5, "between": 2, "m": 3, "seed": 1}}))
    calls = {"n": 0}
    original = type(result).completed

    def failing(self, m):
        calls["n"] += 1
        if m == 3:
            raise RuntimeError("disk full")
        return original(self, m)
    monkeypatch.setattr(type(result), "completed", failing)
    out = tmp_path / "imputed"
    with pytest.raises(RuntimeError):
        realcom.write_impvals(result, out)
    assert list(tmp_path.iterdir()) == []                         # not even the folder
    monkeypatch.setattr(type(result), "completed", original)
    realcom.write_impvals(result, out)
    names = ["imp1", "imp2", "imp3"]
    dotted = [f"{name}." for name in names] if os.name != "nt" else []
    assert sorted(p.name for p in out.iterdir()) == sorted(names + dotted + ["impvals.txt"])


def test_file_written_by_hand_from_the_format(tmp_path):
    """A REALCOM input typed from realcomImpute.ado's layout (not made by our writer):
    counts, type codes, names, tab-separated records, -9.999e+29 for missing, and the
    _wts file with a level-1 and a level-2 weight per record."""
    rows = [("12.5", "1", "2", "1", "1", "10.1"), ("-9.999e+29", "2", "1", "1", "1", "11.2"),
            ("9.0", "-9.999e+29", "3", "1", "1", "9.8"), ("14.25", "3", "-9.999e+29", "2", "1", "10.0"),
            ("11", "1", "1", "2", "1", "12.5"), ("10.5", "2", "2", "2", "1", "8.9")]
    text = "3\n3\n1\t2\t3\nscore\tgroup\tgrade\tschool\tcons\tage\n" + \
        "".join("\t".join(r) + "\n" for r in rows)
    path = tmp_path / "hand.txt"
    path.write_text(text)
    (tmp_path / "hand_wts.txt").write_text("".join(f"{1 + k % 2}\t1\n" for k in range(len(rows))))
    frame, info = read_realcom(path)
    assert info["responses"] == [("score", "continuous"), ("group", "categorical"),
                                 ("grade", "ordinal")]
    assert (info["cluster"], info["constant"], info["covariates"]) == ("school", "cons", ["age"])
    assert frame["score"].isna().tolist() == [False, True, False, False, False, False]
    assert frame["group"].isna().tolist() == [False, False, True, False, False, False]
    assert frame.loc[3, "score"] == 14.25 and frame.loc[0, "age"] == 10.1
    assert info["level1_weight"] == "_level1_weight" and info["level2_weight"] is None
    assert frame["_level1_weight"].tolist() == [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
