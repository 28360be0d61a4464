"""Metadata carried alongside a data frame between reader and writer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Metadata:
    """What a format knows about its columns beyond the values.

    variable_labels : column -> label text
    value_labels : column -> {code: label}
    characteristics : Stata-style characteristics, {(variable or "_dta", name): text}
    source_format : the reader that produced it ("csv", "parquet", "dta" ...)
    timestamp : when the source file says the data were saved (a .dta header), if it says;
        a .dta output carries it forward, so that the same run writes the same bytes
    value_label_names : column -> name of its value-label set (Stata's ``label values``
        names, which do-files refer to)
    formats : column -> Stata display format (``%9.2f``)
    hard_missing : column -> {row position: letter} of Stata's extended missing values
        ``.a``-``.z``: missing for the model, never imputed, written back with their tags
    storage : column -> Stata storage type narrower than pyreadstat writes ("byte",
        "int"), from a .dta source, given back where the values still fit
    file_label : the data set's label (Stata's ``label data``), written back to .dta
    notes : what the reader noticed and a user should hear about, in words (a column of
        numbers with a stray text field, read as text)
    """

    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict] = field(default_factory=dict)
    characteristics: dict[tuple[str, str], str] = field(default_factory=dict)
    source_format: str = ""
    timestamp: datetime | None = None
    value_label_names: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    hard_missing: dict[str, dict[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    file_label: str = ""
    storage: dict[str, str] = field(default_factory=dict)
