"""What Stata, MLwiN and pooling users tripped over, each through the front end where they
meet it: the ado's Python entry (with a stand-in for Stata's sfi module), the command line
and the files they read back."""
from __future__ import annotations

import re
import sys
import types
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

import mlimpute
from conftest import ROOT
from dta_parser import parse_characteristics
from mlimpute.frontends.cli import main
from mlimpute.frontends.stata_entry import run, run_from_stata, stata_tokens
from mlimpute.model.simulate import simulate

ADO = ROOT / "stata_ado" / "mlimpute.ado"
FAST = ["--m", "2", "--burnin", "10", "--between", "2", "--seed", "3", "--quiet"]


@pytest.fixture
def dta(tmp_path):
    frame, _ = simulate(n_clusters=10, cluster_size=6, n_level1=2, n_level2=0, seed=4)
    frame["b"] = np.where(np.arange(len(frame)) % 7 == 0, np.nan, np.arange(len(frame)) % 2)
    path = tmp_path / "in.dta"
    mlimpute.write_data(frame, path)
    return frame, path


class FakeMacro:
    """Stata's sfi.Macro as the ado leaves it: its locals, read and set by name."""

    def __init__(self, locals_: dict[str, str]):
        self.locals = dict(locals_)

    def getLocal(self, name):                    # noqa: N802 - sfi's spelling
        return self.locals.get(name, "")

    def setLocal(self, name, value):             # noqa: N802
        self.locals[name] = value


@pytest.fixture
def sfi(monkeypatch):
    """A stand-in for the sfi module; `load(args)` puts arguments in the locals as the ado's
    gettoken loop does."""
    macro = FakeMacro({})
    module = types.ModuleType("sfi")
    module.Macro = macro
    monkeypatch.setitem(sys.modules, "sfi", module)

    def load(args):
        macro.locals = {"mlimpute_argc": str(len(args)),
                        **{f"mlimpute_arg{k}": a for k, a in enumerate(args, start=1)}}
        return macro
    return load


# -- 1. spec() and the varlist ---------------------------------------------------------

def test_a_varlist_that_disagrees_with_the_spec_is_refused(tmp_path, dta):
    frame, path = dta
    spec = tmp_path / "m.toml"
    mlimpute.propose(frame, "cluster", responses=["y1", "y2", "b"]).save(spec)
    out = tmp_path / "o.dta"
    code, message, _ = run(f'impute "{path}" -o "{out}" --cluster cluster --responses y1 '
                           f'--spec "{spec}" ' + " ".join(FAST))
    assert code == 2 and "--responses y1 disagrees" in message and "m.toml" in message
    assert "y1, y2, b" in message and not out.exists()
    # the same variables in another order, or none (the ado with spec() and no varlist)
    for responses in (" --responses b y2 y1", ""):
        code, message, _ = run(f'impute "{path}" -o "{out}" --cluster cluster{responses} '
                               f'--spec "{spec}" ' + " ".join(FAST))
        assert code == 0, message
        assert parse_characteristics(out)[("_dta", "_mi_ivars")] == "y1 y2 b"


def test_the_ado_passes_the_varlist_only_when_given():
    text = ADO.read_text()
    assert re.search(r"syntax \[varlist\(default=none numeric\)\]", text)
    assert 'if "`varlist\'" != "" local args `"`args\' --responses `varlist\'"\'' in text
    assert re.search(r'if "`varlist\'" == "" & `"`spec\'"\' == "" \{', text)


# -- 8. --joint-only records its model of interest ----------------------------------------

def test_joint_only_run_records_its_model_for_pool(tmp_path, dta, capsys):
    frame, path = dta
    out = tmp_path / "o.dta"
    assert main(["impute", str(path), "-o", str(out), "--cluster", "cluster",
                 "--model", "y1 ~ y2 + (1 | cluster)", "--joint-only", *FAST]) == 0
    chars = parse_characteristics(out)
    assert chars[("_dta", "mlimpute_model")] == "y1 ~ y2 + (1 | cluster)"
    assert chars[("_dta", "mlimpute_family")] == "gaussian"
    capsys.readouterr()
    assert main(["pool", str(out), "--quiet"]) == 0
    assert "y1 ~ y2 + (1 | cluster): 2 imputations pooled" in capsys.readouterr().out


# -- 10, 11. _mi_update in seconds, seeds Stata takes, stored results ---------------------

def test_drawn_seeds_fit_stata_and_the_run_is_recorded_for_r(tmp_path, dta):
    frame, path = dta
    from mlimpute.run.api import new_seed
    assert all(0 <= new_seed() <= 2**31 - 1 for _ in range(200))
    out = tmp_path / "o.dta"
    args = ["impute", str(path), "-o", str(out), "--cluster", "cluster", "--m", "2",
            "--burnin", "auto", "--between", "auto", "--max-burnin", "2000", "--quiet"]
    assert main(args) == 0
    chars = parse_characteristics(out)
    seed = int(chars[("_dta", "mlimpute_seed")])
    assert 0 <= seed <= 2**31 - 1
    burnin, between = int(chars[("_dta", "mlimpute_burnin")]), int(chars[("_dta", "mlimpute_between")])
    assert burnin >= 1000 and between >= 1                      # what auto chose, as numbers
    assert float(chars[("_dta", "mlimpute_max_rhat")]) >= 1 and int(chars[("_dta", "mlimpute_min_ess")]) > 0
    assert chars[("_dta", "mlimpute_converged")] in ("yes", "no")
    # the recorded seed and settings repeat the run byte for byte
    again = tmp_path / "again.dta"
    assert main(["impute", str(path), "-o", str(again), "--cluster", "cluster", "--m", "2",
                 "--burnin", str(burnin), "--between", str(between), "--seed", str(seed),
                 "--quiet"]) == 0
    a, _ = mlimpute.read_data(out)
    b, _ = mlimpute.read_data(again)
    assert a.equals(b)


def test_the_ado_returns_what_the_run_used_and_documents_it():
    text = ADO.read_text()
    assert "program define mlimpute, rclass" in text
    assert "local value : char _dta[mlimpute_`what']" in text
    loops = re.findall(r"foreach what in ([a-z_ ]+)\{", text)
    assert sorted(" ".join(loops).split()) == sorted(
        ["seed", "burnin", "between", "chains", "max_rhat", "min_ess"])
    for returned in ("return scalar M", "return local converged", "return local ivars"):
        assert returned in text
    assert text.index("mi describe") < text.index("return scalar M")      # r() is ours
    help_text = ADO.with_suffix(".sthlp").read_text()
    assert "{title:Stored results}" in help_text
    for name in ("r(M)", "r(seed)", "r(burnin)", "r(between)", "r(ivars)", "r(converged)"):
        assert name in help_text


# -- 12, 14. after the run: the user's file name, no temporaries; saving() checked first ---

def test_the_ado_restores_the_filename_and_erases_its_temporaries():
    lines = [l.strip() for l in ADO.read_text().splitlines() if not l.strip().startswith("*")]
    text = "\n".join(lines)
    assert 'local filename `"`c(filename)\'"\'' in text
    assert 'global S_FN `"`filename\'"\'' in text
    load = text.index('capture noisily use "`output\'", clear')
    assert text.index('capture erase "`output\'"', load) < text.index("restore, not")
    assert 'capture erase "`input\'"' in text
    # saving() without replace is checked before anything runs
    assert text.index("confirm new file `saving_file'") < text.index("preserve")


# -- 15. mi set data with M = 0 ------------------------------------------------------------

def test_mi_set_data_without_imputations_are_told_what_to_do(tmp_path, dta):
    frame, _ = dta
    flong = frame.assign(_mi_m=0, _mi_id=np.arange(1, len(frame) + 1), _mi_miss=0)
    wide = frame.assign(_mi_miss=0)
    for shape, data in (("flong", flong), ("wide", wide)):
        path = tmp_path / f"{shape}.dta"
        mlimpute.write_data(data, path)
        code, message, _ = run(f'impute "{path}" -o "{tmp_path / "o.dta"}" --cluster cluster --quiet')
        assert code == 2 and "mi set but hold no imputations (M = 0)" in message, message
        assert "mi unset" in message
    held = pd.concat([flong, flong.assign(_mi_m=1)])
    mlimpute.write_data(held, tmp_path / "held.dta")
    code, message, _ = run(f'impute "{tmp_path / "held.dta"}" -o "{tmp_path / "o.dta"}" '
                           "--cluster cluster --quiet")
    assert code == 2 and "already hold multiple imputations (M = 1)" in message
    assert "mi extract 0, clear" in message


# -- 16, 17. arguments one by one through sfi; progress in the shell route ----------------

def test_arguments_pass_one_by_one_with_backslashes_kept(tmp_path, dta, sfi):
    """A UNC-style path keeps its doubled backslash and a folder ending in a backslash is
    taken as typed: POSIX shlex dropped the one and raised on the other."""
    frame, path = dta
    folder = tmp_path / "share\\data\\"                 # backslashes are name characters here
    folder.mkdir()
    source = folder / "\\\\in.dta"
    source.write_bytes(path.read_bytes())
    out = folder / "o.dta"
    macro = sfi(["impute", str(source), "-o", str(out), "--cluster", "cluster", *FAST])
    run_from_stata()
    assert macro.locals["mlimpute_rc"] == "0", macro.locals["mlimpute_error"]
    assert out.exists()
    # an older ado's argument line is split as Stata splits it, backslashes and all
    line = f'impute "{source}" -o "{folder}\\" --model "y ~ x" --delta `"y=1 if g=="a""\' x'
    assert stata_tokens(line) == ["impute", str(source), "-o", f"{folder}\\", "--model",
                                  "y ~ x", "--delta", 'y=1 if g=="a"', "x"]
    code, message, _ = run(f'impute "{folder}\\" -o "{out}" --cluster cluster --quiet')
    assert code == 2 and message.startswith("mlimpute: error:")       # one line, no traceback


def test_the_ado_hands_arguments_to_python_and_progress_to_the_shell():
    text = ADO.read_text()
    assert "gettoken arg rest : rest" in text
    assert "local mlimpute_arg`mlimpute_argc'" in text
    assert "run_from_stata()" in text and "run_from_stata(r'''" not in text
    shell = text.index("shell `command' `args'")
    assert text.rindex("--progress=lines", 0, shell) > text.index("local command \"mlimpute\"")


# -- 5. pool on files whose m = 0 block cannot be fitted ------------------------------------

def test_pool_with_a_model_variable_missing_everywhere_in_the_original(tmp_path, capsys):
    """Cluster means computed per imputation (mitml's Analysis vignette) are all missing in
    m = 0: the complete-case column is left out, the pooled table stands."""
    rng = np.random.default_rng(1)
    n = 60
    base = pd.DataFrame({"cl": np.repeat(np.arange(12), 5), "x": rng.normal(size=n)})
    base["y"] = base["x"] + rng.normal(size=n)
    base.loc[rng.random(n) < 0.3, "x"] = np.nan
    base["z"] = np.nan
    base.loc[0, "z"] = 1.0                             # a mostly-missing column no model uses
    parts = [base.assign(_mi_m=0, _mi_id=np.arange(1, n + 1), _mi_miss=base["x"].isna().astype(int))]
    for m in (1, 2, 3):
        filled = base.assign(x=base["x"].fillna(rng.normal()), z=base["z"].fillna(0.0))
        parts.append(filled.assign(_mi_m=m, _mi_id=np.arange(1, n + 1), _mi_miss=np.nan))
    stacked = pd.concat(parts, ignore_index=True)
    stacked["xm"] = stacked.groupby(["_mi_m", "cl"])["x"].transform("mean")
    stacked.loc[stacked["_mi_m"] == 0, "xm"] = np.nan
    path = tmp_path / "s.csv"
    stacked.to_csv(path, index=False)
    for model in ("y ~ x", "y ~ xm", "y ~ x + xm + (1 | cl)"):
        capsys.readouterr()
        assert main(["pool", str(path), "--model", model, "--quiet"]) == 0
        table = capsys.readouterr().out
        assert "imputations pooled" in table and ("xm" in table or model == "y ~ x")
        assert ("cc_estimate" in table) == (model == "y ~ x")


# -- 13, 14. metadata kept; what the output cannot hold is refused before sampling ---------

def test_data_label_and_mi_formats_come_through(tmp_path, dta):
    import pyreadstat
    frame, _ = dta
    source = tmp_path / "labelled.dta"
    pyreadstat.write_dta(frame, str(source), file_label="Pupils, wave 2",
                         variable_format={"b": "%9.0g"})
    out = tmp_path / "o.dta"
    assert main(["impute", str(source), "-o", str(out), "--cluster", "cluster", *FAST]) == 0
    _, meta = pyreadstat.read_dta(str(out), metadataonly=True)
    assert meta.file_label == "Pupils, wave 2"
    formats = meta.original_variable_types
    assert formats["b"] == "%9.0g"
    assert (formats["_mi_m"], formats["_mi_id"], formats["_mi_miss"]) == ("%8.0g", "%12.0g", "%8.0g")


def test_long_text_for_format_114_is_refused_before_sampling(tmp_path, dta, monkeypatch, capsys):
    from mlimpute.frontends import commands
    frame, _ = dta
    frame["note"] = ["x" * 300 if k == 3 else "ok" for k in range(len(frame))]
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started")
    monkeypatch.setattr(commands, "impute", no_sampling)
    out = tmp_path / "o.dta"
    assert main(["impute", str(source), "-o", str(out), "--cluster", "cluster", "--exclude",
                 "note", "--dta-format", "114", *FAST]) == 2
    error = capsys.readouterr().err
    assert "column 'note' holds text of 300 bytes" in error and "format 114" in error
    assert not out.exists()


# -- 18. writing for MLwiN -------------------------------------------------------------------

@pytest.mark.parametrize("target", [["-o", "o.dta", "--dta-format", "114"], ["--impvals", "-o", "imp"]])
def test_mlwin_names_that_clash_by_case_are_refused(tmp_path, dta, capsys, monkeypatch, target):
    frame, _ = dta
    frame["Y1"] = frame["x"]
    frame.to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["impute", "in.csv", "--cluster", "cluster", *target, *FAST]) == 2
    assert "columns 'y1' and 'Y1' differ only in case" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.dta"]     # nothing new


def test_mlwin_single_precision_is_told(tmp_path, dta, capsys, monkeypatch):
    frame, _ = dta
    frame["pupil"] = np.arange(len(frame)) + 20_000_001          # ids beyond 2^24
    frame.to_csv(tmp_path / "in.csv", index=False)
    args = ["impute", str(tmp_path / "in.csv"), "--cluster", "cluster", "--exclude", "pupil",
            "--m", "2", "--burnin", "10", "--between", "2", "--seed", "3"]
    assert main([*args, "-o", str(tmp_path / "o.dta"), "--dta-format", "114"]) == 0
    notes = [l for l in capsys.readouterr().err.splitlines() if "single precision" in l]
    assert any("'pupil' will not stay distinct" in n for n in notes)
    assert any("'y1'" in n and "rounded" in n for n in notes)
    assert main([*args, "-o", str(tmp_path / "o.dta")]) == 0            # format 118: no note
    assert "single precision" not in capsys.readouterr().err


# -- 3. numbers with a few whole values imputed as continuous ---------------------------------

def test_few_whole_values_imputed_as_continuous_get_a_note(tmp_path, capsys):
    source = ROOT / "fixtures" / "classsize.csv"
    args = ["impute", str(source), "-o", str(tmp_path / "o.csv"), "--cluster", "class",
            "--exclude", "pupil", "--m", "2", "--burnin", "5", "--between", "2", "--seed", "1"]
    assert main(args) == 0
    notes = [l for l in capsys.readouterr().err.splitlines() if "distinct whole values" in l]
    assert len(notes) == 1 and "'csize4' has 4 distinct whole values (1 to 4)" in notes[0]
    assert "--ordinal/--categorical" in notes[0]
    assert main([*args, "--categorical", "csize4"]) == 0        # declared: no note
    assert "distinct whole values" not in capsys.readouterr().err
    assert main([*args, "--quiet"]) == 0                         # silenced with the rest
    assert capsys.readouterr().err == ""


# -- 21. a fully observed outcome of the model of interest is not listed as imputed -----------

def test_a_fully_observed_outcome_is_not_an_imputed_variable(tmp_path):
    from mlimpute.frontends.r_entry import impute_rds
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("slope", 15, 8, seed=2)            # y complete, x missing
    assert frame["y"].notna().all() and frame["x"].isna().any()
    mlimpute.write_data(frame, tmp_path / "in.rds")
    answer = impute_rds(str(tmp_path / "in.rds"), str(tmp_path / "out.rds"), cluster="school",
                        m=2, burnin=10, between=2, seed=1, model="y ~ x + (1 | school)")
    assert not answer["error"] and answer["imputed"] == ["x"]
    out = tmp_path / "o.dta"
    assert main(["impute", str(tmp_path / "in.rds"), "-o", str(out), "--cluster", "school",
                 "--model", "y ~ x + (1 | school)", *FAST]) == 0
    assert parse_characteristics(out)[("_dta", "_mi_ivars")] == "x"


# -- 2. dates are numbers ----------------------------------------------------------------------

def _with_dates(frame: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    import datetime as dt
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    frame["d_few"] = [dt.date(2020, 1, 31) + dt.timedelta(days=int(k))
                      for k in rng.integers(0, 6, len(frame))]
    frame["d_many"] = [dt.date(2019, 1, 1) + dt.timedelta(days=int(k))
                       for k in rng.integers(0, 97, len(frame))]
    # a date response that depends on y1: the days it is imputed with must follow y1
    frame["d_resp"] = [dt.date(2019, 6, 1) + dt.timedelta(days=int(round(30 * v)))
                       for v in frame["y1"].fillna(0)]
    frame.loc[rng.random(len(frame)) < 0.25, "d_resp"] = None
    return frame


def test_stata_dates_are_numbers_and_imputed_dates_stay_dates(tmp_path, capsys):
    import pyreadstat
    frame, _ = simulate(n_clusters=20, cluster_size=10, n_level1=1, n_level2=0, missing=0.0, seed=5)
    frame["y1"] = frame["y1"].astype(float)
    frame = _with_dates(frame)
    source = tmp_path / "dates.dta"
    pyreadstat.write_dta(frame, str(source), variable_format={c: "%td" for c in ("d_few", "d_many", "d_resp")})
    out, chain = tmp_path / "o.dta", tmp_path / "chain.csv"
    assert main(["impute", str(source), "-o", str(out), "--cluster", "cluster", "--m", "3",
                 "--burnin", "200", "--between", "20", "--seed", "2", "--chain", str(chain)]) == 0
    notes = capsys.readouterr().err
    for name in ("d_few", "d_many", "d_resp"):
        assert f"column '{name}' holds dates: the model takes them as numbers, days since 1 Jan 1960" in notes
    # one coefficient per date covariate, not one dummy per date
    columns = pd.read_csv(chain, nrows=1).columns
    assert "beta1[d_few,d_resp]" in columns and not any("d_few[" in c for c in columns)
    back, meta = pyreadstat.read_dta(str(out))
    assert meta.original_variable_types["d_resp"] == "%td"
    original = back[back["_mi_m"] == 0].reset_index(drop=True)
    observed = original["d_resp"].notna()
    for m in (1, 2, 3):
        done = back[back["_mi_m"] == m].reset_index(drop=True)
        assert done["d_resp"].notna().all()
        assert (done.loc[observed, "d_resp"] == original.loc[observed, "d_resp"]).all()
        # whole days, near where y1 puts them (the model's regression of d_resp on y1)
        days = pd.to_datetime(done["d_resp"]) - pd.Timestamp("2019-06-01")
        expected = 30 * done["y1"]
        gap = (days.dt.days - expected)[~observed]
        assert abs(gap.mean()) < 3 * gap.std() / np.sqrt(len(gap)) + 2


def test_parquet_timestamps_are_numbers(tmp_path, capsys):
    frame, _ = simulate(n_clusters=12, cluster_size=8, n_level1=1, n_level2=0, seed=6)
    frame["when"] = pd.Timestamp("2021-03-01 08:00") + pd.to_timedelta(
        np.arange(len(frame)) * 37, unit="min")
    frame.loc[frame.index[::9], "when"] = pd.NaT
    frame.to_parquet(tmp_path / "t.parquet")
    out = tmp_path / "o.parquet"
    assert main(["impute", str(tmp_path / "t.parquet"), "-o", str(out), "--cluster", "cluster",
                 *FAST[:-1]]) == 0
    assert "column 'when' holds dates and times" in capsys.readouterr().err
    back = pd.read_parquet(out)
    assert back["when"].dtype == frame["when"].dtype
    done = back[back["_mi_m"] == 1].reset_index(drop=True)
    assert done["when"].notna().all()
    kept = frame["when"].notna().to_numpy()
    assert (done["when"].to_numpy()[kept] == frame["when"].to_numpy()[kept]).all()


# -- 7. complete-data df and linear hypotheses at the command line ------------------------------

def test_pool_takes_df_com_and_hypotheses(tmp_path, dta, capsys):
    frame, path = dta
    out = tmp_path / "o.dta"
    assert main(["impute", str(path), "-o", str(out), "--cluster", "cluster", *FAST]) == 0
    capsys.readouterr()
    assert main(["pool", str(out), "--model", "y1 ~ x + w", "--quiet", "--df-com", "30",
                 "--test", "x - w = 0", "--test", "x = 0"]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"D1 Wald test of x - w = 0 and x = 0: F = [0-9.e+-]+ on 2 and [0-9.]+ df, p = ", shown)
    assert main(["pool", str(out), "--model", "y1 ~ x + w", "--quiet", "--test", "x - nosuch = 0"]) == 2
    assert "'nosuch' is not a coefficient" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:                       # argparse's refusal
        main(["pool", str(out), "--model", "y1 ~ x + w", "--quiet", "--df-com", "0"])
    assert stop.value.code == 2
    assert "--df-com: must be a finite number above 0" in capsys.readouterr().err
