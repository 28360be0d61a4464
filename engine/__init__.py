"""mlimpute.engine: the numpy/scipy Gibbs sampler of the multilevel joint imputation model
(two levels, or several nested or crossed classifications).

It knows nothing of files, column names or user syntax: the bridge (``mlimpute``)
compiles a spec and a data frame into :class:`ModelData` and reads back a
:class:`SamplerResult`.
"""
import importlib

#: public name -> module; imported on first use (PEP 562), so that reading the response
#: types (``mlimpute.engine.responses``) does not load the sampler and scipy
_LAZY = {
    "effective_sample_size": ".diagnostics", "monte_carlo_se": ".diagnostics",
    "Classification": ".model", "LevelData": ".model", "ModelData": ".model", "ModelError": ".errors",
    "NonFiniteDraw": ".errors", "Priors": ".model",
    "KNOWN_KINDS": ".responses", "REGISTRY": ".responses",
    "UnsupportedResponseType": ".responses",
    "Chain": ".sampler", "GibbsSampler": ".sampler", "Imputation": ".sampler",
    "SamplerResult": ".sampler", "run_sampler": ".sampler",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'mlimpute.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
