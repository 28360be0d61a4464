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
        import rpy2.robjects as robjects
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


def test_non_data_frame_is_refused(ro):
    from mlimpute import r as mlr
    with pytest.raises(MlimputeError, match="expected an R data.frame, got an object of class list"):
        mlr.to_pandas(ro.r("list(a = 1)"))
    with pytest.raises(MlimputeError, match="give a spec or a cluster"):
        mlr.impute(ro.r("data.frame(a = 1)"))
