"""The Gibbs sampler of the two-level joint imputation model (REALCOM-IMPUTE / jomo).

Model, with W the working (latent-normal) columns of the responses::

    level 1 (unit i in cluster j):  W1_ij = X1_ij B1 + (I ⊗ z_ij') u_j + e_ij,  e_ij ~ N(0, Omega_e)
    level 2 (cluster j):            W2_j  = X2_j B2 + v_j
    (u_j, v_j) ~ N(0, Omega_u)      jointly: random coefficients of the level-1 responses
                                    and residuals of the level-2 responses

u_j holds, for each level-1 working column r, its q random coefficients (index r*q + a,
the layout jomo uses).  One iteration (:meth:`GibbsSampler.step`) draws

1. latent values behind observed categories (response types that have them),
2. missing level-1 values | B1, u, Omega_e        (joint conditional normal per pattern),
3. missing level-2 values | B2, u, Omega_u        (likewise, u treated as observed),
4. B1 | W1, u, Omega_e                            (GLS normal equations, flat prior),
5. B2 | W2, u, Omega_u                            (GLS given u: v_j | u_j ~ N(H u_j, S)),
6. u_j | W1, v_j, B1, Omega_e, Omega_u             (all clusters at once, batched Cholesky),
7. Omega_u | u, v and Omega_e | residuals          (inverse-Wishart).

Each step is a block of :mod:`.steps` over this sampler's shared state (PyMC's compound
step); :attr:`GibbsSampler.steps` lists them in this order.  With
``ModelData.cluster_covariance`` every cluster j has its own Omega_e,j (R jomo's
``meth = "random"``, see :mod:`.cluster_covariance`): the level-1 covariance block is
then :class:`.steps.ClusterCovariance1`, which steps 2, 4 and 6 ask for each row's own
cluster matrix.

Level-1 rows are kept sorted by (missingness pattern, cluster) internally, so that each
pattern's rows are one block for step 2.  The residuals W1 - X1 B1 - Z u are kept up to
date by steps 1, 2, 4 and 6 rather than recomputed, so no step forms the means, and the
imputed level-1 cells live in them until output.  Results are returned in the caller's
row order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import sparse

from .covariance import CovarianceSampler
from .imputer import PatternImputer, distinct_rows
from .level import Level
from .model import ModelData, scaled_weights
from .steps import (ClusterCovariance1, Covariance1, Covariance2, FixedEffects1, FixedEffects2,
                    ImputeLevel1, ImputeLevel2, RandomEffects, Step)


# --------------------------------------------------------------------------- results

@dataclass
class Chain:
    """Every iteration's parameter draws, burn-in included (``burnin`` tells where it ends).

    beta1 (T, k1, w1), beta2 (T, k2, w2), omega_e (T, w1, w1), omega_u (T, D, D), with w
    the number of working columns of each level and D = w1 * q + w2.  ``extra`` holds the
    parameters response types own, e.g. ``"level1.thresholds[2]"`` (T, K - 2) for the
    free thresholds of ordinal response 2 of level 1.
    """

    beta1: np.ndarray
    beta2: np.ndarray
    omega_e: np.ndarray
    omega_u: np.ndarray
    burnin: int
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def kept(self, name: str) -> np.ndarray:
        """Draws of parameter block `name` after burn-in."""
        return getattr(self, name)[self.burnin:]


@dataclass
class Imputation:
    """Imputed values of one completed data set, at the missing cells only.

    level1 follows ``SamplerResult.missing1`` (row-major order over (row, response)),
    level2 follows ``SamplerResult.missing2``.
    """

    level1: np.ndarray
    level2: np.ndarray
    iteration: int


@dataclass
class SamplerResult:
    imputations: list[Imputation]
    chain: Chain
    missing1: np.ndarray
    missing2: np.ndarray
    iterations: int = 0
    extra: dict = field(default_factory=dict)


ProgressCallback = Callable[[int, int, int], None]


# --------------------------------------------------------------------------- sampler state

class _ClusterSums:
    """Sums of rows by cluster: the product with a sparse (J, N) 0/1 indicator matrix.

    One pass over the rows in any order; several times faster than ``np.add.reduceat``
    over rows sorted by cluster, which loops over short runs of narrow rows.
    """

    def __init__(self, cluster: np.ndarray, n_clusters: int):
        n = len(cluster)
        self.indicator = sparse.csr_matrix((np.ones(n), (cluster, np.arange(n))),
                                           shape=(n_clusters, n))

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """(J, ...) sums of the rows of `a` (N, ...) by cluster."""
        sums = self.indicator @ a.reshape(len(a), -1)
        return np.asarray(sums).reshape((self.indicator.shape[0],) + a.shape[1:])


class GibbsSampler:
    """Draws parameters and missing values of the joint model; see the module docstring.

    Parameters
    ----------
    data : ModelData
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same chain.
    jomo_compatible : bool
        Draw B2 as R's jomo does, from N(GLS given Omega_vv only), ignoring the level-1
        random effects u it is correlated with.  That is not the exact full conditional
        (step 5 above is), so the chain targets a slightly different distribution — in
        our checks cov(u, v) differs by a few percent.  Only for cross-checking with jomo.
    """

    def __init__(self, data: ModelData, rng: np.random.Generator, jomo_compatible: bool = False):
        self.data = data
        self.rng = rng
        self.jomo_compatible = jomo_compatible
        # rows sorted by missingness pattern (then cluster): each pattern's rows are one
        # block for the imputer
        pattern = distinct_rows(np.isnan(data.level1.y))[1]
        self._order = np.lexsort((data.cluster, pattern))
        cluster = data.cluster[self._order]
        self.n_clusters = data.n_clusters
        self.row_cluster = cluster
        self.cluster_sums = _ClusterSums(cluster, data.n_clusters)

        l1, l2 = data.level1, data.level2
        self.level1 = Level(l1.y[self._order], l1.x[self._order], l1.coef_mask, l1.kinds,
                             l1.n_categories, None if l1.shift is None else l1.shift[self._order])
        self.level2 = Level(l2.y, l2.x, l2.coef_mask, l2.kinds, l2.n_categories, l2.shift)
        self.z = data.z[self._order]
        self.q = self.z.shape[1]
        # sampling weights (None: unweighted): w_unit within clusters for u_j, the products
        # w_i|j * w_j for level-1 parameters, w_j for level-2 parameters
        w_unit, w_cluster = scaled_weights(data)
        self.w_unit = None if w_unit is None else w_unit[self._order]
        self._w_cluster = w_cluster
        self._w_param1 = self.w_unit if w_cluster is None else (
            w_cluster[cluster] if self.w_unit is None else self.w_unit * w_cluster[cluster])
        zz = self.z[:, :, None] * self.z[:, None, :]
        if self.w_unit is not None:
            zz = zz * self.w_unit[:, None, None]
        self.zz_by_cluster = self.cluster_sums(zz)               # (J, q, q) per-cluster Z'WZ
        self.level1.weight(self._w_param1)
        self.level2.weight(self._w_cluster)

        self.w1, self.w2 = self.level1.width, self.level2.width
        self.d1 = self.w1 * self.q                                 # level-1 random effects
        self.dim_u = self.d1 + self.w2
        self.cov_e = CovarianceSampler(self.level1.fixed_covariance(0, self.w1),
                                       *data.priors.level1(self.w1), flat=jomo_compatible)
        self.cov_u = CovarianceSampler(self.level2.fixed_covariance(self.d1, self.dim_u),
                                       *data.priors.level2(self.dim_u), flat=jomo_compatible)

        self.cov_e.check_posterior_df(self.level1.total_weight, "level-1")
        self.cov_u.check_posterior_df(self.level2.total_weight, "level-2")

        if data.cluster_covariance:
            _, gamma_scale = data.priors.level1(self.w1)
            self.covariance1: Covariance1 = ClusterCovariance1(self, gamma_scale,
                                                               *data.priors.cluster_df(self.w1))
        else:
            self.covariance1 = Covariance1(self.cov_e)
        #: the Gibbs iteration: these blocks, in this order, over this object's state
        self.steps: list[Step] = [ImputeLevel1(self.covariance1), ImputeLevel2(),
                                  FixedEffects1(self.covariance1), FixedEffects2(),
                                  RandomEffects(self.covariance1), Covariance2(self.cov_u),
                                  self.covariance1]
        self.imputer1 = PatternImputer(self.level1.impute_mask)
        mask2 = np.hstack([np.zeros((self.n_clusters, self.d1), bool), self.level2.impute_mask])
        self.imputer2 = PatternImputer(mask2)
        self.z_is_ones = self.q == 1 and bool((self.z == 1.0).all())

        # starting values: least squares on the mean-filled data, no random effects
        self.beta1 = self._least_squares(self.level1)
        self.beta2 = self._least_squares(self.level2)
        self.u = np.zeros((self.n_clusters, self.d1))
        self.omega_e = self.cov_e.initial()
        self.omega_u = self.cov_u.initial()
        # residuals W1 - X1 B1 - Z u of the level-1 working values, kept up to date by every
        # step that changes W1, B1 or u, so that no step recomputes them from scratch
        self.resid1 = self.level1.working - self.level1.x @ self.beta1
        self.scratch1 = np.empty_like(self.resid1)     # reused for (N, w1) temporaries
        # what a run has done so far (warm_up / keep may be called repeatedly)
        self._missing1 = np.isnan(data.level1.y)
        self._missing2 = np.isnan(data.level2.y)
        self._segments: list[Chain] = []
        self._imputations: list[Imputation] = []
        self.iterations_done = 0
        self.burnin_done = 0

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _least_squares(level: Level) -> np.ndarray:
        beta = np.zeros(level.coef_mask.shape)
        for c in range(level.width):
            cols = level.coef_mask[:, c]
            beta[cols, c] = np.linalg.lstsq(level.x[:, cols], level.working[:, c], rcond=None)[0]
        return beta

    def random_part(self, u: np.ndarray) -> np.ndarray:
        """(N, w1) contribution (I ⊗ z_ij') u_j of random coefficients u (J, d1), sorted
        rows, in the scratch buffer (valid until the next use of the buffer)."""
        out = self.scratch1
        if self.q == 1:
            np.take(u, self.row_cluster, axis=0, out=out)
            if not self.z_is_ones:
                out *= self.z
            return out
        u = u.reshape(self.n_clusters, self.w1, self.q)[self.row_cluster]
        return np.einsum("na,nra->nr", self.z, u, out=out)

    def fill_masked_level1(self) -> None:
        """Write the imputed level-1 cells into the working values.  Between iterations
        they live only in the kept residuals: no step reads them as values (latent
        updates read observed categories' cells), so this runs only for output."""
        mean = self.level1.x @ self.beta1 + self.random_part(self.u)
        self.imputer1.fill(self.level1.working, mean, self.resid1)

    def resid1_exact(self) -> np.ndarray:
        """W1 - X1 B1 - Z u computed afresh (the sampler keeps it updated instead)."""
        self.fill_masked_level1()
        return self.level1.working - self.level1.x @ self.beta1 - self.random_part(self.u)

    def level2_residuals(self) -> np.ndarray:
        return self.level2.working - self.level2.x @ self.beta2

    def split_omega_u(self):
        d1 = self.d1
        o = self.omega_u
        return o[:d1, :d1], o[:d1, d1:], o[d1:, d1:]

    def step(self, adapt: bool = False) -> None:
        """One Gibbs iteration: every block of :attr:`steps` in turn (see the module
        docstring for the order).  ``adapt`` lets Metropolis-Hastings steps tune their
        proposals (burn-in only)."""
        for block in self.steps:
            block.step(self, adapt)

    # ------------------------------------------------------------------ output
    def type_parameters(self) -> dict[str, np.ndarray]:
        """Current values of the parameters owned by response types (thresholds ...)."""
        out = {f"level1.{k}": v for k, v in self.level1.parameters().items()}
        out.update({f"level2.{k}": v for k, v in self.level2.parameters().items()})
        for block in self.steps:
            out.update(block.parameters())
        return out

    def current_values(self, shifted: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Completed response matrices of both levels, in the caller's row order, with
        the MNAR shift of :class:`~.model.LevelData` applied unless ``shifted`` is False."""
        self.fill_masked_level1()
        values1 = np.empty_like(self.level1.values)
        values1[self._order] = self.level1.decode(shifted)
        return values1, self.level2.decode(shifted)

    def chain_bytes(self, iterations: int) -> int:
        """Memory the :class:`Chain` of `iterations` iterations takes (parameters the
        response types own included), for checking a run's size before it starts."""
        k1, k2 = self.level1.coef_mask.shape[0], self.level2.coef_mask.shape[0]
        per_iteration = k1 * self.w1 + k2 * self.w2 + self.w1 ** 2 + self.dim_u ** 2
        per_iteration += sum(len(v) for v in self.type_parameters().values())
        return 8 * iterations * per_iteration

    # ------------------------------------------------------------------ running
    def warm_up(self, iterations: int, progress: ProgressCallback | None = None) -> None:
        """Run `iterations` more burn-in iterations (Metropolis-Hastings steps adapt),
        recording the parameters.  Can be called repeatedly (how ``burnin = "auto"``
        extends a burn-in until the chains have converged), but not once imputations
        are kept."""
        if self._imputations:
            raise ValueError("the burn-in is over: imputations are already kept")
        self._advance(iterations, adapt=True, between=0, progress=progress)
        self.burnin_done += iterations

    def keep(self, between: int, m: int, progress: ProgressCallback | None = None) -> None:
        """Keep `m` more completed data sets, one every `between` iterations (no
        adaptation).  Can be called again to add imputations without a new burn-in."""
        if between < 1 or m < 0:
            raise ValueError("need between >= 1 and m >= 0")
        self._advance(between * m, adapt=False, between=between, progress=progress)

    def _advance(self, total: int, adapt: bool, between: int,
                 progress: ProgressCallback | None) -> None:
        """`total` iterations, the parameters recorded; with ``between``, the completed
        data every `between` iterations.  ``progress(done, total, imputations)``
        counts within this call."""
        if total < 0:
            raise ValueError("the number of iterations cannot be negative")
        segment = self._empty_segment(total)
        for it in range(total):
            self.step(adapt=adapt)
            if not adapt:
                self.covariance1.keep()
            segment.beta1[it], segment.beta2[it] = self.beta1, self.beta2
            segment.omega_e[it], segment.omega_u[it] = self.omega_e, self.omega_u
            for name, value in self.type_parameters().items():
                segment.extra[name][it] = value
            done = it + 1
            if between and done % between == 0:
                values1, values2 = self.current_values()
                self._imputations.append(Imputation(values1[self._missing1],
                                                    values2[self._missing2],
                                                    self.iterations_done + done))
            if progress is not None:
                progress(done, total, len(self._imputations))
        self.iterations_done += total
        self._segments.append(segment)

    @property
    def chain(self) -> Chain:
        """The parameter draws of every iteration run so far, burn-in first."""
        parts = self._segments or [self._empty_segment()]
        return Chain(*(np.concatenate([getattr(p, name) for p in parts])
                       for name in ("beta1", "beta2", "omega_e", "omega_u")),
                     self.burnin_done,
                     {name: np.concatenate([p.extra[name] for p in parts]) for name in parts[0].extra})

    def _empty_segment(self, length: int = 0) -> Chain:
        """Room for `length` iterations' parameter draws."""
        k1, k2 = self.level1.coef_mask.shape[0], self.level2.coef_mask.shape[0]
        return Chain(np.empty((length, k1, self.w1)), np.empty((length, k2, self.w2)),
                     np.empty((length, self.w1, self.w1)),
                     np.empty((length, self.dim_u, self.dim_u)), 0,
                     {name: np.empty((length, len(value)))
                      for name, value in self.type_parameters().items()})

    def result(self) -> SamplerResult:
        """The imputations kept and the chain so far."""
        extra = self.covariance1.summaries()
        return SamplerResult(list(self._imputations), self.chain, self._missing1, self._missing2,
                             self.iterations_done, extra)

    def advance(self, warm: int, between: int, m: int,
                progress: ProgressCallback | None = None) -> None:
        """`warm` more burn-in iterations, then `m` more imputations `between` apart:
        one step of a run (:class:`~.parallel.ChainSet` runs chains in such steps).
        ``progress(done, total, imputations)`` counts within this step."""
        total = warm + between * m

        def offset(by):
            if progress is None:
                return None
            return lambda done, _, kept: progress(by + done, total, kept)
        if warm:
            self.warm_up(warm, offset(0))
        if m:
            self.keep(between, m, offset(warm))

    def run(self, burnin: int, between: int, m: int,
            progress: ProgressCallback | None = None) -> SamplerResult:
        """Run `burnin` iterations, then keep one completed data set every `between`
        iterations, `m` in all (jomo's nburn / nbetween / nimp).

        ``progress(iterations_done, iterations_total, imputations_done)`` is called after
        every iteration.
        """
        if burnin < 0 or between < 1 or m < 1:
            raise ValueError("need burnin >= 0, between >= 1 and m >= 1")
        self.advance(burnin, between, m, progress)
        return self.result()


def run_sampler(data: ModelData, burnin: int, between: int, m: int,
                seed: int | np.random.SeedSequence | None = None,
                progress: ProgressCallback | None = None,
                jomo_compatible: bool = False) -> SamplerResult:
    """Convenience wrapper: build a sampler with a seeded generator and run it."""
    rng = np.random.default_rng(seed)
    return GibbsSampler(data, rng, jomo_compatible).run(burnin, between, m, progress=progress)
