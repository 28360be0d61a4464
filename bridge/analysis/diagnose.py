"""Chain diagnostics: did the sampler converge, and are the imputations independent?

For every parameter: posterior mean and SD, bulk and tail effective sample size and the
rank-normalised split R-hat (Vehtari et al. 2021, :mod:`mlimpute.engine.diagnostics`,
the one implementation in mlimpute), and the autocorrelation at the lag between kept
imputations.  Warnings are raised in words when

* R-hat >= 1.01 after burn-in (the burn-in is too short, or the chains mix so slowly
  that the draws after it are too few to agree),
* the M imputations carry fewer than M / 2 effectively independent draws of a parameter
  (bulk or tail ESS), or the autocorrelation at lag ``between`` exceeds 0.1: consecutive
  imputations are not close to independent, increase ``between``.

Plots (PNG, matplotlib): trace (every chain) and autocorrelation, one figure per parameter
block, in pages of at most 12 parameters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mlimpute.engine.diagnostics import as_chains, autocorrelation, ess, rhat

#: R-hat and bulk ESS that ``burnin = "auto"`` requires; the acf at the gap that warns
RHAT_LIMIT, ESS_LIMIT, ACF_LIMIT = 1.01, 400.0, 0.1


def summarize(draws, between: int | None = None) -> pd.DataFrame:
    """Diagnostics table of post-burn-in draws: a frame (one column per parameter) or a
    list of frames, one per chain (compared with each other and their halves)."""
    chains = draws if isinstance(draws, list) else [draws]
    arrays = [c.to_numpy(dtype=float) for c in chains]
    pooled = np.vstack(arrays)
    table = pd.DataFrame({"mean": pooled.mean(axis=0), "sd": pooled.std(axis=0, ddof=1),
                          "ess_bulk": ess(arrays, "bulk"), "ess_tail": ess(arrays, "tail"),
                          "rhat": rhat(arrays)}, index=chains[0].columns)
    if between is not None and between < min(len(a) for a in arrays):
        rho = autocorrelation(as_chains(arrays)[0])
        table[f"acf_lag{between}"] = rho[between]
        # Bartlett's standard error of an estimated autocorrelation at lag `between`
        table["acf_se"] = np.sqrt((1 + 2 * (rho[1:between] ** 2).sum(axis=0)) / len(pooled))
    return table


def warnings_for(table: pd.DataFrame, between: int | None = None, chains: int = 1,
                 m: int | None = None, burnin_converged: bool = False) -> list[str]:
    """Plain-language warnings from a diagnostics table of the draws after burn-in of
    `chains` chains that kept `m` imputations `between` iterations apart.

    ``burnin_converged``: the burn-in was extended until it met the R-hat and ESS
    criteria (``burnin = "auto"``).  R-hat of the shorter run after it is then trusted
    only where it rests on at least 400 effective draws (Vehtari et al. 2021); below
    that a high value is the noise of a short run, not evidence against convergence.
    The autocorrelation at the gap warns when it is above 0.1 by more than two of
    Bartlett's standard errors, so a short run's noise does not raise it either."""
    notes = []
    free = table[table["sd"] > 0]
    judged = free[free["ess_bulk"] >= ESS_LIMIT] if burnin_converged else free
    bad = judged[judged["rhat"] >= RHAT_LIMIT]
    if len(bad):
        worst = bad["rhat"].idxmax()
        remedy = ("the burn-in met the criteria, so the run after it is short for how slowly "
                  "this parameter mixes: use a longer gap between imputations" if burnin_converged
                  else "lengthen the burn-in and the gap between imputations (or use --burnin "
                  "auto --between auto)")
        notes.append(f"{len(bad)} parameters have R-hat of {RHAT_LIMIT} or more after burn-in "
                     f"(worst {worst}: {bad.loc[worst, 'rhat']:.3f}, bulk ESS "
                     f"{bad.loc[worst, 'ess_bulk']:.0f}): the chains, or the halves of a chain, "
                     f"disagree; {remedy}")
    if m:
        smallest = free[["ess_bulk", "ess_tail"]].min(axis=1)
        few = smallest[smallest < m / 2]
        if len(few):
            notes.append(f"the {m} imputations carry only about {few.min():.0f} independent "
                         f"draws of {few.idxmin()} ({len(few)} parameters below {m / 2:g}): "
                         "imputations are not independent, increase 'between' (or use "
                         "--between auto)")
    column = f"acf_lag{between}"
    if between is not None and column in free:
        corr = free[free[column].abs() - 2 * free["acf_se"] > ACF_LIMIT]
        if len(corr):
            notes.append(f"{len(corr)} parameters keep an autocorrelation above {ACF_LIMIT} at "
                         f"lag {between} (worst {corr[column].abs().idxmax()}: "
                         f"{corr[column].abs().max():.2f}): imputations are not independent, "
                         "increase 'between' (or use --between auto)")
    return notes


def chain_table(chains: list[pd.DataFrame], burnin: int) -> pd.DataFrame:
    """The draws of every chain (burn-in included) as one table, one row per iteration,
    with columns ``chain`` (1..K), ``iteration`` (1..T) and ``burnin`` (1 during burn-in):
    the file ``impute --chain`` writes and ``diagnose`` reads."""
    parts = []
    for k, draws in enumerate(chains, start=1):
        part = draws.copy()
        part.insert(0, "burnin", (np.arange(len(draws)) < burnin).astype(int))
        part.insert(0, "iteration", range(1, len(draws) + 1))
        part.insert(0, "chain", k)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def block_of(name: str) -> str:
    return name.split("[", 1)[0]


#: parameters on one page of plots: a 20 x 20 covariance matrix (210 free elements)
#: becomes 18 readable pages rather than one image thousands of pixels high
PER_PAGE = 12


def plot(draws, folder: str | Path, burnin: int = 0, max_lag: int = 100,
         per_page: int = PER_PAGE, progress=None) -> list[Path]:
    """Trace and autocorrelation plots (PNG); returns the paths.

    `draws`: one chain (a frame, burn-in first) or a list of chains: every chain's trace
    is drawn, one colour each, and the autocorrelation after burn-in is their average.
    One file per parameter block (``omega_u.png``), split into pages of `per_page`
    parameters when the block is larger (``omega_u_1.png``, ``omega_u_2.png``, ...).
    ``progress(done, total)`` is called after each page."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chains = draws if isinstance(draws, list) else [draws]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    blocks: dict[str, list[str]] = {}
    for name in chains[0].columns:
        if any(c[name].std() > 0 for c in chains):
            blocks.setdefault(block_of(name), []).append(name)
    pages = {block: [names[k: k + per_page] for k in range(0, len(names), per_page)]
             for block, names in blocks.items()}
    total = sum(len(p) for p in pages.values())
    for block, block_pages in pages.items():
        for number, page in enumerate(block_pages, start=1):
            several = len(block_pages) > 1
            path = folder / (f"{block}_{number}.png" if several else f"{block}.png")
            _plot_page(plt, chains, page, burnin, max_lag, path,
                       block + (f" ({number}/{len(block_pages)})" if several else ""))
            written.append(path)
            if progress is not None:
                progress(len(written), total)
    return written


def _plot_page(plt, chains, names, burnin, max_lag, path, title) -> None:
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 1.6 * len(names) + 0.8), squeeze=False)
    kept = [chain[names].to_numpy(dtype=float)[burnin:] for chain in chains]
    acf = autocorrelation(as_chains(kept)[0])[: max_lag + 1] if min(len(k) for k in kept) > 2 \
        else np.ones((1, len(names)))
    for k, name in enumerate(names):
        trace, corr = axes[k]
        for j, chain in enumerate(chains):
            trace.plot(chain[name].to_numpy(), lw=0.5, color=f"C{j % 10}")
        if burnin:
            trace.axvline(burnin, color="grey", ls="--", lw=0.8)
        trace.set_ylabel(name, fontsize=7, rotation=0, ha="right")
        corr.bar(np.arange(len(acf)), acf[:, k], width=1.0)
        corr.axhline(0, color="black", lw=0.5)
        corr.set_ylim(-0.2, 1.0)
    axes[0, 0].set_title(f"{title}: trace, {len(chains)} chain(s) (dashed: end of burn-in)",
                         fontsize=9)
    axes[0, 1].set_title("autocorrelation after burn-in (combined over chains)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def diagnose(draws, folder: str | Path | None, burnin: int = 0,
             between: int | None = None, progress=None,
             burnin_converged: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Summary table and warnings for a chain (all iterations, burn-in first) or a list of
    chains; with a folder, also write summary.csv and the plots (every chain) there."""
    chains = draws if isinstance(draws, list) else [draws]
    table = summarize([c.iloc[burnin:] for c in chains], between)
    kept = sum(len(c) - burnin for c in chains)
    notes = warnings_for(table, between, len(chains), kept // between if between else None,
                         burnin_converged)
    if folder is not None:
        write_diagnostics(table, chains, Path(folder), burnin, progress)
    return table, notes


def write_diagnostics(table: pd.DataFrame, chains, folder: Path, burnin: int, progress=None) -> None:
    """summary.csv and every plot, drawn in a staging folder beside `folder` and moved in
    only when all are done, so that a failure leaves the folder as it was."""
    import os

    from ..io.atomic import staging_folder
    folder.mkdir(parents=True, exist_ok=True)
    with staging_folder(folder / "summary.csv") as staging:
        table.to_csv(staging / "summary.csv", index_label="parameter")
        plot(chains, staging, burnin, progress=progress)
        for path in sorted(staging.iterdir()):
            os.replace(path, folder / path.name)
