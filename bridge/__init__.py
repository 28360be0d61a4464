"""mlimpute: multilevel multiple imputation with the REALCOM-IMPUTE joint model.

    import mlimpute
    frame, meta = mlimpute.read_data("pupils.dta")
    spec = mlimpute.propose(frame, cluster="class")       # REALCOM's default model
    result = mlimpute.impute(frame, spec)
    stacked = result.stacked("flong")                       # Stata's mi flong shape
    mlimpute.write_data(stacked, "pupils_mi.dta")

The sampler lives in :mod:`mlimpute.engine` (numpy/scipy only); everything the user
touches is here, by role (see docs/architecture.md):

* :mod:`mlimpute.frontends` — the command line, the R and Stata entry points, installers;
* :mod:`mlimpute.run` — one imputation run: :func:`impute`, the automatic settings, the result;
* :mod:`mlimpute.analysis` — fits of the model of interest, pooling, diagnostics, reports;
* :mod:`mlimpute.model` — the spec and everything that builds, checks, proposes,
  translates or prints it;
* :mod:`mlimpute.io` — reading and writing files (CSV, Parquet, Stata, R, REALCOM) and
  the stacked shapes;
* :mod:`mlimpute.errors` — the exceptions every layer raises.

Imports go one way: frontends -> run -> analysis -> model -> io -> errors (and the engine).
"""
__version__ = "0.1.0"

import importlib
import importlib.abc
import importlib.util
import sys

#: public name -> (module, attribute); imported on first use (PEP 562), so that
#: ``import mlimpute`` and ``mlimpute --version`` do not load pandas, scipy and statsmodels
_LAZY = {
    "pool": (".analysis.pool", None),
    "impute": (".run.api", "impute"),
    "CompiledModel": (".model.compile", "CompiledModel"),
    "compile_model": (".model.compile", "compile_model"),
    "render_equations": (".model.equations", "render"),
    "render_fitted": (".model.equations", "render_fitted"),
    "DataError": (".errors", "DataError"),
    "FormatError": (".errors", "FormatError"),
    "MlimputeError": (".errors", "MlimputeError"),
    "SamplingError": (".errors", "SamplingError"),
    "SpecError": (".errors", "SpecError"),
    "Metadata": (".io", "Metadata"),
    "read_data": (".io", "read_data"),
    "write_data": (".io", "write_data"),
    "ImputationResult": (".run.result", "ImputationResult"),
    "MCMC": (".model.spec", "MCMC"),
    "Delta": (".model.spec", "Delta"),
    "PriorSpec": (".model.spec", "PriorSpec"),
    "ModelOfInterest": (".model.spec", "ModelOfInterest"),
    "spec_for_model": (".model.substantive", "spec_for_model"),
    "Response": (".model.spec", "Response"),
    "Spec": (".model.spec", "Spec"),
    "from_jomo": (".model.translate", "from_jomo"),
    "from_jomo_smc": (".model.translate", "from_jomo_smc"),
    "from_mice": (".model.translate", "from_mice"),
    "from_mitml": (".model.translate", "from_mitml"),
}

#: the module names of releases before bridge/ was laid out by role (``mlimpute.fit``,
#: ``mlimpute.stata_entry``, ...), which scripts, an older ado or R package import: each
#: is the module now at the right-hand name, the very same module object
_MOVED = {
    **{name: f"frontends.{name}" for name in
       ("cli", "commands", "r_entry", "stata_entry", "r", "demo", "install", "resources")},
    **{name: f"run.{name}" for name in
       ("api", "pipeline", "result", "backends", "progress", "shutdown", "sensitivity", "limits")},
    **{name: f"analysis.{name}" for name in
       ("fit", "mixed", "pool", "variance_components", "diagnose", "report", "imputed_file")},
    **{name: f"model.{name}" for name in
       ("spec", "compile", "propose", "substantive", "delta", "formula", "translate",
        "equations", "encoding", "simulate", "groups")},
    "stack": "io.stack",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``mlimpute.<old name>`` as the module of :data:`_MOVED` it now is."""

    def find_spec(self, fullname, path=None, target=None):
        head, _, name = fullname.partition(".")
        if head != __name__ or name not in _MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(f"{__name__}.{_MOVED[spec.name.partition('.')[2]]}")
        spec.loader_state = module.__spec__         # Python sets __spec__ to the alias's
        return module

    def exec_module(self, module):
        """The module is the one imported under its new name: nothing to run again, but its
        own ``__spec__`` is put back (the import system replaced it with the alias's)."""
        module.__spec__ = module.__spec__.loader_state


sys.meta_path.append(_MovedModules())


class _Package(type(sys)):
    """This package's module type: importing an old module name that is also a public
    function's name (``import mlimpute.propose``) makes Python set ``mlimpute.propose``
    to the module; that would shadow the function :func:`propose`, so it is ignored."""

    def __setattr__(self, name, value):
        current = self.__dict__.get(name)
        if (name in _MOVED and isinstance(value, type(sys)) and current is not None
                and not isinstance(current, type(sys))):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

# bound now, not lazily: importing the submodule mlimpute.model.propose (as the command
# line does) would otherwise bind the name to the module instead of the function
from .model.propose import propose  # noqa: E402  (light: pandas is imported when it runs)

__all__ = sorted([*_LAZY, "propose"]) + ["__version__"]


def __getattr__(name: str):
    """The public names above, and any submodule (``mlimpute.analysis.fit``,
    ``mlimpute.engine``, or an old name such as ``mlimpute.fit``), imported when first used."""
    if name not in _LAZY:
        target = _MOVED.get(name, name)
        try:
            return importlib.import_module(f".{target}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{target}":
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
