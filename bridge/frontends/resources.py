"""Files mlimpute carries beside its code: the Stata ado files (``stata_ado``), the R
package's sources (``r_package``) and the demo data (``fixtures``).

A wheel installs them inside the package (``site-packages/mlimpute/stata_ado``, ...), as
``pyproject.toml``'s package data; in a source checkout they are the repository's own
top-level folders.  ``mlimpute demo``, ``install-stata`` and ``install-r`` find them here.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import MlimputeError

#: the folders shipped with the package
SHIPPED = ("stata_ado", "r_package", "fixtures")


def shipped(name: str) -> Path:
    """The folder `name` (one of :data:`SHIPPED`) of this installation."""
    if name not in SHIPPED:
        raise ValueError(f"unknown shipped folder {name!r}")
    import mlimpute
    package = Path(mlimpute.__file__).resolve().parent
    for candidate in (package / name, package.parent / name):
        if candidate.is_dir():
            return candidate
    raise MlimputeError(f"this installation of mlimpute ({package}) lacks its {name} folder; "
                        "reinstall it: pip install --force-reinstall mlimpute")


def demo_data() -> Path:
    """The simulated class-size data of the worked example (7,394 pupils in 329 classes)."""
    return shipped("fixtures") / "classsize.csv"
