"""Build R's source package of mlimpute with the Python package inside it, for R users
without pip: ``R CMD INSTALL mlimpute_<version>.tar.gz`` then, in R,
``mlimpute::install_mlimpute()`` installs the bundled wheel (``inst/python``) into a
virtual environment.

    python .ci/r_source_package.py --wheel dist/mlimpute-0.1.0-py3-none-any.whl --out dist

`make r-package` runs it after `make dist`.  The vignette is built by R CMD build, so
the Python running this script must have mlimpute (it is passed on as MLIMPUTE_PYTHON).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(wheel: Path, out: Path, vignettes: bool = True) -> Path:
    """The R source tarball, written into `out`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlimpute-rbuild-") as tmp:
        package = Path(tmp) / "mlimpute"
        shutil.copytree(ROOT / "r_package", package,
                        ignore=shutil.ignore_patterns("*.Rcheck", "*.tar.gz", "inst"))
        (package / "inst" / "python").mkdir(parents=True)
        shutil.copy2(wheel, package / "inst" / "python" / wheel.name)
        command = ["R", "CMD", "build", "--no-manual"]
        if not vignettes:
            command.append("--no-build-vignettes")
        env = {**os.environ, "MLIMPUTE_PYTHON": sys.executable}
        run = subprocess.run(command + [str(package)], cwd=tmp, capture_output=True, text=True,
                             env=env)
        if run.returncode != 0:
            raise SystemExit(f"R CMD build failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
        (tarball,) = Path(tmp).glob("mlimpute_*.tar.gz")
        target = out / tarball.name
        shutil.move(str(tarball), target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the Python wheel to bundle")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--no-vignettes", action="store_true")
    args = parser.parse_args(argv)
    print(build(args.wheel.resolve(), args.out.resolve(), not args.no_vignettes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
