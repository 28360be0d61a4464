"""The Python entry points: impute a data frame under a spec."""
from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlimpute.engine import GibbsSampler, ModelError, NonFiniteDraw, UnsupportedResponseType
from mlimpute.engine.parallel import ChainSet, split_imputations

from .backends import executor_for
from ..model.compile import compile_model
from ..errors import DataError, MlimputeError, SamplingError, SpecError
from .limits import check_memory
from .pipeline import Run
from .progress import ProgressBar
from ..model.dates import date_notes
from ..model.propose import few_values_notes, propose
from .result import ImputationResult
from ..model.spec import AUTO, Spec


#: environment variable: BLAS threads of the sampler (default 1)
BLAS_THREADS_VARIABLE = "MLIMPUTE_BLAS_THREADS"


def blas_thread_count() -> int:
    """BLAS threads while sampling: 1 unless ``MLIMPUTE_BLAS_THREADS`` says otherwise.

    One is the default because the sampler's matrices are small, and on a few cores
    OpenBLAS's thread hand-offs cost more than they save (measured: the class-size
    benchmark runs 1.7x faster single-threaded); parallelism comes from chains instead.
    The variable exists for very wide models and for the test suite, which runs its
    stored-reference tests under 1 and 2 threads (another order of floating-point sums,
    as on another CPU).  The machine's own ``OPENBLAS_*`` settings are left alone."""
    text = os.environ.get(BLAS_THREADS_VARIABLE, "").strip()
    if not text:
        return 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise MlimputeError(f"environment variable {BLAS_THREADS_VARIABLE} must be a whole "
                            f"number >= 1, got {text!r}")
    return count


def sampler_blas_threads():
    """A context in which BLAS uses :func:`blas_thread_count` threads (threadpoolctl)."""
    return threadpool_limits(limits=blas_thread_count(), user_api="blas")


def _limit_blas_threads() -> None:
    """The same limit in a worker process (its initializer)."""
    threadpool_limits(limits=blas_thread_count(), user_api="blas")


# what starting and feeding a pool of worker processes costs a run (measured: 0.3 s on a
# 100-row file, 2 chains, 1 against 2 workers)
POOL_START_SECONDS = 0.3


def _workers_for(probe: GibbsSampler, settings, workers: int | None, executor) -> int | None:
    """`workers`, or 1 (the chains in this process) when the caller left it open and the
    run is so short that starting worker processes would cost more than it saves: each
    chain's iterations (burn-in, and between times its imputations) at the time of two
    of the probe's iterations, against :data:`POOL_START_SECONDS`.  The output does not
    depend on where the chains run.  Runs with "auto" settings (of unknown length) keep
    the processes."""
    if workers is not None or executor is not None or settings.chains < 2:
        return workers
    if AUTO in (settings.burnin, settings.between, settings.m):
        return workers
    start = time.perf_counter()
    try:
        for _ in range(2):
            probe.step()
    except Exception:       # the run itself meets and reports it, as it always has
        return workers
    per_iteration = (time.perf_counter() - start) / 2
    per_chain = settings.burnin + settings.between * max(split_imputations(settings.m,
                                                                           settings.chains))
    return 1 if per_iteration * per_chain < POOL_START_SECONDS else workers


def check_not_stacked(data: pd.DataFrame) -> None:
    """Data that already hold imputations (Stata's mi bookkeeping, R's long shape) are not
    new data: imputing the stacked rows would treat M copies as independent units."""
    from ..io.stack import MI_COLUMNS, R_COLUMNS
    if not isinstance(data, pd.DataFrame):
        return
    marks = [name for name in (*MI_COLUMNS, R_COLUMNS[0]) if name in data.columns]
    if not marks:
        return
    number = data[marks[0]] if marks[0] in ("_mi_m", R_COLUMNS[0]) else None
    m = None if number is None else pd.to_numeric(number, errors="coerce").max()
    wide_imputations = any(str(c).startswith("_1_") for c in data.columns)   # mi wide, M >= 1
    if marks[0].startswith("_mi_") and (m == 0 or (number is None and not wide_imputations)):
        # mi set (flong/mlong: every _mi_m is 0; wide: only _mi_miss), M = 0
        raise DataError(f"column '{marks[0]}': the data are mi set but hold no imputations "
                        "(M = 0); in Stata type: mi unset, then run mlimpute, which mi-sets "
                        "its result itself")
    held = "" if m is None or pd.isna(m) else f" (M = {int(m)})"
    raise DataError(f"column '{marks[0]}': the data already hold multiple imputations{held}; "
                    "impute the original data (Stata: mi extract 0, clear; R: the rows with "
                    ".imp == 0)")


def new_seed() -> int:
    """A fresh random seed (recorded in the result so the run can be repeated), at most
    2^31 - 1: the largest seed Stata's ``set seed`` and the ado's ``seed()`` take."""
    return int(np.random.SeedSequence().generate_state(1)[0] >> 1)


def impute(data: pd.DataFrame, spec: Spec | None = None, *, cluster: str | None = None,
           progress: bool | str = False, workers: int | None = None,
           scheduler=None, hard_missing: dict | None = None, sample=None,
           model: str | None = None, family: str = "auto",
           compatible: bool = True) -> ImputationResult:
    """Multiply impute `data` under `spec` (or the default model for `cluster`).

    Returns an :class:`ImputationResult` with the M completed data sets, the stacked
    forms, the parameter chains, the convergence diagnostics (``result.diagnostics``)
    and warnings in words (``result.warnings``), and the spec with every setting the run
    chose filled in (``result.spec``: the seed, and the numbers behind ``"auto"``), which
    repeats the run exactly.  The input frame is not modified.  With
    ``spec.mcmc.chains`` > 1 the chains run in up to `workers` processes (default: one per
    core; this process when the run is shorter than starting them), or on a Dask cluster given as `scheduler` (``"dask://host:port"`` or a
    ``dask.distributed.Client``; see :mod:`mlimpute.run.backends`); the result does not
    depend on `workers` or on the scheduler.

    ``progress``: False, True (a bar on stderr) or ``"lines"`` (a line on stdout at every
    tenth, for hosts such as Stata).

    ``hard_missing`` ({column: row positions}, as ``Metadata.hard_missing`` holds Stata's
    ``.a``-``.z``): cells that are missing for the model but never imputed; they stay
    missing in every completed data set.

    ``sample`` (a boolean mask over the rows, e.g. Stata's ``if``/``in``): only these rows
    enter the model and are imputed; the others are kept, unchanged, in every completed
    data set, as Stata's ``mi impute`` does.

    ``model`` (the model of interest in lme4 notation, ``"y ~ x * z + (1 + x | school)"``)
    becomes part of the imputation model (substantive-model-compatible imputation,
    :mod:`mlimpute.model.substantive`): its outcome is imputed from it and its incomplete
    covariates so that it holds, with the spec's responses (or REALCOM's default model,
    the outcome left out) as the covariate model; without a spec or `cluster`, the
    formula's grouping is the cluster.  ``family`` is the outcome's ("auto", "gaussian",
    "probit").  A spec may hold the model itself (``spec.model``).  It is also what
    ``m = "auto"`` sizes M for (the largest fraction of missing information of its
    estimates; without a model, the means and category shares of the imputed
    variables).  With ``compatible=False`` the joint model imputes and `model` only
    sizes M.
    """
    check_not_stacked(data)
    blas_thread_count()                  # a malformed setting fails before any work
    rows = None
    modelled = data
    if sample is not None:
        mask = np.asarray(sample, dtype=bool)
        if mask.shape != (len(data),):
            raise DataError(f"the sample mask has {mask.size} entries for {len(data)} rows")
        if not mask.any():
            raise DataError("no row is in the sample: nothing to impute")
        rows = np.flatnonzero(mask)
        modelled = data.iloc[rows]
    if model is not None and compatible and not (spec is not None and spec.model is not None
                                                 and spec.model.formula == model):
        from ..model.spec import ModelOfInterest
        from ..model.substantive import spec_for_model
        if spec is not None and spec.model is not None:
            raise SpecError(f"the spec's model of interest is '{spec.model.formula}'; give "
                            f"'{model}' there or on its own, not both")
        spec = spec_for_model(modelled, ModelOfInterest(model, family), spec, cluster)
    if spec is None:
        if cluster is None:
            raise SpecError("give a spec or the name of the cluster identifier")
        spec = propose(modelled, cluster)
    if model is None and spec.model is not None:
        model = spec.model.formula
    if model is not None:
        from ..model.formula import check_formula
        check_formula(model, data)
    compiled = compile_model(spec, modelled)
    seed = spec.mcmc.seed if spec.mcmc.seed is not None else new_seed()
    try:   # fail on an unsupported type or an improper posterior here, before any process starts
        probe = GibbsSampler(compiled.data, np.random.default_rng(seed), spec.mcmc.jomo_compatible)
    except (UnsupportedResponseType, ModelError) as exc:
        raise SpecError(str(exc)) from None
    check_memory(probe, compiled, spec.mcmc)
    masks = {}
    imputed = {name for names in compiled.names for name in names}
    if compiled.substantive is not None:
        imputed.add(compiled.substantive.outcome)
    for name, cells in (hard_missing or {}).items():
        if name in imputed:
            masks[name] = np.zeros(len(data), dtype=bool)
            masks[name][list(cells)] = True
    with executor_for(scheduler) as executor, \
            ProgressBar(0, 0, enabled=bool(progress),
                        style="lines" if progress == "lines" else "bar") as bar, \
            sampler_blas_threads():
        run = Run(data, compiled, seed, masks, rows, model)
        workers = _workers_for(probe, spec.mcmc, workers, executor)
        with ChainSet(compiled.data, seed, spec.mcmc.chains, workers, spec.mcmc.jomo_compatible,
                      bar, _limit_blas_threads, executor) as chains:
            try:
                result = run.sample(chains, bar)
            except NonFiniteDraw as exc:
                raise SamplingError(non_finite_message(exc, spec)) from None
    result.notes = date_notes(modelled, spec) + few_values_notes(modelled, spec) + result.notes
    return result


def non_finite_message(exc: NonFiniteDraw, spec: Spec) -> str:
    """The one line for a sampler that drew a value that is not finite, the
    classification named by its column."""
    where = "" if exc.classification is None else f"'{spec.clusters[exc.classification]}'"
    return (f"the sampler stopped: the draw of {exc.block.format(classification=where)} was "
            f"not a finite number at iteration {exc.iteration:,}; nothing was written. The "
            "model may ask more than the data hold (a variance near zero, a random slope "
            "of a nearly constant covariate, a tiny category): simplify it, or report the "
            "data and command if it looks right")
