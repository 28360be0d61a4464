"""Run until converged: extend the burn-in until the chains agree, and choose the gap
between kept imputations from the chains' autocorrelation.

The burn-in grows by doubling (``first``, then 2x, 4x, ... iterations in all, up to
``cap``).  After each step the second half of the iterations so far is judged, as Stan
judges its draws after warm-up: every parameter that moves must have rank-normalised
split R-hat below ``rhat_limit`` and bulk effective sample size of at least
``ess_limit`` (Vehtari et al. 2021; :mod:`.diagnostics`).  Then the burn-in is every
iteration run so far, so a run with ``burnin`` set to that number repeats the draws
exactly.  Looking at the draws consumes no random numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .diagnostics import ess, first_lag_below, rhat
from .parallel import ChainSet
from .sampler import Chain


def chain_matrix(chain: Chain, start: int = 0) -> np.ndarray:
    """(T, P) every parameter of a chain from iteration `start` on: fixed effects, the
    lower triangles of the covariance matrices and the parameters response types own.
    Entries fixed by the model (a zero coefficient, a unit latent variance) are
    constant columns, which the diagnostics ignore."""
    t = chain.length - start
    parts = [beta[start:].reshape(t, -1) for beta in chain.beta]
    for omega in chain.omega:
        low = np.tril_indices(omega.shape[1])
        parts.append(omega[start:][:, low[0], low[1]])
    parts += [chain.extra[name][start:].reshape(t, -1) for name in sorted(chain.extra)]
    return np.hstack(parts)


@dataclass
class Convergence:
    """What the automatic burn-in found: its length per chain, whether the criteria were
    met, and the R-hat and bulk ESS of each parameter (:func:`chain_matrix` order) on the
    judged window (the second half of the burn-in)."""

    burnin: int
    converged: bool
    rhat: np.ndarray
    ess_bulk: np.ndarray
    steps: int

    def worst(self) -> int:
        """Index of the parameter furthest from the criteria (largest R-hat, or the
        lowest ESS when every R-hat passes)."""
        return int(np.nanargmax(self.rhat)) if np.nanmax(self.rhat) >= 1.01 \
            else int(np.nanargmin(self.ess_bulk))


def judge(chains: list[Chain], start: int) -> tuple[np.ndarray, np.ndarray]:
    """R-hat and bulk ESS of every parameter over the chains' iterations from `start`."""
    window = [chain_matrix(c, start) for c in chains]
    return rhat(window), ess(window, "bulk")


def warm_up_until_converged(chain_set: ChainSet, first: int = 1000, cap: int = 20000,
                            rhat_limit: float = 1.01, ess_limit: float = 400) -> Convergence:
    """Extend the burn-in of every chain until the criteria hold (see the module
    docstring) or `cap` iterations per chain have run."""
    if first < 8 or cap < first:
        raise ValueError(f"need 8 <= first <= cap, got first = {first}, cap = {cap}")
    total, step, steps = 0, first, 0
    while True:
        chain_set.advance(warm=step)
        total += step
        steps += 1
        r_hat, bulk = judge(chain_set.chains, total - total // 2)
        converged = bool(np.all(r_hat < rhat_limit) and np.all(bulk >= ess_limit))
        if converged or total >= cap:
            return Convergence(total, converged, r_hat, bulk, steps)
        step = min(total, cap - total)


def choose_between(chains: list[Chain], start: int, limit: float = 0.05) -> int:
    """The gap between kept imputations: the smallest lag at which every parameter's
    autocorrelation (over the chains' iterations from `start`) has fallen below `limit`."""
    return first_lag_below([chain_matrix(c, start) for c in chains], limit)
