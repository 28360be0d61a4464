"""Monte Carlo error of MCMC output: effective sample size and standard error of a mean.

Used to judge whether two samplers agree "within Monte Carlo error" and to warn when a
chain is too short.  Effective sample size follows Geyer's initial positive sequence
estimator (as in Stan/ArviZ for one chain): autocorrelations are summed in pairs until
a pair sum turns negative.
"""
from __future__ import annotations

import numpy as np


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """Autocorrelation of each column of x (n, k) at lags 0..n-1, via FFT."""
    n = x.shape[0]
    centered = x - x.mean(axis=0)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centered, n=size, axis=0)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[:n] / n
    var = acov[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, acov / np.where(var > 0, var, 1.0), 0.0)


def effective_sample_size(draws: np.ndarray) -> np.ndarray:
    """ESS of each parameter; draws has shape (n_iterations, ...) and the result the
    trailing shape.  A constant parameter (e.g. a fixed covariance entry) gets ESS n."""
    draws = np.asarray(draws, dtype=float)
    n = draws.shape[0]
    flat = draws.reshape(n, -1)
    rho = _autocorrelation(flat)
    ess = np.empty(flat.shape[1])
    for k in range(flat.shape[1]):
        if np.ptp(flat[:, k]) == 0:
            ess[k] = n
            continue
        pairs = rho[: n - n % 2, k].reshape(-1, 2).sum(axis=1)
        positive = np.flatnonzero(pairs <= 0)
        stop = positive[0] if positive.size else len(pairs)
        pairs = np.minimum.accumulate(pairs[:stop])          # initial monotone sequence
        tau = -1.0 + 2.0 * pairs.sum()
        ess[k] = n / max(tau, 1.0 / np.log10(max(n, 10)))
    return ess.reshape(draws.shape[1:])


def monte_carlo_se(draws: np.ndarray) -> np.ndarray:
    """Standard error of the posterior mean estimate: sd / sqrt(ESS), per parameter."""
    draws = np.asarray(draws, dtype=float)
    return draws.std(axis=0, ddof=1) / np.sqrt(effective_sample_size(draws))


def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Split R-hat (Gelman et al., BDA3 section 11.4) of each parameter.

    draws has shape (n_iterations, ...) for one chain or (n_chains, n_iterations, ...)
    when given as a list of chains; every chain is split in halves.  Values near 1 mean
    the halves agree; above about 1.05 the chain has not converged.  Constant
    parameters get 1.
    """
    chains = [np.asarray(d, dtype=float) for d in (draws if isinstance(draws, list) else [draws])]
    n = min(len(c) for c in chains) // 2
    if n < 2:
        raise ValueError("split R-hat needs at least 4 iterations per chain")
    halves = []
    for c in chains:
        c = c[-2 * n:].reshape(2 * n, -1)
        halves += [c[:n], c[n:]]
    stack = np.stack(halves)                     # (m, n, k)
    means = stack.mean(axis=1)
    within = stack.var(axis=1, ddof=1).mean(axis=0)
    between = n * means.var(axis=0, ddof=1)
    var_plus = (n - 1) / n * within + between / n
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = np.sqrt(var_plus / within)
    rhat = np.where(within > 0, rhat, 1.0)
    return rhat.reshape(chains[0].shape[1:])
