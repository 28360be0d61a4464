"""The model of interest fitted to every completed data set, pooled with Rubin's rules.

Formulas use lme4's notation for the random part: ``"y ~ x + C(g) + (1 | school)"`` or
``"(1 + x | school)"``; without a bar term the model is ordinary least squares.  The
fixed part is a patsy formula (as in statsmodels).  Linear mixed models are fitted by
REML with statsmodels' MixedLM; every fit must converge, or the imputation is named in
the error.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import MlimputeError
from .pool import likelihood_ratio_d3, rubin

_BAR = re.compile(r"\(\s*([^()|]*?)\s*\|\s*(`[^`]+`|[A-Za-z_.][\w.]*)\s*\)")


@dataclass
class Formula:
    """A model-of-interest formula split into its fixed and random parts."""

    fixed: str
    group: str | None = None
    random: str | None = None        # statsmodels re_formula, e.g. "1" or "1 + x"

    @classmethod
    def parse(cls, text: str) -> "Formula":
        bars = _BAR.findall(text)
        if len(bars) > 1:
            raise MlimputeError(f"formula '{text}': only one random-effects term (... | group) is supported")
        fixed = _BAR.sub("", text)
        fixed = re.sub(r"\+\s*$", "", re.sub(r"\+\s*\+", "+", fixed.strip())).strip()
        if "~" not in fixed:
            raise MlimputeError(f"formula '{text}': expected 'response ~ terms'")
        if fixed.endswith("~"):
            fixed += " 1"
        if not bars:
            return cls(fixed)
        random, group = bars[0]
        random = random.strip() or "1"
        return cls(fixed, group.strip("`"), random)

    def quoted(self, columns) -> "Formula":
        """The formula with column names patsy cannot read quoted (:func:`quote_names`)."""
        return Formula(quote_names(self.fixed, columns), self.group,
                       None if self.random is None else quote_names(self.random, columns))


def _check_columns(formula: Formula, frame: pd.DataFrame, text: str) -> list[str]:
    """Raise unless every column the formula names is in `frame`; return those columns."""
    terms = formula.fixed + " " + (formula.random or "")
    quoted = re.findall(r"`([^`]+)`", terms)
    for name in quoted:
        if name not in frame.columns:
            raise MlimputeError(f"formula '{text}': column '{name}' is not in the data")
    names = set(re.findall(r"[A-Za-z_][\w.]*", re.sub(r"`[^`]+`", " ", terms)))
    builtin = {"C", "np", "I", "log", "exp", "center", "standardize", "Treatment", "Sum", "Q"}
    unknown = sorted(n for n in names - builtin if n not in frame.columns)
    if unknown:
        raise MlimputeError(f"formula '{text}': column '{unknown[0]}' is not in the data")
    if formula.group and formula.group not in frame.columns:
        raise MlimputeError(f"formula '{text}': grouping column '{formula.group}' is not in the data")
    used = [n for n in frame.columns if n in names or n in quoted or n == formula.group]
    return used


def check_formula(text: str, frame: pd.DataFrame) -> None:
    """Parse a model-of-interest formula and check its columns exist in `frame`: what can
    be checked before a long run starts."""
    _check_columns(Formula.parse(text), frame, text)


FAMILIES = ("gaussian", "logit", "probit")


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
    """statsmodels MixedLM fit (REML or ML), retried with Nelder-Mead; must converge."""
    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(parsed.fixed, data=frame, groups=frame[parsed.group],
                            re_formula=parsed.random)
        fit = model.fit(reml=reml)
        if not fit.converged:
            fit = model.fit(reml=reml, method="nm", maxiter=5000)
    if not fit.converged:
        raise MlimputeError(f"formula '{text}': the mixed model did not converge")
    return model, fit


def _fixed_effects_covariance(model, fit) -> np.ndarray:
    """(sum_j X_j' V_j^-1 X_j)^-1 with V_j = Z_j Psi Z_j' + sigma^2 I at the estimates:
    lme4's vcov() for the fixed effects.  statsmodels' own standard errors invert the
    full Hessian (fixed effects and covariance parameters together), which differs
    from lme4 by up to about 1%; pooled results are compared with lme4 + mitml, so we
    use lme4's definition."""
    psi = np.asarray(fit.cov_re, dtype=float)
    information = np.zeros((model.exog.shape[1],) * 2)
    for label in model.group_labels:
        rows = model.row_indices[label]
        x, z = model.exog[rows], model.exog_re[rows]
        v = z @ psi @ z.T + fit.scale * np.eye(len(rows))
        information += x.T @ np.linalg.solve(v, x)
    return np.linalg.inv(information)


def fit_one(frame: pd.DataFrame, formula: str | Formula, reml: bool = True,
            family: str = "gaussian") -> pd.DataFrame:
    """Fit the model of interest to one data set: a table with estimate, std_error (rows
    named by term; variance components as ``var(group)`` and ``var(residual)``).

    family "gaussian" (linear / linear mixed model), or "logit" / "probit" for a binary
    response (generalized linear model; random effects are not supported there).  A
    formula that patsy cannot build (bad syntax, an unknown function) is a one-line
    :class:`MlimputeError`."""
    from patsy import PatsyError

    text = formula if isinstance(formula, str) else formula.fixed
    try:
        table = _fit_one(frame, formula, reml, family, text)
    except PatsyError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot be built"
        raise MlimputeError(f"formula '{text}': {reason}") from None
    table.index = [_QUOTED.sub(lambda match: match.group(1), str(label)) for label in table.index]
    return table


_QUOTED = re.compile(r'Q\("((?:[^"\\]|\\.)*)"\)')


def quote_names(text: str, columns) -> str:
    """The formula with every column name that is not a Python identifier (R's
    ``Read.Dis``, a name with spaces written in R's backticks) wrapped in patsy's
    ``Q("...")``, so that R users' formulas work as written."""
    text = re.sub(r"`([^`]+)`", lambda match: f'Q("{match.group(1)}")', text)
    odd = sorted((str(c) for c in columns if not str(c).isidentifier()), key=len, reverse=True)
    for name in odd:
        if " " in name:
            continue              # only reachable in backticks, done above
        text = re.sub(rf'(?<![\w."]){re.escape(name)}(?![\w."])', f'Q("{name}")', text)
    return text


def _fit_one(frame: pd.DataFrame, formula: str | Formula, reml: bool, family: str,
             text: str) -> pd.DataFrame:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    parsed = formula if isinstance(formula, Formula) else Formula.parse(formula)
    used = _check_columns(parsed, frame, text)
    # rows still missing a value the model uses (hard missing, outside the imputed
    # sample) are left out of this fit, as Stata's mi estimate and R's lm do
    frame = frame.dropna(subset=used)
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
        return pd.DataFrame({"estimate": fit.params, "std_error": fit.bse})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if parsed.group is None:
            fit = smf.ols(parsed.fixed, data=frame).fit()
            table = pd.DataFrame({"estimate": fit.params, "std_error": fit.bse})
            table.loc["var(residual)"] = [fit.scale, np.nan]
            return table
    model, fit = _fit_mixed(parsed, frame, reml, text)
    errors = np.sqrt(np.diag(_fixed_effects_covariance(model, fit)))
    table = pd.DataFrame({"estimate": fit.fe_params, "std_error": errors})
    from .variance_components import ClusterCrossProducts, component_table
    stats = ClusterCrossProducts(np.asarray(model.endog, float), np.asarray(model.exog, float),
                                 np.asarray(model.exog_re, float), np.asarray(model.groups))
    components = component_table(stats, np.asarray(fit.cov_re, dtype=float), float(fit.scale),
                                 parsed.group, list(fit.cov_re.index))
    return pd.concat([table, components])


def completed_frames(completed) -> list[pd.DataFrame]:
    """The completed data sets of an ImputationResult, of a stacked frame (flong or R
    long, as written by ``mlimpute impute``) or of an iterable of frames."""
    from .stack import unstack
    if hasattr(completed, "completed_all"):
        return list(completed.completed_all())
    if isinstance(completed, pd.DataFrame):
        try:
            return unstack(completed)[1]
        except ValueError as exc:
            raise MlimputeError(str(exc)) from None
    return list(completed)


def _fit_numbered(args):
    m, frame, formula, reml, family = args
    try:
        return fit_one(frame, formula, reml=reml, family=family)
    except MlimputeError as exc:
        raise MlimputeError(f"imputation {m}: {exc}") from None


def fit_pooled(completed, formula: str, reml: bool = True, df_complete: float | None = None,
               family: str = "gaussian", workers: int = 1, progress=None) -> pd.DataFrame:
    """Fit `formula` to each completed data set and pool with Rubin's rules: the fixed
    effects as they are; the variance components (``var(...)``, ``cor(...)``,
    ``icc(...)``) on the scale where they are roughly normal (log-SD, Fisher z, logit;
    :mod:`mlimpute.variance_components`), transformed back, interval end by end.  A
    component that some imputation estimates on the boundary (a zero variance, so no
    standard error) is averaged over imputations without an interval.

    completed : an ImputationResult, a stacked frame or an iterable of completed frames.
    workers : processes for the per-imputation fits (worth it for large mixed models).
    progress : ``progress(done, total)`` after each fit (e.g. a progress bar).
    """
    from .variance_components import SCALES, kind_of

    frames = completed_frames(completed)
    if len(frames) < 2:
        raise MlimputeError(f"pooling needs at least 2 imputations, got {len(frames)}")
    jobs = [(m, frame, formula, reml, family) for m, frame in enumerate(frames, start=1)]
    from mlimpute.engine.parallel import process_map
    tables = process_map(_fit_numbered, jobs, workers, progress=progress)
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
    """A maximum-likelihood fit reduced to what D3 needs: the data, the design and the
    parameters (beta, random-effects covariance tau, residual variance sigma2)."""

    y: np.ndarray
    x: pd.DataFrame
    z: np.ndarray | None
    groups: np.ndarray | None
    beta: pd.Series
    tau: np.ndarray | None
    sigma2: float
    loglik: float

    def loglik_at(self, beta: pd.Series, tau, sigma2: float) -> float:
        """Gaussian log-likelihood of the data at other parameters (random effects
        integrated out, cluster by cluster)."""
        resid = self.y - self.x[beta.index].to_numpy() @ beta.to_numpy()
        if self.groups is None:
            n = len(resid)
            return float(-0.5 * (n * np.log(2 * np.pi * sigma2) + resid @ resid / sigma2))
        total = 0.0
        for g in np.unique(self.groups):
            rows = self.groups == g
            zg = self.z[rows]
            v = zg @ tau @ zg.T + sigma2 * np.eye(rows.sum())
            sign, logdet = np.linalg.slogdet(v)
            total += -0.5 * (rows.sum() * np.log(2 * np.pi) + logdet + resid[rows] @ np.linalg.solve(v, resid[rows]))
        return float(total)


def _ml_fit(frame: pd.DataFrame, formula: str) -> _MLFit:
    import patsy
    import statsmodels.formula.api as smf

    parsed = Formula.parse(formula)
    _check_columns(parsed, frame, formula)
    y, x = patsy.dmatrices(parsed.fixed, frame, return_type="dataframe")
    y = y.iloc[:, 0].to_numpy()
    x.columns = [c.replace("(Intercept)", "Intercept") for c in x.columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if parsed.group is None:
            fit = smf.ols(parsed.fixed, data=frame).fit()
            beta = fit.params.rename(index={"(Intercept)": "Intercept"})
            sigma2 = float(fit.ssr / fit.nobs)
            out = _MLFit(y, x, None, None, beta, None, sigma2, 0.0)
            out.loglik = out.loglik_at(beta, None, sigma2)
            return out
    model, fit = _fit_mixed(parsed, frame, False, formula)
    beta = fit.fe_params.rename(index={"(Intercept)": "Intercept"})
    z = np.asarray(model.exog_re)
    return _MLFit(y, x, z, np.asarray(frame[parsed.group]), beta, np.asarray(fit.cov_re),
                  float(fit.scale), float(fit.llf))


def compare_models_d3(completed, formula: str, null_formula: str) -> pd.Series:
    """Likelihood-ratio test of a model against a nested null model over the imputations
    (D3, Meng & Rubin 1992): maximum-likelihood fits per imputation, log-likelihoods at the
    averaged parameters (coefficients, random-effects covariance and residual variance
    averaged on their natural scale, as mitml::testModels does)."""
    frames = completed_frames(completed)
    full = [_ml_fit(f, formula) for f in frames]
    null = [_ml_fit(f, null_formula) for f in frames]
    k = len(full[0].beta) - len(null[0].beta)
    if k <= 0 or not set(null[0].beta.index) <= set(full[0].beta.index):
        raise MlimputeError(f"'{null_formula}' is not nested in '{formula}'")

    def pooled(fits):
        beta = sum(f.beta for f in fits) / len(fits)
        tau = None if fits[0].tau is None else sum(f.tau for f in fits) / len(fits)
        sigma2 = float(np.mean([f.sigma2 for f in fits]))
        return [f.loglik_at(beta, tau, sigma2) for f in fits]

    return likelihood_ratio_d3([f.loglik for f in full], [f.loglik for f in null],
                               pooled(full), pooled(null), k)
