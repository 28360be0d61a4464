"""What kind of date or time a column holds, for the readers and writers (an R Date or
POSIXct, a Stata %td) and for the model, which takes such columns as numbers
(:mod:`mlimpute.model.dates`)."""
from __future__ import annotations

import datetime as dt

import pandas as pd


def date_kind(column: pd.Series) -> str | None:
    """"date" (calendar dates), "datetime" (points in time) or None for other columns."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return None
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    if column.dtype != object:
        return None
    observed = column.dropna()
    if observed.empty or not isinstance(observed.iloc[0], dt.date):
        return None                 # text (the common case): no scan of every row
    if observed.map(lambda v: isinstance(v, dt.datetime)).all():
        return "datetime"
    if observed.map(lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime)).all():
        return "date"
    return None
