"""Cluster-specific level-1 covariance matrices (R jomo's ``meth = "random"``).

Each cluster j has its own level-1 covariance Omega_j, drawn from a common
inverse-Wishart distribution whose scale and degrees of freedom are themselves unknown
(Yucel 2011; Quartagno & Carpenter 2016)::

    Omega_j | a, B  ~  IW(a, B)                 i.e. Omega_j^-1 ~ Wishart(a, B^-1)
    B               ~  Wishart(gamma, Gamma)    gamma = d + 1, Gamma the level-1 prior scale
    a               ~  chi-square(eta)          restricted to a > d - 1

The full conditionals, with S_j the (weighted) residual sum of squares of cluster j and
n_j its size, are

    Omega_j | rest  ~  IW(n_j + a, S_j + B)                             (all j at once)
    a | Omega       ∝  p(a) prod_j p(Omega_j | a, B) p(B) dB            (B integrated out)
    B | a, Omega    ~  Wishart(J a + gamma, (sum_j Omega_j^-1 + Gamma^-1)^-1).

a has no standard conditional; it is updated by a random-walk Metropolis step on
s = log(a - d + 1), with the step size tuned during burn-in.  a is drawn with B
integrated out and B right after it, which is a valid (partially collapsed) Gibbs
order.  R jomo draws B first and a after it, and its proposal density has an
exponent of -2 where its t(4) proposal needs -5/2; docs/validation.md compares the two.
"""
from __future__ import annotations

import numpy as np

from .linalg import draw_inverse_wishart_batched, draw_wishart, symmetrize
from .special import special


def _log_multigamma(x: float, d: int) -> float:
    return float(special.multigammaln(x, d))


class ClusterCovarianceSampler:
    """Draws the J cluster matrices, their common scale B and degrees of freedom a.

    gamma_scale : (d, d) prior scale Gamma of B (jomo's ``l1cov.prior``, identity by default).
    a_start : starting degrees of freedom (jomo's ``a``, default d + 50).
    a_prior : degrees of freedom eta of a's chi-square prior (jomo's ``a.prior``, default d).
    Both come checked from :meth:`mlimpute.engine.model.Priors.cluster_df`.
    """

    def __init__(self, n_clusters: int, gamma_scale: np.ndarray, a_start: float, a_prior: float):
        self.dim = gamma_scale.shape[0]
        self.n_clusters = n_clusters
        self.gamma = self.dim + 1.0
        self.gamma_scale_inv = np.linalg.inv(gamma_scale)
        self.a = float(a_start)
        self.a_prior = float(a_prior)
        self.scale = np.eye(self.dim)                              # B
        self.omegas = np.broadcast_to(np.eye(self.dim), (n_clusters, self.dim, self.dim)).copy()
        self.precisions = self.omegas.copy()
        self.log_step = np.log(0.5)
        self._tries = 0

    def population(self) -> np.ndarray:
        """E[Omega_j | a, B] = B / (a - d - 1): the covariance of a typical cluster
        (infinite when a <= d + 1; reported as NaN then)."""
        denom = self.a - self.dim - 1.0
        return self.scale / denom if denom > 0 else np.full_like(self.scale, np.nan)

    def draw(self, sum_squares: np.ndarray, sizes: np.ndarray, rng: np.random.Generator,
             adapt: bool = False) -> None:
        """One update of every Omega_j (from (J, d, d) sums of squares and (J,) sizes),
        then a and B."""
        self.omegas = draw_inverse_wishart_batched(sum_squares + self.scale, sizes + self.a, rng)
        self.precisions = symmetrize(np.linalg.inv(self.omegas))
        precision_sum = self.precisions.sum(axis=0) + self.gamma_scale_inv
        self._draw_a(precision_sum, rng, adapt)
        self.scale = draw_wishart(np.linalg.inv(precision_sum), self.n_clusters * self.a + self.gamma, rng)

    def _log_target(self, s: float, log_det_sum: float, log_det_total: float) -> float:
        """log p(a | Omega) + log Jacobian, at a = exp(s) + d - 1."""
        d, j = self.dim, self.n_clusters
        a = np.exp(s) + d - 1.0
        total_df = j * a + self.gamma
        log_prior = (0.5 * self.a_prior - 1.0) * np.log(a) - 0.5 * a
        return (log_prior - j * _log_multigamma(0.5 * a, d) + 0.5 * a * log_det_sum
                - 0.5 * total_df * log_det_total + _log_multigamma(0.5 * total_df, d) + s)

    def _draw_a(self, precision_sum: np.ndarray, rng: np.random.Generator, adapt: bool) -> None:
        log_det_sum = float(np.linalg.slogdet(self.precisions)[1].sum())     # sum log|Omega_j^-1|
        log_det_total = float(np.linalg.slogdet(precision_sum)[1])
        s = np.log(self.a - self.dim + 1.0)
        proposal = s + np.exp(self.log_step) * rng.standard_normal()
        ratio = (self._log_target(proposal, log_det_sum, log_det_total)
                 - self._log_target(s, log_det_sum, log_det_total))
        accept = np.log(rng.random()) < ratio
        if accept:
            self.a = float(np.exp(proposal) + self.dim - 1.0)
        if adapt:   # Robbins-Monro towards 44% acceptance, burn-in only
            self._tries += 1
            self.log_step += (float(accept) - 0.44) / np.sqrt(self._tries)
