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

from ..run.api import impute
from ..model.compile import check_against_data
from ..errors import MlimputeError, about_file
from ..io import read_data, write_data
from ..model.propose import propose
from ..model.spec import Spec
from ..model.translate import from_mitml


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


def _integer(value, what: str, auto: bool = False) -> int | str | None:
    """R passes numbers as doubles; accept whole numbers only (and "auto" where the
    setting can be chosen by the run)."""
    if value is None:
        return None
    if auto and isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) or float(value) != int(value):
        raise MlimputeError(f"{what} must be a whole number, got {value}")
    return int(value)


@_guarded
def impute_rds(input: str, output: str, *, cluster: str | list | None = None, crossed: bool = False,
               formula: str | list | None = None, type: dict | list | None = None,
               random_L1: str = "none", responses: list | None = None,
               covariates: list | None = None, exclude: list | None = None,
               spec: str | None = None, m=None, burnin=None, between=None, seed=None,
               chains=None, level1_weight: str | None = None, level2_weight: str | None = None,
               priors: dict | None = None, chain: str | None = None,
               quiet: bool = True, max_burnin=None, pilot_m=None, se_cv=None,
               delta: list | None = None, model: str | None = None, family: str = "auto",
               joint_only: bool = False) -> dict:
    """Impute the data.frame in `input` (.rds) and write the stacked R-long result
    (``.imp`` 0..M, ``.id``) to `output` (.rds).  The model comes from `spec` (JSON
    text), a mitml `formula`/`type`, or REALCOM's default model for `cluster`; MCMC
    settings given (not None) override the spec's, weights and priors are added.  With
    `chain`, every iteration's draws are written there (.rds) for ``plot()``.
    `burnin`, `between` and `m` may be "auto" (with `max_burnin`, `pilot_m`, `se_cv`);
    `delta` holds MNAR shifts written as the command line's ``--delta`` ("y=-0.3 if
    girl == 1"); `model` is the model of interest: part of the imputation model
    (substantive-model-compatible, `family` its outcome's), or with `joint_only` only
    what ``m = "auto"`` sizes M for.

    Returns the spec used (JSON, seed included, so that it reproduces the run), the
    imputed columns, the diagnostics table (posterior mean, sd, bulk and tail ESS,
    rank-normalised R-hat), the warnings in words and the notes on what "auto" chose."""
    frame, metadata = read_data(input)
    with about_file(input):
        model_spec = _spec_for(frame, metadata, cluster=cluster, crossed=crossed,
                               formula=formula, type=type,
                               random_L1=random_L1, responses=responses, covariates=covariates,
                               exclude=exclude, spec=spec, m=m, burnin=burnin, between=between,
                               seed=seed, chains=chains, level1_weight=level1_weight,
                               level2_weight=level2_weight, priors=priors, max_burnin=max_burnin,
                               pilot_m=pilot_m, se_cv=se_cv, delta=delta,
                               model=None if joint_only else model, family=family)
        result = impute(frame, model_spec, progress=not quiet,
                        model=model if joint_only else None)
    write_data(result.stacked("long"), output, metadata)
    if chain:
        from ..analysis.diagnose import chain_table
        write_data(chain_table(result.chain_draws(include_burnin=True), result.spec.mcmc.burnin),
                   chain)
    table = result.diagnostics
    summary = {} if table is None else {
        "parameter": list(table.index), **{k: [float(v) for v in table[k]] for k in
                                           ("mean", "sd", "ess_bulk", "ess_tail", "rhat")}}
    return {"spec": result.spec.to_json(), "imputed": result.imputed_vars,
            "summary": summary, "warnings": result.warnings, "notes": result.notes}


def _spec_for(frame, metadata, *, cluster=None, crossed=False, formula=None, type=None, random_L1="none",
              responses=None, covariates=None, exclude=None, spec=None, m=None, burnin=None,
              between=None, seed=None, chains=None, level1_weight=None, level2_weight=None,
              priors=None, max_burnin=None, pilot_m=None, se_cv=None, delta=None,
              model=None, family="auto") -> Spec:
    """The imputation model of an R call: from a spec (JSON), a mitml formula/type or the
    default model for a cluster, with the model of interest `model` joined to it
    (:func:`~mlimpute.model.substantive.spec_for_model`; alone, it gives the cluster too), the
    call's settings, weights, priors and deltas, checked against the data (without a
    seed, the run draws one and records it)."""
    from dataclasses import replace

    settings = {"m": _integer(m, "m", auto=True), "burnin": _integer(burnin, "burnin", auto=True),
                "between": _integer(between, "between", auto=True),
                "seed": _integer(seed, "seed"), "chains": _integer(chains, "chains"),
                "max_burnin": _integer(max_burnin, "max_burnin"),
                "pilot_m": _integer(pilot_m, "pilot_m"),
                "se_cv": None if se_cv is None else float(se_cv)}
    interest = model            # the model of interest's formula (text) or None
    if spec is not None:
        built = Spec.from_json(spec)
    elif formula is not None or type is not None:
        built = from_mitml(frame, formula, type=type, random_L1=random_L1,
                           value_labels=metadata.value_labels)
    elif cluster is not None:
        built = propose(frame, _names(cluster), responses=_names(responses),
                        covariates=_names(covariates), exclude=_names(exclude),
                        value_labels=metadata.value_labels, crossed=bool(crossed))
    elif interest is not None:
        built = None            # the default covariate model for the formula's grouping
    else:
        raise MlimputeError("give formula, type, spec, cluster or model")
    if interest is not None:
        from ..model.spec import ModelOfInterest
        from ..model.substantive import spec_for_model
        built = spec_for_model(frame, ModelOfInterest(str(interest), family), built,
                               exclude=_names(exclude), value_labels=metadata.value_labels)
    if spec is None:       # a formula or default model: the package's defaults, not jomo's
        built = replace(built, mcmc=replace(built.mcmc, burnin=1000, between=500, m=20))
    if level1_weight or level2_weight:
        built = replace(built, level1_weight=level1_weight or built.level1_weight,
                        level2_weight=level2_weight or built.level2_weight)
    if priors:                  # checked as a spec file's [priors] is: unknown names refused
        settings_now = built.to_dict()
        settings_now["priors"] = {**settings_now.get("priors", {}), **dict(priors)}
        built = Spec.from_dict(settings_now)
    from ..model.delta import with_shifts
    built = with_shifts(built.with_mcmc(**settings), _names(delta))
    check_against_data(built, frame)
    return built


@_guarded
def sensitivity_rds(input: str, output: str, *, response: str, deltas, model: str,
                    where: str | None = None, quiet: bool = True, **settings) -> dict:
    """MNAR sensitivity analysis of the data.frame in `input` (.rds): for every shift in
    `deltas` of `response` (optionally only `where` a condition holds), impute and pool
    `model`; the table (delta, term, estimate, std_error, ci_lower, ci_upper, p_value,
    fmi) is written to `output` (CSV).  `settings` are :func:`impute_rds`'s model and MCMC
    arguments."""
    from ..run.sensitivity import sensitivity
    frame, metadata = read_data(input)
    with about_file(input):
        spec = _spec_for(frame, metadata, **settings)
        table = sensitivity(frame, spec, str(response), [float(d) for d in _names(deltas)],
                            str(model), where=where, progress=not quiet,
                            hard_missing=metadata.hard_missing)
    write_data(table, output)
    return {}


@_guarded
def spec_model(spec: str) -> dict:
    """The model of interest of a spec (JSON text): its formula, or None."""
    model = Spec.from_json(spec).model
    return {"formula": None if model is None else model.formula}


@_guarded
def pool_rds(stacked: str, formula: str, output: str, *, reml: bool = True,
             family: str | None = None, se_cv: float = 0.05, spec: str | None = None,
             force: bool = False, df_com: float | None = None,
             test: list | str | None = None) -> dict:
    """Fit `formula` (``y ~ x + (1 | cluster)``) to each imputation in the stacked .rds
    file, checked first (:mod:`mlimpute.analysis.imputed_file`), and write the pooled table
    (Rubin's rules, Barnard-Rubin df; variance components with intervals) as CSV.
    `family` None: the family `spec` (JSON) records for this outcome, else gaussian.
    `df_com`: complete-data df (Barnard-Rubin); `test`: linear hypotheses about the fixed
    effects tested jointly with D1 (:mod:`mlimpute.analysis.hypotheses`).  Returns the
    imputations needed for standard errors replicable to a coefficient of variation
    `se_cv` (von Hippel 2020), and the test (F, df1, df2, p_value, riv) when asked."""
    from ..analysis.fit import fit_each, fit_pooled, recorded_family
    from ..analysis.hypotheses import wald_test_of
    from ..model.formula import model_columns
    from ..analysis.imputed_file import split_stacked
    from ..analysis.pool import imputations_needed
    frame, metadata = read_data(stacked)
    model = None if spec is None else Spec.from_json(spec).model
    if family is None:
        family = recorded_family(formula, None if model is None else (model.formula, model.family))
    with about_file(stacked):
        used = model_columns(formula, frame)
    _, frames, _ = split_stacked(frame, stacked, used, force=bool(force),
                                 hard_missing=metadata.hard_missing)
    df_com = None if df_com is None else float(df_com)
    fits = fit_each(frames, formula, reml=bool(reml), family=family)
    pooled = fit_pooled(frames, formula, df_complete=df_com, fits=fits)
    write_data(pooled.reset_index(names="term"), output)
    answer = {"m_needed": imputations_needed(pooled, len(frames), float(se_cv))}
    if test:
        result = wald_test_of(fits, _names(test), df_complete=df_com)
        answer["test"] = {k: float(result[k]) for k in ("F", "df1", "df2", "p_value", "riv")}
    return answer


def _names(value) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]

