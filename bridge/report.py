"""A self-contained HTML report of an imputation run (viewable offline: plots are
embedded as base64 PNG, no scripts, no external style sheets)."""
from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

import pandas as pd

from .diagnose import diagnose, plot
from .equations import render, render_fitted
from .io.atomic import atomic_write_text

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


def build_report(result, pooled: pd.DataFrame | None = None, model: str | None = None,
                 diagnostics: tuple[pd.DataFrame, list[str]] | None = None) -> str:
    """HTML text: spec, equations, fitted model, diagnostics with plots, pooled table.

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
        images = {p.stem: base64.b64encode(p.read_bytes()).decode("ascii")
                  for p in sorted(Path(tmp).glob("*.png"))}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>mlimpute report</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>mlimpute imputation report</h1>",
             f"<p>{len(result.original)} rows, {result.model.data.n_clusters} clusters "
             f"('{html.escape(spec.cluster)}'), {result.m} imputations, seed {result.seed}.</p>",
             "<h2>Imputation model</h2>", f"<pre>{html.escape(render(spec))}</pre>",
             "<h2>Posterior means</h2>", f"<pre>{html.escape(render_fitted(result))}</pre>",
             "<h2>Convergence</h2>"]
    parts += [f"<p class='warning'>{html.escape(n)}</p>" for n in notes] or \
             ["<p>No warnings: split R-hat, effective sample sizes and the autocorrelation at "
              "the lag between imputations are within limits.</p>"]
    parts.append(_table(table))
    for name, data in images.items():
        parts.append(f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)} trace and "
                     f"autocorrelation' src='data:image/png;base64,{data}'>")
    if pooled is not None:
        parts += [f"<h2>Model of interest</h2><p><code>{html.escape(model or '')}</code>, pooled "
                  "with Rubin's rules (variance components: mean over imputations)</p>",
                  _table(pooled)]
    parts.append("<h2>Spec</h2>")
    parts.append(f"<pre>{html.escape(spec.to_toml())}</pre></body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, result, pooled: pd.DataFrame | None = None,
                 model: str | None = None,
                 diagnostics: tuple[pd.DataFrame, list[str]] | None = None) -> None:
    atomic_write_text(path, build_report(result, pooled, model, diagnostics))
