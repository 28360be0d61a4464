"""Stacked multiply-imputed data in each ecosystem's native shape.

* Stata ``flong``: the original data (``_mi_m == 0``) followed by every completed data
  set (``_mi_m == 1..M``), all rows in each; ``_mi_id`` (1..N, input row order) links rows
  across m; ``_mi_miss`` is 1 on m = 0 rows that had a missing imputed variable, 0 on
  other m = 0 rows, and missing on m > 0 rows (Stata's definition).
* R long (``mice::complete(imp, "long", include = TRUE)``): ``.imp`` (0 = original) and
  ``.id`` (1..N) in front of the data columns; ``mice::as.mids`` and ``mitml`` read it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..errors import SamplingError

MI_COLUMNS = ("_mi_m", "_mi_id", "_mi_miss")
R_COLUMNS = (".imp", ".id")


def missing_indicator(original: pd.DataFrame, imputed_vars: list[str],
                      hard_missing: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """1 where a row has at least one missing value among the imputed variables, not
    counting hard missing cells (Stata's ``.a``-``.z``: never imputed, so never "incomplete")."""
    if not imputed_vars:
        return np.zeros(len(original), dtype=np.int8)
    soft = original[imputed_vars].isna()
    for name, mask in (hard_missing or {}).items():
        if name in soft.columns:
            soft[name] = soft[name].to_numpy() & ~mask
    return soft.any(axis=1).to_numpy().astype(np.int8)


def check_complete(frame: pd.DataFrame, m: int, imputed_vars: list[str],
                   may_stay_missing: dict[str, np.ndarray] | None = None) -> None:
    """Refuse completed data set `m` when an imputed variable still has a missing cell
    that is not one of `may_stay_missing` ({column: row mask}: Stata's hard missing
    ``.a``-``.z``, rows outside the sample).  Every writer of completed data calls it, so
    that no file ever holds an "imputation" with a hole in it."""
    for name in imputed_vars:
        holes = frame[name].isna().to_numpy()
        allowed = (may_stay_missing or {}).get(name)
        if allowed is not None:
            holes = holes & ~allowed
        if holes.any():
            raise SamplingError(f"imputation {m} of column '{name}' still has {int(holes.sum()):,} "
                                "missing cells; nothing was written (please report the data and "
                                "command)")


def stacked_parts(original: pd.DataFrame, completed: Iterable[pd.DataFrame], style: str,
                  imputed_vars: list[str],
                  hard_missing: dict[str, np.ndarray] | None = None,
                  may_stay_missing: dict[str, np.ndarray] | None = None) -> Iterator[pd.DataFrame]:
    """The stacked data one block at a time: the original (m = 0), then each completed
    data set, each with the style's bookkeeping columns.  Writers that stream consume
    this so that M x N rows never sit in memory at once.  A completed data set with a
    missing imputed cell (outside `may_stay_missing`) stops the writer
    (:func:`check_complete`)."""
    ids = np.arange(1, len(original) + 1, dtype=np.int32)
    if style not in ("flong", "long"):
        raise ValueError(f"unknown stacking style '{style}' (use 'flong' or 'long')")
    if style == "flong":
        miss0 = missing_indicator(original, imputed_vars, hard_missing).astype(float)
        yield _with(original, {"_mi_m": np.int16(0), "_mi_id": ids, "_mi_miss": miss0})
    else:
        yield _front(original, {".imp": np.int32(0), ".id": ids})
    for m, frame in enumerate(completed, start=1):
        check_complete(frame, m, imputed_vars, may_stay_missing)
        if style == "flong":
            yield _with(frame, {"_mi_m": np.int16(m), "_mi_id": ids, "_mi_miss": np.nan})
        else:
            yield _front(frame, {".imp": np.int32(m), ".id": ids})


def _with(frame: pd.DataFrame, extra: dict) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    for name, value in extra.items():
        out[name] = np.full(len(out), value, dtype=np.asarray(value).dtype) if np.ndim(value) == 0 \
            else value
    return out


def _front(frame: pd.DataFrame, extra: dict) -> pd.DataFrame:
    out = frame.reset_index(drop=True)
    head = pd.DataFrame({k: (v if np.ndim(v) else np.full(len(out), v)) for k, v in extra.items()})
    return pd.concat([head, out], axis=1)


def unstack(stacked: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Split a stacked data set (flong or R long) into the original and the completed sets."""
    if "_mi_m" in stacked.columns:
        key, extra = "_mi_m", list(MI_COLUMNS)
    elif ".imp" in stacked.columns:
        key, extra = ".imp", list(R_COLUMNS)
    else:
        raise ValueError("not a stacked imputation file: no _mi_m or .imp column")
    m = stacked[key].astype(int)
    data = stacked.drop(columns=[c for c in extra if c in stacked.columns])
    parts = [data[m == k].reset_index(drop=True) for k in sorted(m.unique())]
    if sorted(m.unique())[0] != 0:
        return parts[0].iloc[0:0], parts
    return parts[0], parts[1:]


def mi_characteristics(original: pd.DataFrame, imputed_vars: list[str], m: int,
                       updated: datetime) -> dict:
    """The ``_dta`` characteristics that make a flong data set mi-set in Stata
    ([MI] technical): marker, style, M, N, imputed/passive/regular variables, and the
    update time (`updated`, in whole seconds since 1 Jan 1960: Stata's u_mi_curtime
    stores tc(now)/1000, and ``mi query`` shows it as a date)."""
    update_tc = int((updated - datetime(1960, 1, 1)).total_seconds())
    return {("_dta", "_mi_marker"): "_mi_ds_1", ("_dta", "_mi_style"): "flong",
            ("_dta", "_mi_M"): str(m), ("_dta", "_mi_N"): str(len(original)),
            ("_dta", "_mi_ivars"): " ".join(imputed_vars), ("_dta", "_mi_pvars"): "",
            ("_dta", "_mi_rvars"): "", ("_dta", "_mi_update"): str(update_tc)}
