"""The entry points the R package (r_package/, through reticulate) calls.

Data cross as .rds files rather than as reticulate-converted objects: the R side saves
the data.frame with ``saveRDS`` and reads the stacked result with ``readRDS``, so factor
levels, ordered factors, integer vs double and NA survive exactly as
:mod:`mlimpute.io.rfiles` documents (reticulate's own conversion of factors and integer
NA is version-dependent).  Each function returns a dict with ``error`` (the one-line
message, "" on success) instead of raising, so that R can ``stop()`` with that line
rather than print a Python traceback.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

from .api import impute, new_seed
from .errors import MlimputeError, about_file
from .io import read_data, write_data
from .propose import propose
from .spec import Spec
from .translate import from_mitml


def _guarded(function):
    """Errors as one line for R to stop() with: the user's (MlimputeError) as they are,
    anything else as an internal error, never a Python traceback in the R console."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> dict[str, Any]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return {"error": "", **function(*args, **kwargs)}
        except MlimputeError as exc:
            return {"error": " ".join(str(exc).split())}
        except Exception as exc:  # noqa: BLE001  one line for R, as the command line gives
            first = (str(exc).strip().splitlines() or [""])[0]
            return {"error": f"internal error: {type(exc).__name__}: {first} (please report it)"}
    return wrapper


def _integer(value, what: str) -> int | None:
    """R passes numbers as doubles; accept whole numbers only."""
    if value is None:
        return None
    if float(value) != int(value):
        raise MlimputeError(f"{what} must be a whole number, got {value}")
    return int(value)


@_guarded
def impute_rds(input: str, output: str, *, cluster: str | None = None,
               formula: str | list | None = None, type: dict | list | None = None,
               random_L1: str = "none", responses: list | None = None,
               covariates: list | None = None, exclude: list | None = None,
               spec: str | None = None, m=None, burnin=None, between=None, seed=None,
               chains=None, level1_weight: str | None = None, level2_weight: str | None = None,
               priors: dict | None = None, chain: str | None = None,
               quiet: bool = True) -> dict:
    """Impute the data.frame in `input` (.rds) and write the stacked R-long result
    (``.imp`` 0..M, ``.id``) to `output` (.rds).  The model comes from `spec` (JSON
    text), a mitml `formula`/`type`, or REALCOM's default model for `cluster`; MCMC
    settings given (not None) override the spec's, weights and priors are added.  With
    `chain`, every iteration's draws are written there (.rds) for ``plot()``.

    Returns the spec used (JSON, seed included, so that it reproduces the run), the
    imputed columns, the diagnostics table (posterior mean, sd, ESS, split R-hat) and the
    warnings in words."""
    frame, metadata = read_data(input)
    with about_file(input):
        return _impute_frame(frame, metadata, output, cluster=cluster, formula=formula,
                             type=type, random_L1=random_L1, responses=responses,
                             covariates=covariates, exclude=exclude, spec=spec, m=m,
                             burnin=burnin, between=between, seed=seed, chains=chains,
                             level1_weight=level1_weight, level2_weight=level2_weight,
                             priors=priors, chain=chain, quiet=quiet)


def _impute_frame(frame, metadata, output, *, cluster, formula, type, random_L1, responses,
                  covariates, exclude, spec, m, burnin, between, seed, chains, level1_weight,
                  level2_weight, priors, chain, quiet) -> dict:
    from dataclasses import replace

    from .diagnose import chain_table, diagnose

    settings = {"m": _integer(m, "m"), "burnin": _integer(burnin, "burnin"),
                "between": _integer(between, "between"), "seed": _integer(seed, "seed"),
                "chains": _integer(chains, "chains")}
    if spec is not None:
        model = Spec.from_json(spec)
    elif formula is not None or type is not None:
        model = from_mitml(frame, formula, type=type, random_L1=random_L1,
                           value_labels=metadata.value_labels)
    elif cluster is not None:
        model = propose(frame, cluster, responses=_names(responses), covariates=_names(covariates),
                        exclude=_names(exclude), value_labels=metadata.value_labels)
    else:
        raise MlimputeError("give formula, type, spec or cluster")
    if spec is None:       # a formula or default model: the package's defaults, not jomo's
        model = replace(model, mcmc=replace(model.mcmc, burnin=1000, between=500, m=20))
    if level1_weight or level2_weight:
        model = replace(model, level1_weight=level1_weight or model.level1_weight,
                        level2_weight=level2_weight or model.level2_weight)
    if priors:                  # checked as a spec file's [priors] is: unknown names refused
        settings_now = model.to_dict()
        settings_now["priors"] = {**settings_now.get("priors", {}), **dict(priors)}
        model = Spec.from_dict(settings_now)
    model = model.with_mcmc(**settings)
    if model.mcmc.seed is None:
        model = model.with_mcmc(seed=new_seed())
    model.validate(frame)
    result = impute(frame, model, progress=not quiet)
    write_data(result.stacked("long"), output, metadata)
    chains = result.chain_draws(include_burnin=True)
    table, notes = diagnose(chains, None, model.mcmc.burnin, model.mcmc.between) \
        if min(len(c) for c in chains) - model.mcmc.burnin >= 4 else (None, [])
    if chain:
        write_data(chain_table(chains, model.mcmc.burnin), chain)
    summary = {} if table is None else {
        "parameter": list(table.index), **{k: [float(v) for v in table[k]] for k in
                                           ("mean", "sd", "ess", "rhat")}}
    return {"spec": result.model.spec.to_json(), "imputed": result.imputed_vars,
            "summary": summary, "warnings": notes}


@_guarded
def pool_rds(stacked: str, formula: str, output: str, *, reml: bool = True,
             family: str = "gaussian") -> dict:
    """Fit `formula` (``y ~ x + (1 | cluster)``) to each imputation in the stacked .rds
    file and write the pooled table (Rubin's rules, Barnard-Rubin df) as CSV."""
    from .fit import fit_pooled
    frame, _ = read_data(stacked)
    pooled = fit_pooled(frame, formula, reml=bool(reml), family=family)
    write_data(pooled.reset_index(names="term"), output)
    return {}


def _names(value) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]

