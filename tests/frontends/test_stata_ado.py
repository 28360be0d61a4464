"""The Stata front end: the ado is well-formed and documented, and its Python entry point
works end to end with the arguments the ado builds (Stata itself is not available here)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import mlimpute

from conftest import ROOT
from mlimpute.frontends.stata_entry import run
from mlimpute.model.simulate import simulate_mixed

from dta_parser import parse_characteristics

ADO = ROOT / "stata_ado" / "mlimpute.ado"
HELP = ADO.with_suffix(".sthlp")


def _syntax_options() -> list[str]:
    text = ADO.read_text()
    syntax = re.search(r"syntax (.*?)\n\n", text, re.S).group(1).replace("///", " ")
    options = syntax.split(",", 1)[1]
    return [m.lower() for m in re.findall(r"\b([A-Z]+[a-z0-9]*)(?=\(|\s|\])", options)]


def _code_lines() -> list[str]:
    """The ado's lines without comments, continuation lines joined."""
    text = ADO.read_text().replace("///\n", " ")
    return [line.split("//")[0].rstrip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("*")]


def _first(lines, pattern) -> int:
    return next(k for k, line in enumerate(lines) if re.search(pattern, line))


def test_users_data_survive_any_failure():
    """The data are saved whole (no keep/drop of the user's observations), the result is
    loaded under capture, and only after a successful load is the preserved copy discarded."""
    lines = _code_lines()
    assert not any(re.search(r"\b(keep|drop)\s+(if|in)\b", line) for line in lines)
    preserve, save = _first(lines, r"^\s*preserve\b"), _first(lines, r"\bsave \"`input'\"")
    load = _first(lines, r"\buse \"`output'\", clear")
    restore = _first(lines, r"restore, not")
    assert preserve < save < load < restore
    assert lines[load].strip().startswith("capture")
    assert "exit" in " ".join(lines[load + 1: restore])     # a failed load leaves before restore
    assert "--sample `touse'" in ADO.read_text()            # if/in: marked, not dropped


def test_every_flag_the_ado_passes_is_a_command_line_option():
    from mlimpute.frontends.cli import build_parser
    parser = build_parser()
    impute = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "impute")[1]
    known = {flag for action in impute._actions for flag in action.option_strings}
    text = ADO.read_text()
    looped = re.search(r"foreach opt in ([a-z ]+)\{", text).group(1).split()
    flags = set(re.findall(r"(--[a-z0-9-]+)", text)) - {"--`opt'"} | {f"--{o}" for o in looped}
    assert flags and flags <= known, sorted(flags - known)


def test_net_install_files():
    """stata.toc and mlimpute.pkg as net install reads them: version line first, known line
    types, the package named in the toc exists, every file the package lists is shipped."""
    folder = ADO.parent
    toc = (folder / "stata.toc").read_text().splitlines()
    pkg = (folder / "mlimpute.pkg").read_text().splitlines()
    for lines in (toc, pkg):
        assert lines[0] == "v 3"
        for line in lines[1:]:
            assert re.match(r"^(d|p|f|F|g|G|h|t|l|e)( |$)", line), line
    packages = [line.split()[1] for line in toc if line.startswith("p ")]
    assert packages == ["mlimpute"] and (folder / "mlimpute.pkg").is_file()
    files = [line.split(maxsplit=1)[1] for line in pkg if line[:2] in ("f ", "F ")]
    assert files and all((folder / f).is_file() for f in files)
    assert {"mlimpute.ado", "mlimpute.sthlp"} <= set(files)
    assert any(re.match(r"^d Distribution-Date: \d{8}$", line) for line in pkg)


def test_every_ado_option_is_documented():
    options = _syntax_options()
    assert {"cluster", "m", "burnin", "between", "seed", "ordinal", "categorical", "binary",
            "continuous", "covariates", "exclude", "randomslopes", "level1wgt", "level2wgt",
            "saving", "spec", "report", "model", "python", "quietly"} <= set(options)
    help_text = HELP.read_text().lower().replace(":", "")
    for option in options:
        assert f"{{opt {option}" in help_text or f"{{opt {option[:3]}" in help_text, option


def test_entry_point_with_the_arguments_the_ado_builds(tmp_path):
    frame, _ = simulate_mixed(level1=("continuous", ("categorical", 3)), level2=(), n_clusters=12,
                              cluster_size=8, seed=3)
    frame["y2"] = frame["y2"].cat.codes.replace(-1, np.nan).astype(float) + 1
    source = tmp_path / "St01.tmp.dta"
    mlimpute.write_data(frame, source)
    output = tmp_path / "St02.tmp.dta"
    # the ado: impute "<input>" -o "<output>" --cluster c --responses vars --m .. --burnin ..
    # --between .. --chains .. --quiet [--seed s] [--categorical vars] ...
    argline = (f'impute "{source}" -o "{output}" --cluster cluster --responses y1 y2 '
               f'--m 2 --burnin 10 --between 3 --chains 1 --quiet --seed 5 --categorical y2 '
               f'--covariates x w')
    ado = ADO.read_text()
    looped = re.search(r"foreach opt in ([a-z ]+)\{", ado).group(1).split()   # --`opt' flags
    for flag in re.findall(r"--[a-z0-9-]+", argline):
        assert flag in ado or flag[2:] in looped, flag
    code, message, notes = run(argline)
    assert code == 0 and message == ""
    chars = parse_characteristics(output)
    assert chars[("_dta", "_mi_style")] == "flong" and chars[("_dta", "_mi_ivars")] == "y1 y2"
    back, _ = mlimpute.read_data(output)
    assert set(back.loc[back["_mi_m"] > 0, "y2"].unique()) <= {1.0, 2.0, 3.0}


def test_entry_point_reports_errors_as_one_line(tmp_path):
    code, message, _ = run(f'impute "{tmp_path / "missing.dta"}" -o "{tmp_path / "o.dta"}" --cluster c --quiet')
    assert code == 2 and message.startswith("mlimpute: error:") and "missing.dta" in message
    code, message, _ = run("impute --no-such-option")
    assert code == 2 and message.startswith("mlimpute: error:")


def test_entry_point_passes_warnings_on_and_workers_get_python(tmp_path, monkeypatch, capsys):
    """Without --quiet the run's notes (summary, warnings in words) come back for the ado
    to display; inside Stata (sys.executable is Stata) workers are started with Python."""
    import multiprocessing
    import sys

    from mlimpute import stata_entry
    frame, _ = simulate_mixed(level1=("continuous",), level2=(), n_clusters=10, cluster_size=6, seed=1)
    source = tmp_path / "in.dta"
    mlimpute.write_data(frame, source)
    code, message, notes = run(f'impute "{source}" -o "{tmp_path / "o.dta"}" --cluster cluster '
                               '--m 2 --burnin 3 --between 3 --seed 1')
    assert code == 0 and any("2 imputations" in n for n in notes)
    shown = capsys.readouterr().out.splitlines()            # progress as lines Stata shows
    percents = [int(line.split("%")[0].rsplit(" ", 1)[1]) for line in shown if "imputing" in line]
    assert len(percents) >= 5 and percents == sorted(set(percents)) and percents[-1] == 100
    assert any("increase 'between'" in n or "R-hat" in n or "effective sample" in n for n in notes)
    assert stata_entry.stata_quoted(['a "b"', "c"]) == '`"a "b""\' `"c"\''
    chosen = []
    monkeypatch.setattr(sys, "executable", "/usr/local/stata18/stata-mp")
    monkeypatch.setattr(multiprocessing, "set_executable", chosen.append)
    stata_entry.use_python_for_workers()
    assert chosen and "python" in chosen[0].rsplit("/", 1)[-1] and Path(chosen[0]).is_file()


def test_entry_point_takes_auto_settings_and_deltas_as_the_ado_passes_them(tmp_path):
    """burnin(auto) between(auto) m(#) maxburnin() delta("y1=0.5" "y1=1 if w > 0"): the
    flags the ado builds, the notes on what was chosen come back for Stata to show."""
    frame, _ = simulate_mixed(level1=("continuous",), level2=(), n_clusters=12, cluster_size=6, seed=2)
    source = tmp_path / "in.dta"
    mlimpute.write_data(frame, source)
    argline = (f'impute "{source}" -o "{tmp_path / "o.dta"}" --cluster cluster --responses y1 '
               '--m 3 --burnin auto --between auto --chains 1 --max-burnin 300 --seed 4 '
               '--delta "y1=0.5" --delta "y1=1 if w > 0"')
    ado = ADO.read_text()
    for flag in ("--max-burnin", "--pilot-m", "--se-cv", "--delta"):
        assert flag in ado
    code, message, notes = run(argline)
    assert code == 0 and message == ""
    assert any(n.startswith("mlimpute: note: burn-in:") for n in notes)
    assert any(n.startswith("mlimpute: note: between:") for n in notes)
    back, _ = mlimpute.read_data(tmp_path / "o.dta")
    assert back["_mi_m"].max() == 3


def test_entry_point_takes_several_clusters_as_the_ado_passes_them(tmp_path):
    """cluster(class school) [crossed]: the ado passes the varlist and the flag on."""
    from mlimpute.model.simulate import simulate_multilevel
    frame, _ = simulate_multilevel(n_schools=6, classes=3, pupils=5, seed=2)
    frame["k"] = frame["k"].cat.codes.replace(-1, np.nan).astype(float) + 1
    source = tmp_path / "St01.tmp.dta"
    mlimpute.write_data(frame, source)
    output = tmp_path / "St02.tmp.dta"
    ado = ADO.read_text()
    assert "CLuster(varlist)" in ado and "--crossed" in ado and "CROSSed" in ado
    for crossed in ("", " --crossed"):
        code, message, _ = run(f'impute "{source}" -o "{output}" --cluster class school '
                               f'--responses y k c s --m 2 --burnin 10 --between 3 --chains 1 '
                               f'--quiet --seed 5 --categorical k --covariates x w{crossed}')
        assert code == 0 and message == ""
        back, _ = mlimpute.read_data(output)
        completed = back[back["_mi_m"] == 1]
        assert (completed.groupby("class")["c"].nunique() == 1).all()
        assert (completed.groupby("school")["s"].nunique() == 1).all()
    frame.loc[0, "school"] = 2
    mlimpute.write_data(frame, source)
    code, message, _ = run(f'impute "{source}" -o "{output}" --cluster class school '
                           f'--responses y k c s --quiet --categorical k --covariates x w')
    assert code == 2 and "class 1 lies in two 'school' units" in message


def test_entry_point_takes_a_model_of_interest_as_the_ado_passes_it(tmp_path):
    """model("y ~ x * z + (1 + x | school)") with the varlist y x: the outcome is imputed
    from the model, x from the covariate model; the formula is recorded for pool."""
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("slope", 20, 10, seed=3)
    frame.loc[frame.index[::8], "y"] = np.nan
    source = tmp_path / "St01.tmp.dta"
    mlimpute.write_data(frame, source)
    output = tmp_path / "St02.tmp.dta"
    argline = (f'impute "{source}" -o "{output}" --cluster school --responses y x '
               f'--m 2 --burnin 20 --between 5 --chains 1 --model "y ~ x * z + (1 + x | school)" '
               f'--family gaussian --quiet --seed 5')
    ado = ADO.read_text()
    for flag in re.findall(r"--[a-z0-9-]+", argline):
        assert flag in ado, flag
    code, message, _ = run(argline)
    assert code == 0 and message == ""
    chars = parse_characteristics(output)
    assert chars[("_dta", "_mi_ivars")] == "x y"
    assert chars[("_dta", "mlimpute_model")] == "y ~ x * z + (1 + x | school)"
    back, _ = mlimpute.read_data(output)
    assert not back.loc[back["_mi_m"] > 0, ["x", "y"]].isna().any().any()


#: where the ado looks for Python, as its help file names each place
PYTHON_SOURCES = {"python()": r"python\(", "MLIMPUTE_PYTHON": r"MLIMPUTE_PYTHON",
                  "python set exec": r"python set exec", "mlimpute_python.txt": r"mlimpute_python\.txt",
                  "PATH": r"on the PATH"}


def _source(text: str) -> str:
    found = [key for key, pattern in PYTHON_SOURCES.items() if re.search(pattern, text)]
    assert len(found) == 1, (text, found)
    return found[0]


def test_the_ado_looks_for_python_in_the_order_its_help_documents():
    """The ado's `* python search N:` steps and the help file's "Finding Python" list name
    the same five places in the same order, and each step's code uses its place."""
    text = ADO.read_text()
    steps = re.findall(r"\* python search (\d): (.*)", text)
    assert [int(n) for n, _ in steps] == [1, 2, 3, 4, 5]
    in_ado = [_source(what) for _, what in steps]
    section = HELP.read_text().split("{title:Finding Python}", 1)[1].split("{title:", 1)[0]
    listed = re.findall(r"\{phang2\}(\d)\. (.*?)\{p_end\}", section)
    assert [int(n) for n, _ in listed] == [1, 2, 3, 4, 5]
    assert [_source(what) for _, what in listed] == in_ado
    blocks = re.split(r"\* python search \d: .*", text)[1:]
    uses = {"python()": "`python'", "MLIMPUTE_PYTHON": "$MLIMPUTE_PYTHON",
            "python set exec": "python which mlimpute", "mlimpute_python.txt": "findfile mlimpute_python.txt",
            "PATH": 'local runner "shell"'}
    for source, block in zip(in_ado, blocks):
        assert uses[source] in block, source


def test_a_missing_python_or_package_names_the_command_that_fixes_it():
    """Every way the ado can fail to find mlimpute ends in a message with one command."""
    messages = [line for line in ADO.read_text().splitlines() if "mlimpute" in line and
                re.search(r"does not exist|cannot import|does not have|no Python", line)]
    assert len(messages) == 4, messages
    for message in messages:
        assert "pip install mlimpute" in message, message


def test_net_install_covers_every_file_the_ado_reads():
    """Files the ado looks for (findfile) are shipped by net install or written by
    `mlimpute install-stata`; the help file's anchors exist."""
    from mlimpute.frontends.install import STATA_PYTHON_FILE, stata_package_files
    wanted = set(re.findall(r"findfile (\S+)", ADO.read_text()))
    assert wanted <= set(stata_package_files()) | {STATA_PYTHON_FILE}
    for anchor in re.findall(r"\{help mlimpute##(\w+):", HELP.read_text()):
        assert "{marker " + anchor + "}" in HELP.read_text(), anchor


def test_install_stata_copies_what_net_install_would(tmp_path, monkeypatch, capsys):
    from mlimpute.frontends.cli import main
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["install-stata"]) == 0
    personal = tmp_path / "ado" / "personal"
    from mlimpute.frontends.install import stata_package_files
    for name in stata_package_files():
        assert (personal / name).read_bytes() == (ADO.parent / name).read_bytes()
    assert (personal / "mlimpute_python.txt").read_text().strip() == str(Path(__import__("sys").executable).absolute())
    assert "python set exec" in capsys.readouterr().out
    assert main(["install-stata", str(tmp_path), "--plus"]) == 2      # one or the other
    assert "not both" in capsys.readouterr().err
