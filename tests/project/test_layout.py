"""bridge/ is laid out by role with one direction of imports, and the engine imports
nothing of it: the import-linter contracts of pyproject.toml hold, no import circle
exists anywhere, each subpackage says what it holds and what it may import, and the
module names of earlier releases still import.

import-linter reads the import graph from the package's folder; in an editable install
``mlimpute`` is bridge/ and ``mlimpute.engine`` a folder beside it, which the graph would
miss.  So the checks run on a copy in the shape a wheel installs (the engine inside)."""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

LAYERS = ("frontends", "run", "analysis", "model", "io")


def _copy(into: Path) -> Path:
    package = into / "mlimpute"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "bridge", package, ignore=ignore)
    shutil.copytree(ROOT / "engine", package / "engine", ignore=ignore)
    return package


@pytest.fixture(scope="module")
def installed_shape(tmp_path_factory) -> Path:
    return _copy(tmp_path_factory.mktemp("layout"))


def _python(package: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True)


def _lint(package: Path) -> subprocess.CompletedProcess:
    return _python(package, "import mlimpute, sys\n"
                   f"assert mlimpute.__file__.startswith({str(package)!r}), mlimpute.__file__\n"
                   "from importlinter.cli import lint_imports\n"
                   "sys.exit(lint_imports(config_filename='pyproject.toml'))")


def test_the_import_contracts_hold(installed_shape):
    run = _lint(installed_shape)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken" in run.stdout, run.stdout[-2000:]


@pytest.mark.parametrize("module, line", [
    ("io/csv.py", "from ..model import spec"),
    ("model/spec.py", "from ..run import api"),
    ("analysis/pool.py", "from ..run import result"),
    ("engine/linalg.py", "from mlimpute.io import atomic"),
    ("errors.py", "from .model import spec"),
])
def test_an_import_against_the_direction_breaks_a_contract(tmp_path, module, line):
    package = _copy(tmp_path)
    target = package / module
    # inside a function, as the lazy imports are: the graph counts them all the same
    target.write_text(target.read_text() + f"\n\ndef _upward():\n    {line}\n")
    run = _lint(package)
    assert run.returncode != 0 and "BROKEN" in run.stdout, run.stdout[-2000:]


CYCLES = """
import grimp, sys
graph = grimp.build_graph("mlimpute", include_external_packages=False)
edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        part = []
        while True:
            w = stack.pop(); on.discard(w); part.append(w)
            if w == v:
                break
        if len(part) > 1:
            found.append(sorted(part))
for v in sorted(edges):
    if v not in index:
        visit(v)
print(len(graph.modules), "modules")
print("CYCLES", found)
"""


def test_no_import_circle_anywhere(installed_shape):
    run = _python(installed_shape, CYCLES)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "CYCLES []" in run.stdout, run.stdout
    modules = int(run.stdout.split()[0])
    assert modules > 60          # the engine is in the graph too


@pytest.mark.parametrize("layer", LAYERS)
def test_each_subpackage_says_what_it_holds_and_what_it_may_import(layer):
    doc = importlib.import_module(f"mlimpute.{layer}").__doc__ or ""
    assert len(doc.split()) > 25
    assert "May import" in doc or "imports nothing" in doc
    assert "Must not" in doc or "Nothing imports it" in doc or "every other layer may" in doc


def test_the_module_names_of_earlier_releases_still_import():
    import mlimpute
    for old, new in mlimpute._MOVED.items():
        assert importlib.import_module(f"mlimpute.{old}") is importlib.import_module(f"mlimpute.{new}")
    from mlimpute.fit import fit_pooled                      # README's Python section
    from mlimpute.analysis.fit import fit_pooled as same
    assert fit_pooled is same
    assert mlimpute.pool.rubin is importlib.import_module("mlimpute.analysis.pool").rubin
    # an old name that is also a function's leaves the function in place, and each module
    # keeps its own name and spec (pickling and multiprocessing find it by them)
    assert callable(mlimpute.propose) and mlimpute.propose.__name__ == "propose"
    for old, new in mlimpute._MOVED.items():
        module = importlib.import_module(f"mlimpute.{old}")
        assert module.__name__ == module.__spec__.name == f"mlimpute.{new}"


def test_the_bridge_folder_holds_only_the_layers():
    top = sorted(p.name for p in (ROOT / "bridge").iterdir() if not p.name.startswith("__pycache__"))
    assert top == sorted(["__init__.py", "__main__.py", "errors.py", *LAYERS])
