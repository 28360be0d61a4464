"""REALCOM-IMPUTE text files: the input Stata's ``realcomImpute`` writes, and the
``impvals`` output that ``realcomImputeLoad`` (and MLwiN users) read.

Input (tab-separated; read from the public realcomImpute.ado):

    line 1   number of responses
    line 2   number of auxiliary covariates + 2 (the level-2 id and the constant)
    line 3   type code of each response: 1 normal, 2 unordered categorical, 3 ordinal
    line 4   names: responses, level-2 id, constant, auxiliary covariates
    then     one row per record; -9.999e+29 marks a missing value

plus an optional ``<name>_wts<ext>`` file with two columns (level-1 and level-2 weight;
all ones means unweighted).  Level-2 responses (constant within clusters) follow the
level-1 ones.

Output: ``impvals.txt``, whose first row names the imputed variables, third row holds
M and fourth row the names of M headerless tab-separated files (one row per record, in
the input order, one column per imputed variable) — the layout realcomImputeLoad.ado
reads.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FormatError
from .atomic import atomic_write_text, staging_folder

MISSING = -9.999e29
TYPE_CODES = {1: "continuous", 2: "categorical", 3: "ordinal"}
#: the names write_impvals gives its files: impvals.txt and imp1..impM (and, outside
#: Windows, imp1. .. impM.: the names realcomImputeLoad opens)
IMPVALS_PATTERNS = ("impvals.txt", re.compile(r"imp[0-9]+\.?"))
CODE_OF_TYPE = {"continuous": 1, "categorical": 2, "binary": 2, "ordinal": 3}


def _is_missing(values: np.ndarray) -> np.ndarray:
    return np.isclose(values, MISSING, rtol=1e-6, atol=0)


def _integer(line: str, path: Path, number: int, what: str) -> int:
    try:
        return int(line.strip())
    except ValueError:
        raise FormatError(f"file '{path}', line {number}: expected the {what}, found {line.strip()!r}") from None


def weights_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_wts{path.suffix}")


def read_realcom(path: str | Path):
    """Read a REALCOM input file: returns (frame, info) with info = dict(responses=[(name,
    type)], cluster, constant, covariates, level1_weight, level2_weight)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"file '{path}': not found")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if len(lines) < 4:
        raise FormatError(f"file '{path}': a REALCOM file needs 4 header lines, found {len(lines)}")
    n_responses = _integer(lines[0], path, 1, "number of responses")
    n_other = _integer(lines[1], path, 2, "number of covariates + 2")
    codes = lines[2].split("\t")
    if len(codes) != n_responses:
        raise FormatError(f"file '{path}', line 3: {len(codes)} type codes for {n_responses} responses")
    types = []
    for k, code in enumerate(codes, start=1):
        value = _integer(code, path, 3, f"type code of response {k}")
        if value not in TYPE_CODES:
            raise FormatError(f"file '{path}', line 3, column {k}: unknown type code {value} "
                              "(1 normal, 2 unordered categorical, 3 ordinal)")
        types.append(TYPE_CODES[value])
    names = lines[3].split("\t")
    if len(names) != n_responses + n_other or n_other < 2:
        raise FormatError(f"file '{path}', line 4: {len(names)} names, the header announces "
                          f"{n_responses} responses + {n_other} others")
    rows = []
    for number, line in enumerate(lines[4:], start=5):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(names):
            raise FormatError(f"file '{path}', line {number}: expected {len(names)} values, found {len(fields)}")
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise FormatError(f"file '{path}', line {number}: {bad!r} is not a number") from None
    if not rows:
        raise FormatError(f"file '{path}': no data rows")
    values = np.array(rows)
    values[_is_missing(values)] = np.nan
    frame = pd.DataFrame(values, columns=names)
    cluster, constant = names[n_responses], names[n_responses + 1]
    if frame[constant].isna().any() or not (frame[constant] == 1).all():
        raise FormatError(f"file '{path}': column '{constant}' (the constant) must be all ones")
    info = {"responses": list(zip(names[:n_responses], types)), "cluster": cluster,
            "constant": constant, "covariates": names[n_responses + 2:],
            "level1_weight": None, "level2_weight": None}
    _read_weights(path, frame, info)
    return frame, info


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_weights(path: Path, frame: pd.DataFrame, info: dict) -> None:
    wpath = weights_path(path)
    if not wpath.is_file():
        return
    try:
        # read as text and converted by float(): correctly rounded in every pandas
        # (pandas 2's own float parser may miss the last bit)
        text = pd.read_csv(wpath, sep="\t", header=None, dtype=str, keep_default_na=False)
        weights = np.vectorize(float, otypes=[float])(text.to_numpy())
    except Exception as exc:
        raise FormatError(f"file '{wpath}': cannot read the weights: {exc}") from None
    if weights.shape != (len(frame), 2):
        raise FormatError(f"file '{wpath}': expected {len(frame)} rows of 2 weights, found "
                          f"{weights.shape[0]} rows of {weights.shape[1] if weights.ndim > 1 else 1}")
    for k, (column, key) in enumerate((("_level1_weight", "level1_weight"),
                                       ("_level2_weight", "level2_weight"))):
        if not np.allclose(weights[:, k], 1.0):
            frame[column] = weights[:, k]
            info[key] = column


def write_realcom(frame: pd.DataFrame, path: str | Path, responses: list[tuple[str, str]],
                  cluster: str, covariates: list[str], constant: str = "cons") -> None:
    """Write a REALCOM input file (as realcomImpute.ado does) and its weights file of ones."""
    path = Path(path)
    names = [r for r, _ in responses] + [cluster, constant] + covariates
    data = frame.assign(**{constant: 1.0})[names].astype(float).to_numpy()
    data = np.where(np.isnan(data), MISSING, data)
    head = [str(len(responses)), str(len(covariates) + 2),
            "\t".join(str(CODE_OF_TYPE[t]) for _, t in responses), "\t".join(names)]
    body = ["\t".join(repr(float(v)) if v != MISSING else "-9.999e+29" for v in row) for row in data]
    atomic_write_text(path, "\n".join(head + body) + "\n")
    atomic_write_text(weights_path(path), "1\t1\n" * len(frame))


def write_impvals(result, directory: str | Path, stem: str = "imp") -> Path:
    """Write impvals.txt and one headerless file per imputation into `directory`.

    The files are built in a temporary folder beside it and moved in only when all are
    written, the index last, so a failed run leaves no partial set behind."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    from .stack import check_complete

    names = result.imputed_vars
    files = [f"{stem}{m}" for m in range(1, result.m + 1)]
    with staging_folder(directory) as staging:
        for m, name in enumerate(files, start=1):
            completed = result.completed(m)[names]
            check_complete(completed, m, names, result.may_stay_missing())
            codes = completed.apply(lambda c: c.cat.codes + 1
                                    if isinstance(c.dtype, pd.CategoricalDtype) else c)
            (staging / name).write_text(codes.to_csv(sep="\t", header=False, index=False,
                                                     lineterminator="\n"))
            if os.name != "nt":
                # realcomImputeLoad opens "`name'." (insheet with a trailing dot, so that
                # Stata adds no .raw): on Windows that is the file imp1 itself, elsewhere a
                # file of its own, given here as a second name of the same file
                try:
                    os.link(staging / name, staging / f"{name}.")
                except OSError:                       # a file system without hard links
                    shutil.copyfile(staging / name, staging / f"{name}.")
        index = ["\t".join(names), "written by mlimpute", str(result.m), "\t".join(files)]
        (staging / "impvals.txt").write_text("\n".join(index) + "\n")
        directory.mkdir(exist_ok=True)
        dotted = [f"{name}." for name in files] if os.name != "nt" else []
        for name in files + dotted + ["impvals.txt"]:
            os.replace(staging / name, directory / name)
    return directory / "impvals.txt"


def parse_realcom_syntax(command: str) -> dict:
    """Translate a Stata ``realcomImpute`` call into the pieces of a spec.

    ``realcomImpute varlist using file, numresponses(#) cons(var) level2id(var)
    [level1wgt(var) level2wgt(var) replace]``: the first `numresponses` variables are
    responses (prefix ``m.`` unordered categorical, ``o.`` ordinal, none normal), the rest
    auxiliary covariates.  Returns dict(responses=[(name, type)], covariates, cluster,
    constant, level1_weight, level2_weight, using).
    """
    text = " ".join(command.replace("///", " ").split())
    match = re.match(r"^\s*realcomImpute\s+(.+?)\s+using\s+(\S+?)\s*,\s*(.*)$", text, re.I)
    if not match:
        raise FormatError("expected 'realcomImpute varlist using filename, numresponses(#) "
                          "cons(varname) level2id(varname) ...'")
    variables, using, options = match.groups()
    found = {key.lower(): value.strip() for key, value in re.findall(r"(\w+)\(([^)]*)\)", options)}
    for required in ("numresponses", "cons", "level2id"):
        if required not in found:
            raise FormatError(f"realcomImpute: option {required}() is required")
    try:
        n = int(found["numresponses"])
    except ValueError:
        raise FormatError(f"realcomImpute: numresponses({found['numresponses']}) is not a number") from None
    names = variables.split()
    if n < 1 or n > len(names):
        raise FormatError(f"realcomImpute: numresponses({n}) but {len(names)} variables are listed")
    prefixes = {"m.": "categorical", "o.": "ordinal"}
    responses = [(v[2:], prefixes[v[:2].lower()]) if v[:2].lower() in prefixes else (v, "continuous")
                 for v in names[:n]]
    return {"responses": responses, "covariates": names[n:], "cluster": found["level2id"],
            "constant": found["cons"], "level1_weight": found.get("level1wgt"),
            "level2_weight": found.get("level2wgt"), "using": using.strip('"')}
