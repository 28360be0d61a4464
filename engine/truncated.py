"""Vectorised draws from univariate truncated normal distributions.

Latent normals behind observed categories are drawn from N(mean, sd^2) restricted to an
interval (lower, upper).  Two exact methods are combined:

* rejection: draw from the normal and keep the draws that fall in the interval.  Most
  latent draws of binary and categorical responses have a one-sided interval holding
  at least half of the normal's mass (the mean lies on the side of the observed
  category), and one normal draw costs much less than the normal CDF and its inverse.
  Every element gets one try; those with such an interval get up to REJECTION_ROUNDS;
* inverse-CDF sampling for the rest (tails, narrow intervals).  That loses precision
  when the interval lies far in a tail; working with log-CDFs on the left tail
  (mirroring intervals that lie to the right of the mean) keeps it accurate out to any
  distance.

Each method draws exactly from the truncated normal, so the mixture does too (a draw
rejected k times is still to be drawn from the same truncated normal).
"""
from __future__ import annotations

import numpy as np

from .special import special

#: rejection tries for intervals holding at least half the mass, before the inverse CDF
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
    z = _standard(np.where(flip, -b, a), np.where(flip, -a, b), rng)
    np.negative(z, out=z, where=flip)
    return mean + z.reshape(mean.shape) / scale


def truncated_normal_one_sided(mean: np.ndarray, sd: float, bound, above: np.ndarray,
                               rng: np.random.Generator) -> np.ndarray:
    """Draw x_i ~ N(mean_i, sd^2) truncated to x_i > bound_i where above_i, else to
    x_i < bound_i: the intervals of binary and categorical latents, with fewer passes
    over the data than :func:`truncated_normal`."""
    mean = np.asarray(mean, dtype=float)
    signed = np.where(above, -1.0 / sd, 1.0 / sd)
    # z = (x - mean) * signed is N(0, 1) truncated to (-inf, hi)
    z = _standard(None, (np.subtract(bound, mean) * signed).reshape(-1), rng)
    return mean + z.reshape(mean.shape) / signed


def _standard(lo: np.ndarray | None, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """z_i ~ N(0, 1) truncated to (lo_i, hi_i), 1-d, with lo_i + hi_i <= 0 (lo None: all
    -inf).  One rejection try for every element; more for the one-sided intervals with
    hi >= 0; the inverse CDF for what is left."""
    z = rng.standard_normal(hi.size)
    inside = z <= hi if lo is None else (z <= hi) & (z >= lo)
    pending = np.flatnonzero(~inside)
    if not pending.size:
        return z
    retry = hi[pending] >= 0.0
    if lo is not None:
        retry &= np.isneginf(lo[pending])
    todo, hard = pending[retry], pending[~retry]
    for _ in range(REJECTION_ROUNDS - 1):
        if not todo.size:
            break
        draw = rng.standard_normal(todo.size)
        ok = draw <= hi[todo]
        z[todo[ok]] = draw[ok]
        todo = todo[~ok]
    rest = np.concatenate([hard, todo])
    if rest.size:
        lo_rest = np.full(rest.size, -np.inf) if lo is None else lo[rest]
        z[rest] = _inverse_cdf(lo_rest, hi[rest], rng)
    return z


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
