"""Shared test helpers: simulated data, and running the R reference scripts.

In CI (CI=true) a missing R or R package is an error, not a skip: the comparisons
against jomo/mitml are the point of those tests.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
R_SCRIPTS = HERE / "r"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _r_problem(packages) -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    check = "; ".join(f"if (!requireNamespace('{p}', quietly=TRUE)) stop('{p}')"
                      for p in packages or ("stats",))
    run = subprocess.run(["Rscript", "-e", check], capture_output=True, text=True)
    if run.returncode != 0:
        return f"R package missing: {run.stderr.strip().splitlines()[-1] if run.stderr else '?'}"
    return None


def require_r(*packages: str) -> None:
    """Skip (locally) or fail (in CI) when R or one of `packages` is unavailable."""
    problem = _r_problem(packages)
    if problem:
        if IN_CI:
            pytest.fail(f"CI needs R for this test: {problem}")
        pytest.skip(problem)


def run_r(script: str, *args) -> subprocess.CompletedProcess:
    """Run one of the checked-in R scripts in tests/r with arguments; raise on failure."""
    run = subprocess.run(["Rscript", str(R_SCRIPTS / script), *map(str, args)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise AssertionError(f"{script} failed:\n{run.stderr[-2000:]}")
    return run


def z_scores(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Difference of posterior means in units of the combined Monte Carlo SE."""
    from mlimpute.engine import monte_carlo_se
    return (ours.mean(axis=0) - theirs.mean(axis=0)) / np.sqrt(
        monte_carlo_se(ours) ** 2 + monte_carlo_se(theirs) ** 2)


def simulated_csv(folder: Path, name: str = "in.csv", **options) -> Path:
    """Write simulated two-level data (``mlimpute.simulate.simulate(**options)``) as a CSV
    file in `folder`; the input most command-line tests start from."""
    from mlimpute.simulate import simulate
    frame, _ = simulate(**options)
    path = Path(folder) / name
    frame.to_csv(path, index=False)
    return path
