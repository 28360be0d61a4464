"""R data files (.rds, .RData/.rda) through the pure-Python `rdata` package, so that
reading and writing them needs no R installation.

Reading takes one data.frame: the object of an .rds file, or the only data.frame in an
.RData file.  Column by column (R class -> pandas):

- factor -> Categorical, ordered factor -> ordered Categorical (so the response types
  follow: ordered -> ordinal, two levels -> binary, more -> categorical);
- integer -> int32, or nullable Int32 when it has NA; double -> float64 (NA -> NaN);
  logical -> nullable boolean; character -> string;
- haven/labelled vectors (class ``haven_labelled`` or ``labelled``) -> their numbers, with
  the value labels and the variable label (attribute ``label``) in the metadata, as for
  Stata's labelled variables;
- Date -> ``datetime.date`` objects, POSIXct -> ``datetime64`` (in its ``tzone``, or
  naive when it has none): the model takes them as numbers
  (:mod:`mlimpute.model.dates`);
- difftime, list columns and any other class are refused with a one-line error naming
  the column: convert them in R first (``as.numeric``) or drop them.

Writing makes an R data.frame: Categoricals become factors (ordered ones ordered factors,
levels in category order), integers within R's 32-bit range stay integer, floats become
double with R's ``NA``, booleans logical, text character, dates Date and times POSIXct.
A numeric column with value labels in the metadata is written as haven writes it
(``haven_labelled``, its ``labels`` and ``label``), and any other column keeps its
variable label (attribute ``label``).  An .RData file gets one object, named ``data``.
"""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FormatError
from .datetimes import date_kind
from .metadata import Metadata

LABEL = "R data"

_LABELLED = {"haven_labelled", "labelled"}
_INT32 = np.iinfo(np.int32)


def read(path) -> tuple[pd.DataFrame, Metadata]:
    import rdata

    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = rdata.parser.parse_file(path)
    converter = rdata.conversion.SimpleConverter()
    frame_object = _the_data_frame(path, parsed.object, converter)
    attributes = converter.convert(frame_object.attributes)
    names = [str(n) for n in attributes["names"]]
    duplicate = sorted({n for n in names if names.count(n) > 1})
    if duplicate:
        raise FormatError(f"file '{path}': column name '{duplicate[0]}' appears more than once; "
                          "rename one of them")
    metadata = Metadata(source_format="rds")
    columns = {name: _column(path, name, column, converter, metadata)
               for name, column in zip(names, frame_object.value)}
    return pd.DataFrame(columns), metadata


def write(frame: pd.DataFrame, path, metadata: Metadata, object_name: str | None = None) -> None:
    """Write `frame` as .rds, or as .RData when `path` ends in .RData/.rda (one object,
    named `object_name`, by default ``data``)."""
    import rdata
    from rdata.conversion import to_r

    data, classes = _as_r_ready(frame)
    attributes = _column_attributes(data, metadata, classes)

    def data_frame(value, converter):
        return to_r.dataframe_constructor(
            value, _ColumnAttributes(converter, list(value.columns), attributes))
    constructors = {**to_r.DEFAULT_CLASS_MAP, pd.Categorical: _factor, pd.DataFrame: data_frame}
    path = Path(path)
    if path.suffix.lower() in (".rdata", ".rda"):
        rdata.write_rda(path, {object_name or "data": data}, constructor_dict=constructors,
                        compression=None)
    else:
        rdata.write_rds(path, data, constructor_dict=constructors, compression=None)
    # gzip as R's save/saveRDS do, but with no file name or time in the gzip header, so
    # that the same data give the same bytes (the writer sees only a temporary name)
    path.write_bytes(gzip.compress(path.read_bytes(), mtime=0))


# -- reading -------------------------------------------------------------------------

def _attributes(converter, robject) -> dict:
    return {} if robject.attributes is None else converter.convert(robject.attributes)


def _classes(converter, robject, attributes: dict | None = None) -> list[str]:
    if attributes is None:
        attributes = _attributes(converter, robject)
    return [str(c) for c in np.atleast_1d(attributes.get("class", []))]


def _the_data_frame(path: Path, obj, converter):
    """The data.frame of an .rds file, or the single data.frame of an .RData file."""
    from rdata.parser import RObjectType

    if "data.frame" in _classes(converter, obj):
        return obj
    if obj.info.type == RObjectType.LIST and path.suffix.lower() in (".rdata", ".rda"):
        frames, names, item = [], [], obj
        while item is not None and item.info.type == RObjectType.LIST:   # pairlist of objects
            value, tag = item.value[0], item.tag
            name = converter.convert(tag) if tag is not None else "?"
            if "data.frame" in _classes(converter, value):
                frames.append(value)
                names.append(str(name))
            item = item.value[1] if len(item.value) > 1 else None
        if len(frames) == 1:
            return frames[0]
        if frames:
            raise FormatError(f"file '{path}': holds {len(frames)} data frames "
                              f"({', '.join(names)}); save the one to impute alone (saveRDS)")
        raise FormatError(f"file '{path}': holds no data.frame")
    described = ", ".join(_classes(converter, obj)) or obj.info.type.name.lower()
    raise FormatError(f"file '{path}': the object is not a data.frame (it is {described})")


def _column(path: Path, name: str, robject, converter, metadata: Metadata) -> pd.Series:
    from rdata.parser import RObjectType

    attributes = _attributes(converter, robject)
    classes = _classes(converter, robject, attributes)
    kind = robject.info.type
    if "factor" in classes:
        return pd.Series(converter.convert(robject), name=name)
    if kind == RObjectType.REAL and ("Date" in classes or "POSIXct" in classes):
        _labels_to_metadata(name, attributes, metadata)
        return _dates(name, robject, classes, attributes)
    if classes and not set(classes) & _LABELLED:
        raise FormatError(f"file '{path}': column '{name}' has R class '{classes[0]}', which "
                          "mlimpute does not read; convert it in R (e.g. as.numeric) or drop it")
    if kind not in (RObjectType.INT, RObjectType.REAL, RObjectType.LGL, RObjectType.STR):
        raise FormatError(f"file '{path}': column '{name}' is an R {kind.name.lower()} "
                          "(list column); only atomic vectors and factors can be read")
    _labels_to_metadata(name, attributes, metadata)
    if kind == RObjectType.STR:
        texts = [converter.convert(item) for item in robject.value]
        return pd.Series(pd.array([None if t is None else str(t) for t in texts],
                                  dtype="string"), name=name)
    values = np.ma.asarray(robject.value)
    mask = np.ma.getmaskarray(values) | _r_na(kind, np.ma.getdata(values))
    data = np.ma.getdata(values)
    if kind == RObjectType.REAL:
        return pd.Series(np.where(mask, np.nan, data).astype(float), name=name)
    if kind == RObjectType.INT and not mask.any():
        return pd.Series(data.astype(np.int32), name=name)
    array = (pd.arrays.IntegerArray(np.where(mask, 0, data).astype(np.int32), mask)
             if kind == RObjectType.INT
             else pd.arrays.BooleanArray(np.where(mask, False, data).astype(bool), mask))
    return pd.Series(array, name=name)


def _dates(name: str, robject, classes: list[str], attributes: dict) -> pd.Series:
    """An R Date (days since 1970) as datetime.date objects, a POSIXct (seconds since
    1970) as datetime64 in its time zone (naive when ``tzone`` is empty or absent)."""
    values = np.ma.getdata(np.ma.asarray(robject.value)).astype(float)
    if "Date" in classes:
        stamps = pd.to_datetime(values, unit="D", origin="unix")
        return pd.Series([None if pd.isna(t) else t.date() for t in stamps], name=name,
                         dtype=object)
    stamps = pd.to_datetime(pd.Series(values), unit="s", origin="unix")
    zone = str(np.atleast_1d(attributes.get("tzone", [""]))[0] or "")
    if zone:
        stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(zone)
    return stamps.rename(name)


def _r_na(kind, data: np.ndarray) -> np.ndarray:
    from rdata.parser import RObjectType

    if kind == RObjectType.REAL:
        return np.isnan(data.astype(float))
    return data.astype(np.int64) == _INT32.min          # integer and logical NA


def _labels_to_metadata(name: str, attributes: dict, metadata: Metadata) -> None:
    label = attributes.get("label")
    if label is not None:
        metadata.variable_labels[name] = str(np.atleast_1d(label)[0])
    labels = attributes.get("labels")
    if labels is not None:
        codes = np.asarray(labels)
        texts = getattr(labels, "coords", None)
        texts = list(texts[labels.dims[0]].values) if texts is not None else codes
        metadata.value_labels[name] = {float(c): str(t) for c, t in zip(codes, texts)}


# -- writing -------------------------------------------------------------------------

def _as_r_ready(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Each column in a pandas type that has an exact R counterpart, and the R class
    attributes of the date and time columns (written as numbers of days or seconds)."""
    out, classes = {}, {}
    for name in frame.columns:
        column = frame[name]
        dtype = column.dtype
        if not isinstance(name, str):
            raise FormatError(f"column {name!r}: R column names must be text")
        kind = date_kind(column)
        if kind is not None:
            out[name], classes[name] = _r_time(column, kind)
        elif isinstance(dtype, pd.CategoricalDtype):
            out[name] = column
        elif pd.api.types.is_bool_dtype(dtype):
            out[name] = column.astype("boolean")
        elif pd.api.types.is_integer_dtype(dtype):
            present = column.dropna()
            fits = present.empty or (present.min() > _INT32.min and present.max() <= _INT32.max)
            out[name] = column.astype("Int32") if fits else column.astype("Float64")
        elif pd.api.types.is_float_dtype(dtype):
            out[name] = column.astype("Float64")       # NaN -> R's NA
        elif pd.api.types.is_string_dtype(dtype) or dtype == object:
            out[name] = column.astype("string[python]")
        else:
            raise FormatError(f"column '{name}': type {dtype} has no R data.frame "
                              "counterpart here; convert it to numbers or text first")
    ready = pd.DataFrame(out).reset_index(drop=True).set_axis(
        pd.RangeIndex(1, len(frame) + 1), axis=0)
    return ready, classes


def _r_time(column: pd.Series, kind: str) -> tuple[pd.Series, dict]:
    """A date column as R's Date (days since 1970), a time column as POSIXct (seconds
    since 1970, its time zone in ``tzone``)."""
    stamps = pd.to_datetime(column, errors="coerce")
    if kind == "date":
        days = (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        return days.astype("Float64"), {"class": "Date"}
    zone = getattr(stamps.dt, "tz", None)
    if zone is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    seconds = (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    return seconds.astype("Float64"), {"class": np.array(["POSIXct", "POSIXt"], dtype="U"),
                                       "tzone": "" if zone is None else str(zone)}


def _column_attributes(data: pd.DataFrame, metadata: Metadata, classes: dict) -> dict[str, dict]:
    """R attributes to put on columns: Date/POSIXct classes; value labels as haven's
    ``haven_labelled`` (numbers only; a factor has its levels); variable labels."""
    attributes = {name: dict(value) for name, value in classes.items()}
    for name in data.columns:
        column = data[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            continue                      # the factor constructor writes its own attributes
        labels = (metadata.value_labels or {}).get(name)
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if labels and numeric and name not in classes:
            integer = pd.api.types.is_integer_dtype(column)
            codes = np.array(list(labels), dtype=np.int32 if integer else float)
            attributes.setdefault(name, {})["labels"] = (codes, [str(t) for t in labels.values()])
            attributes[name]["class"] = np.array(
                ["haven_labelled", "vctrs_vctr", "integer" if integer else "double"], dtype="U")
        label = (metadata.variable_labels or {}).get(name)
        if label:
            attributes.setdefault(name, {})["label"] = str(label)
    return attributes


class _ColumnAttributes:
    """Stands in for rdata's converter while its data.frame constructor converts the
    columns (once each, in order), and puts each column's R attributes on it as soon as
    it is converted: rdata numbers R symbols in the order it makes them, which must be
    the order in which they are written."""

    def __init__(self, converter, names: list[str], attributes: dict):
        self._converter, self._names, self._attributes = converter, names, attributes
        self._next = 0

    def convert_to_r_object(self, data):
        robject = self._converter.convert_to_r_object(data)
        if self._next < len(self._names):
            wanted = self._attributes.get(self._names[self._next])
            self._next += 1
            if wanted:
                robject = _with_attributes(robject, wanted, self._converter)
        return robject

    def __getattr__(self, name):
        return getattr(self._converter, name)


def _with_attributes(column, wanted: dict, converter):
    """`column` (an R vector object) with the attributes `wanted`; ``labels`` given as
    (codes, texts) becomes a named vector."""
    from rdata.conversion.to_r import build_r_list, build_r_object
    from rdata.parser import RObjectType

    items = []
    for key in ("label", "labels", "class", "tzone"):
        if key not in wanted:
            continue
        symbol = converter.convert_to_r_sym(key)       # written before its value
        value = wanted[key]
        if key == "labels":
            codes, texts = value
            value = build_r_object(
                RObjectType.INT if codes.dtype == np.int32 else RObjectType.REAL,
                value=codes, attributes=converter.convert_to_r_attributes(
                    {"names": np.array(texts, dtype="U")}))
        else:
            value = converter.convert_to_r_object(value)
        items.append((symbol, value))
    return build_r_object(column.info.type, value=column.value, is_object=True,
                          attributes=build_r_list(items))


def _factor(data: pd.Categorical, converter):
    """R factor: 1-based int codes with NA_integer_ for missing, ``levels``, and class
    ``c("ordered", "factor")`` for ordered categoricals."""
    from rdata.conversion.to_r import build_r_object
    from rdata.parser import RObjectType

    codes = np.asarray(data.codes, dtype=np.int64)
    values = np.where(codes < 0, _INT32.min, codes + 1).astype(np.int32)
    classes = ["ordered", "factor"] if data.ordered else ["factor"]
    attributes = converter.convert_to_r_attributes({
        "levels": np.array([str(c) for c in data.categories], dtype=np.dtype("U")),
        "class": np.array(classes, dtype=np.dtype("U")),
    })
    return build_r_object(RObjectType.INT, value=values, is_object=True, attributes=attributes)
