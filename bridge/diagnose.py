"""Chain diagnostics: did the sampler converge, and are the imputations independent?

For every parameter: posterior mean and SD, effective sample size, split R-hat and the
autocorrelation at the lag between kept imputations.  Warnings are raised in words when

* split R-hat > 1.05 (the burn-in is too short or the chain has not mixed),
* the autocorrelation at lag ``between`` exceeds 0.1 (consecutive imputations are not
  close to independent: increase ``between``),
* the effective sample size after burn-in is below 100.

Plots (PNG, matplotlib): trace (every chain) and autocorrelation, one figure per parameter
block, in pages of at most 12 parameters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mlimpute.engine.diagnostics import _autocorrelation, effective_sample_size, split_rhat

RHAT_LIMIT, ACF_LIMIT, ESS_LIMIT = 1.05, 0.1, 100


def summarize(draws, between: int | None = None) -> pd.DataFrame:
    """Diagnostics table of post-burn-in draws: a frame (one column per parameter) or a
    list of frames, one per chain (R-hat then compares the chains as well as their halves;
    ESS adds up over chains; the lag check uses the first chain)."""
    chains = draws if isinstance(draws, list) else [draws]
    arrays = [c.to_numpy(dtype=float) for c in chains]
    pooled = np.vstack(arrays)
    ess = sum(effective_sample_size(a) for a in arrays)
    table = pd.DataFrame({"mean": pooled.mean(axis=0), "sd": pooled.std(axis=0, ddof=1),
                          "ess": ess, "rhat": split_rhat(arrays)}, index=chains[0].columns)
    if between is not None and between < len(arrays[0]):
        table[f"acf_lag{between}"] = _autocorrelation(arrays[0])[between]
    return table


def warnings_for(table: pd.DataFrame, between: int | None = None) -> list[str]:
    """Plain-language warnings from a diagnostics table."""
    notes = []
    free = table[table["sd"] > 0]
    bad = free[free["rhat"] > RHAT_LIMIT]
    if len(bad):
        notes.append(f"{len(bad)} parameters have split R-hat above {RHAT_LIMIT} (worst "
                     f"{bad['rhat'].idxmax()}: {bad['rhat'].max():.2f}): lengthen the burn-in")
    low = free[free["ess"] < ESS_LIMIT]
    if len(low):
        notes.append(f"{len(low)} parameters have an effective sample size below {ESS_LIMIT} "
                     f"(lowest {low['ess'].idxmin()}: {low['ess'].min():.0f}): run longer")
    column = f"acf_lag{between}"
    if between is not None and column in free:
        corr = free[free[column].abs() > ACF_LIMIT]
        if len(corr):
            notes.append(f"{len(corr)} parameters keep an autocorrelation above {ACF_LIMIT} at "
                         f"lag {between} (worst {corr[column].abs().idxmax()}: "
                         f"{corr[column].abs().max():.2f}): imputations are not independent, "
                         "increase 'between'")
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
    acfs = []
    for chain in chains:
        kept = chain[names].to_numpy()[burnin:]
        if len(kept) > 2:
            acfs.append(_autocorrelation(kept)[: max_lag + 1])
    acf = np.nanmean(acfs, axis=0) if acfs else np.ones((1, len(names)))
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
    axes[0, 1].set_title("autocorrelation after burn-in (mean over chains)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def diagnose(draws, folder: str | Path | None, burnin: int = 0,
             between: int | None = None, progress=None) -> tuple[pd.DataFrame, list[str]]:
    """Summary table and warnings for a chain (all iterations, burn-in first) or a list of
    chains; with a folder, also write summary.csv and the plots (every chain) there."""
    chains = draws if isinstance(draws, list) else [draws]
    table = summarize([c.iloc[burnin:] for c in chains], between)
    notes = warnings_for(table, between)
    if folder is not None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / "summary.csv", index_label="parameter")
        plot(chains, folder, burnin, progress=progress)
    return table, notes
