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
- Date, POSIXct, difftime, list columns and any other class are refused with a one-line
  error naming the column: convert them in R first (``as.numeric``) or drop them.  A date
  is rarely a sensible imputation-model covariate, and guessing a numeric scale for it
  silently would be worse than asking.

Writing makes an R data.frame: Categoricals become factors (ordered ones ordered factors,
levels in category order), integers within R's 32-bit range stay integer, floats become
double with R's ``NA``, booleans logical, text character.  Value labels from the metadata
are not written (the numbers are); datetime columns are refused.  An .RData file gets
one object, named ``data``.
"""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FormatError
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

    data = _as_r_ready(frame)
    constructors = {**to_r.DEFAULT_CLASS_MAP, pd.Categorical: _factor}
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

def _as_r_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Each column in a pandas type that has an exact R counterpart."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        dtype = column.dtype
        if not isinstance(name, str):
            raise FormatError(f"column {name!r}: R column names must be text")
        if isinstance(dtype, pd.CategoricalDtype):
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
    return pd.DataFrame(out).reset_index(drop=True).set_axis(
        pd.RangeIndex(1, len(frame) + 1), axis=0)


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
