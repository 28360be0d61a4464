"""Convergence and Monte Carlo error of MCMC output: the one implementation in mlimpute.

Definitions follow Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021, "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC",
Bayesian Analysis 16(2)), as Stan and ArviZ compute them; ``tests/analysis/test_diagnose.py``
checks the numbers against ArviZ.

* Every chain is split into halves (the middle draw of an odd length is dropped), so that
  one chain can be judged too.
* Effective sample size (:func:`ess`) combines the chains' autocorrelations (the
  multi-chain estimator of BDA3, section 11.5) and sums them with Geyer's initial
  positive and initial monotone sequences.  ``"bulk"`` is computed on the rank-normalised
  draws (the quality of the centre of the posterior), ``"tail"`` is the smaller ESS of the
  indicators of the 5% and 95% quantiles, ``"mean"`` is on the draws themselves (what the
  Monte Carlo error of a posterior mean needs).
* :func:`rhat` is the larger of the rank-normalised split R-hat and the same of the
  draws folded about their median (which catches chains that differ in spread only).

Draws are given as one chain, an array ``(n_iterations, ...)``, or as several: a list of
such arrays or an array ``(n_chains, n_iterations, ...)`` via :func:`as_chains`.  A
parameter that never moves (a fixed covariance entry) gets R-hat 1 and ESS equal to the
number of draws.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np


def as_chains(draws) -> tuple[np.ndarray, tuple[int, ...]]:
    """(C, n, k) float array of `draws` and the parameters' original shape.

    One chain: an array (n, ...).  Several: a list of arrays (n_c, ...) (cut to the
    shortest, keeping each chain's last draws) or an array (C, n, ...) in a tuple."""
    if isinstance(draws, tuple):
        draws = list(np.asarray(draws[0], dtype=float))
    chains = [np.asarray(d, dtype=float) for d in (draws if isinstance(draws, list) else [draws])]
    n = min(len(c) for c in chains)
    shape = chains[0].shape[1:]
    return np.stack([c[len(c) - n:].reshape(n, -1) for c in chains]), shape


def split_halves(chains: np.ndarray) -> np.ndarray:
    """(2C, n // 2, k): each chain's first and last halves as separate chains."""
    half = chains.shape[1] // 2
    return np.concatenate([chains[:, :half], chains[:, chains.shape[1] - half:]])


def _autocovariance(chains: np.ndarray) -> np.ndarray:
    """(C, n, k) autocovariance of every chain and parameter at lags 0..n-1 (divided by
    n, the biased estimator that keeps the sequence positive definite), via FFT."""
    n = chains.shape[1]
    centered = chains - chains.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centered, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n


def autocorrelation(chains: np.ndarray) -> np.ndarray:
    """(n, k) autocorrelation at lags 0..n-1 of each parameter, combined over the chains
    (C, n, k) as in BDA3 (11.7): rho_t = 1 - (W - mean_c acov_c(t)) / var+, where W is the
    mean within-chain variance and var+ adds the variance between chain means.
    Parameters with no variance get rho = 0 beyond lag 0."""
    n_chains, n = chains.shape[:2]
    acov = _autocovariance(chains)
    within = acov[:, 0].mean(axis=0) * n / (n - 1)
    var_plus = within * (n - 1) / n
    if n_chains > 1:
        var_plus = var_plus + chains.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[:, ~(var_plus > 0)] = 0.0
    rho[0] = 1.0
    return rho


def _geyer_tau(rho: np.ndarray) -> float:
    """Integrated autocorrelation time 1 + 2 sum_t rho_t of one parameter, summed in pairs
    (rho_2j + rho_2j+1) until the first negative pair (Geyer's initial positive sequence),
    the pairs made non-increasing (initial monotone sequence), plus the positive first
    element of the pair that ended the sum.  Pairs are looked at up to lag n - 3, as
    Stan and ArviZ do."""
    last_odd = len(rho) - 4 if (len(rho) - 4) % 2 else len(rho) - 5
    n_pairs = max((last_odd + 1) // 2, 0)
    pairs = rho[:2 * n_pairs + 2].reshape(-1, 2).sum(axis=1) if n_pairs else rho[:0]
    negative = np.flatnonzero(pairs[1:] < 0)
    stop = negative[0] + 1 if negative.size else n_pairs
    kept = np.minimum.accumulate(pairs[:stop])
    tail = rho[2 * stop] if rho[2 * stop] > 0 else 0.0
    return -1.0 + 2.0 * kept.sum() + tail


def _ess_of(chains: np.ndarray) -> np.ndarray:
    """ESS of each parameter of (C, n, k) chains (already split, or not, as the caller
    wants): C n / tau, with tau at least 1 / log10(C n) as in Stan."""
    n_total = chains.shape[0] * chains.shape[1]
    rho = autocorrelation(chains)
    out = np.empty(chains.shape[2])
    for k in range(chains.shape[2]):
        tau = _geyer_tau(rho[:, k])
        out[k] = n_total / max(tau, 1.0 / np.log10(n_total))
    return out


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..S of a 1-d array, tied values sharing the mean of their ranks (what
    ``scipy.stats.rankdata`` gives; written here so a run need not load scipy.stats)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]                       # tie group g is [start, end)
    group = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(len(values))
    ranks[order] = 0.5 * (starts + 1 + ends)[group]
    return ranks


def rank_normalize(chains: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks (ties averaged): Phi^-1((r - 3/8) / (S + 1/4))."""
    c, n, k = chains.shape
    flat = chains.transpose(2, 0, 1).reshape(k, c * n)
    ranks = np.array([_average_ranks(row) for row in flat]).reshape(k, c * n)
    z = _normal_scores(ranks, c * n)
    return z.reshape(k, c, n).transpose(1, 2, 0)


def _normal_scores(ranks: np.ndarray, total: int) -> np.ndarray:
    """Phi^-1((r - 3/8) / (S + 1/4)) of ranks that are multiples of 1/2 (averaged ties).

    Such ranks take at most 2S distinct values, so the quantile of each value present is
    computed once, by the standard library's NormalDist (Wichura's algorithm AS241, within
    about 1e-15 of scipy's ndtri), and looked up: a run then need not import scipy.special
    for its diagnostics."""
    doubled = np.rint(2.0 * ranks).astype(np.intp)                  # 2 .. 2S
    present = np.flatnonzero(np.bincount(doubled.ravel(), minlength=2 * total + 1))
    quantile = NormalDist().inv_cdf
    table = np.zeros(2 * total + 1)
    table[present] = [quantile((v / 2.0 - 0.375) / (total + 0.25)) for v in present.tolist()]
    return table[doubled]


def _constant(chains: np.ndarray) -> np.ndarray:
    flat = chains.reshape(-1, chains.shape[2])
    return np.ptp(flat, axis=0) == 0


def ess(draws, kind: str = "bulk") -> np.ndarray:
    """Effective sample size of each parameter: ``"bulk"``, ``"tail"`` or ``"mean"``
    (see the module docstring); the result has the parameters' shape."""
    chains, shape = as_chains(draws)
    split = split_halves(chains)
    if split.shape[1] < 2:
        raise ValueError("an effective sample size needs at least 4 draws per chain")
    if kind == "bulk":
        out = _ess_of(rank_normalize(split))
    elif kind == "mean":
        out = _ess_of(split)
    elif kind == "tail":
        flat = chains.reshape(-1, chains.shape[2])
        low, high = np.quantile(flat, [0.05, 0.95], axis=0)
        out = np.minimum(_ess_of(split_halves((chains <= low).astype(float))),
                         _ess_of(split_halves((chains <= high).astype(float))))
    else:
        raise ValueError(f"unknown ESS kind {kind!r} (bulk, tail or mean)")
    out[_constant(chains)] = split.shape[0] * split.shape[1]
    return out.reshape(shape)


def _split_rhat(split: np.ndarray) -> np.ndarray:
    """Potential scale reduction of (C, n, k) chains: sqrt(((n - 1) W + B) / (n W))."""
    n = split.shape[1]
    within = split.var(axis=1, ddof=1).mean(axis=0)
    between = n * split.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def rhat(draws) -> np.ndarray:
    """Rank-normalised, folded split R-hat of each parameter (Vehtari et al. 2021):
    below 1.01 the chains (and their halves) agree."""
    chains, shape = as_chains(draws)
    if chains.shape[1] < 4:
        raise ValueError("R-hat needs at least 4 draws per chain")
    bulk = _split_rhat(rank_normalize(split_halves(chains)))
    folded = np.abs(chains - np.median(chains.reshape(-1, chains.shape[2]), axis=0))
    tail = _split_rhat(rank_normalize(split_halves(folded)))
    out = np.fmax(bulk, tail)
    out[_constant(chains)] = 1.0
    return out.reshape(shape)


def effective_sample_size(draws) -> np.ndarray:
    """ESS for the posterior mean (``ess(draws, "mean")``): one chain (n, ...), a list
    of chains, or a tuple holding a (C, n, ...) array."""
    return ess(draws, "mean")


def monte_carlo_se(draws) -> np.ndarray:
    """Standard error of the posterior mean estimate: sd / sqrt(ESS), per parameter."""
    chains, shape = as_chains(draws)
    flat = chains.reshape(-1, chains.shape[2])
    return (flat.std(axis=0, ddof=1) / np.sqrt(ess((chains,), "mean").ravel())).reshape(shape)


def first_lag_below(draws, limit: float = 0.05) -> int:
    """Smallest lag L >= 1 at which every parameter's autocorrelation (combined over
    chains, :func:`autocorrelation`) has fallen below `limit` at least once by L: the gap
    between kept imputations that makes consecutive ones close to independent.  Returns
    the number of draws per chain when some parameter never gets there."""
    chains, _ = as_chains(draws)
    rho = autocorrelation(chains)[1:]
    free = ~_constant(chains)
    below = rho[:, free] < limit
    if not below.size:
        return 1
    if not below.any(axis=0).all():
        return chains.shape[1]
    return int(below.argmax(axis=0).max()) + 1
