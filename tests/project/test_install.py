"""Installing mlimpute as pip, Stata and R users do, in clean environments outside the
repository: the wheel carries the ado files, the R package and the demo data;
``mlimpute demo``, ``install-stata`` and ``install-r`` work from any folder; the R
package's ``install_mlimpute()`` sets up its Python side from the wheel bundled inside
it, and later R sessions find it without any environment variable."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, require_r

CONSTRAINTS = ROOT / ".ci" / "constraints.txt"
#: what the environment of a clean run keeps: the machine's own settings (search path,
#: locale, and how pip reaches the package index), nothing of this session's Python
#: set-up (no PYTHONPATH, VIRTUAL_ENV, RETICULATE_PYTHON, MLIMPUTE_PYTHON, ...)
KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "CI", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
        "http_proxy", "https_proxy", "no_proxy")


def clean_env(home: Path, **extra) -> dict:
    """An environment with nothing of this session's Python set-up, and `home` as HOME
    (so that Stata's and R's per-user folders are the test's own)."""
    env = {k: v for k, v in os.environ.items() if k in KEEP or k.startswith("PIP_")}
    cache = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    env.update(HOME=str(home), PIP_CACHE_DIR=cache, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def run(command, cwd, env, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """What `python -m build` makes from this checkout: the sdist, and the wheel built
    from that sdist (so the sdist holds everything a build needs)."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out, env={**os.environ})
    return out


@pytest.fixture(scope="session")
def wheel(dist) -> Path:
    (found,) = dist.glob("mlimpute-*.whl")
    return found


def _front_end_files() -> list[str]:
    """The Stata, R and demo files a distribution must carry, relative to the checkout."""
    stata = [line.split(maxsplit=1)[1] for line in (ROOT / "stata_ado" / "mlimpute.pkg")
             .read_text().splitlines() if line[:2] in ("f ", "F ")]
    r = [str(p.relative_to(ROOT)) for p in (ROOT / "r_package").rglob("*")
         if p.is_file() and not p.name.startswith(".")]
    return [f"stata_ado/{n}" for n in stata + ["stata.toc", "mlimpute.pkg"]] + r + \
        ["fixtures/classsize.csv"]


@pytest.fixture(scope="session")
def pip_user(tmp_path_factory, wheel):
    """A new virtual environment, outside the repository, with the wheel pip-installed
    (dependencies at the lock file's versions): what `pip install mlimpute` gives."""
    home = tmp_path_factory.mktemp("home")
    venv = home / "venv"
    env = clean_env(home)
    run([sys.executable, "-m", "venv", venv], cwd=home, env=env)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, wheel], cwd=home, env=env,
        timeout=1200)
    return {"home": home, "python": python, "mlimpute": venv / "bin" / "mlimpute", "env": env}


def test_wheel_and_sdist_carry_the_front_ends_and_the_demo_data(dist, wheel):
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    (sdist,) = dist.glob("mlimpute-*.tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in _front_end_files():
        assert f"mlimpute/{name}" in in_wheel, name
        assert name in in_sdist, name


def test_pip_user_runs_the_demo_from_any_folder(pip_user, tmp_path):
    where = run([pip_user["python"], "-c", "import mlimpute; print(mlimpute.__file__)"],
                cwd=tmp_path, env=pip_user["env"]).stdout.strip()
    assert Path(where).is_relative_to(pip_user["home"] / "venv"), where    # not the checkout
    out = run([pip_user["mlimpute"], "demo", "--quiet", "--out", "demo"], cwd=tmp_path,
              env=pip_user["env"]).stdout
    assert (tmp_path / "demo" / "classsize_mi.dta").is_file()
    for shown in ("7394 pupils in 329 classes", "CC estimate (se)", "MI estimate (se)",
                  "nmatpre", "var(class)", "icc(class)"):
        assert shown in out, shown
    version = run([pip_user["python"], "-m", "mlimpute", "--version"], cwd=tmp_path,
                  env=pip_user["env"]).stdout
    assert version.startswith("mlimpute ")


def test_install_stata_puts_the_ado_where_stata_finds_it(pip_user, tmp_path):
    env = {**pip_user["env"], "HOME": str(tmp_path)}
    printed = run([pip_user["mlimpute"], "install-stata"], cwd=tmp_path, env=env).stdout
    personal = tmp_path / "ado" / "personal"
    for name in ("mlimpute.ado", "mlimpute.sthlp"):
        assert (personal / name).read_bytes() == (ROOT / "stata_ado" / name).read_bytes()
    recorded = (personal / "mlimpute_python.txt").read_text().strip()
    assert recorded == str(pip_user["python"])
    assert f'python set exec "{pip_user["python"]}", permanently' in printed
    # the recorded interpreter runs the command line, as the ado's shell route calls it
    assert run([recorded, "-m", "mlimpute", "--version"], cwd=tmp_path, env=env).stdout
    run([pip_user["mlimpute"], "install-stata", "--plus"], cwd=tmp_path, env=env)
    assert (tmp_path / "ado" / "plus" / "m" / "mlimpute.ado").is_file()
    folder = tmp_path / "mine"
    folder.mkdir()
    printed = run([pip_user["mlimpute"], "install-stata", folder], cwd=tmp_path, env=env).stdout
    assert (folder / "mlimpute.ado").is_file() and f'adopath + "{folder}"' in printed
    refused = subprocess.run([pip_user["mlimpute"], "install-stata", tmp_path / "absent"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "does not exist" in refused.stderr


R_SESSION = """
library(mlimpute)
data(studentratings, package = "mitml")
d <- studentratings[studentratings$ID %in% unique(studentratings$ID)[1:20], c("ID", "ReadDis", "SES", "ReadAchiev")]
imp <- mlimpute(d, ReadDis + SES ~ 1 + ReadAchiev + (1 | ID), m = 2, burnin = 50, between = 10, seed = 1)
stopifnot(length(imp) == 2, !anyNA(imp[[1]]$ReadDis))
cat("python:", reticulate::py_config()$python, "\\n")
"""


@pytest.mark.r
def test_install_r_sets_up_the_r_package_with_this_python(pip_user, tmp_path):
    require_r("reticulate", "mitml")
    library = tmp_path / "lib"
    library.mkdir()
    env = {**pip_user["env"], "HOME": str(tmp_path)}
    printed = run([pip_user["mlimpute"], "install-r", "--lib", library], cwd=tmp_path, env=env).stdout
    assert str(library) in printed
    script = tmp_path / "session.R"
    script.write_text(R_SESSION)
    out = run(["Rscript", script], cwd=tmp_path, env={**env, "R_LIBS": str(library)}).stdout
    assert f"python: {pip_user['python']}" in out


@pytest.mark.r
def test_an_r_user_sets_up_python_with_install_mlimpute(wheel, tmp_path):
    """The R source package with the wheel inside (make r-package), installed as R users
    install packages; install_mlimpute() makes the environment; a new R session finds it."""
    require_r("reticulate", "mitml")
    tarball = run([sys.executable, ROOT / ".ci" / "r_source_package.py", "--wheel", wheel,
                   "--out", tmp_path / "dist", "--no-vignettes"], cwd=tmp_path,
                  env={**os.environ}).stdout.strip()
    library = tmp_path / "lib"
    library.mkdir()
    env = clean_env(tmp_path, R_LIBS=str(library), R_USER_CONFIG_DIR=str(tmp_path / "config"))
    run(["R", "CMD", "INSTALL", "-l", library, tarball], cwd=tmp_path, env=env)
    # before: the error says what to run
    missing = subprocess.run(["Rscript", "-e", "library(mlimpute); mlimpute_python()"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "mlimpute::install_mlimpute()" in missing.stderr, missing.stderr
    venv = tmp_path / "r-env"
    run(["Rscript", "-e", f"mlimpute::install_mlimpute(envname = '{venv}', "
                          f"python = '{sys.executable}')"], cwd=tmp_path, env=env, timeout=1200)
    script = tmp_path / "session.R"
    script.write_text(R_SESSION)
    out = run(["Rscript", script], cwd=tmp_path, env=env).stdout
    assert f"python: {venv / 'bin' / 'python'}" in out


def test_make_demo_from_a_clean_checkout(tmp_path):
    """README's first set-up command in a fresh copy of the repository (the files git
    tracks), with nothing of this session's environment: it creates .venv from the lock
    file, imputes the fixture and prints the pooled table."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                 env={**os.environ}).stdout
    checkout = tmp_path / "mlimpute"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = checkout / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    out = run(["make", "demo"], cwd=checkout, env=clean_env(tmp_path), timeout=1800).stdout
    assert (checkout / "demo_output" / "classsize_mi.dta").is_file()
    assert "MI estimate (se)" in out and "icc(class)" in out


def test_readme_shows_every_tested_route():
    """The set-up section names the commands these tests run."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up\n", 1)[1].split("\n## ", 1)[0]
    for command in ("make demo", "make test", "pip install mlimpute", "mlimpute demo",
                    "mlimpute install-stata", "mlimpute install-r", "install_mlimpute()",
                    "R CMD INSTALL mlimpute_0.1.0.tar.gz", "net install mlimpute", "python set exec"):
        assert command in section, command
