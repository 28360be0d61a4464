"""The model of interest as part of the imputation model: from an lme4 formula and a data
frame to the engine's :class:`~mlimpute.engine.substantive.SubstantiveData`.

``y ~ x * z + I(x^2) + C(g) + (1 + x | school)`` reads as

* the **outcome** y: imputed from this model (normal, or probit for a binary y);
* the **terms** of the fixed part, as patsy expands them (x, z, x:z, I(x ** 2),
  C(g)[T.b] ...), and of the random part (1, x), each a product of factors over the
  formula's **variables** (x, z, g), rebuilt by the sampler from the variables' current
  values (:mod:`mlimpute.engine.design`);
* the **grouping** school: one classification of the imputation model.

Variables with missing values must be responses of the covariate model (the spec's
responses); fully observed ones are read from the data.  A variable enters as patsy
would read the completed data, so that the imputation model and ``mlimpute pool``'s fit
of the same formula have the same terms: a numeric column by its value (a numeric
binary or categorical response by its category's number), a text or Categorical column,
or ``C(v)``, by dummies of every category but the first.

:func:`spec_for_model` builds the covariate model a user gets from ``--model`` alone.
"""
from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlimpute.engine.design import FUNCTIONS, Design

from .encoding import is_numeric
from ..errors import DataError, SpecError
from .formula import Formula
from .spec import ModelOfInterest, Spec

_OPERATORS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
              ast.Pow: "pow", ast.BitXor: "pow"}


@dataclass
class ModelTerms:
    """What the bridge keeps of a compiled model of interest: names for the chain and for
    the equations, and how to read the outcome back."""

    formula: str
    outcome: str
    family: str                        # "gaussian" or "probit"
    fixed_names: list[str]
    random_names: list[str]
    grouping: str
    categories: list | None            # the outcome's two categories (probit)
    variables: list[str]               # the columns the terms read, in the engine's order


def parse_model(model: ModelOfInterest) -> tuple[Formula, str]:
    """The parsed formula and its grouping (the one random term's), with the errors a
    user can make in the formula itself."""
    text = model.formula
    formula = Formula.parse(text)
    if len(formula.terms) > 1:
        raise SpecError(f"formula '{text}': the model of interest takes the random effects of "
                        f"one grouping; it has {len(formula.terms)} "
                        f"({', '.join(t.group for t in formula.terms)})")
    grouping = formula.terms[0].group if formula.terms else ""
    return formula, grouping


def _factors(code: str, text: str, variable, categorical) -> list[tuple[tuple, str]]:
    """The engine factors one patsy factor expands to, with their column names: one for
    a numeric expression, one dummy per non-reference category for a categorical
    variable (bare, or as C(v))."""
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError:
        raise SpecError(f"formula '{text}': cannot read the term '{code}'") from None
    name = _name_of(node)
    if isinstance(node, ast.Call) and _call_name(node) == "C":
        if len(node.args) != 1 or node.keywords or _name_of(node.args[0]) is None:
            raise SpecError(f"formula '{text}': the term '{code}' is not supported; write C(column)")
        return categorical(_name_of(node.args[0]), code)
    if name is not None:
        dummies = categorical(name, code, required=False)
        if dummies is not None:
            return dummies
    return [(_expression(node, code, text, variable), code)]


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np":
        return func.attr
    return ""


def _name_of(node) -> str | None:
    """The column a node names: a bare name, or patsy's Q("name")."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call) and _call_name(node) == "Q" and len(node.args) == 1 \
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _expression(node, code: str, text: str, variable) -> tuple:
    """An arithmetic factor as the engine's expression tree."""
    name = _name_of(node)
    if name is not None:
        return variable(name, code)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return ("const", float(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _expression(node.operand, code, text, variable)
        return ("neg", inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return (_OPERATORS[type(node.op)], _expression(node.left, code, text, variable),
                _expression(node.right, code, text, variable))
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        function = _call_name(node)
        if function == "I":
            return _expression(node.args[0], code, text, variable)
        if function in FUNCTIONS:
            return ("fn", function, _expression(node.args[0], code, text, variable))
    raise SpecError(f"formula '{text}': the term '{code}' is not supported in a model of "
                    "interest (use columns, C(column), arithmetic in I(...), log, exp, sqrt, abs; "
                    "centre by hand: I(x - 10))")


def _terms(rhs: str, text: str, variable, categorical) -> tuple[Design, list[str]]:
    """The design (engine terms) and column names of a patsy right-hand side."""
    import patsy

    try:
        desc = patsy.ModelDesc.from_formula("~ " + rhs)
    except patsy.PatsyError as exc:
        raise SpecError(f"formula '{text}': {str(exc).splitlines()[0]}") from None
    terms, names = [], []
    for term in desc.rhs_termlist:
        if not term.factors:
            terms.append(())
            names.append("Intercept")
            continue
        expanded = [_factors(f.code, text, variable, categorical) for f in term.factors]
        for combination in itertools.product(*expanded):
            terms.append(tuple(factor for factor, _ in combination))
            names.append(":".join(name for _, name in combination))
    return Design(tuple(terms)), names


def compile_model_of_interest(spec: Spec, frame: pd.DataFrame, names: list[list[str]],
                              categories: dict[str, list], codes: list[np.ndarray]):
    """The engine's SubstantiveData for ``spec.model`` and the names to read it back.

    names : response names per level (0 the units, c + 1 classification c);
    categories : the categories of categorical responses; codes : each row's unit per
    classification.
    """
    from mlimpute.engine.substantive import SubstantiveData

    model = spec.model
    text = model.formula
    formula, grouping = parse_model(model)
    outcome = model.outcome
    if outcome not in frame.columns:
        raise DataError(f"formula '{text}': the outcome '{outcome}' is not in the data")
    if outcome in spec.clusters or outcome in formula.factors:
        raise SpecError(f"formula '{text}': the outcome '{outcome}' is a grouping (cluster "
                        "identifier) of the model; the outcome must be a variable of the units")
    if grouping and grouping not in spec.clusters:
        raise SpecError(f"formula '{text}': the grouping '{grouping}' is not a classification of "
                        f"the imputation model ({', '.join(spec.clusters)})")
    level_of = {name: level for level, level_names in enumerate(names) for name in level_names}
    variables: list[str] = []
    columns: list[np.ndarray] = []
    sources: list[tuple[int, int] | None] = []

    def index_of(name: str, code: str) -> int:
        if name == outcome:
            raise SpecError(f"formula '{text}': the outcome '{outcome}' is also a covariate "
                            f"(term '{code}')")
        if name not in frame.columns:
            raise DataError(f"formula '{text}': the term '{code}' names no column ('{name}')")
        if name in spec.clusters:
            raise SpecError(f"formula '{text}': the cluster identifier '{name}' cannot be a "
                            f"covariate (term '{code}')")
        if name not in variables:
            variables.append(name)
            if name in level_of:
                level = level_of[name]
                sources.append((level, names[level].index(name)))
                columns.append(np.zeros(len(frame)))
            else:
                column = frame[name]
                if column.isna().any():
                    raise DataError(f"column '{name}': it has {int(column.isna().sum())} missing "
                                    f"values but is not a response of the imputation model; list "
                                    "it as a response")
                sources.append(None)
                columns.append(_fixed_values(column))
        return variables.index(name)

    def labels_of(name: str) -> list | None:
        """The categories of a variable patsy reads as categorical (None: numeric)."""
        if name in categories:
            labels = categories[name]
            numeric = all(isinstance(v, (int, float, np.integer, np.floating))
                          and not isinstance(v, bool) for v in labels)
            column = frame[name]
            return None if numeric and is_numeric(column) else list(labels)
        column = frame[name] if name in frame.columns else None
        if column is None or is_numeric(column):
            return None
        return list(pd.Categorical(column.dropna()).categories) \
            if not isinstance(column.dtype, pd.CategoricalDtype) else list(column.cat.categories)

    def variable(name: str, code: str) -> tuple:
        v = index_of(name, code)
        if labels_of(name) is not None:
            raise SpecError(f"formula '{text}': '{name}' is categorical; it cannot enter "
                            f"arithmetic (term '{code}')")
        if name in categories:                          # a numeric category's number
            return ("map", v, tuple(float(c) for c in categories[name]))
        return ("var", v)

    def categorical(name: str, code: str, required: bool = True):
        """Dummies of `name`: always for C(name) (`required`), for a bare name only when
        patsy would read the column as categorical (None otherwise)."""
        labels = labels_of(name) if name in frame.columns else None
        if labels is None:
            if not required:
                return None
            index_of(name, code)
            if name in level_of and name not in categories:
                raise SpecError(f"formula '{text}': the term '{code}' takes '{name}' as "
                                f"categorical, but the imputation model imputes '{name}' as "
                                "continuous (an imputed 2.37 is no category): declare it "
                                f"categorical (--categorical {name}; R: a factor; spec: type = "
                                "\"categorical\")")
            labels = list(categories[name]) if name in categories else \
                sorted(frame[name].dropna().unique().tolist())
        v = index_of(name, code)
        # dummies compare the variable's engine value: the category's code for a response
        # or a text column, the number itself for a numeric column used as C(column)
        coded = name in categories or not is_numeric(frame[name])
        return [(("is", v, float(k) if coded else float(label)), f"{code}[T.{label}]")
                for k, label in enumerate(labels) if k]

    lhs = formula.fixed.split("~", 1)[1]
    fixed, fixed_names = _terms(lhs, text, variable, categorical)
    random_rhs = formula.terms[0].expression if formula.terms else "0"
    random, random_names = _terms(random_rhs, text, variable, categorical)
    if random.width and not grouping:
        raise SpecError(f"formula '{text}': random effects need a grouping")
    classification = spec.clusters.index(grouping) if grouping else 0
    kinds = {name: spec.responses[spec.response_names.index(name)].type
             for name in variables if name in spec.response_names}
    for design, term_names in ((fixed, fixed_names), (random, random_names)):
        _check_domains(text, design, term_names, variables, sources, columns, kinds)
    _check_slopes(text, random, random_names, variables, sources, columns, codes[classification],
                  grouping)
    y, family, outcome_categories = _outcome(frame, outcome, model.family, text)
    data = SubstantiveData(y, "probit" if family == "probit" else "normal",
                           np.column_stack(columns) if columns else np.zeros((len(frame), 0)),
                           sources, fixed, random, classification, *_priors(spec, random.width))
    return data, ModelTerms(text, outcome, family, fixed_names, random_names, grouping,
                            outcome_categories, variables)


def _priors(spec: Spec, q: int):
    """(prior_b, prior_e) of the model of interest from ``spec.priors`` (None: defaults)."""
    p = spec.priors
    prior_b = prior_e = None
    if p.model_df is not None or p.model_scale is not None:
        scale = np.eye(q) if p.model_scale is None else np.array(p.model_scale)
        if scale.shape != (q, q):
            raise SpecError(f"priors.model_scale must be {q} x {q} (the model's random effects: "
                            f"{q}), got {scale.shape[0]} x {scale.shape[1]}")
        prior_b = (float(q) if p.model_df is None else p.model_df, scale)
    if p.model_residual_df is not None or p.model_residual_scale is not None:
        prior_e = (-1.0 if p.model_residual_df is None else p.model_residual_df,
                   0.0 if p.model_residual_scale is None else p.model_residual_scale)
    return prior_b, prior_e


def _fixed_values(column: pd.Series) -> np.ndarray:
    """A fully observed variable's values: numbers, or category codes (patsy's order)."""
    if is_numeric(column):
        return column.astype("float64").to_numpy(dtype=float)
    return pd.Categorical(column).codes.astype(float)


#: functions whose argument must stay in a part of the real line (log: > 0, sqrt: >= 0)
_DOMAIN = {"log": "positive", "sqrt": "non-negative"}


def _functions_of(factor: tuple):
    """(function name, argument) of every log/sqrt/... call inside a factor."""
    if factor[0] == "fn":
        yield factor[1], factor[2]
        yield from _functions_of(factor[2])
    elif factor[0] in ("neg", "add", "sub", "mul", "div", "pow"):
        for part in factor[1:]:
            yield from _functions_of(part)


def _check_domains(text, design: Design, term_names, variables, sources, columns, kinds) -> None:
    """A term like log(x) is refused when x can leave log's domain: its observed values
    are not all positive, or x is imputed as continuous (an unbounded normal draw can be
    0 or negative); the sampler would otherwise meet a NaN and stop mid-run."""
    from mlimpute.engine.design import evaluate, variables_of
    values = np.vstack(columns) if columns else np.zeros((0, 0))
    for term, name in zip(design.terms, term_names):
        for factor in term:
            for function, argument in _functions_of(factor):
                if function not in _DOMAIN:
                    continue
                used = variables_of(argument)
                unbounded = [variables[v] for v in used if sources[v] is not None
                             and kinds.get(variables[v]) == "continuous"]
                if unbounded:
                    raise SpecError(f"formula '{text}': the term '{name}' takes {function}() of "
                                    f"'{unbounded[0]}', which is imputed as continuous: its "
                                    f"imputations need not be {_DOMAIN[function]}; impute "
                                    f"{function}({unbounded[0]}) as a column of its own instead")
                observed = [v for v in used if sources[v] is None]
                if observed and len(observed) == len(used):
                    with np.errstate(all="ignore"):
                        inside = evaluate(argument, values)
                    bad = inside <= 0 if function == "log" else inside < 0
                    if bad.any():
                        raise DataError(f"formula '{text}': the term '{name}' takes "
                                        f"{function}() of values that are not "
                                        f"{_DOMAIN[function]} ({int(bad.sum())} rows)")


def _check_slopes(text, random: Design, random_names, variables, sources, columns, codes,
                  grouping) -> None:
    """A random slope must vary within the grouping's units."""
    for term, name in zip(random.terms, random_names):
        if not term:
            continue
        used = {v for factor in term for v in _variables(factor)}
        within = False
        for v in used:
            if sources[v] is not None and sources[v][0] == 0:
                within = True
            elif sources[v] is None:
                frame = pd.DataFrame({"v": columns[v], "g": codes})
                within = within or bool((frame.groupby("g")["v"].nunique() > 1).any())
        if not within:
            raise SpecError(f"formula '{text}': the random slope '{name}' is constant within "
                            f"each '{grouping}' (a level-2 variable cannot have a random slope "
                            "at its own level)")


def _variables(factor: tuple) -> set[int]:
    from mlimpute.engine.design import variables_of
    return variables_of(factor)


def resolved_family(frame: pd.DataFrame, model: ModelOfInterest) -> str:
    """The family ``"auto"`` stands for with these data (probit for a two-category or
    non-numeric outcome, gaussian otherwise); any other family as given."""
    if model.family != "auto":
        return model.family
    column = frame[model.outcome] if model.outcome in frame.columns else None
    if column is None or column.dropna().empty:
        return "gaussian"
    return "probit" if column.dropna().nunique() == 2 or not is_numeric(column) else "gaussian"


def _outcome(frame: pd.DataFrame, name: str, family: str, text: str):
    """The outcome as the engine takes it (floats, or 0/1 for probit), its family and its
    two categories (probit)."""
    column = frame[name]
    observed = column.dropna()
    if observed.empty:
        raise DataError(f"column '{name}': the outcome of '{text}' has no observed value")
    family = resolved_family(frame, ModelOfInterest(text, family))
    if family == "probit":
        labels = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) \
            else sorted(observed.unique().tolist())
        if len(labels) != 2:
            raise DataError(f"column '{name}': a probit outcome needs 2 categories, found "
                            f"{len(labels)}")
        y = np.where(column.isna(), np.nan, (column == labels[1]).to_numpy(dtype=float))
        return y, family, labels
    if not is_numeric(column):
        raise DataError(f"column '{name}': the outcome of a gaussian model must be numeric "
                        f"(dtype is {column.dtype}); a binary outcome takes family 'probit', "
                        "other categorical outcomes are not supported")
    return column.astype("float64").to_numpy(dtype=float, na_value=np.nan), family, None


def spec_for_model(frame: pd.DataFrame, model: ModelOfInterest, spec: Spec | None = None,
                   cluster: str | list[str] | None = None, crossed: bool = False,
                   **propose_options) -> Spec:
    """The spec of substantive-model-compatible imputation with `model`.

    With a `spec`, its responses (less the outcome, whose type then sets the family) are
    the covariate model.  Without one, the covariate model is REALCOM's default
    (:func:`~mlimpute.model.propose.propose`) less the outcome: every partially observed column
    a response (the formula's incomplete covariates and any auxiliary variables), every
    other fully observed column a covariate, the formula's fully observed variables
    always among them.  The classification is the formula's grouping unless `cluster`
    names it.
    """
    from .propose import propose

    formula, grouping = parse_model(model)
    outcome = model.outcome
    if outcome not in frame.columns:
        raise DataError(f"formula '{model.formula}': the outcome '{outcome}' is not in the data")
    if spec is None:
        clusters = cluster or grouping
        if not clusters:
            raise SpecError(f"formula '{model.formula}' has no random term (expr | group): "
                            "give the cluster identifier")
        spec = propose(frame, clusters, crossed=crossed, **propose_options)
    family = model.family
    responses = []
    for r in spec.responses:
        if r.name == outcome:
            if family == "auto":
                family = {"continuous": "gaussian", "binary": "probit"}.get(r.type, r.type)
                if family not in ("gaussian", "probit"):
                    raise SpecError(f"the outcome '{outcome}' is {r.type}: the model of interest "
                                    "takes a continuous (gaussian) or binary (probit) outcome")
        else:
            responses.append(r)
    covariates = [c for c in spec.covariates if c != outcome]
    names = {r.name for r in responses}
    for name in _formula_columns(formula, frame):
        if name not in names and name not in covariates and name != outcome \
                and name not in spec.clusters and not frame[name].isna().any():
            covariates.append(name)
    level2 = spec.level2_covariates
    if level2 is not None:
        level2 = [c for c in level2 if c != outcome]
    from dataclasses import replace
    return replace(spec, responses=responses, covariates=covariates, level2_covariates=level2,
                   model=ModelOfInterest(model.formula, family))


def _formula_columns(formula: Formula, frame: pd.DataFrame) -> list[str]:
    """Columns the formula's terms name, in the data's order."""
    import re
    terms = formula.fixed.split("~", 1)[1] + " " + " ".join(t.expression for t in formula.terms)
    quoted = set(re.findall(r'Q\("([^"]+)"\)|`([^`]+)`', terms))
    names = set(re.findall(r"[A-Za-z_.][\w.]*", terms)) | {a or b for a, b in quoted}
    return [c for c in frame.columns if c in names]


def responses_needed(frame: pd.DataFrame, model: ModelOfInterest) -> list[str]:
    """The formula's covariates with missing values (what must be responses)."""
    formula, _ = parse_model(model)
    return [c for c in _formula_columns(formula, frame)
            if c != model.outcome and frame[c].isna().any()]

