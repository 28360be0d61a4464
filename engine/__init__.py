"""mlimpute.engine: the numpy/scipy Gibbs sampler of the two-level joint imputation model.

It knows nothing of files, column names or user syntax: the bridge (``mlimpute``)
compiles a spec and a data frame into :class:`ModelData` and reads back a
:class:`SamplerResult`.
"""
from .diagnostics import effective_sample_size, monte_carlo_se
from .model import LevelData, ModelData, ModelError, Priors
from .responses import KNOWN_KINDS, REGISTRY, UnsupportedResponseType
from .sampler import Chain, GibbsSampler, Imputation, SamplerResult, run_sampler

__all__ = [
    "Chain", "GibbsSampler", "Imputation", "KNOWN_KINDS", "LevelData", "ModelData", "ModelError", "Priors",
    "REGISTRY", "SamplerResult", "UnsupportedResponseType", "effective_sample_size",
    "monte_carlo_se", "run_sampler",
]
