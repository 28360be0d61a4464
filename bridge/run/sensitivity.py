"""Sensitivity to data missing not at random: impute and pool over a grid of deltas.

For each delta the response's imputed values are shifted by delta (see
:mod:`mlimpute.model.delta`), the model of interest is fitted to every completed data set and
pooled.  Every run uses the same seed and the same burn-in, gap and M (those the first
run chose, when they are ``"auto"``), so the chains are identical and the pooled
estimates differ only through the shift: the table shows how far the conclusions move
as the MNAR departure grows, and delta = 0 is the MAR analysis.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .api import impute, new_seed
from ..errors import MlimputeError
from ..analysis.fit import fit_pooled
from ..model.formula import check_formula
from ..model.spec import MAX_MAGNITUDE, Delta, Spec

COLUMNS = ["delta", "term", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "fmi"]


def check_deltas(deltas) -> None:
    """Refuse a grid of shifts with a repeat (its rows would collide in the table) or a
    shift beyond :data:`MAX_MAGNITUDE`, before any imputation runs."""
    seen = set()
    for delta in deltas:
        if abs(delta) > MAX_MAGNITUDE:
            raise MlimputeError(f"--deltas: {delta:g} is beyond {MAX_MAGNITUDE:g}; give shifts "
                                "on the scale of the response")
        if delta in seen:
            raise MlimputeError(f"--deltas: {delta:g} is given twice; give each shift once")
        seen.add(delta)


def sensitivity(data: pd.DataFrame, spec: Spec, response: str, deltas, model: str,
                where: str | None = None, progress=False, workers: int | None = None,
                hard_missing: dict | None = None, sample=None, notify=None) -> pd.DataFrame:
    """Pooled estimates of `model` for every shift in `deltas` of `response` (optionally
    only `where` a condition holds): one row per delta and term, columns ``COLUMNS``.
    ``notify(text)`` is told as each delta starts."""
    deltas = [float(d) for d in deltas]
    if not deltas:
        raise MlimputeError("give at least one delta")
    if not all(np.isfinite(deltas)):
        raise MlimputeError("every delta must be a finite number")
    check_deltas(deltas)
    check_formula(model, data)
    if response not in spec.response_names:
        raise MlimputeError(f"column '{response}' is not a response of the imputation model; "
                            "only imputed values can be shifted")
    if spec.mcmc.seed is None:
        spec = spec.with_mcmc(seed=new_seed())
    kept = [d for d in spec.delta if d.response != response]
    parts = []
    for k, delta in enumerate(deltas, start=1):
        if notify is not None:
            notify(f"delta {delta:g} ({k} of {len(deltas)})")
        shifted = replace(spec, delta=kept + ([Delta(response, delta, where)] if delta else []))
        result = impute(data, shifted, progress=progress, workers=workers,
                        hard_missing=hard_missing, sample=sample,
                        model=model if spec.mcmc.m == "auto" else None, compatible=False)
        spec = replace(spec, mcmc=result.spec.mcmc)      # "auto" settles on the first run
        pooled = fit_pooled(result, model)
        pooled = pooled[pooled["std_error"].notna()]
        table = pooled.reindex(columns=COLUMNS[2:]).reset_index(names="term")
        table.insert(0, "delta", delta)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def plot(table: pd.DataFrame, path, response: str) -> None:
    """One panel per term: the pooled estimate against delta, with its 95% interval,
    written to `path` (PNG)."""
    from ..io.atomic import atomic_path
    image = render_plot(table, response)
    with atomic_path(path) as temporary:
        temporary.write_bytes(image)


def render_plot(table: pd.DataFrame, response: str) -> bytes:
    """:func:`plot`'s PNG image, in memory: drawn before any output is written, so that a
    failure to draw leaves nothing behind."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    terms = list(dict.fromkeys(table["term"]))
    columns = min(3, len(terms))
    rows = -(-len(terms) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, term in zip(axes.flat, terms):
        part = table[table["term"] == term].sort_values("delta")
        x, low, high, estimate = (part[c].to_numpy(dtype=float) for c in
                                  ("delta", "ci_lower", "ci_upper", "estimate"))
        ax.fill_between(x, low, high, alpha=0.25)
        ax.plot(x, estimate, marker="o")
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_title(term, fontsize=9)
        ax.set_xlabel(f"delta (shift of imputed {response})", fontsize=8)
    for ax in list(axes.flat)[len(terms):]:
        ax.set_visible(False)
    fig.suptitle("Pooled estimates under MNAR shifts (dashed: MAR)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=90, format="png")
    plt.close(fig)
    return buffer.getvalue()
