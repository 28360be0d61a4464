"""README's "From Stata" (command line), "From R" and "From MLwiN" sections run as written: the R block with the
installed r_package, and the command-line blocks on the files they name."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main

from conftest import ROOT, require_r



def section_blocks(language: str, section: str = "From R") -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


@pytest.mark.r
def test_r_block_runs_and_pools(tmp_path):
    require_r("reticulate", "mitml", "mice", "lme4")
    library = tmp_path / "lib"
    library.mkdir()
    install = subprocess.run(["R", "CMD", "INSTALL", "-l", str(library), str(ROOT / "r_package")],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    (code,) = section_blocks("r")
    (tmp_path / ".venv").symlink_to(sys.prefix)           # the block's ./.venv is this venv
    script = tmp_path / "readme.R"
    script.write_text(code)
    run = subprocess.run(["Rscript", str(script)], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "R_LIBS": str(library)})
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "ReadDis" in out and "(Intercept)" in out
    assert "Estimate" in out and "estimate" in out and "std_error" in out


def test_command_line_block_on_rds(tmp_path, monkeypatch):
    frame = pd.DataFrame({"ID": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4] * 3,
                          "ReadAchiev": [float(v) for v in range(36)],
                          "SES": [1.0, None, 2.0, 3.0, 1.5, None, 2.5, 3.5, None, 1.0, 2.0, 3.0] * 3})
    mlimpute.write_data(frame, tmp_path / "ratings.rds")
    monkeypatch.chdir(tmp_path)
    (command,) = section_blocks("bash")
    args = shlex.split(command.strip())
    assert args[0] == "mlimpute"
    assert main(args[1:]) == 0
    stacked, _ = mlimpute.read_data(tmp_path / "ratings_mi.rds")
    assert list(stacked.columns[:2]) == [".imp", ".id"] and stacked[".imp"].max() == 5


def test_mlwin_blocks(tmp_path, monkeypatch):
    frame = pd.DataFrame({"class": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4] * 3,
                          "nmatpre": [float(v) for v in range(36)],
                          "nmatpost": [1.0, None, 2.0, 3.0, 1.5, None, 2.5, 3.5, None, 1.0, 2.0, 3.0] * 3})
    mlimpute.write_data(frame, tmp_path / "fromMLwiN.dta", dta_format=114)
    monkeypatch.chdir(tmp_path)
    (block,) = section_blocks("bash", "From MLwiN")
    commands = [shlex.split(line) for line in block.strip().splitlines()]
    assert len(commands) == 2
    for args in commands:
        assert args[0] == "mlimpute" and main(args[1:]) == 0
    index = (tmp_path / "forMLwiN" / "impvals.txt").read_text().splitlines()
    assert index[0] == "nmatpost" and index[2] == "5"
    stacked, _ = mlimpute.read_data(tmp_path / "stacked114.dta")
    assert stacked["_mi_m"].max() == 5
    assert (tmp_path / "stacked114.dta").read_bytes()[0] == 114          # format 114 header


def test_stata_command_line_block(tmp_path, monkeypatch):
    """On the shipped class-size fixture saved as pupils.dta; the output is mi-set."""
    from dta_parser import parse_characteristics
    frame = pd.read_csv(ROOT / "fixtures" / "classsize.csv")
    mlimpute.write_data(frame, tmp_path / "pupils.dta")
    monkeypatch.chdir(tmp_path)
    (block,) = section_blocks("bash", "From Stata")
    args = shlex.split(block.strip())
    assert args[0] == "mlimpute" and main(args[1:]) == 0
    stacked, _ = mlimpute.read_data(tmp_path / "pupils_mi.dta")
    assert stacked["_mi_m"].max() == 20 and len(stacked) == 21 * len(frame)
    chars = parse_characteristics(tmp_path / "pupils_mi.dta")
    assert chars[("_dta", "_mi_style")] == "flong" and chars[("_dta", "_mi_M")] == "20"
    assert chars[("_dta", "_mi_ivars")] == "nmatpost nlitpost nmatpre nlitpre csize4"
