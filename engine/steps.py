"""The blocks of the Gibbs sampler, each drawing one part of the model given the rest.

As in PyMC's compound step, an iteration is a list of step blocks run in order over one
shared state, the :class:`~.sampler.GibbsSampler` (its levels, parameters, random effects,
the residuals it keeps up to date, and its one random generator).  Each block reads what
it needs from the state and writes back what it draws:

=====================  ==========================================================
:class:`ImputeLevel1`  latents behind observed categories, missing level-1 cells
:class:`ImputeLevel2`  the same for the level-2 responses (given the random effects)
:class:`FixedEffects1` B1 | W1, u, Omega_e
:class:`FixedEffects2` B2 | W2, u, Omega_u
:class:`RandomEffects` u_j | W1, v_j, B1, Omega_e, Omega_u (all clusters at once)
:class:`Covariance2`   Omega_u | u, v
:class:`Covariance1`   Omega_e | residuals (one matrix), or
:class:`ClusterCovariance1`  one Omega_e,j per cluster (R jomo's ``meth = "random"``)
=====================  ==========================================================

The level-1 covariance block is also what the other blocks ask for the level-1
covariance: its precision (one matrix, or one per cluster), the draw of the missing cells
and the fixed effects' normal equations.  So the cluster-specific model is a variant of
one block, not a branch in every step.  The order of the blocks, and of the random draws
within each, is the sampler's documented order (:mod:`.sampler`), so that output is
reproducible for a seed.
"""
from __future__ import annotations

import numpy as np

from .cluster_covariance import ClusterCovarianceSampler
from .covariance import CovarianceSampler
from .linalg import (draw_normal_from_precision, draw_normal_from_precision_batched,
                     draw_normal_two_precisions, inv_pd, symmetrize)
from .responses import ColumnConditional


class Step:
    """One block: ``step(state, adapt)`` draws its part of the model from its full
    conditional given the rest of `state`; ``adapt`` lets Metropolis-Hastings proposals
    tune themselves (burn-in only)."""

    def step(self, state, adapt: bool) -> None:
        raise NotImplementedError

    def parameters(self) -> dict[str, np.ndarray]:
        """Parameters this block owns besides the shared ones, for the chain."""
        return {}


# --------------------------------------------------------------------------- fixed effects

def draw_coefficients(gram: np.ndarray, cross: np.ndarray, precision: np.ndarray,
                      mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw fixed effects of a multivariate regression with per-response covariates.

    Model: rows r_i (1 x p) = x_i B + eps_i, eps_i ~ N(0, Q^-1), B (k x p) with zeros
    where ``mask`` is False (seemingly unrelated regressions).  With a flat prior the
    full conditional of the free coefficients is normal with precision block
    (r, s) = Q[r, s] * (X'X)[a_r, a_s] and linear term (X' R Q)[a_r, r].  ``gram`` is
    X'X and ``cross`` X'R: sufficient statistics, so the cost does not grow with rows.
    """
    if mask.shape[1] == 0:
        return np.zeros(mask.shape)
    return draw_coefficients_from_system(np.kron(precision, gram), cross @ precision, mask, rng)


def draw_coefficients_from_system(full_precision: np.ndarray, linear: np.ndarray,
                                  mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw B (k x p) from N(P^-1 l, P^-1) restricted to its free entries, where P is the
    (p k x p k) precision indexed (response r, covariate a) -> r k + a and l = linear
    (k x p) flattened the same way.  Entries where ``mask`` is False are zero."""
    k, p = mask.shape
    free = mask.T.reshape(-1)
    prec = full_precision[np.ix_(free, free)]
    lin = linear.T.reshape(-1)[free]
    beta = np.zeros(k * p)
    beta[free] = draw_normal_from_precision(prec, lin, rng)
    return beta.reshape(p, k).T


class FixedEffects1(Step):
    """B1 | W1, u, Omega_e: the normal equations come from the level-1 covariance block."""

    def __init__(self, covariance: "Covariance1"):
        self.covariance = covariance

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        beta1 = self.covariance.draw_fixed_effects(s)
        s.resid1 -= np.matmul(s.level1.x, beta1 - s.beta1, out=s.scratch1)
        s.beta1 = beta1


class FixedEffects2(Step):
    """B2 | W2, u: v_j | u_j ~ N(H u_j, S) with H = O_vu O_uu^-1, S = O_vv - H O_uv.
    With ``jomo_compatible`` the u part is ignored, as R jomo does."""

    def step(self, s, adapt: bool) -> None:
        if s.w2 == 0:
            return
        o_uu, o_uv, o_vv = s.split_omega_u()
        target = s.level2.working
        cond_cov = o_vv
        if s.d1 and not s.jomo_compatible:
            h = np.linalg.solve(o_uu, o_uv).T        # (w2, d1)
            target = target - s.u @ h.T
            cond_cov = symmetrize(o_vv - h @ o_uv)
        cross = s.level2.x.T @ s.level2.weighted(target)
        s.beta2 = draw_coefficients(s.level2.gram, cross, inv_pd(cond_cov),
                                    s.level2.coef_mask, s.rng)


# --------------------------------------------------------------------------- imputation

def update_latents(s, level, values: np.ndarray, resid: np.ndarray, cov: np.ndarray,
                   offset: int, adapt: bool) -> None:
    """Redraw latent working values behind observed responses, one working column at a
    time from its conditional given the rest of the row (`resid` are the values'
    residuals from their means, updated along)."""
    if not level.latent_blocks:
        return
    cond = ColumnConditional(values, resid, cov)
    for rtype, cols, r in level.latent_blocks:
        columns = list(range(offset + cols.start, offset + cols.stop))
        rtype.update_observed(cond, columns, level.values[:, r], s.rng, adapt)


class ImputeLevel1(Step):
    """Latents behind observed level-1 categories, then the missing level-1 cells from
    their joint conditional normal per missingness pattern."""

    def __init__(self, covariance: "Covariance1"):
        self.covariance = covariance

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        self.covariance.impute(s, adapt)


class ImputeLevel2(Step):
    """Latents and missing cells of the level-2 responses, jointly normal with the
    random effects u (treated as observed)."""

    def step(self, s, adapt: bool) -> None:
        if s.w2 == 0:
            return
        mean = np.hstack([np.zeros((s.n_clusters, s.d1)), s.level2.x @ s.beta2])
        joint = np.hstack([s.u, s.level2.working])
        resid = joint - mean
        update_latents(s, s.level2, joint, resid, s.omega_u, s.d1, adapt)
        s.imputer2.draw(resid, s.omega_u, s.rng)
        s.imputer2.fill(joint, mean, resid)
        s.level2.working[:] = joint[:, s.d1:]


# --------------------------------------------------------------------------- random effects

class RandomEffects(Step):
    """u_j | rest for all clusters at once: prior u_j | v_j ~ N(K v_j, T) times the
    level-1 likelihood, precision T^-1 + Omega_e^-1 ⊗ Z_j'Z_j."""

    def __init__(self, covariance: "Covariance1"):
        self.covariance = covariance

    def step(self, s, adapt: bool) -> None:
        if s.d1 == 0:
            return
        o_uu, o_uv, o_vv = s.split_omega_u()
        if s.w2:
            v = s.level2_residuals()
            k = np.linalg.solve(o_vv, o_uv.T).T      # (d1, w2)
            prior_cov = symmetrize(o_uu - k @ o_uv.T)
            prior_prec = inv_pd(prior_cov)
            linear = (v @ k.T) @ prior_prec
        else:
            prior_prec = inv_pd(o_uu)
            linear = np.zeros((s.n_clusters, s.d1))
        # the level-1 data enter through S_j = sum_i w_i (W1_i - X_i B1) z_i' (w1, q), as
        # Omega_e^-1 S_j; with W1 - X B1 = r + Z u that is the cluster sum over the
        # residuals r plus U_j Z_j'WZ_j (U_j the (w1, q) layout of u_j).  Omega_e (or the
        # cluster's Omega_e,j) is constant within a cluster, so it multiplies the sums.
        weighted = s.resid1 if s.w_unit is None else s.resid1 * s.w_unit[:, None]
        if s.z_is_ones:
            sums = s.cluster_sums(weighted)[:, :, None]
        elif s.q == 1:
            sums = s.cluster_sums(weighted * s.z)[:, :, None]
        else:
            sums = s.cluster_sums(weighted[:, :, None] * s.z[:, None, :])
        u_layout = s.u.reshape(s.n_clusters, s.w1, s.q)
        sums += np.einsum("jrb,jba->jra", u_layout, s.zz_by_cluster)
        prec_e = self.covariance.precision(s)
        per_cluster = "jrs" if prec_e.ndim == 3 else "rs"             # Omega_e,j^-1 or Omega_e^-1
        linear = linear + np.einsum(f"{per_cluster},jra->jsa", prec_e, sums).reshape(
            s.n_clusters, s.d1)
        if s.q == 1 and prec_e.ndim == 2:
            u = draw_normal_two_precisions(prior_prec, prec_e, s.zz_by_cluster[:, 0, 0], linear, s.rng)
        else:   # precision T^-1 + Omega_e^-1 ⊗ Z_j'WZ_j, cluster by cluster
            data_prec = np.einsum(f"{per_cluster},jab->jrasb", prec_e, s.zz_by_cluster).reshape(
                s.n_clusters, s.d1, s.d1)
            u = draw_normal_from_precision_batched(prior_prec + data_prec, linear, s.rng)
        s.resid1 -= s.random_part(u - s.u)
        s.u = u


# --------------------------------------------------------------------------- covariances

class Covariance2(Step):
    """Omega_u | u, v: inverse-Wishart (Metropolis-Hastings where latents fix entries)."""

    def __init__(self, sampler: CovarianceSampler):
        self.sampler = sampler

    def step(self, s, adapt: bool) -> None:
        if s.dim_u == 0:
            return
        joint = np.hstack([s.u, s.level2_residuals()])
        ss = joint.T @ s.level2.weighted(joint)
        s.omega_u = self.sampler.draw(s.omega_u, ss, s.level2.total_weight, s.rng, adapt)


class Covariance1(Step):
    """Omega_e | level-1 residuals, one matrix for every cluster; also what the other
    blocks ask for the level-1 covariance."""

    def __init__(self, sampler: CovarianceSampler):
        self.sampler = sampler

    def precision(self, s) -> np.ndarray:
        """Omega_e^-1 (w1, w1), or (J, w1, w1) one per cluster."""
        return inv_pd(s.omega_e)

    def impute(self, s, adapt: bool) -> None:
        update_latents(s, s.level1, s.level1.working, s.resid1, s.omega_e, 0, adapt)
        s.imputer1.draw(s.resid1, s.omega_e, s.rng)

    def draw_fixed_effects(self, s) -> np.ndarray:
        # X'W (W1 - Z u) = X'W r + X'WX B1, r the current residuals
        cross = s.level1.x.T @ s.level1.weighted(s.resid1) + s.level1.gram @ s.beta1
        return draw_coefficients(s.level1.gram, cross, inv_pd(s.omega_e),
                                 s.level1.coef_mask, s.rng)

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        ss = s.resid1.T @ s.level1.weighted(s.resid1)
        s.omega_e = self.sampler.draw(s.omega_e, ss, s.level1.total_weight, s.rng, adapt)

    def keep(self) -> None:
        """Called at every iteration after burn-in (for running means of own parameters)."""

    def summaries(self) -> dict:
        """Posterior summaries this block keeps (for the sampler's result)."""
        return {}


class ClusterCovariance1(Covariance1):
    """One Omega_e,j per cluster (continuous level-1 responses only), drawn from a common
    inverse-Wishart with unknown scale and degrees of freedom (:mod:`.cluster_covariance`).
    The reported Omega_e is the average of the clusters' matrices."""

    def __init__(self, s, gamma_scale: np.ndarray, a_start: float, a_prior: float):
        if any(rtype.has_latent for rtype, _, _ in s.level1.blocks):
            raise ValueError("cluster-specific level-1 covariance needs continuous level-1 responses")
        self.sampler = ClusterCovarianceSampler(s.n_clusters, gamma_scale, a_start, a_prior)
        # Omega_j is a cluster-level parameter, like u_j: its data are weighted within the cluster
        w = np.ones(len(s.row_cluster)) if s.w_unit is None else s.w_unit
        self._sizes = s.cluster_sums(w)
        x = s.level1.x
        self._gram_by_cluster = s.cluster_sums(x[:, :, None] * s.level1.weighted(x)[:, None, :])
        self._sum, self._count = None, 0

    def precision(self, s) -> np.ndarray:
        return self.sampler.precisions

    def impute(self, s, adapt: bool) -> None:
        s.imputer1.draw(s.resid1, self.sampler.omegas, s.rng, groups=s.row_cluster)

    def draw_fixed_effects(self, s) -> np.ndarray:
        """Sum over clusters of Omega_j^-1 ⊗ X_j'WX_j and X_j'W R_j Omega_j^-1."""
        x = s.level1.x
        resid = s.resid1 + x @ s.beta1                                 # W1 - Z u
        prec = self.sampler.precisions
        k = x.shape[1]
        full = np.einsum("jrs,jab->rasb", prec, self._gram_by_cluster).reshape(s.w1 * k, s.w1 * k)
        rq = np.einsum("nr,nrs->ns", resid, prec[s.row_cluster])
        linear = x.T @ s.level1.weighted(rq)
        return draw_coefficients_from_system(full, linear, s.level1.coef_mask, s.rng)

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        resid = s.resid1
        weighted = resid if s.w_unit is None else resid * s.w_unit[:, None]
        ss = s.cluster_sums(resid[:, :, None] * weighted[:, None, :])
        self.sampler.draw(ss, self._sizes, s.rng, adapt)
        s.omega_e = self.sampler.omegas.mean(axis=0)

    def parameters(self) -> dict[str, np.ndarray]:
        return {"level1.cluster_df": np.array([self.sampler.a])}

    def keep(self) -> None:
        if self._sum is None:
            self._sum = np.zeros_like(self.sampler.omegas)
        self._sum += self.sampler.omegas
        self._count += 1

    def summaries(self) -> dict:
        """Posterior means of Omega_e,j, clusters in code order 0..J-1."""
        return {} if self._sum is None else {"omega_e_clusters": self._sum / self._count}
