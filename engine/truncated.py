"""Vectorised draws from univariate truncated normal distributions.

Latent normals behind observed categories are drawn from N(mean, sd^2) restricted to an
interval (lower, upper).  Two exact methods are combined:

* most latent draws of binary and categorical responses have a one-sided interval that
  holds at least half of the normal's mass (the mean lies on the side of the observed
  category); for those, plain rejection from N(mean, sd^2) accepts with probability
  >= 1/2 and costs one normal draw per try, much less than the normal CDF and its inverse;
* everything else (two-sided intervals, tails, and the few draws still rejected after
  a few rounds) uses inverse-CDF sampling.  That loses precision when the interval lies
  far in a tail; working with log-CDFs on the left tail (mirroring intervals that lie to
  the right of the mean) keeps it accurate out to any distance.

Each method draws exactly from the truncated normal, so the mixture does too (a draw
rejected k times is still to be drawn from the same truncated normal).
"""
from __future__ import annotations

import numpy as np
from scipy import special

#: rejection rounds before the remaining draws fall back to the inverse CDF
REJECTION_ROUNDS = 3


def truncated_normal(mean: np.ndarray, sd, lower: np.ndarray, upper: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Draw x_i ~ N(mean_i, sd_i^2) truncated to (lower_i, upper_i), elementwise.

    Bounds may be -inf/inf.  Every interval must have lower < upper.
    """
    mean = np.asarray(mean, dtype=float)
    scale = 1.0 / np.asarray(sd, dtype=float)
    a = (np.subtract(lower, mean) * scale).reshape(-1)
    b = (np.subtract(upper, mean) * scale).reshape(-1)
    # mirror intervals in the right half so that we always work on the left tail, where
    # the normal CDF keeps full relative precision; a one-sided interval becomes (-inf, hi)
    flip = (a + b) > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    z, rest = _rejection(lo, hi, rng)
    if rest.size:
        z[rest] = _inverse_cdf(lo[rest], hi[rest], rng)
    np.negative(z, out=z, where=flip)
    return mean + z.reshape(mean.shape) / scale


def _rejection(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws z (1-d, like lo and hi) that are final where (lo, hi) = (-inf, hi >= 0), by
    rejection from N(0, 1) with at most REJECTION_ROUNDS tries each, and the indices
    of z still to be drawn by another method."""
    easy = np.isneginf(lo) & (hi >= 0.0)
    # first round: one draw for every element, kept as z where accepted (no gathering)
    z = rng.standard_normal(lo.size)
    pending = np.flatnonzero(~(easy & (z <= hi)))
    retry = easy[pending]
    hard, todo = pending[~retry], pending[retry]
    for _ in range(REJECTION_ROUNDS - 1):
        if not todo.size:
            break
        draw = rng.standard_normal(todo.size)
        ok = draw <= hi[todo]
        z[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return z, np.concatenate([hard, todo])


def _inverse_cdf(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """z ~ N(0, 1) truncated to (lo, hi), with lo + hi <= 0 (the left half)."""
    p_lo, p_hi = _ndtr_lower(lo), special.ndtr(hi)
    u = rng.random(lo.shape)
    z = special.ndtri(p_lo + u * (p_hi - p_lo))
    far = p_hi < 1e-280                    # beyond ~-35.8 sd: redo those in log space
    if far.any():
        log_lo = special.log_ndtr(lo[far])
        with np.errstate(divide="ignore"):
            log_u = np.logaddexp(log_lo, np.log(u[far]) + log_normal_interval(lo[far], hi[far]))
        z[far] = special.ndtri_exp(np.minimum(log_u, 0.0))
    return np.clip(z, lo, hi)            # guard against the last ulp of rounding


def _ndtr_lower(lo: np.ndarray) -> np.ndarray:
    """Phi(lo), skipping the -inf bounds (0): after mirroring, every one-sided interval
    has lo = -inf."""
    finite = np.isfinite(lo)
    if finite.all():
        return special.ndtr(lo)
    out = np.zeros(lo.shape)
    if finite.any():
        out[finite] = special.ndtr(lo[finite])
    return out


def log_normal_interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(b) - Phi(a)) for a < b, accurate in both tails."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    flip = (a + b) > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    log_lo, log_hi = special.log_ndtr(lo), special.log_ndtr(hi)
    with np.errstate(divide="ignore"):
        return log_hi + np.log1p(-np.exp(np.minimum(log_lo - log_hi, 0.0)))
