"""Response columns to the engine's numbers and back.

Continuous responses go to the engine as floats.  Binary, ordinal and categorical
responses go as codes 0..K-1; the categories are:

* a pandas Categorical's categories (in their order — the order matters for ordinal),
* otherwise the sorted distinct observed values (numbers such as Stata codes 1/2/3, text,
  booleans).

Imputed codes are turned back into values of the original column with its original dtype
(a Categorical stays a Categorical with the same categories), so every imputed value is a
valid category of the variable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlimpute.engine.responses import REGISTRY

from ..errors import DataError
from .dates import as_days, date_kind, from_days
from .spec import MAX_MAGNITUDE

MAX_CATEGORIES = 50


@dataclass
class Encoded:
    """Engine values of one response column and, for categorical types, its categories."""

    values: np.ndarray
    categories: list | None = None

    @property
    def n_categories(self) -> int | None:
        return None if self.categories is None else len(self.categories)


def is_numeric(column: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)) \
        and not isinstance(column.dtype, pd.CategoricalDtype)


def check_magnitude(name: str, values: np.ndarray) -> None:
    """Refuse numbers so large that the sampler's sums of squares would overflow."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size and finite.max() > MAX_MAGNITUDE:
        raise DataError(f"column '{name}': values as large as {finite.max():.3g} are beyond what "
                        f"the sampler can square and sum (limit {MAX_MAGNITUDE:.0e}); rescale the "
                        "column, e.g. divide it by a power of ten")


def encode(column: pd.Series, kind: str, reference: str = "first") -> Encoded:
    """Engine values of `column` modelled as a response of type `kind`.

    The engine's category 0 is the reference (all latents negative); with
    ``reference="last"`` the last category is moved there, so that latent k belongs to
    the k-th category as in R's jomo.
    """
    name = column.name
    if not REGISTRY[kind].has_latent:          # continuous: the values are the working column
        if date_kind(column):
            return Encoded(as_days(column))     # days since 1960 (mlimpute.model.dates)
        if not is_numeric(column):
            raise DataError(f"column '{name}': a continuous response must be numeric "
                            f"(dtype is {column.dtype}); declare it binary, ordinal or categorical")
        values = column.astype("float64").to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(values).any():
            raise DataError(f"column '{name}': infinite values are not allowed")
        check_magnitude(name, values)
        return Encoded(values)
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = list(column.cat.categories)
        codes = column.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        used = np.bincount(codes[~np.isnan(codes)].astype(int), minlength=len(categories))
        if (used == 0).any():
            empty = categories[int(np.flatnonzero(used == 0)[0])]
            raise DataError(f"column '{name}': category {empty!r} has no observations "
                            "(drop unused categories first)")
    else:
        observed = column.dropna()
        if is_numeric(column) and not pd.api.types.is_bool_dtype(column):
            numbers = observed.astype(float)
            if (numbers != np.round(numbers)).any():
                bad = numbers[numbers != np.round(numbers)].iloc[0]
                raise DataError(f"column '{name}': {kind} response has a non-integer code {float(bad)!r}")
        categories = sorted(observed.unique().tolist())
        lookup = {value: k for k, value in enumerate(categories)}
        codes = column.map(lookup).astype("float64").to_numpy(dtype=float, na_value=np.nan)
    k = len(categories)
    if k > MAX_CATEGORIES:
        raise DataError(f"column '{name}': {k} categories (more than {MAX_CATEGORIES}); "
                        "is it really categorical?")
    if k < 2:
        raise DataError(f"column '{name}': a {kind} response needs at least 2 observed categories")
    needed = REGISTRY[kind].fixed_categories
    if needed is not None and k != needed:
        raise DataError(f"column '{name}': a {kind} response has {needed} categories, found {k}")
    if reference == "last":
        categories = [categories[-1]] + categories[:-1]
        codes = np.where(np.isnan(codes), np.nan, (codes + 1) % k)
    return Encoded(codes, categories)


def decode(codes: np.ndarray, original: pd.Series, categories: list | None) -> pd.Series:
    """The original column with its missing cells filled from `codes` (engine values).

    Observed cells keep their original values bit for bit.  Continuous: a float column
    keeps its dtype, an integer/nullable one becomes float64.  Categorical types: the
    values are categories of the original column, in its dtype.
    """
    missing = original.isna().to_numpy()
    if categories is None and date_kind(original):
        return from_days(codes, original)
    if categories is None:
        if pd.api.types.is_float_dtype(original.dtype) and not isinstance(original.dtype, pd.ArrowDtype):
            values = original.to_numpy(copy=True)
            values[missing] = codes[missing].astype(values.dtype)
        else:
            values = np.array(original.astype("float64").to_numpy(dtype=float, na_value=np.nan))
            values[missing] = codes[missing]
        return pd.Series(values, index=original.index, name=original.name)
    filled = original.copy()
    labels = np.asarray(categories, dtype=object)[codes[missing].astype(int)]
    if isinstance(original.dtype, pd.CategoricalDtype):
        filled[missing] = labels
        return filled
    if is_numeric(original):
        new = pd.Series(labels.tolist(), index=original.index[missing]).astype(original.dtype)
        filled.loc[missing] = new
        return filled
    filled = filled.astype(object)
    filled[missing] = labels
    return filled.astype(original.dtype)
