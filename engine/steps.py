"""The blocks of the Gibbs sampler, each drawing one part of the model given the rest.

As in PyMC's compound step, an iteration is a list of step blocks run in order over one
shared state, the :class:`~.sampler.GibbsSampler` (its levels, parameters, random effects,
the residuals it keeps up to date, and its one random generator).  Each block reads what
it needs from the state and writes back what it draws:

* :class:`ImputeLevel1`: latents behind observed categories, missing level-1 cells;
* :class:`ImputeLevel`: the same for the responses of one classification (given its
  random effects);
* :class:`FixedEffects1`: B1 | W1, u, Omega_e;
* :class:`JointFixedRandom1`: B1 | W1, Omega with u integrated out (before u | B1);
* :class:`~.collapsed.ObservedDataFixedRandom1`: B1, u and the missing level-1 cells
  jointly given the observed cells (:mod:`.collapsed`);
* :class:`FixedEffects`: B_c of one classification's responses | W_c, u_c, Omega_c;
* :class:`RandomEffects`: u_j of one classification | rest (all its units at once);
* :class:`Covariance`: Omega_c | u_c, e_c of one classification;
* :class:`Covariance1`: Omega_e | residuals (one matrix), or
  :class:`ClusterCovariance1`: one Omega_e,j per cluster (R jomo's ``meth = "random"``).

The per-classification blocks take the classification's index; the sampler lists them
once per classification (one for the two-level model).
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
                     draw_normal_two_precisions, inv_pd, simultaneous_diagonalisation,
                     symmetrize)
from .responses import ColumnConditional


class Step:
    """One block: ``step(state, adapt)`` draws its part of the model from its full
    conditional given the rest of `state`; ``adapt`` lets Metropolis-Hastings proposals
    tune themselves (burn-in only).

    ``label`` says in words what the block draws (``{classification}`` stands for the
    classification's name) and :meth:`outputs` returns those arrays: when a draw is not
    finite, the sampler names the first block whose outputs are not
    (:class:`~.errors.NonFiniteDraw`)."""

    label = "a block of the sampler"
    #: the classification a block belongs to (None: the level-1 part of the model)
    index: int | None = None

    def step(self, state, adapt: bool) -> None:
        raise NotImplementedError

    def parameters(self) -> dict[str, np.ndarray]:
        """Parameters this block owns besides the shared ones, for the chain."""
        return {}

    def outputs(self, state) -> list[np.ndarray]:
        """The arrays this block draws (checked for finite values after a failure)."""
        return []


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
    p, k = precision.shape[0], gram.shape[0]
    # Q ⊗ X'X by broadcasting: the same products as np.kron, without its overhead
    full = (precision[:, None, :, None] * gram[None, :, None, :]).reshape(p * k, p * k)
    return draw_coefficients_from_system(full, cross @ precision, mask, rng)


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


class ClassificationStep(Step):
    """A block of one classification's part of the model: `index` into the sampler's
    ``classes``."""

    def __init__(self, index: int):
        self.index = index


class FixedEffects1(Step):
    """B1 | W1, u, Omega_e: the normal equations come from the level-1 covariance block."""

    label = "the level-1 fixed effects (B1)"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.beta1]

    def __init__(self, covariance: "Covariance1"):
        self.covariance = covariance

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        beta1 = self.covariance.draw_fixed_effects(s)
        s.resid1 -= np.matmul(s.level1.x, beta1 - s.beta1, out=s.scratch1)
        s.beta1 = beta1


class FixedEffects(ClassificationStep):
    """B_c of the responses of classification c | W_c, u_c: e_j | u_j ~ N(H u_j, S)
    (:meth:`~.classification.ClassificationState.residuals_given_effects`).  With
    ``jomo_compatible`` the u part is ignored, as R jomo does."""

    label = "the fixed effects of the responses of {classification}"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.classes[self.index].beta]

    def step(self, s, adapt: bool) -> None:
        c = s.classes[self.index]
        if c.width == 0:
            return
        target = c.level.working
        offsets = c.offsets()
        if offsets is not None:
            target = target - offsets
        if s.jomo_compatible:
            h, cond_cov = None, c.split_omega()[2]
        else:
            h, cond_cov = c.residuals_given_effects()
        if h is not None:
            target = target - c.u @ h.T
        cross = c.level.x.T @ c.level.weighted(target)
        c.beta = draw_coefficients(c.level.gram, cross, inv_pd(cond_cov), c.level.coef_mask, s.rng)


class JointFixedRandom1(Step):
    """B1 drawn with the random effects u of the first classification integrated out, so
    that this block and the :class:`RandomEffects` block of that classification, run
    right after it, draw (B1, u) jointly from their full conditional.

    Where the intraclass correlation is high, B1 and u are strongly correlated a
    posteriori (an intercept can move only as far as the cluster effects let it), and
    drawing them one given the other mixes slowly.  Per unit j of the classification,
    with y*_j the level-1 working values less the other classifications' random parts
    and less Z_j m_j (m_j the prior mean of u_j given the level-2 residuals), the
    marginal of B1 is GLS with V_j = Z_j T Z_j' + I ⊗ Omega_e; by Woodbury, with
    P_j = T^-1 + Omega_e^-1 ⊗ Z_j'Z_j (the precision the random-effects block uses),

        precision = Omega_e^-1 ⊗ X'X - sum_j M_j' P_j^-1 M_j,   M_j = Omega_e^-1 ⊗ Z_j'X_j
        linear    = vec(X'Y* Omega_e^-1) - sum_j M_j' P_j^-1 vec(Omega_e^-1 S_j),
        S_j = sum_i y*_i z_i'.

    Unweighted, common level-1 covariance only (the caller checks)."""

    label = "the level-1 fixed effects (B1)"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.beta1]

    def __init__(self, s):
        c = s.classes[0]
        x = s.level1.x
        self._zx = c.sums(c.z[:, :, None] * x[:, None, :])          # (J, q, k) Z_j'X_j

    def system(self, s) -> tuple[np.ndarray, np.ndarray]:
        """Precision (w1 k, w1 k) and linear term (k, w1) of B1's marginal conditional."""
        c = s.classes[0]
        j, w, q, k = c.n_units, s.w1, c.q, s.level1.x.shape[1]
        prior_prec, mean_u = c.effects_given_residuals()              # T^-1, m_j = K e_j
        q_e = inv_pd(s.omega_e)
        # Y* = W1 - other random parts - Z m = r + X B1 + Z (u - m), r the kept residuals:
        # S_j and X'Y* from the residuals' sums and per-unit cross products, one pass
        # over the rows each (as the separate blocks make)
        shift = (c.u if mean_u is None else c.u - mean_u).reshape(j, w, q)
        if c.z_is_ones:
            sums = c.sums(s.resid1)[:, :, None]
        else:
            sums = c.sums(s.resid1[:, :, None] * c.z[:, None, :])
        sums += np.einsum("br,jab->jra", s.beta1, self._zx) + np.einsum("jab,jrb->jra", c.zz, shift)
        cross = (s.level1.x.T @ s.resid1 + s.level1.gram @ s.beta1
                 + np.einsum("jab,jra->br", self._zx, shift))                # X'Y* (k, w)
        gram = (q_e[:, None, :, None] * s.level1.gram[None, :, None, :]).reshape(w * k, w * k)
        if q == 1:
            correction_p, correction_l = self._corrections_one_coefficient(
                prior_prec, q_e, c.zz[:, 0, 0], sums[:, :, 0])
        else:
            correction_p, correction_l = self._corrections(prior_prec, q_e, c.zz, sums)
        precision = symmetrize(gram - correction_p)
        linear = cross @ q_e - correction_l.reshape(w, k).T            # layout r k + a
        return precision, linear

    def _corrections(self, prior_prec, q_e, zz, sums):
        """sum_j M_j' P_j^-1 M_j and sum_j M_j' P_j^-1 vec(Omega_e^-1 S_j), any q: one
        small solve per unit."""
        j, w, q = sums.shape
        k = self._zx.shape[2]
        p = prior_prec + np.einsum("rs,jab->jrasb", q_e, zz).reshape(j, w * q, w * q)
        m = np.einsum("rs,jab->jrasb", q_e, self._zx).reshape(j, w * q, w * k)
        g = np.einsum("rs,jsa->jra", q_e, sums).reshape(j, w * q, 1)
        solved = np.linalg.solve(p, np.concatenate([m, g], axis=2))   # P_j^-1 [M_j | g_j]
        stacked = m.reshape(j * w * q, w * k).T @ solved.reshape(j * w * q, w * k + 1)
        return stacked[:, :-1], stacked[:, -1]

    def _corrections_one_coefficient(self, prior_prec, q_e, scales, sums):
        """The same sums when each level-1 response has one random coefficient (q = 1):
        P_j = T^-1 + s_j Omega_e^-1 with s_j = z_j'z_j, so with W' T^-1 W = I and
        W' Omega_e^-1 W = diag(l), P_j^-1 = W D_j W' (D_j = 1 / (1 + s_j l)) and, with
        V = W' Omega_e^-1 and zx_j = Z_j'X_j, W' M_j = V ⊗ zx_j': the sums are
        sum_a V[a,s] V[a,t] sum_j D_j[a] zx_j[b] zx_j[c] and
        sum_a V[a,s] sum_j D_j[a] zx_j[b] (W' Omega_e^-1 S_j)[a], O(J w k^2) work."""
        basis, eigval = simultaneous_diagonalisation(prior_prec, q_e)
        inv_diag = 1.0 / (1.0 + scales[:, None] * eigval[None, :])     # (J, w) D_j
        v = basis.T @ q_e                                               # (w, w)
        zx = self._zx[:, 0, :]                                          # (J, k)
        w, k = v.shape[0], zx.shape[1]
        weighted = inv_diag[:, :, None] * zx[:, None, :]                # (J, w, k) D_j[a] zx_j[b]
        h = np.einsum("jab,jc->abc", weighted, zx)                      # (w, k, k)
        precision = np.einsum("as,at,abc->sbtc", v, v, h).reshape(w * k, w * k)
        projected = (sums @ q_e) @ basis                                # (J, w) W' Omega_e^-1 S_j
        e = np.einsum("jab,ja->ab", weighted, projected)                 # (w, k)
        return precision, (v.T @ e).reshape(w * k)

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        precision, linear = self.system(s)
        beta1 = draw_coefficients_from_system(precision, linear, s.level1.coef_mask, s.rng)
        s.resid1 -= np.matmul(s.level1.x, beta1 - s.beta1, out=s.scratch1)
        s.beta1 = beta1


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

    label = "the missing level-1 values and latents"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.resid1]

    def __init__(self, covariance: "Covariance1"):
        self.covariance = covariance

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        self.covariance.impute(s, adapt)


class ImputeLevel(ClassificationStep):
    """Latents and missing cells of the responses of classification c, jointly normal
    with its random effects u_c (treated as observed)."""

    label = "the missing values of the responses of {classification}"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.classes[self.index].level.working]

    def step(self, s, adapt: bool) -> None:
        c = s.classes[self.index]
        if c.width == 0:
            return
        mean = np.hstack([np.zeros((c.n_units, c.d)), c.fixed_part()])
        joint = np.hstack([c.u, c.level.working])
        resid = joint - mean
        update_latents(s, c.level, joint, resid, c.omega, c.d, adapt)
        c.imputer.draw(resid, c.omega, s.rng)
        c.imputer.fill(joint, mean, resid)
        c.level.working[:] = joint[:, c.d:]


# --------------------------------------------------------------------------- random effects

class RandomEffects(ClassificationStep):
    """u_j of classification c | rest, for all its units at once: prior
    u_j | e_j ~ N(K e_j, T) times the likelihood of the level-1 rows in unit j
    (precision Omega_e^-1 ⊗ Z_j'Z_j) and of the units of classifications nested in c
    (precision n_j S^-1 on their random intercepts, S their residual covariance
    given their own random effects)."""

    label = "the random effects of {classification}"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.classes[self.index].u]

    def __init__(self, index: int, covariance: "Covariance1"):
        super().__init__(index)
        self.covariance = covariance

    def step(self, s, adapt: bool) -> None:
        c = s.classes[self.index]
        if c.d == 0:
            return
        prior_prec, prior_mean = c.effects_given_residuals()
        if prior_mean is None:
            linear = np.zeros((c.n_units, c.d))
        else:
            linear = prior_mean @ prior_prec
        prec_e = self.covariance.precision(s)
        per_cluster = "jrs" if prec_e.ndim == 3 else "rs"             # Omega_e,j^-1 or Omega_e^-1
        du = c.d_units
        if du:
            # the level-1 data enter through S_j = sum_i w_i (W1_i - X_i B1 - other u) z_i'
            # (w1, q), as Omega_e^-1 S_j; that is the unit's sum over the residuals r plus
            # U_j Z_j'WZ_j (U_j the (w1, q) layout of u_j).  Omega_e (or the cluster's
            # Omega_e,j) is constant within a unit, so it multiplies the sums.
            weighted = s.resid1 if c.unit_weights is None else s.resid1 * c.unit_weights[:, None]
            if c.z_is_ones:
                sums = c.sums(weighted)[:, :, None]
            elif c.q == 1:
                sums = c.sums(weighted * c.z)[:, :, None]
            else:
                sums = c.sums(weighted[:, :, None] * c.z[:, None, :])
            u_layout = c.u[:, :du].reshape(c.n_units, s.w1, c.q)
            sums += np.einsum("jrb,jba->jra", u_layout, c.zz)
            data_linear = np.einsum(f"{per_cluster},jra->jsa", prec_e, sums).reshape(c.n_units, du)
            if c.nested:
                linear[:, :du] += data_linear
            else:
                linear = linear + data_linear
        if c.q == 1 and prec_e.ndim == 2 and not c.nested:
            u = draw_normal_two_precisions(prior_prec, prec_e, c.zz[:, 0, 0], linear, s.rng)
        else:   # precision T^-1 + Omega_e^-1 ⊗ Z_j'WZ_j (+ nested blocks), unit by unit
            precision = np.broadcast_to(prior_prec, (c.n_units, c.d, c.d)).copy()
            if du:
                precision[:, :du, :du] += np.einsum(f"{per_cluster},jab->jrasb", prec_e,
                                                    c.zz).reshape(c.n_units, du, du)
            for part in c.nested:
                self._add_nested(s, c, part, precision, linear)
            u = draw_normal_from_precision_batched(precision, linear, s.rng)
        if du:
            s.resid1 -= c.random_part(u - c.u, s.scratch1)
        c.u = u

    @staticmethod
    def _add_nested(s, c, part, precision: np.ndarray, linear: np.ndarray) -> None:
        """The likelihood of the units of classification `part.inner` (nested in c) for
        their random intercepts in c: their residuals without this intercept,
        g = e + u_c, are N(H u_inner + u_c, S) given their own random effects."""
        inner = part.inner
        g = inner.residuals() + c.u[part.codes, part.span]
        h, cond_cov = inner.residuals_given_effects()
        if h is not None:
            g -= inner.u @ h.T
        s_inv = inv_pd(cond_cov)
        if part.weights is not None:
            g *= part.weights[:, None]
        linear[:, part.span] += part.sums(g) @ s_inv
        precision[:, part.span, part.span] += part.counts(c.n_units)[:, None, None] * s_inv


# --------------------------------------------------------------------------- covariances

class Covariance(ClassificationStep):
    """Omega_c | u_c, e_c of classification c: inverse-Wishart (Metropolis-Hastings where
    latents fix entries)."""

    label = "the covariance matrix of {classification}"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.classes[self.index].omega]

    def step(self, s, adapt: bool) -> None:
        c = s.classes[self.index]
        if c.dim == 0:
            return
        joint = np.hstack([c.u, c.residuals()])
        ss = joint.T @ c.level.weighted(joint)
        c.omega = c.cov.draw(c.omega, ss, c.level.total_weight, s.rng, adapt)


class Covariance1(Step):
    """Omega_e | level-1 residuals, one matrix for every cluster; also what the other
    blocks ask for the level-1 covariance."""

    label = "the level-1 covariance matrix (Omega_e)"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.omega_e]

    #: draws of (missing level-1 cells, Omega_e) in turn per iteration; more than one only
    #: where the missing cells are drawn with B1 and u (:func:`.collapsed.covariance_rounds`)
    rounds = 1

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
        for again in range(self.rounds):
            if again:                       # the missing cells given the new Omega_e
                s.imputer1.draw(s.resid1, s.omega_e, s.rng)
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

    label = "the clusters' level-1 covariance matrices"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.omega_e, self.sampler.omegas]

    def __init__(self, s, gamma_scale: np.ndarray, a_start: float, a_prior: float):
        if any(rtype.has_latent for rtype, _, _ in s.level1.blocks):
            raise ValueError("cluster-specific level-1 covariance needs continuous level-1 responses")
        # Omega_j is a cluster-level parameter, like u_j: its data are weighted within the cluster
        cluster = s.classes[0]
        self.sampler = ClusterCovarianceSampler(cluster.n_units, gamma_scale, a_start, a_prior)
        w = np.ones(len(cluster.codes)) if cluster.unit_weights is None else cluster.unit_weights
        self._sizes = cluster.sums(w)
        x = s.level1.x
        self._gram_by_cluster = cluster.sums(x[:, :, None] * s.level1.weighted(x)[:, None, :])
        self._sum, self._count = None, 0

    def precision(self, s) -> np.ndarray:
        return self.sampler.precisions

    def impute(self, s, adapt: bool) -> None:
        s.imputer1.draw(s.resid1, self.sampler.omegas, s.rng, groups=s.classes[0].codes)

    def draw_fixed_effects(self, s) -> np.ndarray:
        """Sum over clusters of Omega_j^-1 ⊗ X_j'WX_j and X_j'W R_j Omega_j^-1."""
        x = s.level1.x
        resid = s.resid1 + x @ s.beta1                                 # W1 - Z u
        prec = self.sampler.precisions
        k = x.shape[1]
        full = np.einsum("jrs,jab->rasb", prec, self._gram_by_cluster).reshape(s.w1 * k, s.w1 * k)
        rq = np.einsum("nr,nrs->ns", resid, prec[s.classes[0].codes])
        linear = x.T @ s.level1.weighted(rq)
        return draw_coefficients_from_system(full, linear, s.level1.coef_mask, s.rng)

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        resid, cluster = s.resid1, s.classes[0]
        weighted = resid if cluster.unit_weights is None else resid * cluster.unit_weights[:, None]
        ss = cluster.sums(resid[:, :, None] * weighted[:, None, :])
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
