"""The R package r_package/ builds, installs and passes `R CMD check --no-manual` (its
testthat tests included: formula/type/default models, as.mitml.list + lmer +
testEstimates, mlimpute_mids + pool, mlimpute_pool against testEstimates, one-line errors),
with the Python side found through RETICULATE_PYTHON; R CMD build runs the vignette
(install, impute, with()/testEstimates, as.mids, pooled variance components)."""
from __future__ import annotations

import html
import os
import re
import shutil
import tarfile
import subprocess
import sys

import pytest

from conftest import ROOT, require_r

PACKAGE = ROOT / "r_package"


@pytest.mark.r
def test_r_cmd_check_passes(tmp_path):
    require_r("reticulate", "testthat", "mitml", "mice", "lme4")
    env = {**os.environ, "RETICULATE_PYTHON": sys.executable, "CI": "true",
           "_R_CHECK_FORCE_SUGGESTS_": "true"}
    source = tmp_path / "r_package"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("*.Rcheck", "*.tar.gz"))
    build = subprocess.run(["R", "CMD", "build", "--no-manual", str(source)], cwd=tmp_path,
                           capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stderr[-2000:]
    tarball = next(tmp_path.glob("mlimpute_*.tar.gz"))
    with tarfile.open(tarball) as archive:          # the vignette ran, with its output
        page = archive.extractfile("mlimpute/inst/doc/mlimpute.html").read().decode()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "was not available when this vignette was built" not in text
    for shown in ("Final parameter estimates and inferences obtained from 10 imputed data sets",
                  "ICC|ID", "std.error", "var(ID)", "icc(ID)"):
        assert shown in text, shown
    check = subprocess.run(["R", "CMD", "check", "--no-manual", tarball.name], cwd=tmp_path,
                           capture_output=True, text=True, env=env)
    log = check.stdout + check.stderr
    assert check.returncode == 0, log[-3000:]
    assert "Status: OK" in log or "Status: 1 NOTE" in log, log[-3000:]
    assert "WARNING" not in log and "ERROR" not in log
    assert "[ FAIL 0 | WARN 0 | SKIP 0" in (tmp_path / "mlimpute.Rcheck" / "tests" / "testthat.Rout").read_text()
