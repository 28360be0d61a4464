"""MNAR sensitivity: the delta adjustment (Carpenter & Kenward 2013, ch. 10).

Under MAR the imputations come from the joint model; to ask "what if the people we did
not observe differ by delta?", delta is added to every imputed value of a response
(binary and ordinal responses: to the latent probit index before it is cut into
categories), optionally only in a subgroup.  The shift is applied to each completed data
set as it is kept and never fed back into the chain, so every parameter draw, every
other response's imputations and every observed value stay as in the MAR run; with
delta = 0 the output is the MAR run's, byte for byte.

Spec: ``[[delta]] response = "y", shift = -0.3, where = "girl == 1"``.  Command line:
``--delta "y=-0.3"`` or ``--delta "y=-0.3 if girl==1"`` (repeatable).
"""
from __future__ import annotations

import operator
import re

import numpy as np
import pandas as pd

from .encoding import is_numeric
from ..errors import DataError, SpecError
from .spec import Delta, Spec

_COMPARISONS = {"==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
                "<": operator.lt, ">": operator.gt}
_CONDITION = re.compile(r"^\s*(`[^`]+`|[^\s=!<>]+)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$")
_OPTION = re.compile(r"^\s*([^=]+?)\s*=\s*([^\s]+)\s*(?:\bif\b\s*(.+))?$")


def parse_option(text: str) -> Delta:
    """``"y=-0.3"`` or ``"y=-0.3 if girl==1"`` (the ``--delta`` option) as a Delta."""
    match = _OPTION.match(text)
    if not match:
        raise SpecError(f"--delta '{text}': expected RESPONSE=SHIFT or RESPONSE=SHIFT if CONDITION")
    name, shift, where = match.groups()
    try:
        value = float(shift)
    except ValueError:
        raise SpecError(f"--delta '{text}': the shift '{shift}' is not a number") from None
    return Delta(name.strip("`"), value, where)


def with_shifts(spec: Spec, options) -> Spec:
    """`spec` with the shifts given as ``--delta`` texts (the command line's, the R
    package's ``delta =``) added to its own."""
    from dataclasses import replace
    if not options:
        return spec
    return replace(spec, delta=spec.delta + [parse_option(str(text)) for text in options])


def rows_where(condition: str | None, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows where `condition` holds (None: every row).  The value of
    ``column == value`` is compared as a number when the column is numeric, else as the
    text of the category (quotes optional); a missing value never matches."""
    if condition is None:
        return np.ones(len(frame), dtype=bool)
    match = _CONDITION.match(condition)
    if not match:
        raise SpecError(f"delta condition '{condition}': expected COLUMN or COLUMN == VALUE")
    name, op, value = match.groups()
    name = name.strip("`")
    if name not in frame.columns:
        raise DataError(f"delta condition '{condition}': column '{name}' is not in the data")
    column = frame[name]
    if op is None:
        if not is_numeric(column):
            raise DataError(f"delta condition '{condition}': column '{name}' is not numeric; "
                            "write COLUMN == VALUE")
        return (column.fillna(0).to_numpy(dtype=float) != 0)
    value = value.strip()
    if is_numeric(column):
        try:
            target = float(value)
        except ValueError:
            raise DataError(f"delta condition '{condition}': column '{name}' is numeric but "
                            f"'{value}' is not a number") from None
        values = column.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return np.asarray(_COMPARISONS[op](values, target)) & ~np.isnan(values)
    if op not in ("==", "!="):
        raise DataError(f"delta condition '{condition}': column '{name}' is text; only == and "
                        "!= compare it")
    target = value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value
    text = column.astype("string")
    hit = (text == target).fillna(False).to_numpy(dtype=bool)
    return hit if op == "==" else ~hit & column.notna().to_numpy()


def shift_arrays(spec: Spec, frame: pd.DataFrame, codes: list[np.ndarray]
                 ) -> list[np.ndarray | None]:
    """The engine's shifts of every level's responses: (n, p) for level 1, (J_c, p_c) for
    the responses of classification c with unit codes ``codes[c]`` (None where nothing
    moves).  A response of a classification is shifted in the units where the condition
    holds, which must then be constant within each of them."""
    levels = [[r.name for r in spec.responses_at(k)] for k in range(len(codes) + 1)]
    sizes = [len(frame)] + [int(c.max()) + 1 for c in codes]
    shifts = [np.zeros((n, len(names))) for n, names in zip(sizes, levels)]
    for delta in spec.delta:
        rows = rows_where(delta.where, frame)
        level = next(k for k, names in enumerate(levels) if delta.response in names)
        column = levels[level].index(delta.response)
        if level == 0:
            shifts[0][rows, column] += delta.shift
            continue
        unit, n = codes[level - 1], sizes[level]
        hits = np.bincount(unit, weights=rows.astype(float), minlength=n)
        if np.any((hits > 0) & (hits < np.bincount(unit, minlength=n))):
            raise DataError(f"delta for '{delta.response}': the condition '{delta.where}' must "
                            f"be constant within each '{spec.clusters[level - 1]}'")
        shifts[level][hits > 0, column] += delta.shift
    return [shift if shift.any() else None for shift in shifts]
