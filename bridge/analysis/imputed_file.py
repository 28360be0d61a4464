"""A stacked file of imputations, checked before anything is fitted to it.

``mlimpute pool`` (and R's ``mlimpute_pool``) read imputations back from a stacked file:
Stata flong (``_mi_m``, ``_mi_id``) or R long (``.imp``, ``.id``).  A file written by
hand, cut, relabelled or merged can still look like one, and the worst thing pooling can
do is print a table that looks right.  So, before any fit, :func:`split_stacked` checks:

1. the imputation numbers: present, whole numbers, none below 0;
2. m = 0 is there (the original data) and the completed sets are numbered 1..M with no
   gap;
3. every completed set has the original's N rows and the same ids, each once;
4. in the model's variables, no completed set has a missing value where the original
   has one to impute (Stata's hard missing ``.a``-``.z`` excepted), and no completed set
   changes an observed value of the original.

Each violation is one line naming it.  ``force=True`` (``--force``, for files written
elsewhere) lets 2-4 through as notes, fitting what is there; 1 always stops.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError

#: (imputation number, row id) columns of each stacked style
STYLES = {"flong": ("_mi_m", "_mi_id", "_mi_miss"), "long": (".imp", ".id")}


def split_stacked(stacked: pd.DataFrame, source: str, variables: list[str] | None = None,
                  force: bool = False, hard_missing: dict | None = None
                  ) -> tuple[pd.DataFrame, list[pd.DataFrame], list[str]]:
    """(original, completed data sets 1..M, notes) of a stacked frame read from `source`
    (named in the errors), after the checks of the module docstring on `variables` (the
    model's columns; None: every data column).  `hard_missing` ({column: row positions}
    in the file, as :class:`~mlimpute.io.Metadata` gives Stata's ``.a``-``.z``) marks
    cells that may stay missing.  ``force`` turns the checks 2-4 into notes."""
    key, ident, bookkeeping = _style(stacked, source)
    numbers = _numbers(stacked[key], key, source)
    data = stacked.drop(columns=[c for c in bookkeeping if c in stacked.columns])
    notes: list[str] = []

    def problem(text: str) -> None:
        if not force:
            raise DataError(f"file '{source}': {text}; nothing was pooled (--force pools such "
                            "a file anyway, if it comes from another program)")
        notes.append(text)

    present = sorted(set(numbers.tolist()))
    if present[0] != 0:
        problem(f"no original data ({key} == 0): the file holds only completed data sets")
    completed_numbers = [m for m in present if m > 0]
    if not completed_numbers:
        raise DataError(f"file '{source}': no completed data set ({key} >= 1) to pool")
    gaps = sorted(set(range(1, completed_numbers[-1] + 1)) - set(completed_numbers))
    if gaps:
        problem(f"{key} numbers the completed data sets up to {completed_numbers[-1]} but "
                f"{_listed(gaps)} {'is' if len(gaps) == 1 else 'are'} missing")
    marks = {name: np.zeros(len(stacked), dtype=bool) for name in (hard_missing or {})}
    for name, positions in (hard_missing or {}).items():
        marks[name][list(positions)] = True
    blocks = {m: numbers == m for m in present}
    original = data[blocks[0]].reset_index(drop=True) if 0 in blocks else data.iloc[0:0]
    completed = [data[blocks[m]].reset_index(drop=True) for m in completed_numbers]
    if 0 in blocks:
        ids = _ids(stacked, ident, blocks, source, problem)
        columns = [c for c in (variables if variables is not None else data.columns)
                   if c in data.columns]
        _compare(original, completed, completed_numbers, ids, columns, marks, blocks, key,
                 problem)
    return original, completed, notes


def _style(stacked: pd.DataFrame, source: str) -> tuple[str, str, tuple[str, ...]]:
    for key, ident, *rest in STYLES.values():
        if key in stacked.columns:
            return key, ident, (key, ident, *rest)
    for key, ident, *_ in STYLES.values():
        if ident in stacked.columns:
            raise DataError(f"file '{source}': column '{key}' is missing (the file has "
                            f"'{ident}'): without it the imputations cannot be told apart")
    raise DataError(f"file '{source}': not a stacked imputation file: it has neither a _mi_m "
                    "column (Stata flong) nor a .imp column (R long)")


def _numbers(column: pd.Series, key: str, source: str) -> np.ndarray:
    """The imputation number of every row, checked to be whole numbers >= 0."""
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0]) + 1
        raise DataError(f"file '{source}': column '{key}' has no imputation number in row {row}")
    try:
        values = pd.to_numeric(column).to_numpy(dtype=float)
    except (ValueError, TypeError):
        raise DataError(f"file '{source}': column '{key}' must hold imputation numbers "
                        "0, 1, ..., M") from None
    odd = values[(values != np.round(values)) | (values < 0) | ~np.isfinite(values)]
    if odd.size:
        raise DataError(f"file '{source}': column '{key}' holds {odd[0]:g}: imputation numbers "
                        "are whole numbers 0 (the original), 1, ..., M")
    return values.astype(np.int64)


def _ids(stacked, ident, blocks, source, problem) -> dict[int, np.ndarray] | None:
    """Each block's row ids, checked to be the original's, each once; None without ids."""
    if ident not in stacked.columns:
        problem(f"no '{ident}' column links the rows of the imputations to the original")
        return None
    ids = {m: stacked.loc[mask, ident].to_numpy() for m, mask in blocks.items()}
    reference = ids[0]
    if pd.isna(reference).any() or len(set(reference.tolist())) != len(reference):
        problem(f"column '{ident}' of the original data is not a unique id of its rows")
        return None
    for m, values in ids.items():
        if m == 0:
            continue
        if len(values) != len(reference):
            problem(f"imputation {m} has {len(values):,} rows, the original {len(reference):,}")
            return None
        if set(values.tolist()) != set(reference.tolist()) or len(set(values.tolist())) != len(values):
            problem(f"imputation {m}'s '{ident}' values are not those of the original, each once")
            return None
    return ids


def _compare(original, completed, numbers, ids, columns, marks, blocks, key, problem) -> None:
    """No missing imputed cell, no observed value changed (rows aligned by id); `marks`
    are the hard missing cells over the whole file's rows."""
    if ids is None:
        return
    order0 = np.argsort(ids[0], kind="stable")
    for frame, m in zip(completed, numbers):
        order = np.argsort(ids[m], kind="stable")
        for name in columns:
            before = original[name].iloc[order0].reset_index(drop=True)
            after = frame[name].iloc[order].reset_index(drop=True)
            holes = after.isna().to_numpy()
            if name in marks:
                holes &= ~marks[name][blocks[m]][order]
            if holes.any():
                problem(f"imputation {m} of column '{name}' has {int(holes.sum()):,} missing "
                        "values: it is not a completed data set")
            seen = before.notna().to_numpy() & after.notna().to_numpy()
            changed = _differs(before[seen], after[seen])
            if changed.any():
                problem(f"imputation {m} changes {int(changed.sum()):,} observed values of column "
                        f"'{name}' ({key} == 0 holds the original data)")


def _differs(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Cell by cell: not the same value (numbers exactly, anything else as text)."""
    if pd.api.types.is_numeric_dtype(before) and pd.api.types.is_numeric_dtype(after):
        return before.to_numpy(dtype=float) != after.to_numpy(dtype=float)
    return before.astype(str).to_numpy() != after.astype(str).to_numpy()


def _listed(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:5]))
    return shown + (", ..." if len(values) > 5 else "")
