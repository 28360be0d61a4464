"""The model of interest fitted to every completed data set, pooled with Rubin's rules.

Formulas use lme4's notation for the random part: ``"y ~ x + C(g) + (1 | school)"`` or
``"(1 + x | school)"``; without a bar term the model is ordinary least squares.  The
fixed part is a patsy formula (as in statsmodels).  Linear mixed models, with any number
of nested or crossed random terms (``(1 | school/class)``, ``(1 | school) + (1 | area)``),
are fitted by REML as lme4 fits them (:mod:`mlimpute.analysis.mixed`); every fit must converge, or the imputation is named in
the error.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import MlimputeError
from ..model.formula import QUOTED, Formula, formula_columns
from .pool import likelihood_ratio_d3, rubin

# The functions a formula may call, as the model of interest's terms take them
# (mlimpute.engine.design.FUNCTIONS): patsy evaluates a formula's factors in the frame
# that builds it, this module's, so they are in its namespace (abs is Python's own).
from numpy import exp, log, sqrt  # noqa: E402,F401

FAMILIES = ("gaussian", "logit", "probit")


def recorded_family(formula: str, recorded: tuple[str, str | None] | None) -> str:
    """The family to pool `formula` with when none is given: the family an imputation
    recorded for its model of interest (``recorded`` = (formula, family)) when `formula`
    has the same outcome (a probit outcome is pooled as a probit model, never as a
    linear one), else gaussian."""
    if recorded is None or recorded[1] in (None, "", "auto"):
        return "gaussian"
    outcome = formula.split("~", 1)[0].strip()
    if outcome != recorded[0].split("~", 1)[0].strip():
        return "gaussian"
    if recorded[1] not in FAMILIES:
        raise MlimputeError(f"the imputation recorded family '{recorded[1]}' for '{recorded[0]}', "
                            f"which pooling does not know (use one of {', '.join(FAMILIES)})")
    return recorded[1]


def _binary_outcome(frame: pd.DataFrame, formula: Formula) -> pd.DataFrame:
    """A two-category response (Categorical, text, 0/1) as a 0/1 indicator of its second
    category, which is what a logit/probit model of it means."""
    name = formula.fixed.split("~", 1)[0].strip()
    column = frame[name]
    categories = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) \
        else sorted(column.dropna().unique().tolist())
    if len(categories) != 2:
        raise MlimputeError(f"column '{name}': a logit/probit model needs a response with 2 "
                            f"categories, found {len(categories)}")
    out = frame.copy()
    out[name] = (column == categories[1]).astype(float).where(column.notna())
    return out


def _fit_mixed(parsed: Formula, frame: pd.DataFrame, reml: bool, text: str):
    """REML (or ML) fit of a linear mixed model with any number of random terms
    (:mod:`mlimpute.analysis.mixed`); returns the fit and the fixed-effect names."""
    import patsy

    from .mixed import MixedModel, build_terms
    y, x = patsy.dmatrices(parsed.fixed, frame, return_type="dataframe")
    model = MixedModel(y.iloc[:, 0].to_numpy(dtype=float), x.to_numpy(dtype=float),
                       build_terms(frame, parsed.terms))
    try:
        fit = model.fit(reml=reml)
    except MlimputeError as exc:
        raise MlimputeError(f"formula '{text}': {exc}") from None
    names = [c.replace("(Intercept)", "Intercept") for c in x.columns]
    return fit, names


def fit_one(frame: pd.DataFrame, formula: str | Formula, reml: bool = True,
            family: str = "gaussian") -> pd.DataFrame:
    """Fit the model of interest to one data set: a table with estimate, std_error (rows
    named by term; variance components as ``var(group)`` and ``var(residual)``).

    family "gaussian" (linear / linear mixed model), or "logit" / "probit" for a binary
    response (generalized linear model; random effects are not supported there).  A
    formula that patsy cannot build (bad syntax, an unknown function) is a one-line
    :class:`MlimputeError`."""
    return fit_with_covariance(frame, formula, reml, family)[0]


def fit_with_covariance(frame: pd.DataFrame, formula: str | Formula, reml: bool = True,
                        family: str = "gaussian") -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`fit_one`'s table and the covariance matrix of the fixed effects (a frame
    indexed both ways by their names), which Wald tests of several coefficients need."""
    from patsy import PatsyError

    text = formula if isinstance(formula, str) else formula.fixed
    try:
        table, covariance = _fit_one(frame, formula, reml, family, text)
    except PatsyError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot be built"
        raise MlimputeError(f"formula '{text}': {reason}") from None
    unquoted = [QUOTED.sub(lambda match: match.group(1), str(label)) for label in table.index]
    table.index = unquoted
    names = unquoted[:len(covariance)]
    covariance = pd.DataFrame(np.asarray(covariance, dtype=float), index=names, columns=names)
    return table, covariance


def _fit_one(frame: pd.DataFrame, formula: str | Formula, reml: bool, family: str,
             text: str) -> pd.DataFrame:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    parsed = formula if isinstance(formula, Formula) else Formula.parse(formula)
    used = formula_columns(parsed, frame, text)
    # rows still missing a value the model uses (hard missing, outside the imputed
    # sample) are left out of this fit, as Stata's mi estimate and R's lm do
    frame = frame.dropna(subset=used)
    if len(frame) < 2:
        raise MlimputeError(f"formula '{text}': {len(frame)} rows have every variable of the "
                            "model observed, too few to fit it")
    parsed = parsed.quoted(frame.columns)
    if family not in FAMILIES:
        raise MlimputeError(f"unknown family '{family}' (use one of {', '.join(FAMILIES)})")
    if family != "gaussian":
        if parsed.group is not None:
            raise MlimputeError(f"formula '{text}': random effects with a {family} model are not "
                                "supported; drop the (... | group) term")
        link = sm.families.links.Logit() if family == "logit" else sm.families.links.Probit()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.glm(parsed.fixed, data=_binary_outcome(frame, parsed),
                          family=sm.families.Binomial(link=link)).fit()
        if not fit.converged:
            raise MlimputeError(f"formula '{text}': the {family} model did not converge")
        return pd.DataFrame({"estimate": fit.params, "std_error": fit.bse}), fit.cov_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if parsed.group is None:
            fit = smf.ols(parsed.fixed, data=frame).fit()
            table = pd.DataFrame({"estimate": fit.params, "std_error": fit.bse})
            covariance = fit.cov_params()
            table.loc["var(residual)"] = [fit.scale, np.nan]
            return table, covariance
    fit, names = _fit_mixed(parsed, frame, reml, text)
    from .variance_components import component_table
    table = pd.DataFrame({"estimate": fit.beta, "std_error": np.sqrt(np.diag(fit.beta_covariance))},
                         index=names)
    return pd.concat([table, component_table(fit)]), fit.beta_covariance


def completed_frames(completed) -> list[pd.DataFrame]:
    """The completed data sets of an ImputationResult, of a stacked frame (flong or R
    long, as written by ``mlimpute impute``; checked first, :mod:`mlimpute.analysis.imputed_file`)
    or of an iterable of frames."""
    from .imputed_file import split_stacked
    if hasattr(completed, "completed_all"):
        return list(completed.completed_all())
    if isinstance(completed, pd.DataFrame):
        return split_stacked(completed, "the stacked data")[1]
    return list(completed)


def _fit_numbered(args):
    m, frame, formula, reml, family = args
    try:
        return fit_with_covariance(frame, formula, reml=reml, family=family)
    except MlimputeError as exc:
        raise MlimputeError(f"imputation {m}: {exc}") from None


def fit_each(completed, formula: str, reml: bool = True, family: str = "gaussian",
             workers: int = 1, progress=None) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """The model fitted to every completed data set: (table, fixed-effect covariance) per
    imputation (:func:`fit_with_covariance`), in `workers` processes."""
    frames = completed_frames(completed)
    if len(frames) < 2:
        raise MlimputeError(f"pooling needs at least 2 imputations, got {len(frames)}")
    jobs = [(m, frame, formula, reml, family) for m, frame in enumerate(frames, start=1)]
    from mlimpute.engine.parallel import process_map
    return process_map(_fit_numbered, jobs, workers, progress=progress)


def fit_pooled(completed, formula: str, reml: bool = True, df_complete: float | None = None,
               family: str = "gaussian", workers: int = 1, progress=None,
               fits: list | None = None) -> pd.DataFrame:
    """Fit `formula` to each completed data set and pool with Rubin's rules: the fixed
    effects as they are; the variance components (``var(...)``, ``cor(...)``,
    ``icc(...)``) on the scale where they are roughly normal (log-SD, Fisher z, logit;
    :mod:`mlimpute.analysis.variance_components`), transformed back, interval end by end.  A
    component that some imputation estimates on the boundary (a zero variance, so no
    standard error) is averaged over imputations without an interval.

    completed : an ImputationResult, a stacked frame or an iterable of completed frames.
    workers : processes for the per-imputation fits (worth it for large mixed models).
    progress : ``progress(done, total)`` after each fit (e.g. a progress bar).
    fits : the fits of :func:`fit_each`, when already made (then `completed` is unused).
    """
    from .variance_components import SCALES, kind_of

    if fits is None:
        fits = fit_each(completed, formula, reml, family, workers, progress)
    tables = [table for table, _ in fits]
    estimates = pd.DataFrame({m: t["estimate"] for m, t in enumerate(tables)}).T
    errors = pd.DataFrame({m: t["std_error"] for m, t in enumerate(tables)}).T
    fixed = [c for c in estimates.columns if kind_of(c) is None]
    pooled = rubin(estimates[fixed], errors[fixed] ** 2, df_complete=df_complete)
    for term in [c for c in estimates.columns if kind_of(c) is not None]:
        forward, back, slope = SCALES[kind_of(term)]
        q, se = estimates[term].to_numpy(float), errors[term].to_numpy(float)
        if not np.all(np.isfinite(se)):
            pooled.loc[term, "estimate"] = q.mean()
            continue
        row = rubin(forward(q)[:, None], (se * slope(q))[:, None] ** 2).iloc[0]
        estimate = back(row["estimate"])
        pooled.loc[term] = row
        pooled.loc[term, ["estimate", "ci_lower", "ci_upper"]] = \
            [estimate, back(row["ci_lower"]), back(row["ci_upper"])]
        pooled.loc[term, "std_error"] = row["std_error"] / slope(estimate)
        pooled.loc[term, ["t", "p_value"]] = np.nan        # no test of a variance against 0 here
    return pooled


# ---------------------------------------------------------------- likelihood-ratio tests

@dataclass
class _MLFit:
    """A maximum-likelihood fit reduced to what D3 needs: the parameters (beta, the random
    terms' covariances tau, residual variance sigma2), the log-likelihood at them, and
    the log-likelihood at other parameters."""

    beta: pd.Series
    tau: list[np.ndarray]
    sigma2: float
    loglik: float
    loglik_at: object            # (beta, tau, sigma2) -> log-likelihood


def _ml_fit(frame: pd.DataFrame, formula: str) -> _MLFit:
    import patsy

    parsed = Formula.parse(formula)
    parsed = parsed.quoted(frame.columns)
    y, x = patsy.dmatrices(parsed.fixed, frame, return_type="dataframe")
    y = y.iloc[:, 0].to_numpy(dtype=float)
    x.columns = [c.replace("(Intercept)", "Intercept") for c in x.columns]
    if not parsed.terms:
        beta_values, *_ = np.linalg.lstsq(x.to_numpy(dtype=float), y, rcond=None)
        beta = pd.Series(beta_values, index=x.columns)
        resid_ss = float(((y - x.to_numpy(dtype=float) @ beta_values) ** 2).sum())
        sigma2 = resid_ss / len(y)

        def ols_loglik(b, _, s2):
            resid = y - x[b.index].to_numpy(dtype=float) @ b.to_numpy()
            return float(-0.5 * (len(y) * np.log(2 * np.pi * s2) + resid @ resid / s2))
        return _MLFit(beta, [], sigma2, ols_loglik(beta, None, sigma2), ols_loglik)
    fit, names = _fit_mixed(parsed, frame, False, formula)
    beta = pd.Series(fit.beta, index=names)
    return _MLFit(beta, fit.covariances, fit.sigma2, fit.loglik,
                  lambda b, tau, s2: fit.model.loglik_at(b[names].to_numpy(), tau, s2))


def check_nested(formula: str, null_formula: str) -> None:
    """Refuse a null model D3 cannot compare with `formula`: another outcome, other
    random terms (D3 tests fixed effects), or fixed terms that are not a subset."""
    full, null = Formula.parse(formula), Formula.parse(null_formula)
    outcome, null_outcome = (f.fixed.split("~", 1)[0].strip() for f in (full, null))
    if outcome != null_outcome:
        raise MlimputeError(f"--null-model '{null_formula}' has outcome '{null_outcome}', the "
                            f"model '{outcome}': D3 compares nested models of the same outcome")
    if sorted(map(str, full.terms)) != sorted(map(str, null.terms)):
        raise MlimputeError(f"--null-model '{null_formula}' has other random terms than "
                            f"'{formula}': D3 compares models that differ in fixed effects only")


def compare_models_d3(completed, formula: str, null_formula: str) -> pd.Series:
    """Likelihood-ratio test of a model against a nested null model over the imputations
    (D3, Meng & Rubin 1992): maximum-likelihood fits per imputation, log-likelihoods at the
    averaged parameters (coefficients, random-effects covariance and residual variance
    averaged on their natural scale, as mitml::testModels does).  Both models are fitted
    to the same rows: those complete in the variables of either."""
    check_nested(formula, null_formula)
    frames = completed_frames(completed)
    full, null = [], []
    for frame in frames:
        used = list(dict.fromkeys(formula_columns(Formula.parse(formula), frame, formula) +
                                  formula_columns(Formula.parse(null_formula), frame, null_formula)))
        rows = frame.dropna(subset=used)
        full.append(_ml_fit(rows, formula))
        null.append(_ml_fit(rows, null_formula))
    k = len(full[0].beta) - len(null[0].beta)
    if k <= 0 or not set(null[0].beta.index) <= set(full[0].beta.index):
        raise MlimputeError(f"--null-model '{null_formula}' is not nested in '{formula}'")

    def pooled(fits):
        beta = sum(f.beta for f in fits) / len(fits)
        tau = [sum(f.tau[k] for f in fits) / len(fits) for k in range(len(fits[0].tau))]
        sigma2 = float(np.mean([f.sigma2 for f in fits]))
        return [f.loglik_at(beta, tau, sigma2) for f in fits]

    return likelihood_ratio_d3([f.loglik for f in full], [f.loglik for f in null],
                               pooled(full), pooled(null), k)
