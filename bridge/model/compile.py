"""Turn a spec and a data frame into the engine's arrays, checking the data on the way.

This is the only place that knows both the user's column names and the engine's
numeric layout.  Every data problem is reported as a one-line :class:`DataError`
naming the column.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlimpute.engine import REGISTRY, Classification, LevelData, ModelData, Priors
from mlimpute.engine.model import NestingError, parent_codes
from mlimpute.engine.responses import make_response_type

from .dates import as_days, date_kind
from .encoding import Encoded, check_magnitude, encode, is_numeric
from .groups import cluster_codes, is_constant_within, require_columns
from ..errors import DataError, SpecError
from .spec import Response, Spec

INTERCEPT = "cons"          # REALCOM's name for the constant, used in labels and equations
MAX_DUMMY_LEVELS = 50
#: condition number of a level's design above which its normal equations (condition
#: squared) lose all precision in float64
MAX_CONDITION = 1e8


@dataclass
class CompiledModel:
    """Engine input plus the names needed to read the engine's output back.

    Per level (index 0 the units, c + 1 classification ``spec.clusters[c]``): response
    columns in engine order (``names``), design columns (``covariates``: INTERCEPT,
    covariates, dummies), working columns (``working``, latents named name.k) and the
    response each belongs to (``owner``).  Per classification: unit labels, each row's
    unit code and the columns with random coefficients (``random_columns``).  The
    ``level1_*``/``level2_*`` and ``cluster_*`` names are the two-level views.
    """

    data: ModelData
    spec: Spec
    labels: list[pd.Index]
    codes: list[np.ndarray]
    names: list[list[str]]
    covariates: list[list[str]]
    random_columns: list[list[str]]
    working: list[list[str]]
    owner: list[list[int]]
    categories: dict[str, list]       # categories of binary/ordinal/categorical responses
    #: the model of interest when it is part of the imputation model (``spec.model``)
    substantive: "ModelTerms | None" = None

    cluster_labels = property(lambda self: self.labels[0])
    cluster_codes = property(lambda self: self.codes[0])
    level1_names = property(lambda self: self.names[0])
    level2_names = property(lambda self: self.names[1])
    level1_covariates = property(lambda self: self.covariates[0])
    level2_covariates = property(lambda self: self.covariates[1])
    level1_working = property(lambda self: self.working[0])
    level2_working = property(lambda self: self.working[1])
    level1_owner = property(lambda self: self.owner[0])
    level2_owner = property(lambda self: self.owner[1])
    random_names = property(lambda self: self.random_columns[0])

    @property
    def levels(self) -> list:
        """The engine's LevelData of every level, in the same order."""
        return [self.data.level1] + [c.level for c in self.data.classifications]

    def rows_of(self, level: int) -> np.ndarray | slice:
        """For each data row, the row of `level` holding its value (level 0: itself)."""
        return slice(None) if level == 0 else self.codes[level - 1]


def _check_nesting(spec: Spec, codes: list[np.ndarray], labels: list[pd.Index]) -> None:
    """Nested classifications (innermost first): every unit of one lies in one unit of
    the next.  The first that does not is named, with two of its parents."""
    if spec.crossed:
        return
    for c in range(len(codes) - 1):
        try:
            parent_codes(codes[c], codes[c + 1], len(labels[c]))
        except NestingError as exc:
            inner, outer = spec.clusters[c], spec.clusters[c + 1]
            a, b = (_shown(labels[c + 1][p]) for p in exc.parents)
            try:                                  # listed outermost first?
                parent_codes(codes[c + 1], codes[c], len(labels[c + 1]))
                fix = f"list the classifications innermost first ('{outer}' before '{inner}')"
            except NestingError:
                fix = (f"give the {inner} ids unique across {outer}s, or declare the "
                       "classifications crossed")
            raise DataError(f"column '{inner}': {inner} {_shown(labels[c][exc.unit])} lies in two "
                            f"'{outer}' units ({a} and {b}), so '{inner}' is not nested in "
                            f"'{outer}'; {fix}") from None


def _check_distinct(spec: Spec, codes: list[np.ndarray], labels: list[pd.Index]) -> None:
    """Two classifications that group the rows the same way (each unit of one is exactly
    one unit of the other) are one classification given twice: its variance would be
    split between them at random, so this is refused."""
    for c in range(len(codes)):
        for d in range(c + 1, len(codes)):
            pairs = np.unique(np.stack([codes[c], codes[d]]), axis=1).shape[1]
            if pairs == len(labels[c]) == len(labels[d]):
                raise DataError(f"columns '{spec.clusters[c]}' and '{spec.clusters[d]}' group the "
                                f"rows the same way (every {spec.clusters[c]} is exactly one "
                                f"{spec.clusters[d]}): they are one classification; give one of "
                                "them")


def _shown(label) -> str:
    """A cluster label as the user wrote it: 12, not np.int64(12); text quoted."""
    label = label.item() if isinstance(label, np.generic) else label
    return repr(label) if isinstance(label, str) else str(label)


def _numeric_covariate(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Design columns for one covariate: numeric as is; categorical/text as 0/1 dummies
    (first level the reference).  Covariates must be fully observed."""
    column = frame[name]
    if column.isna().any():
        raise DataError(f"column '{name}': covariates must be fully observed but it has "
                        f"{int(column.isna().sum())} missing values (make it a response)")
    if date_kind(column):
        return pd.DataFrame({name: as_days(column)}, index=frame.index)
    if is_numeric(column):
        values = column.astype(float)
        if not np.isfinite(values.to_numpy()).all():
            raise DataError(f"column '{name}': covariate has infinite values")
        check_magnitude(name, values.to_numpy())
        return pd.DataFrame({name: values.to_numpy()}, index=frame.index)
    levels = pd.Categorical(column)
    if len(levels.categories) < 2:
        raise DataError(f"column '{name}': a covariate with one value only "
                        f"({levels.categories[0]!r}) carries no information; exclude it")
    if len(levels.categories) > MAX_DUMMY_LEVELS:
        raise DataError(f"column '{name}': a non-numeric covariate with {len(levels.categories)} "
                        f"distinct values (more than {MAX_DUMMY_LEVELS}) cannot be dummy-coded")
    dummies = {f"{name}[{cat}]": (levels.codes == k).astype(float)
               for k, cat in enumerate(levels.categories) if k > 0}
    return pd.DataFrame(dummies, index=frame.index)


def _design(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    if INTERCEPT in names:
        raise DataError(f"column '{INTERCEPT}' has the name mlimpute gives the intercept; "
                        "rename it, or leave it out if it is a column of ones")
    parts = [pd.DataFrame({INTERCEPT: np.ones(len(frame))}, index=frame.index)]
    parts += [_numeric_covariate(frame, n) for n in names]
    return pd.concat(parts, axis=1)


def _encoded(frame: pd.DataFrame, response: Response) -> Encoded:
    if response.type not in REGISTRY:
        supported = ", ".join(sorted(REGISTRY))
        raise SpecError(f"response '{response.name}': type '{response.type}' is not supported by "
                        f"this version of mlimpute (supported: {supported})")
    return encode(frame[response.name], response.type, response.reference)


def working_labels(names: list[str], kinds: list[str],
                   n_categories: list[int | None]) -> tuple[list[str], list[int]]:
    """Labels of the engine's working columns and the response each belongs to: the
    response name, or name.k for the latent of category k (k = 1..K-1, category 0 the
    reference) of a categorical response."""
    labels, owner = [], []
    for r, (name, kind, k) in enumerate(zip(names, kinds, n_categories)):
        names_here = make_response_type(kind, k).working_labels(name)
        labels += names_here
        owner += [r] * len(names_here)
    return labels, owner


def _weights(frame: pd.DataFrame, name: str | None, what: str) -> np.ndarray | None:
    """A weight column as floats: numeric, fully observed, non-negative, not all zero."""
    if name is None:
        return None
    require_columns(frame, [name], what)
    column = frame[name]
    if not is_numeric(column):
        raise DataError(f"column '{name}': a {what} must be numeric")
    values = column.astype("float64").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any():
        raise DataError(f"column '{name}': {what} has {int(np.isnan(values).sum())} missing values")
    if not np.isfinite(values).all() or (values < 0).any():
        raise DataError(f"column '{name}': {what}s must be finite and non-negative")
    if values.sum() <= 0:
        raise DataError(f"column '{name}': {what}s sum to zero")
    check_magnitude(name, values)
    return values


def check_against_data(spec: Spec, frame: pd.DataFrame) -> None:
    """Validate the spec against a frame (compiles it and throws the arrays away)."""
    compile_model(spec, frame)


def _level_design(spec: Spec, frame: pd.DataFrame, responses: list[Response],
                  default: list[str], codes: np.ndarray | None, n_clusters: int, level: int):
    """Design matrix (union of all equations' covariates) and coefficient mask of the
    responses of `level` (1 the units, k the classification ``clusters[k - 2]`` with row
    codes `codes`, whose covariates must be constant within its units)."""
    wanted: list[str] = []
    for r in responses:
        for c in (r.covariates if r.covariates is not None else default):
            if c not in wanted:
                wanted.append(c)
    require_columns(frame, wanted, f"covariate of a level-{level} response")
    if level > 1:
        for c in wanted:
            if not is_constant_within(frame[c], codes, n_clusters):
                raise DataError(f"column '{c}': a covariate of a level-{level} response must be "
                                f"constant within each '{spec.clusters[level - 2]}'")
    design = _design(frame, wanted)
    columns = list(design.columns)
    mask = np.zeros((len(columns), len(responses)), dtype=bool)
    for r_index, r in enumerate(responses):
        own = r.covariates if r.covariates is not None else default
        for k, col in enumerate(columns):
            if col == INTERCEPT:
                mask[k, r_index] = spec.uses_intercept(r)
            else:
                source = col.split("[", 1)[0] if col not in frame.columns else col
                mask[k, r_index] = source in own
        if not mask[:, r_index].any():
            raise SpecError(f"response '{r.name}': its equation has no covariate and no intercept")
    return design, columns, mask


def _rank_check(design: np.ndarray, names: list[str], level: int) -> None:
    """Refuse a design the sampler cannot use: collinear columns (judged with every column
    scaled to a largest value of 1, so that a column's size is not mistaken for
    collinearity), or columns whose sizes differ so much that the normal equations lose
    all precision (named: rescale that column)."""
    if not design.shape[1]:
        return
    size = np.abs(design).max(axis=0)
    size[size == 0] = 1.0
    scaled = design / size
    singular = np.linalg.svd(scaled, compute_uv=False)
    tolerance = singular.max() * max(design.shape) * np.finfo(float).eps
    if (singular <= tolerance).any():
        rank = int((singular > tolerance).sum())
        redundant = [name for k, name in enumerate(names) if name != INTERCEPT and
                     np.linalg.matrix_rank(np.delete(scaled, k, axis=1)) == rank]
        culprits = ", ".join(f"'{n}'" for n in redundant[-3:]) or "one of them"
        raise DataError(f"the level-{level} covariates ({', '.join(names)}) are collinear: "
                        f"drop {culprits if len(redundant) <= 1 else 'one of ' + culprits}")
    raw = np.linalg.svd(design, compute_uv=False)
    if raw.min() == 0 or raw.max() / raw.min() > MAX_CONDITION:
        spread = np.abs(np.log10(size))
        worst = names[int(np.argmax(spread))]
        raise DataError(f"column '{worst}': values of size {size[int(np.argmax(spread))]:.3g} next "
                        f"to the other level-{level} covariates make the design numerically "
                        "singular; rescale the column (e.g. to thousands or millions)")


def _check_not_constant(name: str, values: np.ndarray) -> None:
    observed = values[~np.isnan(values)]
    if observed.size and (observed == observed[0]).all():
        raise DataError(f"column '{name}': every observed value is {observed[0]:g}; a response "
                        "that never varies cannot be modelled (fill it in by hand or leave it out)")


def _unit_values(spec: Spec, frame: pd.DataFrame, response: Response, values: np.ndarray,
                 codes: np.ndarray, labels: pd.Index, cluster: str) -> np.ndarray:
    """One value per unit of a classification for a response that lives there; it must be
    constant within each unit."""
    per_unit = pd.Series(values).groupby(codes)
    varies = (per_unit.nunique() > 1).to_numpy()
    if varies.any():
        bad = labels[int(np.flatnonzero(varies)[0])]
        level = spec.level_of(response) + 1
        raise DataError(f"column '{response.name}': a level-{level} response must be constant "
                        f"within each '{cluster}', but it varies in {cluster} {_shown(bad)}")
    return per_unit.first().reindex(range(len(labels))).to_numpy()


def _observed_and_varying(name: str, column: np.ndarray) -> None:
    if np.isnan(column).all():
        raise DataError(f"column '{name}': no observed value, cannot be imputed")
    _check_not_constant(name, column)


def _unit_weights(spec: Spec, frame: pd.DataFrame, cluster: str, codes: np.ndarray,
                  n_units: int) -> np.ndarray | None:
    """The weight of each unit of a classification (None without one); constant within."""
    column = spec.weight_of(cluster)
    what = "level-2 weight" if cluster == spec.cluster else f"weight of '{cluster}'"
    weights = _weights(frame, column, what)
    if weights is None:
        return None
    if not is_constant_within(frame[column], codes, n_units):
        raise DataError(f"column '{column}': a {what} must be constant within each '{cluster}'")
    return pd.Series(weights).groupby(codes).first().to_numpy()


def _check_weights_within_parents(spec: Spec, classifications: list, labels: list[pd.Index]) -> None:
    """Weights are scaled within each unit of the classification above: every such unit
    needs a positive weight among its inner units."""
    for c, cls in enumerate(classifications):
        if cls.weights is None or cls.parent is None:
            continue
        parent = classifications[cls.parent]
        up = parent_codes(cls.codes, parent.codes, cls.n_units)
        sums = np.bincount(up, weights=cls.weights, minlength=parent.n_units)
        if (sums <= 0).any():
            bad = labels[cls.parent][int(np.flatnonzero(sums <= 0)[0])]
            raise DataError(f"column '{spec.weight_of(spec.clusters[c])}': every weight of the "
                            f"'{spec.clusters[c]}' units in {spec.clusters[cls.parent]} "
                            f"{_shown(bad)} is zero")


def compile_model(spec: Spec, frame: pd.DataFrame) -> CompiledModel:
    """Build the engine's :class:`ModelData` from a spec and a data frame."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError("the data must be a pandas DataFrame")
    if len(frame) == 0:
        raise DataError("the data set has no rows")
    per_cluster = [cluster_codes(spec, frame, name) for name in spec.clusters]
    codes = [c for c, _ in per_cluster]
    labels = [lab for _, lab in per_cluster]
    _check_nesting(spec, codes, labels)
    _check_distinct(spec, codes, labels)
    slopes = spec.slopes_by_classification
    for name, unit_labels in zip(spec.clusters, labels):
        has_part = bool(spec.responses_at(spec.clusters.index(name) + 1)) or (
            bool(spec.level1_responses) and (spec.random_intercept or bool(slopes[name])))
        if len(unit_labels) < 2 and has_part:
            raise DataError(f"column '{name}': every row is in one cluster ({_shown(unit_labels[0])}); "
                            "the level-2 covariance needs at least 2 clusters")
    require_columns(frame, spec.response_names, "response")
    for columns in slopes.values():
        require_columns(frame, columns, "random slope")

    encoded = {r.name: _encoded(frame, r) for r in spec.responses}
    responses1 = spec.level1_responses
    y1 = np.column_stack([encoded[r.name].values for r in responses1]) if responses1 \
        else np.zeros((len(frame), 0))
    for r, column in zip(responses1, y1.T):
        _observed_and_varying(r.name, column)
    design1, names1, mask1 = _level_design(spec, frame, responses1, spec.covariates, None, 0, 1)
    x1 = design1.to_numpy(dtype=float)
    if responses1:
        _rank_check(x1, names1, 1)
    weights1 = _weights(frame, spec.level1_weight, "level-1 weight")
    if weights1 is not None:
        sums = np.bincount(codes[0], weights=weights1, minlength=len(labels[0]))
        if (sums <= 0).any():
            bad = labels[0][int(np.flatnonzero(sums <= 0)[0])]
            raise DataError(f"column '{spec.level1_weight}': every level-1 weight in cluster "
                            f"{_shown(bad)} is zero")

    from .delta import shift_arrays
    shifts = shift_arrays(spec, frame, codes)
    names, covariates, working, owner = [[r.name for r in responses1]], [names1], [], []
    kinds = [[r.type for r in responses1]]
    ncats = [[encoded[r.name].n_categories for r in responses1]]
    classifications, random_columns = [], []
    for c, name in enumerate(spec.clusters):
        unit, n_units = codes[c], len(labels[c])
        responses = spec.responses_at(c + 1)
        y = np.full((n_units, len(responses)), np.nan)
        for k, r in enumerate(responses):
            y[:, k] = _unit_values(spec, frame, r, encoded[r.name].values, unit, labels[c], name)
            _observed_and_varying(r.name, y[:, k])
        default = spec.level2_covariates
        if default is None:
            require_columns(frame, spec.covariates, "covariate")
            default = [v for v in spec.covariates if is_constant_within(frame[v], unit, n_units)]
        design, design_names, mask = _level_design(spec, frame, responses, default, unit,
                                                   n_units, c + 2)
        first_row = pd.Series(np.arange(len(frame))).groupby(unit).first().to_numpy()
        x = design.to_numpy(dtype=float)[first_row]
        if responses:
            _rank_check(x, design_names, c + 2)
        z_columns, z_names = [], []
        if spec.random_intercept:
            z_columns.append(np.ones(len(frame)))
            z_names.append(INTERCEPT)
        for column in slopes[name]:
            z_columns.append(_numeric_covariate(frame, column).to_numpy(dtype=float)[:, 0])
            z_names.append(column)
        z = np.column_stack(z_columns) if z_columns else np.zeros((len(frame), 0))
        parent = c + 1 if not spec.crossed and c + 1 < len(spec.clusters) else None
        kinds.append([r.type for r in responses])
        ncats.append([encoded[r.name].n_categories for r in responses])
        level = LevelData(y, x, mask, kinds[-1], ncats[-1], shifts[c + 1])
        classifications.append(Classification(unit, level, z,
                                              _unit_weights(spec, frame, name, unit, n_units), parent))
        names.append([r.name for r in responses])
        covariates.append(design_names)
        random_columns.append(z_names)
    for level_names, level_kinds, level_ncat in zip(names, kinds, ncats):
        labels_here, owner_here = working_labels(level_names, level_kinds, level_ncat)
        working.append(labels_here)
        owner.append(owner_here)

    _check_weights_within_parents(spec, classifications, labels)
    p = spec.priors
    priors = Priors(p.level1_df, None if p.level1_scale is None else np.array(p.level1_scale),
                    p.level2_df, None if p.level2_scale is None else np.array(p.level2_scale),
                    p.cluster_df_start, p.cluster_df_prior)
    categories = {name: enc.categories for name, enc in encoded.items() if enc.categories is not None}
    substantive = terms = None
    if spec.model is not None:
        from .substantive import compile_model_of_interest
        substantive, terms = compile_model_of_interest(spec, frame, names, categories, codes)
        if terms.categories is not None:
            categories[terms.outcome] = terms.categories
    try:
        weighted = weights1 is not None or any(c.weights is not None for c in classifications)
        cluster_covariance = spec.level1_covariance == "cluster"
        joint = spec.mcmc.fixed_random == "joint" and not weighted and not cluster_covariance
        data = ModelData(LevelData(y1, x1, mask1, kinds[0], ncats[0], shifts[0]), classifications,
                         priors=priors, weights1=weights1, cluster_covariance=cluster_covariance,
                         block_fixed_random=joint, substantive=substantive)
        # check prior dimensions now rather than inside the sampler
        priors.level1(len(working[0]))
        for c, cls in enumerate(classifications):
            nested = sum(len(working[k + 1]) for k in range(c) if c in data.above(k))
            priors.level2(len(working[0]) * cls.z.shape[1] + nested + len(working[c + 1]))
        if data.cluster_covariance:
            priors.cluster_df(len(working[0]))
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return CompiledModel(data, spec, labels, codes, names, covariates, random_columns, working,
                         owner, categories, terms)
