"""Helpers for Python users who drive R through rpy2 (``pip install mlimpute[r]``;
rpy2 3.5.x works with Debian's R 4.2, rpy2 3.6 needs R >= 4.5).

    import rpy2.robjects as ro
    from mlimpute import r as mlr
    ratings = ro.r('mitml::studentratings')
    long = mlr.impute(ratings, cluster="ID", m=5, seed=1)     # an R data.frame, long shape
    ro.globalenv["imp"] = long
    ro.r('mice::as.mids(imp)')

Objects cross between R and pandas as .rds files, read and written by
:mod:`mlimpute.io.rfiles`: factors, ordered factors, integer vs double and NA keep
exactly the rules documented there, the same as for .rds files on disk (rpy2's own
pandas conversion turns integer NA and factors into version-dependent types).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from ..run.api import impute as _impute
from ..errors import MlimputeError
from ..io import Metadata, read_data, write_data
from ..model.propose import propose
from ..model.spec import Spec
from ..engine.parallel import put_python_library_first


def _robjects():
    try:
        import rpy2.robjects as robjects
    except ImportError as exc:        # rpy2 missing or R not found
        raise MlimputeError(f"mlimpute.r needs rpy2 and R ({exc}); "
                            "install with: pip install 'mlimpute[r]'") from None
    put_python_library_first()      # R's start-up set LD_LIBRARY_PATH for worker processes
    return robjects


def to_pandas(r_frame) -> tuple[pd.DataFrame, Metadata]:
    """An R data.frame (rpy2 object) as a pandas frame and its labels."""
    robjects = _robjects()
    if not robjects.r["is.data.frame"](r_frame)[0]:
        classes = ", ".join(robjects.r["class"](r_frame))
        raise MlimputeError(f"expected an R data.frame, got an object of class {classes}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.rds"
        robjects.r["saveRDS"](r_frame, str(path))
        return read_data(path)


def to_r(frame: pd.DataFrame, metadata: Metadata | None = None):
    """A pandas frame as an R data.frame (rpy2 object)."""
    robjects = _robjects()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.rds"
        write_data(frame, path, metadata)
        return robjects.r["readRDS"](str(path))


def impute(r_frame, spec: Spec | None = None, *, cluster: str | None = None,
           m: int | None = None, burnin: int | None = None, between: int | None = None,
           seed: int | None = None, chains: int | None = None, workers: int | None = None,
           style: str = "long", progress: bool = False, **propose_options):
    """Impute an R data.frame; the stacked result (R long shape by default) as an R
    data.frame.  `spec`, or `cluster` with :func:`mlimpute.propose`'s options, gives
    the model; m, burnin, between, seed and chains override its MCMC settings when given;
    `workers` processes run the chains, as in :func:`mlimpute.impute`."""
    frame, metadata = to_pandas(r_frame)
    if spec is None:
        if cluster is None:
            raise MlimputeError("give a spec or a cluster column")
        spec = propose(frame, cluster, value_labels=metadata.value_labels, **propose_options)
    spec = spec.with_mcmc(m=m, burnin=burnin, between=between, seed=seed, chains=chains)
    result = _impute(frame, spec, progress=progress, workers=workers)
    return to_r(result.stacked(style), metadata)
