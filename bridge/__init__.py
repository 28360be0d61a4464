"""mlimpute: multilevel multiple imputation with the REALCOM-IMPUTE joint model.

    import mlimpute
    frame, meta = mlimpute.read_data("pupils.dta")
    spec = mlimpute.propose(frame, cluster="class")       # REALCOM's default model
    result = mlimpute.impute(frame, spec)
    stacked = result.stacked("flong")                       # Stata's mi flong shape
    mlimpute.write_data(stacked, "pupils_mi.dta")

The sampler lives in :mod:`mlimpute.engine` (numpy/scipy only); everything the user
touches — spec, files, stacking, command line — is here.
"""
__version__ = "0.1.0"

from . import pool
from .api import impute
from .compile import CompiledModel, compile_model
from .equations import render as render_equations
from .equations import render_fitted
from .errors import DataError, FormatError, MlimputeError, SpecError
from .io import Metadata, read_data, write_data
from .propose import propose
from .result import ImputationResult
from .spec import MCMC, PriorSpec, Response, Spec
from .translate import from_jomo, from_mice, from_mitml

__all__ = [
    "CompiledModel", "DataError", "FormatError", "ImputationResult", "MCMC", "Metadata",
    "MlimputeError", "PriorSpec", "Response", "Spec", "SpecError", "compile_model", "from_jomo",
    "from_mice", "from_mitml", "impute",
    "pool", "propose", "read_data", "render_equations", "render_fitted", "write_data", "__version__",
]
