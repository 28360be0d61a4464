"""Build a :class:`~mlimpute.model.spec.Spec` from the arguments of an R imputation call.

R users arrive with a model already written for one of three packages; these translators
turn it into the same joint model, or refuse with one line saying what the joint model
cannot represent:

- :func:`from_jomo`: ``jomo(Y, Y2, X, X2, Z, clus, meth, nburn, nbetween, nimp)`` with the
  data frames given as column names of one data set;
- :func:`from_mitml`: ``jomoImpute``/``panImpute``'s ``formula`` (one, or the level-1 and
  level-2 pair) or ``type`` vector;
- :func:`from_mice`: a ``predictorMatrix`` and ``method`` vector using the ``2l.*``
  methods that are conditionals of the joint model;
- :func:`from_jomo_smc`: ``jomo.lmer``/``jomo.glmer``'s model of interest and levels
  (substantive-model-compatible imputation).

jomo (and mitml, which calls it) model every factor as unordered with the *last* level as
reference, so factor responses become binary/categorical with ``reference = "last"``,
never ordinal: the translation reproduces the R model, not a better one.  In the joint
model a random slope does not imply a fixed effect (as in jomo's Z and mitml's formulas).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import MlimputeError, SpecError
from .formula import split_random
from .spec import MCMC, PriorSpec, Response, Spec

#: names that stand for jomo's column of ones when X, X2 or Z are given as names
INTERCEPT_NAMES = ("1", "cons", "(Intercept)", "Intercept")


# -- jomo ----------------------------------------------------------------------------

def from_jomo(data: pd.DataFrame, Y: Sequence[str], clus: str, *, Y2: Sequence[str] = (),
              X: Sequence[str] | None = None, X2: Sequence[str] | None = None,
              Z: Sequence[str] | None = None, meth: str = "common", nburn: int = 1000,
              nbetween: int = 1000, nimp: int = 5, seed: int | None = None,
              a: float | None = None, a_prior: float | None = None) -> Spec:
    """The spec of ``jomo(Y = data[Y], Y2 = data[Y2], X = data[X], X2 = data[X2],
    Z = data[Z], clus = data[clus], meth, nburn, nbetween, nimp)``.

    X, X2 and Z name columns of `data`; a column of ones (or one of
    :data:`INTERCEPT_NAMES`) is the intercept.  None is jomo's default: the intercept
    alone (a random intercept for Z).
    """
    _require(data, [clus, *Y, *Y2], "jomo")
    x_fixed, x_intercept = _split_intercept(data, X, "X")
    x2_fixed, x2_intercept = _split_intercept(data, X2, "X2")
    z_slopes, z_intercept = _split_intercept(data, Z, "Z")
    if meth not in ("common", "random"):
        raise SpecError(f"jomo meth = {meth!r}: the joint model has a common level-1 covariance "
                        "('common') or one per cluster drawn from a common distribution "
                        "('random'); 'fixed' has no counterpart")
    responses = ([_jomo_response(data, name, 1, x_intercept) for name in Y]
                 + [_jomo_response(data, name, 2, x2_intercept) for name in Y2])
    priors = PriorSpec(cluster_df_start=a, cluster_df_prior=a_prior)
    return Spec(cluster=clus, responses=responses, covariates=x_fixed,
                level2_covariates=x2_fixed, intercept=True, random_intercept=z_intercept,
                random_slopes=z_slopes,
                level1_covariance="cluster" if meth == "random" else "common",
                mcmc=MCMC(burnin=nburn, between=nbetween, m=nimp, seed=seed), priors=priors)


def from_jomo_smc(data: pd.DataFrame, formula: str, level: Mapping[str, int] | Sequence[int] | None = None,
                  *, family: str = "gaussian", nburn: int = 1000, nbetween: int = 1000,
                  nimp: int = 5, seed: int | None = None) -> Spec:
    """The spec of ``jomo.lmer(formula, data, level, nburn, nbetween, nimp)`` (``family =
    "gaussian"``) or ``jomo.glmer(..., family = "binomial")`` (probit, as jomo's): the
    formula is the model of interest; every other column the formula names is, as in
    jomo, a response of the covariate model (level 1, or level 2 where `level` says 2),
    with an intercept and random intercepts, whether it has missing values or not.
    `level` is jomo's vector over the columns of `data` (or a mapping by name)."""
    from .spec import ModelOfInterest
    from .substantive import _formula_columns, parse_model

    families = {"gaussian": "gaussian", "binomial": "probit"}
    if family not in families:
        raise SpecError(f"jomo.smc family = {family!r}: jomo takes 'gaussian' or 'binomial'")
    model = ModelOfInterest(formula, families[family])
    parsed, grouping = parse_model(model)
    if not grouping:
        raise SpecError(f"formula '{formula}': jomo.lmer needs a random term (expr | cluster)")
    if isinstance(level, Mapping):
        levels = dict(level)
    elif level is None:
        levels = {}
    else:
        levels = dict(zip(data.columns, level))
        if len(levels) != len(list(level)):
            raise SpecError(f"jomo level has {len(list(level))} entries for {data.shape[1]} columns")
    columns = [c for c in _formula_columns(parsed, data)
               if c not in (model.outcome, grouping) and c not in parsed.factors]
    responses = []
    for name in columns:
        if int(levels.get(name, 1)) not in (1, 2):
            raise SpecError(f"jomo level of '{name}' must be 1 or 2, got {levels[name]}")
        responses.append(_jomo_response(data, name, int(levels.get(name, 1)), True))
    return Spec(cluster=grouping, responses=responses, covariates=[], model=model,
                mcmc=MCMC(burnin=nburn, between=nbetween, m=nimp, seed=seed))


def _jomo_response(data: pd.DataFrame, name: str, level: int, intercept: bool,
                   labelled: bool = False) -> Response:
    """jomo's types: a factor is unordered with the last level as reference.  A numeric
    column with value labels (haven's labelled, a Stata labelled variable) is a factor
    too: its numbers are codes, never a measurement to impute as 0.499."""
    column = data[name]
    explicit = None if intercept else False
    if isinstance(column.dtype, pd.CategoricalDtype):
        kind = "binary" if len(column.cat.categories) == 2 else "categorical"
        return Response(name, type=kind, level=level, intercept=explicit, reference="last")
    if labelled:
        kind = "binary" if column.dropna().nunique() == 2 else "categorical"
        return Response(name, type=kind, level=level, intercept=explicit, reference="last")
    if not pd.api.types.is_numeric_dtype(column):
        raise SpecError(f"column '{name}': a jomo response must be numeric or a factor, "
                        f"got {column.dtype}")
    return Response(name, level=level, intercept=explicit)


def _split_intercept(data: pd.DataFrame, names: Sequence[str] | None,
                     what: str) -> tuple[list[str], bool]:
    """(non-constant columns, whether a column of ones is among `names`)."""
    if names is None:
        return [], True
    names = [names] if isinstance(names, str) else list(names)
    columns, intercept = [], False
    for name in names:
        if name in data.columns and _is_ones(data[name]):
            intercept = True
        elif name in INTERCEPT_NAMES and name not in data.columns:
            intercept = True
        elif name not in data.columns:
            raise SpecError(f"jomo {what}: column '{name}' is not in the data")
        else:
            columns.append(name)
    return columns, intercept


def _is_ones(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and bool((column == 1).all())


# -- mitml ---------------------------------------------------------------------------

def from_mitml(data: pd.DataFrame, formula: str | Sequence[str] | None = None, *,
               type: Mapping[str, int] | Sequence | None = None, random_L1: str = "none",
               n_burn: int = 5000, n_iter: int = 100, m: int = 10,
               seed: int | None = None, value_labels: Mapping | None = None) -> Spec:
    """The spec of ``jomoImpute(data, formula = ..., random.L1, n.burn, n.iter, m)`` (or
    ``type = ...``; ``panImpute`` takes the same level-1 model).

    `value_labels` ({column: {code: label}}, as the .rds/.dta readers give them): targets
    with value labels are categorical (binary with two codes), like factors.

    `formula` is a string such as ``"y1 + y2 ~ 1 + x + (1 + x | school)"`` or a pair
    ``[level1, level2]`` with the level-2 one like ``"g ~ 1 + w"``.  `type` is a mapping
    column -> code, a sequence of codes aligned with ``data.columns``, or a pair of these
    (mitml's codes: 1 target, 2 fixed predictor, 3 fixed and random predictor,
    -2 cluster, 0 unused; -1, a grouping variable, is refused).
    """
    if (formula is None) == (type is None):
        raise SpecError("mitml: give exactly one of formula or type")
    formulas = _type_to_formulas(data, type) if type is not None else _as_pair(formula, "formula")
    level1 = _parse_formula(formulas[0], data, level=1)
    if not level1.clusters:
        raise SpecError(f"mitml formula '{formulas[0]}': no cluster term such as (1|id)")
    level2 = _parse_formula(formulas[1], data, level=2) if len(formulas) > 1 else None
    if random_L1 not in ("none", "mean", "full"):
        raise SpecError(f"mitml random.L1 must be 'none', 'mean' or 'full', got {random_L1!r}")
    labelled = {name for name, labels in (value_labels or {}).items() if labels}
    clusters, crossed, codes = _classifications(data, level1, formulas[0])
    responses = [_jomo_response(data, name, 1, level1.intercept, name in labelled)
                 for name in level1.targets]
    if level2 is not None:
        responses += [_jomo_response(data, name, _level_of(data, name, clusters, codes),
                                     level2.intercept, name in labelled)
                      for name in level2.targets]
    slopes = {c: level1.random[c] for c in clusters if level1.random[c]}
    if len(clusters) == 1 or set(slopes) <= {clusters[0]}:
        slopes = slopes.get(clusters[0], [])
    return Spec(clusters=clusters, crossed=crossed, responses=responses,
                covariates=level1.fixed,
                level2_covariates=level2.fixed if level2 is not None else [],
                random_intercept=level1.random_intercept, random_slopes=slopes,
                level1_covariance="common" if random_L1 == "none" else "cluster",
                mcmc=MCMC(burnin=n_burn, between=n_iter, m=m, seed=seed))


def _classifications(data: pd.DataFrame, parsed: "_Formula", text: str
                     ) -> tuple[list[str], bool, dict[str, np.ndarray]]:
    """The formula's grouping factors, innermost (most units) first, whether they are
    crossed rather than each nested in the next (lme4's ``school/class`` gives
    ``school`` and ``school:class``, nested by construction), and each one's unit codes."""
    from mlimpute.engine.model import NestingError, parent_codes
    from .groups import group_codes
    codes = {name: group_codes(data, name)[0] for name in parsed.clusters}
    clusters = sorted(parsed.clusters, key=lambda name: -(int(codes[name].max()) + 1))
    try:
        for inner, outer in zip(clusters, clusters[1:]):
            parent_codes(codes[inner], codes[outer], int(codes[inner].max()) + 1)
        nested = True
    except NestingError:
        nested = False
    return clusters, len(clusters) > 1 and not nested, codes


def _level_of(data: pd.DataFrame, name: str, clusters: list[str],
              codes: dict[str, np.ndarray]) -> int:
    """Level of a level-2 formula's target: the coarsest classification it is constant
    within (the first one when none, where the compiler then says it varies)."""
    from .groups import is_constant_within
    for c in sorted(range(len(clusters)), key=lambda c: int(codes[clusters[c]].max())):
        units = codes[clusters[c]]
        if is_constant_within(data[name], units, int(units.max()) + 1):
            return c + 2
    return 2


class _Formula:
    """One parsed mitml formula: targets, fixed predictors, random part per cluster."""

    def __init__(self):
        self.targets: list[str] = []
        self.fixed: list[str] = []
        self.intercept = True
        self.random: dict[str, list[str]] = {}     # grouping -> random slopes
        self.random_intercept = True
        self.clusters: list[str] = []


def _parse_formula(text: str, data: pd.DataFrame, level: int) -> _Formula:
    """The additive subset of R's formula language that the joint model represents: one
    random term per grouping factor, ``(1 | school) + (1 | class)``, ``(1 | school/class)``
    (groups ``school`` and ``school:class``) or crossed ``(1 | school) + (1 | area)``."""
    if not isinstance(text, str) or text.count("~") != 1:
        raise SpecError(f"mitml formula {text!r}: expected 'targets ~ predictors'")
    lhs, rhs = text.split("~")
    parsed = _Formula()
    parsed.targets = _terms(lhs, text, allow_intercept=False)
    if not parsed.targets:
        raise SpecError(f"mitml formula '{text}': no target variable")
    try:
        fixed, randoms = split_random(rhs, text)
    except MlimputeError as exc:
        raise SpecError(f"mitml {exc}") from None      # "mitml formula '...': ..."
    if randoms and level == 2:
        raise SpecError(f"mitml formula '{text}': a level-2 formula has no random effects")
    intercepts = set()
    for term in randoms:
        if term.group in parsed.random:
            raise SpecError(f"mitml formula '{text}': '{term.group}' has two random terms; "
                            "write them as one, e.g. (1 + x | group)")
        parsed.random[term.group], intercept = _predictors(term.expression, text)
        intercepts.add(intercept)
        parsed.clusters.append(term.group)
    if len(intercepts) > 1:
        raise SpecError(f"mitml formula '{text}': random intercepts must be in every random "
                        "term or in none")
    parsed.random_intercept = intercepts.pop() if intercepts else True
    parsed.fixed, parsed.intercept = _predictors(fixed, text)
    factors = [f for term in randoms for f in term.factors]
    _require(data, parsed.targets + parsed.fixed
             + [c for cols in parsed.random.values() for c in cols] + factors,
             f"mitml formula '{text}'")
    return parsed


def _predictors(text: str, formula: str) -> tuple[list[str], bool]:
    """Column names and whether the intercept is kept (``0``/``-1`` drop it)."""
    intercept = not re.search(r"(^|[+\s])(0|-\s*1)(\s|\+|$)", text)
    cleaned = re.sub(r"-\s*1\b", "", text)
    return [t for t in _terms(cleaned, formula, allow_intercept=True) if t not in ("0", "1")], intercept


def _terms(text: str, formula: str, allow_intercept: bool) -> list[str]:
    terms = [t.strip() for t in text.split("+") if t.strip()]
    for term in terms:
        if re.search(r"[*:^()/%-]|\bI\s*\(", term):
            raise SpecError(f"mitml formula '{formula}': term '{term}' is derived; the joint model "
                            "takes columns only - create it as a column of the data first")
        if term in ("0", "1") and not allow_intercept:
            raise SpecError(f"mitml formula '{formula}': '{term}' cannot be a target")
    return terms


def _as_pair(formula, what: str) -> list[str]:
    if isinstance(formula, str):
        return [formula]
    formula = list(formula)
    if len(formula) not in (1, 2):
        raise SpecError(f"mitml {what}: give one formula or a level-1/level-2 pair")
    return formula


def _type_to_formulas(data: pd.DataFrame, type) -> list[str]:
    """mitml's own rule: targets ~ 1 + types 2 and 3 + (1 + type 3 | type -2)."""
    if isinstance(type, (list, tuple)) and len(type) == 2 and not np.isscalar(type[0]):
        vectors = [_type_vector(data, t) for t in type]
    else:
        vectors = [_type_vector(data, type)]
    level1 = vectors[0]
    if (level1 == -1).any() or any((v == -1).any() for v in vectors):
        raise SpecError("mitml type -1 (separate imputations per group) is not supported; "
                        "impute each group's data separately")
    clusters = list(level1.index[level1 == -2])
    if len(clusters) != 1:
        raise SpecError(f"mitml type: expected one cluster indicator (-2), found {len(clusters)}")
    targets = list(level1.index[level1 == 1])
    fixed = ["1"] + list(level1.index[level1.isin([2, 3])])
    random = ["1"] + list(level1.index[level1 == 3])
    formulas = [f"{' + '.join(targets)} ~ {' + '.join(fixed)} + ({' + '.join(random)} | {clusters[0]})"]
    if len(vectors) == 2:
        level2 = vectors[1]
        formulas.append(f"{' + '.join(level2.index[level2 == 1])} ~ "
                        f"{' + '.join(['1'] + list(level2.index[level2.isin([2, 3])]))}")
    return formulas


def _type_vector(data: pd.DataFrame, type) -> pd.Series:
    if isinstance(type, Mapping):
        _require(data, list(type), "mitml type")
        codes = pd.Series(0, index=data.columns).astype(int)
        codes[list(type)] = list(type.values())
    else:
        values = list(type)
        if len(values) != data.shape[1]:
            raise SpecError(f"mitml type has {len(values)} entries for {data.shape[1]} columns")
        codes = pd.Series(values, index=data.columns)
    unknown = sorted(set(codes) - {-2, -1, 0, 1, 2, 3})
    if unknown:
        raise SpecError(f"mitml type: unknown code {unknown[0]} (expected -2, -1, 0, 1, 2 or 3)")
    return codes.astype(int)


# -- mice ----------------------------------------------------------------------------

#: mice methods whose model the joint model takes over: method -> (level, type).  2l.pan,
#: 2l.lmer and 2lonly.norm are conditionals of it; 2l.norm's cluster-specific residual
#: variance is level1_covariance = "cluster"; 2l.bin's logistic model becomes the probit
#: binary response; 2lonly.mean (the cluster mean of observed values) becomes a level-2 response.
MICE_METHODS = {
    "2l.pan": (1, "continuous"), "2l.lmer": (1, "continuous"), "2l.norm": (1, "continuous"),
    "2l.bin": (1, "binary"), "2lonly.norm": (2, "continuous"), "2lonly.mean": (2, "continuous"),
}


def from_mice(data: pd.DataFrame, predictorMatrix, method: Mapping[str, str] | Sequence[str],
              *, m: int = 5, seed: int | None = None, burnin: int = 1000,
              between: int = 500) -> Spec:
    """The joint model whose conditionals are ``mice(data, method, predictorMatrix)``'s.

    `predictorMatrix` is a square DataFrame (rows: imputed variables, columns:
    predictors; mice's codes -2 cluster, 1 fixed, 2 fixed and random, 3/4 cluster means)
    or a nested mapping; `method` a mapping or a sequence aligned with ``data.columns``.
    Variables with missing values must use a method of :data:`MICE_METHODS`; each
    target's fully observed predictors become its own covariates; predictors that are
    themselves imputed are already in the joint model.  The random-effects design must
    be the same for every level-1 target (the joint model has one).
    """
    matrix = _predictor_matrix(data, predictorMatrix)
    methods = _methods(data, method)
    incomplete = [c for c in data.columns if data[c].isna().any()]
    targets = [c for c in data.columns if methods.get(c, "")]
    for name in incomplete:
        if not methods.get(name, ""):
            raise SpecError(f"column '{name}': has missing values but an empty mice method; "
                            "give it a 2l method or drop it")
    for name in targets:
        if methods[name] not in MICE_METHODS:
            raise SpecError(f"column '{name}': mice method '{methods[name]}' is not a conditional "
                            f"of the joint model (supported: {', '.join(MICE_METHODS)})")
    if not targets:
        raise SpecError("mice: no variable has an imputation method")
    clusters = {c for t in targets for c in matrix.columns[matrix.loc[t] == -2]}
    if len(clusters) != 1:
        raise SpecError(f"mice predictorMatrix: expected one cluster variable (-2) shared by all "
                        f"targets, found {sorted(clusters) or 'none'}")
    cluster = clusters.pop()
    without = [t for t in targets if -2 not in set(matrix.loc[t])]
    if without:
        raise SpecError(f"mice predictorMatrix row '{without[0]}': no cluster variable (-2)")
    responses, slopes = [], {}
    for name in targets:
        level, kind = MICE_METHODS[methods[name]]
        row = matrix.loc[name]
        means = list(row.index[row.isin([3, 4])])
        if means:
            raise SpecError(f"mice predictorMatrix row '{name}': cluster-mean predictor "
                            f"'{means[0]}' (code {int(row[means[0]])}) is not part of the joint "
                            "model; add the cluster mean as a column instead")
        observed = [c for c in row.index[row.isin([1, 2])] if c not in targets]
        if kind == "binary" and isinstance(data[name].dtype, pd.CategoricalDtype) \
                and len(data[name].cat.categories) != 2:
            raise SpecError(f"column '{name}': 2l.bin needs two categories")
        responses.append(Response(name, type=kind, level=level, covariates=observed))
        if level == 1:
            slopes[name] = list(row.index[row == 2])
    designs = {tuple(s) for s in slopes.values()}
    if len(designs) > 1:
        a, b = [k for k in slopes][:2]
        raise SpecError(f"mice predictorMatrix: random effects differ between '{a}' "
                        f"({', '.join(slopes[a]) or 'intercept only'}) and '{b}' "
                        f"({', '.join(slopes[b]) or 'intercept only'}); the joint model has one "
                        "random-effects design")
    random = list(designs.pop()) if designs else []
    imputed_slopes = [c for c in random if c in targets]
    if imputed_slopes:
        raise SpecError(f"mice predictorMatrix: '{imputed_slopes[0]}' has a random effect (code 2) "
                        "but is itself imputed; random-effect covariates must be fully observed")
    norm = {name for name in targets if methods[name] == "2l.norm"}
    level1_continuous = {r.name for r in responses if r.level == 1 and r.type == "continuous"}
    if norm and norm != level1_continuous:
        raise SpecError(f"mice method '2l.norm' (cluster-specific residual variance) for "
                        f"{', '.join(sorted(norm))} but not for "
                        f"{', '.join(sorted(level1_continuous - norm))}: use one kind for all")
    covariates = sorted({c for r in responses for c in r.covariates},
                        key=list(data.columns).index)
    return Spec(cluster=cluster, responses=responses, covariates=covariates,
                random_slopes=random,
                level1_covariance="cluster" if norm else "common",
                mcmc=MCMC(burnin=burnin, between=between, m=m, seed=seed))


def _predictor_matrix(data: pd.DataFrame, matrix) -> pd.DataFrame:
    if isinstance(matrix, pd.DataFrame):
        frame = matrix
    elif isinstance(matrix, Mapping):
        frame = pd.DataFrame(matrix).T          # {target: {predictor: code}}
    else:
        frame = pd.DataFrame(matrix)            # a plain square array, columns in data order
    frame = frame.fillna(0)
    if frame.shape[0] == frame.shape[1] == data.shape[1] and \
            list(frame.columns) == list(range(data.shape[1])):
        frame = pd.DataFrame(frame.to_numpy(), index=data.columns, columns=data.columns)
    _require(data, list(frame.index) + list(frame.columns), "mice predictorMatrix")
    return frame.reindex(index=data.columns, columns=data.columns, fill_value=0).astype(int)


def _methods(data: pd.DataFrame, method) -> dict:
    if isinstance(method, Mapping):
        _require(data, list(method), "mice method")
        return {k: (v or "") for k, v in method.items()}
    values = list(method)
    if len(values) != data.shape[1]:
        raise SpecError(f"mice method has {len(values)} entries for {data.shape[1]} columns")
    return {c: (v or "") for c, v in zip(data.columns, values)}


def _require(data: pd.DataFrame, names: Iterable[str], what: str) -> None:
    for name in names:
        if name not in data.columns:
            raise SpecError(f"{what}: column '{name}' is not in the data")
