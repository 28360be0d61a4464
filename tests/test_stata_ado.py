"""The Stata front end: the ado is well-formed and documented, and its Python entry point
works end to end with the arguments the ado builds (Stata itself is not available here)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import mlimpute
from mlimpute.stata_entry import run
from mlimpute.simulate import simulate_mixed

from test_stata_mi import parse_characteristics

ADO = Path(__file__).resolve().parent.parent / "stata_ado" / "mlimpute.ado"
HELP = ADO.with_suffix(".sthlp")


def _syntax_options() -> list[str]:
    text = ADO.read_text()
    syntax = re.search(r"syntax (.*?)\n\n", text, re.S).group(1).replace("///", " ")
    options = syntax.split(",", 1)[1]
    return [m.lower() for m in re.findall(r"\b([A-Z]+[a-z0-9]*)(?=\(|\s|\])", options)]


def test_ado_blocks_are_balanced():
    text = ADO.read_text()
    code = "\n".join(line.split("//")[0] for line in text.splitlines() if not line.lstrip().startswith("*"))
    assert code.count("{") == code.count("}")
    assert len(re.findall(r"^program define", code, re.M)) == len(re.findall(r"^end\s*$", code, re.M)) == 1
    assert text.count("preserve") >= 1 and "restore, not" in text


def test_every_ado_option_is_documented():
    options = _syntax_options()
    assert {"cluster", "m", "burnin", "between", "seed", "ordinal", "categorical", "binary",
            "covariates", "randomslopes", "level1wgt", "level2wgt", "saving", "replace"} <= set(options)
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
    code, message = run(argline)
    assert code == 0 and message == ""
    chars = parse_characteristics(output)
    assert chars[("_dta", "_mi_style")] == "flong" and chars[("_dta", "_mi_ivars")] == "y1 y2"
    back, _ = mlimpute.read_data(output)
    assert set(back.loc[back["_mi_m"] > 0, "y2"].unique()) <= {1.0, 2.0, 3.0}


def test_entry_point_reports_errors_as_one_line(tmp_path):
    code, message = run(f'impute "{tmp_path / "missing.dta"}" -o "{tmp_path / "o.dta"}" --cluster c --quiet')
    assert code == 2 and message.startswith("mlimpute: error:") and "missing.dta" in message
    code, message = run("impute --no-such-option")
    assert code == 2 and message.startswith("mlimpute: error:")
