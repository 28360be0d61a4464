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
import pandas as pd
import pytest

HERE = Path(__file__).parent
#: the repository
ROOT = HERE.parent
R_SCRIPTS = HERE / "r"
REFERENCE = HERE / "reference"
#: relative tolerance of a stored floating-point reference: rounding, not statistics.
#: Another CPU (another BLAS kernel, another order of sums) changes the last bits; a
#: real change of the computation moves far more (see tests/README.md)
ROUNDING = 1e-9
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
    """Write simulated two-level data (``mlimpute.model.simulate.simulate(**options)``) as a CSV
    file in `folder`; the input most command-line tests start from."""
    from mlimpute.model.simulate import simulate
    frame, _ = simulate(**options)
    path = Path(folder) / name
    frame.to_csv(path, index=False)
    return path


def assert_matches_reference(actual: pd.DataFrame, name: str, rtol: float = ROUNDING) -> None:
    """`actual` equals the frame stored in tests/reference/`name` (CSV): the same columns
    and rows, text and categories exactly, numbers within `rtol` of each column's scale
    (never bytes or hashes of floats, which differ from one CPU to another)."""
    expected = pd.read_csv(REFERENCE / name)
    assert list(actual.columns) == list(expected.columns), (list(actual.columns), list(expected.columns))
    assert len(actual) == len(expected), (len(actual), len(expected))
    for column in expected.columns:
        have, want = actual[column].reset_index(drop=True), expected[column]
        if pd.api.types.is_numeric_dtype(want) and pd.api.types.is_numeric_dtype(have):
            want = want.to_numpy(dtype=float)
            scale = np.nanmax(np.abs(want)) if np.isfinite(want).any() else 0.0
            np.testing.assert_allclose(have.to_numpy(dtype=float), want, rtol=rtol,
                                       atol=rtol * scale, equal_nan=True, err_msg=column)
        else:
            as_text = lambda s: [None if pd.isna(v) else str(v) for v in s]   # noqa: E731
            assert as_text(have) == as_text(want), column


@pytest.fixture(params=[1, 2], ids=["blas1", "blas2"])
def blas_threads(request, monkeypatch):
    """Run a reference test under one and under two BLAS threads (the sampler's
    ``MLIMPUTE_BLAS_THREADS``): that changes the order of floating-point sums as another
    CPU does, and the stored reference must hold both ways."""
    monkeypatch.setenv("MLIMPUTE_BLAS_THREADS", str(request.param))
    return request.param
