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
from mlimpute.engine.responses import make_response_type

from .encoding import Encoded, check_magnitude, encode, is_numeric
from .errors import DataError, SpecError
from .spec import Response, Spec

INTERCEPT = "cons"          # REALCOM's name for the constant, used in labels and equations
MAX_DUMMY_LEVELS = 50
#: condition number of a level's design above which its normal equations (condition
#: squared) lose all precision in float64
MAX_CONDITION = 1e8


@dataclass
class CompiledModel:
    """Engine input plus the names needed to read the engine's output back."""

    data: ModelData
    spec: Spec
    cluster_labels: pd.Index          # label of cluster code j
    cluster_codes: np.ndarray         # code of each row
    level1_names: list[str]           # response columns, engine column order
    level2_names: list[str]
    level1_covariates: list[str]      # design columns (INTERCEPT, covariates, dummies)
    level2_covariates: list[str]
    random_names: list[str]           # columns of z
    level1_working: list[str]         # engine working columns (latents named name.k)
    level2_working: list[str]
    level1_owner: list[int]           # response index of each working column
    level2_owner: list[int]
    categories: dict[str, list]       # categories of binary/ordinal/categorical responses


def is_constant_within(values: pd.Series, codes: np.ndarray, n_clusters: int) -> bool:
    """True if the non-missing values of a column are constant within every cluster."""
    frame = pd.DataFrame({"v": values.to_numpy(), "c": codes}).dropna()
    if frame.empty:
        return True
    return bool((frame.groupby("c")["v"].nunique() <= 1).all())


def cluster_codes(spec: Spec, frame: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    _require_columns(frame, [spec.cluster], "cluster identifier")
    column = frame[spec.cluster]
    if column.isna().any():
        raise DataError(f"column '{spec.cluster}': the cluster identifier has "
                        f"{int(column.isna().sum())} missing values")
    codes, labels = pd.factorize(column, sort=True)
    return codes.astype(np.int64), pd.Index(labels)


def _shown(label) -> str:
    """A cluster label as the user wrote it: 12, not np.int64(12); text quoted."""
    label = label.item() if isinstance(label, np.generic) else label
    return repr(label) if isinstance(label, str) else str(label)


def _require_columns(frame: pd.DataFrame, names, what: str) -> None:
    for name in names:
        if name not in frame.columns:
            raise DataError(f"column '{name}' ({what}) is not in the data")


def _numeric_covariate(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Design columns for one covariate: numeric as is; categorical/text as 0/1 dummies
    (first level the reference).  Covariates must be fully observed."""
    column = frame[name]
    if column.isna().any():
        raise DataError(f"column '{name}': covariates must be fully observed but it has "
                        f"{int(column.isna().sum())} missing values (make it a response)")
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
    _require_columns(frame, [name], what)
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
                  default: list[str], codes: np.ndarray, n_clusters: int, level: int):
    """Design matrix (union of all equations' covariates) and coefficient mask."""
    wanted: list[str] = []
    for r in responses:
        for c in (r.covariates if r.covariates is not None else default):
            if c not in wanted:
                wanted.append(c)
    _require_columns(frame, wanted, f"covariate of a level-{level} response")
    if level == 2:
        for c in wanted:
            if not is_constant_within(frame[c], codes, n_clusters):
                raise DataError(f"column '{c}': a covariate of a level-2 response must be "
                                f"constant within each '{spec.cluster}'")
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


def compile_model(spec: Spec, frame: pd.DataFrame) -> CompiledModel:
    """Build the engine's :class:`ModelData` from a spec and a data frame."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError("the data must be a pandas DataFrame")
    if len(frame) == 0:
        raise DataError("the data set has no rows")
    codes, labels = cluster_codes(spec, frame)
    n_clusters = len(labels)
    has_level2_part = bool(spec.level2_responses) or (
        bool(spec.level1_responses) and (spec.random_intercept or bool(spec.random_slopes)))
    if n_clusters < 2 and has_level2_part:
        raise DataError(f"column '{spec.cluster}': every row is in one cluster ({_shown(labels[0])}); "
                        "the level-2 covariance needs at least 2 clusters")
    _require_columns(frame, spec.response_names, "response")
    _require_columns(frame, spec.random_slopes, "random slope")

    responses1, responses2 = spec.level1_responses, spec.level2_responses
    encoded = {r.name: _encoded(frame, r) for r in spec.responses}
    y1 = np.column_stack([encoded[r.name].values for r in responses1]) if responses1 \
        else np.zeros((len(frame), 0))
    for r, column in zip(responses1, y1.T):
        if np.isnan(column).all():
            raise DataError(f"column '{r.name}': no observed value, cannot be imputed")
        _check_not_constant(r.name, column)

    # level-2 responses: one value per cluster, constant within cluster
    y2 = np.full((n_clusters, len(responses2)), np.nan)
    for k, r in enumerate(responses2):
        series = pd.Series(encoded[r.name].values)
        per_cluster = series.groupby(codes)
        if (per_cluster.nunique() > 1).any():
            bad = labels[int(np.flatnonzero((per_cluster.nunique() > 1).to_numpy())[0])]
            raise DataError(f"column '{r.name}': a level-2 response must be constant within each "
                            f"'{spec.cluster}', but it varies in cluster {_shown(bad)}")
        y2[:, k] = per_cluster.first().reindex(range(n_clusters)).to_numpy()
        if np.isnan(y2[:, k]).all():
            raise DataError(f"column '{r.name}': no observed value, cannot be imputed")
        _check_not_constant(r.name, y2[:, k])

    level2_default = spec.level2_covariates
    if level2_default is None:
        _require_columns(frame, spec.covariates, "covariate")
        level2_default = [c for c in spec.covariates
                          if is_constant_within(frame[c], codes, n_clusters)]
    design1, names1, mask1 = _level_design(spec, frame, responses1, spec.covariates, codes, n_clusters, 1)
    design2_rows, names2, mask2 = _level_design(spec, frame, responses2, level2_default, codes,
                                                n_clusters, 2)
    first_row = pd.Series(np.arange(len(frame))).groupby(codes).first().to_numpy()
    x1 = design1.to_numpy(dtype=float)
    x2 = design2_rows.to_numpy(dtype=float)[first_row]
    if responses1:
        _rank_check(x1, names1, 1)
    if responses2:
        _rank_check(x2, names2, 2)

    z_columns, z_names = [], []
    if spec.random_intercept:
        z_columns.append(np.ones(len(frame)))
        z_names.append(INTERCEPT)
    for name in spec.random_slopes:
        z_columns.append(_numeric_covariate(frame, name).to_numpy(dtype=float)[:, 0])
        z_names.append(name)
    z = np.column_stack(z_columns) if z_columns else np.zeros((len(frame), 0))

    weights1 = _weights(frame, spec.level1_weight, "level-1 weight")
    weights2 = _weights(frame, spec.level2_weight, "level-2 weight")
    if weights2 is not None:
        if not is_constant_within(frame[spec.level2_weight], codes, n_clusters):
            raise DataError(f"column '{spec.level2_weight}': a level-2 weight must be constant "
                            f"within each '{spec.cluster}'")
        weights2 = pd.Series(weights2).groupby(codes).first().to_numpy()
    if weights1 is not None:
        per_cluster = np.bincount(codes, weights=weights1, minlength=n_clusters)
        if (per_cluster <= 0).any():
            bad = labels[int(np.flatnonzero(per_cluster <= 0)[0])]
            raise DataError(f"column '{spec.level1_weight}': every level-1 weight in cluster "
                            f"{_shown(bad)} is zero")

    p = spec.priors
    priors = Priors(p.level1_df, None if p.level1_scale is None else np.array(p.level1_scale),
                    p.level2_df, None if p.level2_scale is None else np.array(p.level2_scale),
                    p.cluster_df_start, p.cluster_df_prior)
    kinds1 = [r.type for r in responses1]
    kinds2 = [r.type for r in responses2]
    ncat1 = [encoded[r.name].n_categories for r in responses1]
    ncat2 = [encoded[r.name].n_categories for r in responses2]
    names1_resp, names2_resp = [r.name for r in responses1], [r.name for r in responses2]
    working1, owner1 = working_labels(names1_resp, kinds1, ncat1)
    working2, owner2 = working_labels(names2_resp, kinds2, ncat2)
    from .delta import shift_arrays
    shift1, shift2 = shift_arrays(spec, frame, codes, n_clusters)
    try:
        cluster = Classification(codes, LevelData(y2, x2, mask2, kinds2, ncat2, shift2), z, weights2)
        data = ModelData(LevelData(y1, x1, mask1, kinds1, ncat1, shift1), [cluster], priors,
                         weights1, spec.level1_covariance == "cluster")
        # check prior dimensions now rather than inside the sampler
        priors.level1(len(working1))
        priors.level2(len(working1) * z.shape[1] + len(working2))
        if data.cluster_covariance:
            priors.cluster_df(len(working1))
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    categories = {name: enc.categories for name, enc in encoded.items() if enc.categories is not None}
    return CompiledModel(data, spec, labels, codes, names1_resp, names2_resp, names1, names2,
                         z_names, working1, working2, owner1, owner2, categories)
