"""``mlimpute install-stata`` and ``mlimpute install-r``: put the Stata ado files and the R
package that a pip install carries (:mod:`mlimpute.frontends.resources`) where Stata and R find
them, and tell both front ends which Python runs mlimpute.

Both record the interpreter that runs this command (``sys.executable``, the Python that
has mlimpute), so that neither front end needs an environment variable afterwards:

* Stata: ``mlimpute_python.txt`` beside the ado, which the ado reads when Stata's own
  Python (``python set exec``) cannot import mlimpute; the command also prints the
  ``python set exec`` line that lets Stata 16+ run mlimpute in-process.
* R: ``python-path`` inside the installed package, which ``mlimpute_python()`` reads
  when no environment variable or option says otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import MlimputeError
from ..io.atomic import atomic_write_text
from .resources import shipped

#: the file beside the ado naming the Python interpreter (read by mlimpute.ado)
STATA_PYTHON_FILE = "mlimpute_python.txt"
#: the file inside the installed R package naming the Python interpreter
R_PYTHON_FILE = "python-path"


def python_interpreter() -> str:
    """The Python interpreter that runs mlimpute here."""
    return os.path.abspath(sys.executable)


# ---------------------------------------------------------------------------- Stata
def stata_folders(home: Path | None = None, platform: str | None = None) -> dict[str, Path]:
    """Stata's default PLUS and PERSONAL folders (``sysdir``) on this platform:
    ``~/ado/plus`` and ``~/ado/personal`` on Linux and Windows (``C:\\Users\\<you>\\ado``),
    ``~/Library/Application Support/Stata/ado/plus`` and ``~/Documents/Stata/ado/personal``
    on macOS."""
    home = Path.home() if home is None else home
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        return {"PLUS": home / "Library" / "Application Support" / "Stata" / "ado" / "plus",
                "PERSONAL": home / "Documents" / "Stata" / "ado" / "personal"}
    return {"PLUS": home / "ado" / "plus", "PERSONAL": home / "ado" / "personal"}


def stata_package_files() -> list[str]:
    """The files ``mlimpute.pkg`` lists (what ``net install`` would copy)."""
    pkg = shipped("stata_ado") / "mlimpute.pkg"
    return [line.split(maxsplit=1)[1].strip() for line in pkg.read_text().splitlines()
            if line[:2] in ("f ", "F ")]


def install_stata(folder: str | Path | None = None, plus: bool = False) -> tuple[Path, list[str]]:
    """Copy the ado files into `folder`, or into Stata's PERSONAL folder (default) or PLUS
    folder (``plus=True``; there in the letter subfolder ``m/``, as ``net install`` does),
    with the Python interpreter recorded beside them.  Returns the folder and the files
    written.  Existing copies of these files are replaced (a newer version)."""
    source = shipped("stata_ado")
    if folder is not None:
        target = Path(folder).expanduser()
        if not target.is_dir():
            raise MlimputeError(f"folder '{target}' does not exist; create it or give another")
    else:
        root = stata_folders()["PLUS" if plus else "PERSONAL"]
        target = root / "m" if plus else root
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MlimputeError(f"cannot create Stata's folder '{target}' "
                                f"({exc.strerror or exc}); give a folder: mlimpute "
                                "install-stata DIR") from None
    names = stata_package_files()
    written = []
    try:
        for name in names:
            atomic_write_text(target / name, (source / name).read_text(encoding="utf-8"))
            written.append(name)
        atomic_write_text(target / STATA_PYTHON_FILE, python_interpreter() + "\n")
        written.append(STATA_PYTHON_FILE)
    except OSError as exc:
        raise MlimputeError(f"cannot write into '{target}' ({exc.strerror or exc})") from None
    return target, written


def stata_instructions(target: Path, default_folder: bool) -> str:
    """What to tell a Stata user after :func:`install_stata`."""
    python = python_interpreter()
    lines = [f"mlimpute: installed the Stata command into {target}"]
    if not default_folder:
        lines.append(f'  this folder is not on Stata\'s ado-path: in Stata, adopath + "{target}"')
    lines += ["  Stata 16 or later runs mlimpute in-process once it uses this Python; in Stata, once:",
              f'    python set exec "{python}", permanently',
              "  (otherwise the ado runs it through the shell with the interpreter recorded in "
              f"{STATA_PYTHON_FILE})",
              "  then: help mlimpute"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- R
def _rscript(expression: str, r: str) -> subprocess.CompletedProcess:
    rscript = str(Path(r).with_name("Rscript"))
    return subprocess.run([rscript, "-e", expression], capture_output=True, text=True)


def install_r(lib: str | Path | None = None, r: str | None = None) -> str:
    """``R CMD INSTALL`` the R package this installation carries, into `lib` (default: R's
    first library), with this Python recorded in it.  Returns R's library path."""
    r = r or shutil.which("R")
    if r is None or shutil.which(str(Path(r).with_name("Rscript"))) is None:
        raise MlimputeError("R is not installed (no 'R' and 'Rscript' on the PATH); install R "
                            "(https://cran.r-project.org; Debian/Ubuntu: apt-get install "
                            "r-base-core r-cran-reticulate) and run mlimpute install-r again")
    if lib is not None:
        lib = Path(lib).expanduser().resolve()
        if not lib.is_dir():
            raise MlimputeError(f"--lib '{lib}' does not exist; create the folder first")
    if _rscript("quit(status = !requireNamespace('reticulate', quietly = TRUE))", r).returncode:
        raise MlimputeError("the R package needs the R package 'reticulate': in R, "
                            "install.packages('reticulate') (Debian/Ubuntu: apt-get install "
                            "r-cran-reticulate), then run mlimpute install-r again")
    with tempfile.TemporaryDirectory(prefix="mlimpute-r-") as tmp:
        package = Path(tmp) / "mlimpute"
        shutil.copytree(shipped("r_package"), package,
                        ignore=shutil.ignore_patterns("*.Rcheck", "*.tar.gz", "inst"))
        (package / "inst").mkdir()
        (package / "inst" / R_PYTHON_FILE).write_text(python_interpreter() + "\n")
        command = [r, "CMD", "INSTALL"]
        if lib is not None:
            command += ["-l", str(lib)]
        run = subprocess.run(command + [str(package)], capture_output=True, text=True)
    if run.returncode != 0:
        last = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
        raise MlimputeError(f"R CMD INSTALL failed: {last[-1] if last else 'no message'}")
    if lib is None:
        found = _rscript("cat(dirname(find.package('mlimpute')))", r)
        lib = found.stdout.strip() if found.returncode == 0 else "R's library"
    return str(lib)
