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

import importlib

#: public name -> (module, attribute); imported on first use (PEP 562), so that
#: ``import mlimpute`` and ``mlimpute --version`` do not load pandas, scipy and statsmodels
_LAZY = {
    "pool": (".pool", None),
    "impute": (".api", "impute"),
    "CompiledModel": (".compile", "CompiledModel"),
    "compile_model": (".compile", "compile_model"),
    "render_equations": (".equations", "render"),
    "render_fitted": (".equations", "render_fitted"),
    "DataError": (".errors", "DataError"),
    "FormatError": (".errors", "FormatError"),
    "MlimputeError": (".errors", "MlimputeError"),
    "SpecError": (".errors", "SpecError"),
    "Metadata": (".io", "Metadata"),
    "read_data": (".io", "read_data"),
    "write_data": (".io", "write_data"),
    "ImputationResult": (".result", "ImputationResult"),
    "MCMC": (".spec", "MCMC"),
    "Delta": (".spec", "Delta"),
    "PriorSpec": (".spec", "PriorSpec"),
    "ModelOfInterest": (".spec", "ModelOfInterest"),
    "spec_for_model": (".substantive", "spec_for_model"),
    "Response": (".spec", "Response"),
    "Spec": (".spec", "Spec"),
    "from_jomo": (".translate", "from_jomo"),
    "from_jomo_smc": (".translate", "from_jomo_smc"),
    "from_mice": (".translate", "from_mice"),
    "from_mitml": (".translate", "from_mitml"),
}

# bound now, not lazily: importing the submodule mlimpute.propose (as the command line does)
# would otherwise bind the name to the module instead of the function
from .propose import propose  # noqa: E402  (light: pandas is imported when it runs)

__all__ = sorted([*_LAZY, "propose"]) + ["__version__"]


def __getattr__(name: str):
    """The public names above, and any submodule (``mlimpute.fit``, ``mlimpute.engine``),
    imported when first used."""
    if name not in _LAZY:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise                      # the submodule exists; something it needs does not
            raise AttributeError(f"module 'mlimpute' has no attribute {name!r}") from None
    module, attribute = _LAZY[name]
    value = importlib.import_module(module, __name__)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__
