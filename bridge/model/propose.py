"""REALCOM-IMPUTE's default model for a data set.

Every partially observed variable becomes a response with an intercept and a random
intercept; every fully observed variable (except the cluster identifier and the ones
excluded) becomes a covariate of every level-1 equation.  A variable whose observed
values are constant within every cluster is a level-2 variable: as a response it is
modelled at level 2, as a covariate it also enters the level-2 equations.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DataError
from .spec import MCMC, Response, Spec

# pandas and the compiler are imported inside the functions: ``mlimpute.model.propose`` is bound
# when the package is imported, and ``mlimpute --version`` should not load pandas.
if TYPE_CHECKING:
    import pandas as pd


def _is_level2(column: pd.Series, codes, n_clusters: int) -> bool:
    """Constant within every cluster, and observed at least twice in some cluster (so
    that "constant" is evidence, not an accident of singleton clusters)."""
    from .groups import is_constant_within

    observed_per_cluster = column.notna().groupby(codes).sum()
    return bool((observed_per_cluster >= 2).any()) and is_constant_within(column, codes, n_clusters)


def infer_type(column: pd.Series, labelled: bool = False) -> str:
    """Response type implied by a column.

    * pandas Categorical: ordered -> ordinal (binary if 2 categories), unordered ->
      categorical (binary if 2 categories);
    * text or boolean: binary with 2 distinct values, categorical with more;
    * numeric with value labels (Stata, haven) -> binary/categorical likewise;
    * numeric whose observed values are exactly {0, 1} -> binary;
    * dates and times -> continuous (days since 1960, :mod:`mlimpute.model.dates`);
    * other numeric -> continuous.
    Declare the type explicitly (spec, --ordinal ...) when this guess is wrong.
    """
    import pandas as pd

    from .dates import date_kind

    distinct = column.dropna().nunique()
    if date_kind(column):
        return "continuous"               # days since 1960 (mlimpute.model.dates)
    if isinstance(column.dtype, pd.CategoricalDtype):
        k = len(column.cat.categories)
        if k <= 2:
            return "binary"
        return "ordinal" if column.cat.ordered else "categorical"
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column) or labelled:
        return "binary" if distinct <= 2 else "categorical"
    if set(column.dropna().unique().tolist()) == {0, 1}:
        return "binary"
    return "continuous"


#: a numeric response with at most this many distinct whole values, imputed as continuous,
#: gets a note: it may be a category or a count that should keep its values
FEW_VALUES = 10


def few_values_notes(frame: pd.DataFrame, spec) -> list[str]:
    """Notes on the responses imputed as continuous whose observed values are at most
    :data:`FEW_VALUES` distinct whole numbers (a 1-4 class-size band comes back as 2.37):
    REALCOM's default does the same, but the user should know and can declare the type."""
    import numpy as np
    import pandas as pd

    notes = []
    for response in spec.responses:
        if response.type != "continuous" or response.name not in frame.columns:
            continue
        values = pd.to_numeric(frame[response.name], errors="coerce").dropna()
        distinct = values.unique()
        if 2 < len(distinct) <= FEW_VALUES and np.all(distinct == np.round(distinct)):
            notes.append(f"'{response.name}' has {len(distinct)} distinct whole values "
                         f"({distinct.min():g} to {distinct.max():g}) and is imputed as "
                         "continuous, so its imputations are not whole numbers; declare it "
                         "ordinal or categorical "
                         "(--ordinal/--categorical, Stata: ordinal()/categorical(), a spec's "
                         "type) to impute its categories")
    return notes


def columns_left_out(frame: pd.DataFrame, cluster: str, candidates: list[str]) -> dict[str, str]:
    """Fully observed columns that are no covariates, with the reason: the same value in
    every row (a constant such as REALCOM's ``cons``: the model has its intercept), or an
    integer or text column that looks like an identifier, a different value in every row
    (a unit id) or one value per cluster and a different one in every cluster (the
    cluster's own codes under another name).  :func:`propose` leaves them out unless
    they are asked for."""
    import pandas as pd

    from .dates import date_kind

    found = {}
    groups = frame[cluster]
    for name in candidates:
        column = frame[name]
        if column.isna().any() or len(column) < 3:
            continue
        if column.nunique() == 1:
            found[name] = "the same value in every row; the model has its own intercept"
            continue
        if pd.api.types.is_bool_dtype(column) or date_kind(column) or \
                pd.api.types.is_float_dtype(column) and \
                not ((column == column.round()).all() and column.abs().max() < 2 ** 53):
            continue                      # a measurement (or a date), not a code
        if column.nunique() == len(column):
            found[name] = "it looks like an id: a different value in every row"
        elif column.nunique() == groups.nunique() and \
                pd.DataFrame({"c": groups, "v": column}).groupby("c")["v"].nunique().max() == 1:
            found[name] = f"it looks like an id: one value per '{cluster}', different in every one"
    return found


def propose(frame: pd.DataFrame, cluster: str | list[str], *, responses: list[str] | None = None,
            covariates: list[str] | None = None, exclude: list[str] | None = None,
            types: dict[str, str] | None = None, mcmc: MCMC | None = None,
            value_labels: dict | None = None, level1_weight: str | None = None,
            level2_weight: str | None = None, notify=None, crossed: bool = False) -> Spec:
    """Build the default spec for `frame`.

    Parameters
    ----------
    cluster : name of the cluster identifier column, or several (innermost first when
        nested: ``["class", "school"]``).  Each response lives at the coarsest
        classification it is constant within (a school-level variable at the schools),
        or at level 1.
    crossed : the classifications are crossed, not nested.
    responses : responses to use instead of "every partially observed column".
    covariates : covariates to use instead of "every other fully observed column".
    exclude : columns to leave out of the model altogether (ids, text notes ...).
    types : response types overriding the ones inferred from the dtypes.
    value_labels : {column: {code: label}} from the file's metadata (Stata value labels):
        a labelled numeric column is taken as binary/categorical, not continuous.
    level1_weight, level2_weight : sampling weight columns (left out of the covariates).

    Without `covariates`, constant and id-like columns (:func:`columns_left_out`) are left
    out too, and ``notify(column, reason)`` (if given) is told of each.
    """
    from .groups import cluster_codes

    clusters = [cluster] if isinstance(cluster, str) else list(cluster)
    cluster = clusters[0]
    exclude = list(exclude or []) + [w for w in (level1_weight, level2_weight) if w]
    types = dict(types or {})
    for name in [*clusters, *(responses or []), *(covariates or []), *exclude, *types]:
        if name not in frame.columns:
            raise DataError(f"column '{name}' is not in the data")
    shell = Spec(clusters=clusters, responses=[Response("_")], crossed=crossed)
    units = [cluster_codes(shell, frame, name) for name in clusters]
    codes, labels = units[0]
    # coarsest first: a variable lives at the coarsest classification it is constant within
    coarsest = sorted(range(len(clusters)), key=lambda c: len(units[c][1]))

    def level_of(column) -> int:
        for c in coarsest:
            if _is_level2(column, units[c][0], len(units[c][1])):
                return c + 2
        return 1

    candidates = [c for c in frame.columns if c not in clusters and c not in exclude]
    if responses is None:
        responses = [c for c in candidates if frame[c].isna().any()
                     and not (covariates and c in covariates)]
    if covariates is None:
        ids = columns_left_out(frame, cluster, [c for c in candidates if c not in responses])
        covariates = [c for c in candidates if c not in responses and not frame[c].isna().any()
                      and c not in ids]
        for name, why in ids.items():
            if notify is not None:
                notify(name, why)
    if not responses:
        raise DataError("no column has missing values: there is nothing to impute")
    spec_responses = []
    for name in responses:
        column = frame[name]
        if column.isna().all():
            raise DataError(f"column '{name}': every value is missing, it cannot be imputed")
        level = level_of(column)
        labelled = bool((value_labels or {}).get(name))
        spec_responses.append(Response(name, types.get(name, infer_type(column, labelled)), level))
    if len(clusters) > 1:      # each classification's responses get the covariates constant there
        return Spec(clusters=clusters, crossed=crossed, responses=spec_responses,
                    covariates=list(covariates), level1_weight=level1_weight,
                    level2_weight=level2_weight, mcmc=mcmc or MCMC())
    level2_covariates = [c for c in covariates if _is_level2(frame[c], codes, len(labels))]
    return Spec(cluster=cluster, responses=spec_responses, covariates=list(covariates),
                level2_covariates=level2_covariates, level1_weight=level1_weight,
                level2_weight=level2_weight, mcmc=mcmc or MCMC())


def propose_from_realcom(frame: pd.DataFrame, info: dict, mcmc: MCMC | None = None) -> Spec:
    """The spec a REALCOM input file describes (responses with their types, the level-2
    id, the auxiliary covariates, weights); levels are detected from the data."""
    responses = [name for name, _ in info["responses"]]
    types = {name: kind for name, kind in info["responses"]}
    for name, kind in info["responses"]:
        if kind != "continuous" and frame[name].dropna().nunique() == 2:
            types[name] = "binary" if kind == "categorical" else kind
    return propose(frame, info["cluster"], responses=responses, covariates=info["covariates"],
                   types=types, mcmc=mcmc, level1_weight=info["level1_weight"],
                   level2_weight=info["level2_weight"],
                   exclude=[info["constant"]])
