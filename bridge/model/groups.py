"""The units of a classification, read from the data by value: codes 0..J-1 of a cluster
column (or of lme4's ``a:b`` combination), and whether a column is constant within them.
What compiling, proposing and translating a model all need, so it sits below them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError


def require_columns(frame: pd.DataFrame, names, what: str) -> None:
    """Refuse a column the model names but the data lack, saying what it was for."""
    for name in names:
        if name not in frame.columns:
            raise DataError(f"column '{name}' ({what}) is not in the data")


def is_constant_within(values: pd.Series, codes: np.ndarray, n_clusters: int) -> bool:
    """True if the non-missing values of a column are constant within every cluster."""
    frame = pd.DataFrame({"v": values.to_numpy(), "c": codes}).dropna()
    if frame.empty:
        return True
    return bool((frame.groupby("c")["v"].nunique() <= 1).all())


def group_codes(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, pd.Index]:
    """Codes 0..J-1 of the groups of column `name`, in the sorted order of their ids, and
    the ids; ids are compared by value.  A name ``a:b`` that is not a column is the
    combination of columns a and b (lme4's ``a:b``, what ``(1 | a/b)`` nests), its ids
    the text "a-id:b-id"."""
    parts = [name] if name in frame.columns or ":" not in name else name.split(":")
    require_columns(frame, parts, "cluster identifier")
    for part in parts:
        if frame[part].isna().any():
            raise DataError(f"column '{part}': the cluster identifier has "
                            f"{int(frame[part].isna().sum())} missing values")
    if len(parts) == 1:
        codes, labels = pd.factorize(frame[name], sort=True)
        return codes.astype(np.int64), pd.Index(labels)
    combined = pd.MultiIndex.from_arrays([frame[p] for p in parts])
    codes, labels = pd.factorize(combined, sort=True)
    return codes.astype(np.int64), pd.Index([":".join(map(_plain, key)) for key in labels])


def _plain(label) -> str:
    label = label.item() if isinstance(label, np.generic) else label
    return str(label)


def cluster_codes(spec, frame: pd.DataFrame, name: str | None = None
                  ) -> tuple[np.ndarray, pd.Index]:
    """:func:`group_codes` of classification `name` (the spec's first by default)."""
    return group_codes(frame, name or spec.cluster)
