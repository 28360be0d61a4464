"""A self-contained HTML report of an imputation run (viewable offline: plots are
embedded as base64 PNG, no scripts, no external style sheets)."""
from __future__ import annotations

import base64
import html
import re
import tempfile
from pathlib import Path

import pandas as pd

from .diagnose import diagnose, plot
from ..model.equations import render, render_fitted
from ..io.atomic import atomic_write_text
from ..io.metadata import Metadata

_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.warning { color: #a33; }
img { max-width: 100%; }
"""


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.4g}", border=0, na_rep="")


def missingness_patterns(original: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Each pattern of missing values over the imputed variables ("x" observed, "." missing)
    with the number of rows that have it, most frequent first."""
    marks = original[names].isna().replace({True: ".", False: "x"})
    table = marks.value_counts().rename("rows").reset_index()
    return table.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def labelled_terms(index, metadata: Metadata | None) -> list[str]:
    """Model-of-interest terms in the user's words: ``C(sex)[T.1]`` becomes
    ``Sex of pupil: girl`` with the variable's label and the code's value label."""
    variable_labels = metadata.variable_labels if metadata else {}
    value_labels = metadata.value_labels if metadata else {}

    def words(term: str) -> str:
        match = re.fullmatch(r"C\((.+?)\)\[T\.(.+)\]", term)
        if match:
            name, code = match.groups()
            labels = value_labels.get(name, {})
            value = next((text for key, text in labels.items() if str(key) == code or
                          _same_number(key, code)), code)
            return f"{variable_labels.get(name, name)}: {value}"
        return variable_labels.get(term, term)
    return [words(str(term)) for term in index]


def _same_number(key, code: str) -> bool:
    try:
        return float(key) == float(code)
    except (TypeError, ValueError):
        return False


def _distribution_figure(result, name: str, folder: Path) -> Path:
    """Observed values against imputed ones (pooled over the imputations) of one variable:
    densities for continuous variables, proportions per category otherwise."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    original = result.original[name]
    missing = original.isna().to_numpy()
    if name in result.hard_missing:
        missing = missing & ~result.hard_missing[name]
    imputed = pd.concat([frame[name][missing] for frame in result.completed_all()])
    fig, axis = plt.subplots(figsize=(5, 2.6))
    if name in result.model.categories:
        observed_share = original.dropna().astype(str).value_counts(normalize=True)
        imputed_share = imputed.astype(str).value_counts(normalize=True)
        shares = pd.DataFrame({"observed": observed_share, "imputed": imputed_share}).fillna(0)
        shares.plot.bar(ax=axis, rot=0)
        axis.set_ylabel("share")
    else:
        axis.hist(original.dropna().astype(float), bins=30, density=True, alpha=0.5,
                  label="observed")
        if len(imputed):
            axis.hist(imputed.astype(float), bins=30, density=True, alpha=0.5, label="imputed")
        axis.legend()
    axis.set_title(name, fontsize=9)
    fig.tight_layout()
    path = folder / f"dist_{len(list(folder.glob('dist_*')))}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def build_report(result, pooled: pd.DataFrame | None = None, model: str | None = None,
                 diagnostics: tuple[pd.DataFrame, list[str]] | None = None,
                 metadata: Metadata | None = None) -> str:
    """HTML text: spec, equations, fitted model, missingness patterns, observed against
    imputed distributions, diagnostics with plots, pooled table (terms in the words of the
    data's variable and value labels, from `metadata`).

    ``diagnostics``: the (table, warnings) of :func:`diagnose` if the caller has them
    already (the CLI does, for its warnings); computed here otherwise.
    """
    spec = result.model.spec
    draws = result.chain_draws(include_burnin=True)
    with tempfile.TemporaryDirectory() as tmp:
        if diagnostics is None:
            table, notes = diagnose(draws, tmp, spec.mcmc.burnin, spec.mcmc.between)
        else:
            table, notes = diagnostics
            plot(draws, tmp, spec.mcmc.burnin)
        images = {p.stem: _image(p, f"{p.stem} trace and autocorrelation")
                  for p in sorted(Path(tmp).glob("*.png"))}
        distributions = [_image(_distribution_figure(result, name, Path(tmp)),
                                f"{name}: observed and imputed")
                         for name in result.imputed_vars]
    labels = metadata.variable_labels if metadata else {}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>mlimpute report</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>mlimpute imputation report</h1>",
             f"<p>{len(result.original)} rows, "
             + ", ".join(f"{len(labels)} '{html.escape(name)}' units"
                         for name, labels in zip(spec.clusters, result.model.labels))
             + f", {result.m} imputations, seed {result.seed}.</p>",
             "<h2>Imputation model</h2>", f"<pre>{html.escape(render(spec))}</pre>",
             "<h2>Posterior means</h2>", f"<pre>{html.escape(render_fitted(result))}</pre>",
             "<h2>Missing values</h2><p>Patterns over the imputed variables (x observed, "
             ". missing), most frequent first.</p>",
             _table(missingness_patterns(result.original, result.imputed_vars)),
             "<h2>Observed and imputed values</h2><p>Imputed values pooled over the "
             f"{result.m} imputations. Under MAR they may differ from the observed ones; "
             "large differences deserve a look.</p>"]
    for name, image in zip(result.imputed_vars, distributions):
        title = f"{labels[name]} ({name})" if name in labels else name
        parts.append(f"<h3>{html.escape(title)}</h3>{image}")
    parts.append("<h2>Convergence</h2>")
    parts += [f"<p>{html.escape(n)}</p>" for n in getattr(result, "notes", [])]
    parts += [f"<p class='warning'>{html.escape(n)}</p>" for n in notes] or \
             ["<p>No warnings: rank-normalised R-hat, bulk and tail effective sample sizes and "
              "the autocorrelation at the lag between imputations are within limits.</p>"]
    parts.append(_table(table))
    for name, image in images.items():
        parts.append(f"<h3>{html.escape(name)}</h3>{image}")
    if pooled is not None:
        shown = pooled.copy()
        shown.index = labelled_terms(pooled.index, metadata)
        parts += [f"<h2>Model of interest</h2><p><code>{html.escape(model or '')}</code>, pooled "
                  "with Rubin's rules (variance components on the log-SD, Fisher-z and logit "
                  "scales, with intervals)</p>", _table(shown)]
    parts.append("<h2>Spec</h2>")
    parts.append(f"<pre>{html.escape(spec.to_toml())}</pre></body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, result, pooled: pd.DataFrame | None = None,
                 model: str | None = None,
                 diagnostics: tuple[pd.DataFrame, list[str]] | None = None,
                 metadata: Metadata | None = None) -> None:
    atomic_write_text(path, build_report(result, pooled, model, diagnostics, metadata))
