"""Linear hypotheses about the fixed effects of the model of interest, tested on the
completed data sets with the D1 statistic, as mitml's ``testConstraints`` does.

A hypothesis is written with the coefficients' names as the pooled table shows them::

    "G.SES - I.SES = 0"       # the between and within slopes are equal
    "x1 = 0", "x2 = 0"        # several at once: a joint test
    "2*x1 + x2 = 1"
    "G.SES - I.SES"           # mitml's spelling: "= 0" implied

Each becomes a row of a matrix L and a value c; in every imputation the estimates L q
and their covariance L U L' are formed, and D1 pools them (Li, Raghunathan & Rubin
1991; Reiter's small-sample degrees of freedom when the complete-data df is given).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import MlimputeError
from .pool import wald_d1

_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")


def parse_constraint(text: str, names: list[str]) -> tuple[np.ndarray, float]:
    """One hypothesis as (a row over `names`, its value): ``"a - 2*b = 1"`` -> ([1, -2], 1)."""
    if text.count("=") > 1:
        raise MlimputeError(f"hypothesis '{text}': more than one '='")
    left, _, right = text.partition("=")
    row = np.zeros(len(names))
    constant = _side(left, names, row, text, 1.0)
    if right.strip():
        constant += _side(right, names, row, text, -1.0)     # moved to the left of '='
    if not row.any():
        raise MlimputeError(f"hypothesis '{text}' names no coefficient of the model "
                            f"(they are: {', '.join(names)})")
    return row, 0.0 - constant


def _side(expression: str, names: list[str], row: np.ndarray, text: str, sign: float) -> float:
    """Add the coefficients of one side of '=' (times `sign`) to `row`; its constant."""
    by_length = sorted(range(len(names)), key=lambda k: -len(names[k]))
    constant, k, n, first = 0.0, 0, len(expression), True
    while True:
        while k < n and expression[k].isspace():
            k += 1
        if k >= n:
            if first:
                raise MlimputeError(f"hypothesis '{text}': a side of '=' is empty")
            return constant
        factor = sign
        if expression[k] in "+-":
            factor = -sign if expression[k] == "-" else sign
            k += 1
            while k < n and expression[k].isspace():
                k += 1
        elif not first:
            raise MlimputeError(f"hypothesis '{text}': expected + or - at '{expression[k:].strip()}'")
        first = False
        number = _NUMBER.match(expression, k)
        if number:
            after = expression[number.end():].lstrip()
            if after.startswith("*"):
                factor *= float(number.group())
                k = n - len(after) + 1
                while k < n and expression[k].isspace():
                    k += 1
            else:
                constant += factor * float(number.group())
                k = number.end()
                continue
        match = next((j for j in by_length if expression.startswith(names[j], k)), None)
        if match is None:
            shown = re.split(r"\s*[-+=*]\s*", expression[k:].strip())[0]
            raise MlimputeError(f"hypothesis '{text}': '{shown}' is not a coefficient of the "
                                f"model (they are: {', '.join(names)})")
        row[match] += factor
        k += len(names[match])


def constraint_matrix(hypotheses: list[str], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """L (one row per hypothesis) and c, refusing hypotheses that repeat one another."""
    rows, values = zip(*(parse_constraint(h, names) for h in hypotheses))
    matrix = np.vstack(rows)
    if np.linalg.matrix_rank(matrix) < len(hypotheses):
        raise MlimputeError("the hypotheses are not independent (one follows from the "
                            "others); give each restriction once")
    return matrix, np.asarray(values, dtype=float)


def wald_test_of(fits: list[tuple[pd.DataFrame, pd.DataFrame]], hypotheses: list[str],
                 df_complete: float | None = None) -> pd.Series:
    """D1 test of the `hypotheses` jointly, from the per-imputation fits
    (:func:`mlimpute.analysis.fit.fit_with_covariance`): F, df1, df2, p_value, riv."""
    names = list(fits[0][1].index)
    matrix, values = constraint_matrix(hypotheses, names)
    estimates = np.array([matrix @ table["estimate"].reindex(names).to_numpy(float)
                          for table, _ in fits])
    covariances = np.array([matrix @ cov.loc[names, names].to_numpy(float) @ matrix.T
                            for _, cov in fits])
    return wald_d1(estimates, covariances, df_complete=df_complete, null=values)
