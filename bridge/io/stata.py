"""Stata .dta via pyreadstat.

Reading: value labels and variable labels go to the metadata; Stata's missing values
(``.`` and the extended ``.a``-``.z``) all become NaN.  Writing: format 118 (Stata 14
and later) by default, ``dta_format=114`` for old readers such as MLwiN's ``RSTA``;
variable and value labels are written back.
"""
from __future__ import annotations

import pandas as pd
import pyreadstat

from ..errors import FormatError
from .metadata import Metadata

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
    pyreadstat.write_dta(frame, str(path), version=_RELEASE_FOR_FORMAT[dta_format],
                         column_labels={c: l for c, l in metadata.variable_labels.items()
                                        if c in frame.columns} or None,
                         variable_value_labels=value_labels or None)
