"""mlimpute.frontends.r: R data.frames in and out through rpy2 (the `r` extra; installed in CI)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from mlimpute.errors import MlimputeError

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="module")
def ro():
    try:
        from mlimpute.frontends.r import _robjects
        robjects = _robjects()
    except Exception as exc:               # noqa: BLE001 - rpy2 missing or R not found
        if IN_CI:
            pytest.fail(f"CI needs rpy2: {exc}")
        pytest.skip(f"rpy2 not available: {exc}")
    return robjects


def test_round_trip_keeps_r_types(ro):
    from mlimpute import r as mlr
    original = ro.r('''data.frame(id = c(1L, 1L, 2L), x = c(1.5, NA, 3),
                    f = factor(c("a", NA, "b")), o = factor(c("lo", "hi", "lo"), levels = c("lo", "hi"), ordered = TRUE),
                    n = c(NA, 2L, 3L))''')
    frame, _ = mlr.to_pandas(original)
    assert frame["o"].cat.ordered and list(frame["f"].cat.categories) == ["a", "b"]
    assert str(frame["n"].dtype) == "Int32" and frame["id"].dtype == np.int32
    back = mlr.to_r(frame)
    assert ro.r["identical"](back, original)[0]


def test_impute_an_r_data_frame(ro):
    from mlimpute import r as mlr
    ratings = ro.r('mitml::studentratings[mitml::studentratings$ID %in% unique(mitml::studentratings$ID)[1:30], c("ID", "ReadAchiev", "ReadDis", "SES")]')
    long = mlr.impute(ratings, cluster="ID", m=3, burnin=30, between=5, seed=1)
    ro.globalenv["long"] = long
    assert ro.r('class(mice::as.mids(long))')[0] == "mids"
    assert list(ro.r('sort(unique(long$.imp))')) == [0, 1, 2, 3]
    assert not ro.r('anyNA(long$SES[long$.imp > 0])')[0]
    assert ro.r('identical(long$SES[long$.imp == 1][!is.na(long$SES[long$.imp == 0])], '
                'long$SES[long$.imp == 0][!is.na(long$SES[long$.imp == 0])])')[0]


def test_worker_processes_start_under_embedded_r(ro):
    """R's start-up sets LD_LIBRARY_PATH to folders that may hold another libpython (Debian's
    /usr/lib/x86_64-linux-gnu); a Python started from here (multiprocessing's spawn and
    forkserver, Dask's workers) must still load its own.  The chains of a run then give the
    in-process bytes."""
    import subprocess
    import sys
    # the C-level environment, as a spawned worker gets it; _ssl needs this Python's own
    # libpython (Dask's workers import it), a plain `import os` would pass either way
    child = subprocess.run([sys.executable, "-c", "import ssl, sys; print(sys.version)"],
                           capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-500:]
    assert child.stdout.strip() == sys.version
    from mlimpute import r as mlr
    ratings = ro.r('mitml::studentratings[mitml::studentratings$ID %in% unique(mitml::studentratings$ID)[1:20], c("ID", "ReadAchiev", "SES")]')
    runs = [mlr.impute(ratings, cluster="ID", m=2, burnin=20, between=5, seed=4, chains=2,
                       workers=workers) for workers in (1, 2)]
    ro.globalenv["a"], ro.globalenv["b"] = runs
    assert ro.r("identical(a, b)")[0]


def test_non_data_frame_is_refused(ro):
    from mlimpute import r as mlr
    with pytest.raises(MlimputeError, match="expected an R data.frame, got an object of class list"):
        mlr.to_pandas(ro.r("list(a = 1)"))
    with pytest.raises(MlimputeError, match="give a spec or a cluster"):
        mlr.impute(ro.r("data.frame(a = 1)"))
