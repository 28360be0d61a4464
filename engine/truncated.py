"""Vectorised draws from univariate truncated normal distributions.

Latent normals behind observed categories are drawn from N(mean, sd^2) restricted to an
interval (lower, upper).  Inverse-CDF sampling is exact but loses precision when the
interval lies far in a tail; working with log-CDFs on the left tail (mirroring intervals
that lie to the right of the mean) keeps it accurate out to any distance.
"""
from __future__ import annotations

import numpy as np
from scipy import special


def truncated_normal(mean: np.ndarray, sd, lower: np.ndarray, upper: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Draw x_i ~ N(mean_i, sd_i^2) truncated to (lower_i, upper_i), elementwise.

    Bounds may be -inf/inf.  Every interval must have lower < upper.
    """
    mean = np.asarray(mean, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), mean.shape)
    a = (np.broadcast_to(lower, mean.shape) - mean) / sd
    b = (np.broadcast_to(upper, mean.shape) - mean) / sd
    # mirror intervals in the right half so that we always work on the left tail, where
    # the normal CDF keeps full relative precision
    flip = (a + b) > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    p_lo, p_hi = _ndtr_lower(lo), special.ndtr(hi)
    u = rng.random(mean.shape)
    z = special.ndtri(p_lo + u * (p_hi - p_lo))
    far = p_hi < 1e-280                    # beyond ~-35.8 sd: redo those in log space
    if far.any():
        log_lo = special.log_ndtr(lo[far])
        with np.errstate(divide="ignore"):
            log_u = np.logaddexp(log_lo, np.log(u[far]) + log_normal_interval(lo[far], hi[far]))
        z[far] = special.ndtri_exp(np.minimum(log_u, 0.0))
    z = np.clip(z, lo, hi)            # guard against the last ulp of rounding
    return mean + sd * np.where(flip, -z, z)


def _ndtr_lower(lo: np.ndarray) -> np.ndarray:
    """Phi(lo), skipping the -inf bounds (0): after mirroring, every one-sided interval
    has lo = -inf, which is most latent draws for binary and categorical responses."""
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
