"""Posterior draws of a level's covariance matrix, with entries fixed for identification.

Latent normals of binary, ordinal and categorical responses have their variances (and,
for a categorical response, the covariances among its own latents) fixed.  The prior is
inverse-Wishart restricted to matrices with those values; the posterior before the
restriction is IW(m, Psi) with m = df + n and Psi = scale + sum of squares.

Split the indices into A (latent columns with fixed entries) and B (the rest).  For
Omega ~ IW(m, Psi) the blocks

    Omega_AA ~ IW(m - d_B, Psi_AA)
    Sigma = Omega_BB - Omega_BA Omega_AA^-1 Omega_AB ~ IW(m, Psi_B.A)
    Gamma = Omega_BA Omega_AA^-1 | Sigma ~ MN(Psi_BA Psi_AA^-1, Sigma, Psi_AA^-1)

are independent, and the restriction concerns Omega_AA only.  So (Gamma, Sigma) are drawn
exactly, and only the free entries of Omega_AA (covariances between different latent
responses) need Metropolis-Hastings: element-wise random walks on the IW(m - d_B, Psi_AA)
density, a proposal that is not positive definite being rejected.  Without fixed entries
this is the usual conjugate inverse-Wishart draw.

``flat=True`` uses the likelihood alone as target (m = n - d - 1, Psi = sum of squares),
which is what R jomo's Metropolis-Hastings step for constrained matrices does.
"""
from __future__ import annotations

import numpy as np

from .errors import ModelError
from .linalg import cholesky, draw_inverse_wishart, inv_pd, solve_triangular, symmetrize


class CovarianceSampler:
    """Draws one covariance matrix given its sum of squares.

    fixed : (d, d) array, NaN where free, the fixed value elsewhere.  Fixed entries must
        sit on the diagonal of the constrained columns A or between two of them.
    """

    def __init__(self, fixed: np.ndarray, prior_df: float, prior_scale: np.ndarray,
                 flat: bool = False):
        self.dim = fixed.shape[0]
        self.fixed = fixed
        fixed_mask = ~np.isnan(fixed)
        self.a = np.flatnonzero(np.diag(fixed_mask))
        self.b = np.setdiff1d(np.arange(self.dim), self.a)
        if fixed_mask[np.ix_(self.b, np.arange(self.dim))].any():
            raise ValueError("fixed covariance entries must lie between constrained columns")
        self.prior_df = prior_df
        self.prior_scale = prior_scale
        self.flat = flat
        upper = np.triu(~fixed_mask[np.ix_(self.a, self.a)], k=1)
        self.free = list(zip(*np.nonzero(upper)))         # free pairs within A (i < j)
        self.log_step = np.full(len(self.free), np.log(0.1))
        self._tries = 0
        # the blocks' index tuples, built once (np.ix_ costs more than the small copies)
        self._aa, self._ab = np.ix_(self.a, self.a), np.ix_(self.a, self.b)
        self._ba, self._bb = np.ix_(self.b, self.a), np.ix_(self.b, self.b)

    @property
    def constrained(self) -> bool:
        return self.a.size > 0

    def initial(self) -> np.ndarray:
        start = np.eye(self.dim)
        mask = ~np.isnan(self.fixed)
        start[mask] = self.fixed[mask]
        return start

    def posterior(self, sum_squares: np.ndarray, n: float) -> tuple[float, np.ndarray]:
        if self.flat and self.constrained:
            return n - self.dim - 1.0, sum_squares
        return self.prior_df + n, self.prior_scale + sum_squares

    def check_posterior_df(self, n: float, what: str) -> None:
        """Raise ModelError unless the posterior IW(prior df + n, ...) is proper (df > d - 1)."""
        df = self.posterior(np.zeros((self.dim, self.dim)), n)[0]
        if self.dim and not df > self.dim - 1:
            raise ModelError(f"the {what} covariance's posterior would have {df:g} degrees of "
                             f"freedom (prior df {self.prior_df:g} + {n:g} units); it needs more "
                             f"than {self.dim - 1}: raise priors.{what.replace('-', '')}_df")

    def draw(self, current: np.ndarray, sum_squares: np.ndarray, n: float,
             rng: np.random.Generator, adapt: bool = False) -> np.ndarray:
        df, scale = self.posterior(sum_squares, n)
        if not self.constrained:
            return draw_inverse_wishart(scale, df, rng)
        a, b = self.a, self.b
        omega_aa = self._update_free_aa(current[self._aa], df - b.size, scale[self._aa], rng, adapt)
        out = np.empty_like(current)
        out[self._aa] = omega_aa
        if b.size:
            psi_aa = scale[self._aa]
            psi_ba = scale[self._ba]
            psi_aa_inv = inv_pd(psi_aa)
            mean_gamma = psi_ba @ psi_aa_inv
            schur = symmetrize(scale[self._bb] - mean_gamma @ psi_ba.T)
            sigma = draw_inverse_wishart(schur, df, rng)
            noise = rng.standard_normal((b.size, a.size))
            gamma = mean_gamma + cholesky(sigma) @ noise @ cholesky(psi_aa_inv).T
            out[self._ba] = gamma @ omega_aa
            out[self._ab] = out[self._ba].T
            out[self._bb] = symmetrize(sigma + gamma @ omega_aa @ gamma.T)
        return out

    def _update_free_aa(self, omega, df, scale, rng, adapt):
        """Element-wise random-walk MH on the free entries of Omega_AA, target
        IW(df, scale) restricted to the fixed entries."""
        if not self.free:
            return omega
        d = omega.shape[0]
        power = 0.5 * (df + d + 1)

        def log_target(m):
            try:
                chol = cholesky(m)
            except np.linalg.LinAlgError:
                return -np.inf
            inv_chol = solve_triangular(chol, np.eye(d))
            return -2 * power * np.log(np.diag(chol)).sum() - 0.5 * np.sum((inv_chol @ scale) * inv_chol)

        current = log_target(omega)
        if adapt:
            self._tries += 1
        for k, (i, j) in enumerate(self.free):
            proposal = omega.copy()
            proposal[i, j] = proposal[j, i] = omega[i, j] + np.exp(self.log_step[k]) * rng.standard_normal()
            candidate = log_target(proposal)
            accept = np.log(rng.random()) < candidate - current
            if accept:
                omega, current = proposal, candidate
            if adapt:   # Robbins-Monro towards 44% acceptance, burn-in only
                self.log_step[k] += (float(accept) - 0.44) / np.sqrt(self._tries)
        return omega
