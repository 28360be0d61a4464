"""Stata .dta via pyreadstat.

Reading: value labels and variable labels go to the metadata; Stata's missing values
(``.`` and the extended ``.a``-``.z``) all become NaN.  Writing: format 118 (Stata 14
and later) by default, ``dta_format=114`` for old readers such as MLwiN's ``RSTA``;
variable and value labels are written back, and so are characteristics (``_dta[_mi_*]``
for Stata's ``mi``, see :mod:`.stata_characteristics`).
"""
from __future__ import annotations

import pandas as pd
import pyreadstat

from ..errors import FormatError
from .metadata import Metadata
from .stata_characteristics import add_characteristics

LABEL = "Stata .dta"
#: pyreadstat's `version` argument (a Stata release) for each .dta format number
_RELEASE_FOR_FORMAT = {114: 10, 117: 13, 118: 14, 119: 15}


def read(path) -> tuple[pd.DataFrame, Metadata]:
    frame, meta = pyreadstat.read_dta(str(path))
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    return frame, Metadata(variable_labels=labels,
                           value_labels=dict(meta.variable_value_labels or {}),
                           source_format="dta")


def write(frame: pd.DataFrame, path, metadata: Metadata, dta_format: int = 118) -> None:
    if dta_format not in _RELEASE_FOR_FORMAT:
        raise FormatError(f"file '{path}': .dta format {dta_format} is not supported "
                          f"(choose one of {sorted(_RELEASE_FOR_FORMAT)})")
    too_long = [c for c in frame.columns if len(str(c)) > 32]
    if too_long:
        raise FormatError(f"column '{too_long[0]}': Stata variable names have at most 32 characters")
    value_labels = {c: v for c, v in metadata.value_labels.items() if c in frame.columns}
    frame, category_labels = _categoricals_as_labelled_codes(frame)
    value_labels.update(category_labels)
    pyreadstat.write_dta(frame, str(path), version=_RELEASE_FOR_FORMAT[dta_format],
                         column_labels={c: l for c, l in metadata.variable_labels.items()
                                        if c in frame.columns} or None,
                         variable_value_labels=value_labels or None)
    add_characteristics(path, metadata.characteristics)


def _categoricals_as_labelled_codes(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Stata has no categorical type: a Categorical with numeric categories is written as
    its numbers; one with text categories as codes 1..K carrying value labels."""
    labels = {}
    out = frame
    for name in frame.columns:
        column = frame[name]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            continue
        if out is frame:
            out = frame.copy()
        categories = column.cat.categories
        if pd.api.types.is_numeric_dtype(categories):
            out[name] = column.astype(float)
        else:
            codes = column.cat.codes.astype(float) + 1
            out[name] = codes.where(column.notna())
            labels[name] = {float(k + 1): str(c) for k, c in enumerate(categories)}
    return out, labels
