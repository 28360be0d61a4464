"""Dates and times in the model: numbers, as Stata keeps them.

A Stata ``%td`` variable reaches pandas as ``datetime.date`` objects, a ``%tc`` one as
datetimes, a Parquet timestamp as ``datetime64``.  Taken as text they were dummy-coded (a
column of 6 dates became 5 covariates) or refused.  Here they are numbers: **days since
1 January 1960**, Stata's origin, with times of day as fractions of a day, less the
column's mean date (whole days).  A coefficient is per day, as with Stata's ``%td``;
centring only moves the intercept, and keeps the design well conditioned: dates of one
year sit near 22,000 days with a spread of a few hundred, which next to the intercept
makes the sampler's normal equations lose their precision.  (Stata's ``%tc`` counts
milliseconds; days give the same model, since a covariate's scale only rescales its
coefficient, and keep a response's values small.)

The data themselves are never converted: :func:`as_days` gives the model its numbers and
:func:`from_days` turns imputed numbers back into the column's own kind (whole days for
dates), the observed cells kept exactly as they were.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..io.datetimes import date_kind

__all__ = ["ORIGIN", "as_days", "centre", "date_kind", "date_note", "date_notes",
           "days_since_origin", "from_days"]

ORIGIN = pd.Timestamp("1960-01-01")
_DAY = pd.Timedelta(days=1)


def days_since_origin(column: pd.Series) -> np.ndarray:
    """Days since 1 Jan 1960 (times as fractions of a day; NaN where missing).  Times with
    a time zone are taken in UTC."""
    stamps = pd.to_datetime(pd.Series(column), errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return ((stamps - ORIGIN) / _DAY).to_numpy(dtype=float, na_value=np.nan)


def centre(column: pd.Series) -> float:
    """The column's mean date as whole days since 1960: the zero of the model's scale."""
    days = days_since_origin(column)
    return float(np.round(np.nanmean(days))) if np.isfinite(days).any() else 0.0


def as_days(column: pd.Series) -> np.ndarray:
    """The model's numbers for a date column: days since 1960 less :func:`centre`."""
    return days_since_origin(column) - centre(column)


def from_days(days: np.ndarray, original: pd.Series) -> pd.Series:
    """`original` with its missing cells filled from `days`: dates rounded to whole days,
    times to the millisecond, in the column's own kind (and time zone)."""
    missing = original.isna().to_numpy()
    filled = original.copy()
    if not missing.any():
        return filled
    values = np.asarray(days, dtype=float)[missing] + centre(original)
    if date_kind(original) == "date":
        stamps = ORIGIN + pd.to_timedelta(np.round(values), unit="D")
        filled[missing] = [stamp.date() for stamp in stamps]
        return filled
    stamps = ORIGIN + pd.to_timedelta(np.round(values * 86_400_000), unit="ms")
    if pd.api.types.is_datetime64_any_dtype(original):
        if original.dt.tz is not None:
            stamps = stamps.tz_localize("UTC").tz_convert(original.dt.tz)
        filled[missing] = stamps.astype(original.dtype)
    else:
        filled[missing] = [stamp.to_pydatetime() for stamp in stamps]
    return filled


def date_notes(frame: pd.DataFrame, spec) -> list[str]:
    """A note for each date or time column of the model: it is taken as days since 1960."""
    names = [r.name for r in spec.responses] + list(spec.covariates) + \
        list(getattr(spec, "level2_covariates", None) or [])
    return [date_note(n, frame[n]) for n in dict.fromkeys(names)
            if n in frame.columns and date_kind(frame[n])]


def date_note(name: str, column: pd.Series) -> str:
    kind = date_kind(column)
    what = "dates" if kind == "date" else "dates and times"
    zero = (ORIGIN + pd.Timedelta(days=centre(column))).date()
    return (f"column '{name}' holds {what}: the model takes them as numbers, days since "
            f"1 Jan 1960 (Stata's origin{'' if kind == 'date' else '; times as fractions of a day'}) "
            f"centred at their mean, {zero}: a coefficient is per day")
