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

With ``ModelData.cluster_covariance`` every cluster j has its own Omega_e,j (R jomo's
``meth = "random"``, see :mod:`.cluster_covariance`); steps 2, 4, 6 and 7 then use each
row's own cluster matrix.

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

from .cluster_covariance import ClusterCovarianceSampler
from .covariance import CovarianceSampler
from .linalg import (draw_normal_from_precision, draw_normal_from_precision_batched,
                     draw_normal_two_precisions, inv_pd, symmetrize)
from .model import ModelData, scaled_weights
from .responses import ColumnConditional, ResponseType, make_response_type


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


# --------------------------------------------------------------------------- one level

class _Level:
    """Working columns of one level: response blocks, covariates, missingness patterns."""

    def __init__(self, values: np.ndarray, x: np.ndarray, coef_mask: np.ndarray,
                 kinds: list[str], n_categories: list[int | None],
                 shift: np.ndarray | None = None):
        self.values = values                       # (n, p) responses, NaN missing
        self.x = x
        self.blocks: list[tuple[ResponseType, slice, int]] = []
        columns, mask_columns, start = [], [], 0
        for r, kind in enumerate(kinds):
            rtype = make_response_type(kind, n_categories[r])
            width = rtype.n_working()
            columns.append(rtype.initial_working(values[:, r]))
            mask_columns.extend([coef_mask[:, r]] * width)
            self.blocks.append((rtype, slice(start, start + width), r))
            start += width
        n = values.shape[0]
        self.working = np.hstack(columns) if columns else np.zeros((n, 0))
        self.coef_mask = np.column_stack(mask_columns) if mask_columns else np.zeros((x.shape[1], 0), bool)
        self.width = start
        # cells drawn from the joint conditional normal: every working column of a missing response
        self.impute_mask = np.zeros((n, self.width), dtype=bool)
        for rtype, cols, r in self.blocks:
            self.impute_mask[:, cols] = np.isnan(values[:, r])[:, None]
        self._fill_start(self.working, self.impute_mask)
        self.gram = x.T @ x
        self.weights = None
        self.total_weight = float(n)       # the n of the covariance posteriors (sum of weights)
        self.latent_blocks = [b for b in self.blocks if b[0].has_latent]
        self.shift_working = None if shift is None else self._working_shift(shift)

    def _working_shift(self, shift: np.ndarray) -> np.ndarray | None:
        """The MNAR shift of missing cells on the working columns (None when it moves
        nothing); a type with several working columns (categorical) has no one scale to
        shift on and is refused."""
        missing = np.isnan(self.values)
        if not np.any(shift[missing] != 0):
            return None
        out = np.zeros(self.working.shape)
        for rtype, cols, r in self.blocks:
            moved = np.where(missing[:, r], shift[:, r], 0.0)
            if np.any(moved != 0) and cols.stop - cols.start != 1:
                raise ValueError(f"a {rtype.name} response (column {r}) cannot be shifted: "
                                 "it has no single latent scale")
            out[:, cols.start] = moved
        return out

    def weight(self, weights: np.ndarray | None) -> None:
        """Use sampling weights in this level's parameter updates (X'WX and X'WR)."""
        self.weights = weights
        if weights is not None:
            self.gram = self.x.T @ (self.x * weights[:, None])
            self.total_weight = float(weights.sum())

    def weighted(self, rows: np.ndarray) -> np.ndarray:
        """rows (n, k) times the weights (unchanged when unweighted)."""
        return rows if self.weights is None else rows * self.weights[:, None]

    def fixed_covariance(self, offset: int, dim: int) -> np.ndarray:
        """(dim, dim) matrix of fixed covariance entries (NaN = free); this level's working
        columns start at `offset`."""
        fixed = np.full((dim, dim), np.nan)
        for rtype, cols, r in self.blocks:
            block = rtype.fixed_covariance()
            if block is not None:
                idx = np.arange(cols.start, cols.stop) + offset
                fixed[np.ix_(idx, idx)] = block
        return fixed

    def parameters(self) -> dict[str, np.ndarray]:
        out = {}
        for rtype, cols, r in self.blocks:
            for key, value in rtype.parameters().items():
                out[f"{key}[{r}]"] = value
        return out

    @staticmethod
    def _fill_start(working, impute_mask):
        for c in range(working.shape[1]):
            miss = impute_mask[:, c]
            if miss.all():
                raise ValueError(f"working column {c} has no observed value")
            working[miss, c] = working[~miss, c].mean()

    def decode(self, shifted: bool = False) -> np.ndarray:
        """Response values implied by the working columns; ``shifted`` adds the MNAR
        shift to the missing cells first (for a completed data set, not for the chain)."""
        working = self.working
        if shifted and self.shift_working is not None:
            working = working + self.shift_working
        out = np.empty(self.values.shape)
        for rtype, cols, r in self.blocks:
            out[:, r] = rtype.decode(working[:, cols])
        return out


def _distinct_rows(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of the boolean (n, w) mask in sorted order, each row's index among
    them): ``np.unique(mask, axis=0, return_inverse=True)``, computed on the rows packed
    into bytes, which is over ten times faster for a million rows."""
    if mask.shape[1] == 0:                      # one (empty) pattern shared by every row
        return mask[:1], np.zeros(len(mask), dtype=np.intp)
    packed = np.ascontiguousarray(np.packbits(mask, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return mask[first], inverse.reshape(-1)


class _PatternImputer:
    """Draws the masked cells of every row from their conditional normal given the
    row's unmasked cells.

    For each missingness pattern (a fixed set of masked columns m) the conditional is
    x_m | x_o ~ N(mu_m + G (x_o - mu_o), S).  The regression matrices G and the Cholesky
    factors of S of all patterns come from one batched computation; each pattern's rows
    are one matrix product (and a view, no copy, when the caller has sorted its rows by
    pattern).  It works on the residuals x - mu the caller keeps, so the means are not
    needed: :meth:`draw` writes the masked cells' new residuals through one sorted flat
    index, and :meth:`fill` turns them into values when the caller needs those.
    """

    def __init__(self, mask: np.ndarray):
        self.active = bool(mask.any())
        if not self.active:
            return
        patterns, inverse = _distinct_rows(mask)
        keep = np.flatnonzero(patterns.any(axis=1))
        self.patterns = patterns[keep]                          # (P, w), True = masked
        self.masked_columns = [np.flatnonzero(p) for p in self.patterns]
        self.masked_blocks = [np.ix_(cols, cols) for cols in self.masked_columns]
        # each pattern's rows: a slice when they are contiguous (the sampler sorts level-1
        # rows by pattern), so that reading them needs no copy
        self.rows = []
        for g in keep:
            rows = np.flatnonzero(inverse == g)
            contiguous = rows[-1] - rows[0] + 1 == len(rows)
            self.rows.append(slice(rows[0], rows[-1] + 1) if contiguous else rows)
        # the masked cells, pattern by pattern, each row's cells together: the order in which
        # one pattern's (rows, masked columns) block of draws ravels
        row_ids = [np.arange(len(mask))[rows] for rows in self.rows]
        self.cell_rows = np.concatenate([np.repeat(r, len(c)) for r, c in zip(row_ids, self.masked_columns)])
        self.cell_cols = np.concatenate([np.tile(c, len(r)) for r, c in zip(row_ids, self.masked_columns)])
        self.cell_bounds = np.cumsum([0] + [len(r) * len(c) for r, c in zip(row_ids, self.masked_columns)])
        # writing through a 1-d index is several times faster than numpy's 2-d scatter
        self.flat_cells = self.cell_rows * mask.shape[1] + self.cell_cols

    def _operators(self, cov: np.ndarray):
        """Per pattern, embedded in full width: G (P, w, w) with G[m, o] = cov_mo cov_oo^-1
        (zero elsewhere) and L (P, w, w) whose [m, m] block is chol(cov_mm - G cov_om)."""
        mis = self.patterns.astype(float)
        obs = 1.0 - mis
        eye = np.eye(cov.shape[-1])
        # in permuted order this is block diagonal [cov_oo, I_mm]; its inverse is [cov_oo^-1, I]
        inner = obs[:, :, None] * cov * obs[:, None, :] + eye * mis[:, None, :]
        inner_inv = np.linalg.inv(inner) * (obs[:, :, None] * obs[:, None, :])
        gain = (mis[:, :, None] * cov) @ inner_inv
        cond = (cov - gain @ cov) * (mis[:, :, None] * mis[:, None, :]) + eye * obs[:, None, :]
        return gain, np.linalg.cholesky(symmetrize(cond))

    def draw(self, resid: np.ndarray, cov: np.ndarray, rng: np.random.Generator,
             groups: np.ndarray | None = None) -> None:
        """Redraw the masked cells of the residuals `resid` (n, w) = x - mean in place,
        rows x being N(mean, cov).

        With `groups` (n,) codes 0..G-1, cov is a (G, w, w) stack and row i uses
        cov[groups[i]] (cluster-specific covariance matrices).
        """
        if not self.active:
            return
        if groups is None:
            gain, chol = self._operators(cov)
        else:
            gain, chol = self._operators(cov[:, None])          # (G, P, w, w)
        new = np.empty(len(self.flat_cells))                    # new residuals of the masked cells
        for p, (rows, cols) in enumerate(zip(self.rows, self.masked_columns)):
            # only the masked columns' rows of G, which is zero in the masked columns:
            # their (stale) residuals drop out
            resid_rows = resid[rows]
            z = rng.standard_normal((len(resid_rows), len(cols)))
            if groups is None:
                block = resid_rows @ gain[p][cols].T + z @ chol[p][self.masked_blocks[p]].T
            else:
                g = groups[rows]
                block = (np.einsum("nij,nj->ni", gain[g, p][:, cols], resid_rows)
                         + np.einsum("nij,nj->ni", chol[g, p][:, cols][:, :, cols], z))
            new[self.cell_bounds[p]:self.cell_bounds[p + 1]] = block.reshape(-1)
        if resid.flags.c_contiguous:
            resid.reshape(-1)[self.flat_cells] = new                # a view: writes through
        else:
            resid[self.cell_rows, self.cell_cols] = new

    def fill(self, values: np.ndarray, mean: np.ndarray, resid: np.ndarray) -> None:
        """Masked cells of `values` = mean + resid; the other cells are left alone."""
        if self.active:
            cells = (self.cell_rows, self.cell_cols)
            values[cells] = mean[cells] + resid[cells]


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


def _draw_coefficients(gram: np.ndarray, cross: np.ndarray, precision: np.ndarray,
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
    return _draw_coefficients_from_system(np.kron(precision, gram), cross @ precision, mask, rng)


def _draw_coefficients_from_system(full_precision: np.ndarray, linear: np.ndarray,
                                   mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The draw of :func:`_draw_coefficients` from its normal equations: full_precision
    (kp, kp) in response-major order (index r*k + a) and linear (k, p) = X' R Q."""
    k, p = mask.shape
    free = mask.T.reshape(-1)                      # response-major: index r*k + a
    linear = linear.T.reshape(-1)
    draw = draw_normal_from_precision(full_precision[np.ix_(free, free)], linear[free], rng)
    flat = np.zeros(k * p)
    flat[free] = draw
    return flat.reshape(p, k).T


# --------------------------------------------------------------------------- sampler

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
        pattern = _distinct_rows(np.isnan(data.level1.y))[1]
        self._order = np.lexsort((data.cluster, pattern))
        cluster = data.cluster[self._order]
        self.n_clusters = data.n_clusters
        self._cluster = cluster
        self._cluster_sums = _ClusterSums(cluster, data.n_clusters)

        l1, l2 = data.level1, data.level2
        self.level1 = _Level(l1.y[self._order], l1.x[self._order], l1.coef_mask, l1.kinds,
                             l1.n_categories, None if l1.shift is None else l1.shift[self._order])
        self.level2 = _Level(l2.y, l2.x, l2.coef_mask, l2.kinds, l2.n_categories, l2.shift)
        self.z = data.z[self._order]
        self.q = self.z.shape[1]
        # sampling weights (None: unweighted): w_unit within clusters for u_j, the products
        # w_i|j * w_j for level-1 parameters, w_j for level-2 parameters
        w_unit, w_cluster = scaled_weights(data)
        self._w_unit = None if w_unit is None else w_unit[self._order]
        self._w_cluster = w_cluster
        self._w_param1 = self._w_unit if w_cluster is None else (
            w_cluster[cluster] if self._w_unit is None else self._w_unit * w_cluster[cluster])
        zz = self.z[:, :, None] * self.z[:, None, :]
        if self._w_unit is not None:
            zz = zz * self._w_unit[:, None, None]
        self._zz = self._cluster_sums(zz)               # (J, q, q) per-cluster Z'WZ
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

        self.cluster_cov = None
        if data.cluster_covariance:
            self._init_cluster_covariance(data)
        self._imputer1 = _PatternImputer(self.level1.impute_mask)
        mask2 = np.hstack([np.zeros((self.n_clusters, self.d1), bool), self.level2.impute_mask])
        self._imputer2 = _PatternImputer(mask2)
        self._z_is_ones = self.q == 1 and bool((self.z == 1.0).all())

        # starting values: least squares on the mean-filled data, no random effects
        self.beta1 = self._least_squares(self.level1)
        self.beta2 = self._least_squares(self.level2)
        self.u = np.zeros((self.n_clusters, self.d1))
        self.omega_e = self.cov_e.initial()
        self.omega_u = self.cov_u.initial()
        # residuals W1 - X1 B1 - Z u of the level-1 working values, kept up to date by every
        # step that changes W1, B1 or u, so that no step recomputes them from scratch
        self._resid1 = self.level1.working - self.level1.x @ self.beta1
        self._scratch1 = np.empty_like(self._resid1)     # reused for (N, w1) temporaries
        # what a run has done so far (warm_up / keep may be called repeatedly)
        self._missing1 = np.isnan(data.level1.y)
        self._missing2 = np.isnan(data.level2.y)
        self._segments: list[Chain] = []
        self._imputations: list[Imputation] = []
        self._cluster_sum, self._cluster_count = None, 0
        self.iterations_done = 0
        self.burnin_done = 0

    def _init_cluster_covariance(self, data: ModelData) -> None:
        """Cluster-specific Omega_e (continuous level-1 responses only): per-cluster
        sizes and X'WX blocks, fixed for the whole run."""
        if any(rtype.has_latent for rtype, _, _ in self.level1.blocks):
            raise ValueError("cluster-specific level-1 covariance needs continuous level-1 responses")
        _, gamma_scale = data.priors.level1(self.w1)
        a_start, a_prior = data.priors.cluster_df(self.w1)
        self.cluster_cov = ClusterCovarianceSampler(self.n_clusters, gamma_scale, a_start, a_prior)
        # Omega_j is a cluster-level parameter, like u_j: its data are weighted within the cluster
        w = np.ones(len(self._cluster)) if self._w_unit is None else self._w_unit
        self._cluster_sizes = self._cluster_sums(w)
        x = self.level1.x
        xx = x[:, :, None] * self.level1.weighted(x)[:, None, :]
        self._gram_by_cluster = self._cluster_sums(xx)                 # (J, k, k)

    def _row_precisions(self) -> np.ndarray:
        """(N, w1, w1) Omega_e^-1 of each (sorted) row's cluster."""
        return self.cluster_cov.precisions[self._cluster]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _least_squares(level: _Level) -> np.ndarray:
        beta = np.zeros(level.coef_mask.shape)
        for c in range(level.width):
            cols = level.coef_mask[:, c]
            beta[cols, c] = np.linalg.lstsq(level.x[:, cols], level.working[:, c], rcond=None)[0]
        return beta

    def _random_part(self, u: np.ndarray) -> np.ndarray:
        """(N, w1) contribution (I ⊗ z_ij') u_j of random coefficients u (J, d1), sorted
        rows, in the scratch buffer (valid until the next use of the buffer)."""
        out = self._scratch1
        if self.q == 1:
            np.take(u, self._cluster, axis=0, out=out)
            if not self._z_is_ones:
                out *= self.z
            return out
        u = u.reshape(self.n_clusters, self.w1, self.q)[self._cluster]
        return np.einsum("na,nra->nr", self.z, u, out=out)

    def _fill_masked_level1(self) -> None:
        """Write the imputed level-1 cells into the working values.  Between iterations
        they live only in the kept residuals: no step reads them as values (latent
        updates read observed categories' cells), so this runs only for output."""
        mean = self.level1.x @ self.beta1 + self._random_part(self.u)
        self._imputer1.fill(self.level1.working, mean, self._resid1)

    def _resid1_exact(self) -> np.ndarray:
        """W1 - X1 B1 - Z u computed afresh (the sampler keeps it updated instead)."""
        self._fill_masked_level1()
        return self.level1.working - self.level1.x @ self.beta1 - self._random_part(self.u)

    def _level2_residuals(self) -> np.ndarray:
        return self.level2.working - self.level2.x @ self.beta2

    def _split_omega_u(self):
        d1 = self.d1
        o = self.omega_u
        return o[:d1, :d1], o[:d1, d1:], o[d1:, d1:]

    # ------------------------------------------------------------------ Gibbs steps
    def _update_latents(self, level: _Level, values: np.ndarray, resid: np.ndarray,
                        cov: np.ndarray, offset: int, adapt: bool) -> None:
        """Step 1: redraw latent working values behind observed responses, one working
        column at a time from its conditional given the rest of the row (`resid` are the
        values' residuals from their means, updated along)."""
        if not level.latent_blocks:
            return
        cond = ColumnConditional(values, resid, cov)
        for rtype, cols, r in level.latent_blocks:
            columns = list(range(offset + cols.start, offset + cols.stop))
            rtype.update_observed(cond, columns, level.values[:, r], self.rng, adapt)

    def _impute_level1(self, adapt: bool) -> None:
        if self.w1 == 0:
            return
        if self.cluster_cov is not None:
            self._imputer1.draw(self._resid1, self.cluster_cov.omegas, self.rng, groups=self._cluster)
            return
        self._update_latents(self.level1, self.level1.working, self._resid1, self.omega_e, 0, adapt)
        self._imputer1.draw(self._resid1, self.omega_e, self.rng)

    def _impute_level2(self, adapt: bool) -> None:
        if self.w2 == 0:
            return
        mean = np.hstack([np.zeros((self.n_clusters, self.d1)), self.level2.x @ self.beta2])
        joint = np.hstack([self.u, self.level2.working])
        resid = joint - mean
        self._update_latents(self.level2, joint, resid, self.omega_u, self.d1, adapt)
        self._imputer2.draw(resid, self.omega_u, self.rng)
        self._imputer2.fill(joint, mean, resid)
        self.level2.working[:] = joint[:, self.d1:]

    def _draw_beta1(self) -> None:
        if self.w1 == 0:
            return
        x = self.level1.x
        if self.cluster_cov is None:
            # X'W (W1 - Z u) = X'W r + X'WX B1, r the current residuals
            cross = x.T @ self.level1.weighted(self._resid1) + self.level1.gram @ self.beta1
            beta1 = _draw_coefficients(self.level1.gram, cross, inv_pd(self.omega_e),
                                       self.level1.coef_mask, self.rng)
        else:   # sum over clusters of Omega_j^-1 ⊗ X_j'WX_j and X_j'W R_j Omega_j^-1
            resid = self._resid1 + x @ self.beta1                                 # W1 - Z u
            prec = self.cluster_cov.precisions
            k = self.level1.x.shape[1]
            full = np.einsum("jrs,jab->rasb", prec, self._gram_by_cluster).reshape(
                self.w1 * k, self.w1 * k)
            rq = np.einsum("nr,nrs->ns", resid, self._row_precisions())
            linear = x.T @ self.level1.weighted(rq)
            beta1 = _draw_coefficients_from_system(full, linear, self.level1.coef_mask, self.rng)
        self._resid1 -= np.matmul(x, beta1 - self.beta1, out=self._scratch1)
        self.beta1 = beta1

    def _draw_beta2(self) -> None:
        """B2 given u: v_j | u_j ~ N(H u_j, S) with H = O_vu O_uu^-1, S = O_vv - H O_uv."""
        if self.w2 == 0:
            return
        o_uu, o_uv, o_vv = self._split_omega_u()
        target = self.level2.working
        cond_cov = o_vv
        if self.d1 and not self.jomo_compatible:
            h = np.linalg.solve(o_uu, o_uv).T        # (w2, d1)
            target = target - self.u @ h.T
            cond_cov = symmetrize(o_vv - h @ o_uv)
        cross = self.level2.x.T @ self.level2.weighted(target)
        self.beta2 = _draw_coefficients(self.level2.gram, cross, inv_pd(cond_cov),
                                        self.level2.coef_mask, self.rng)

    def _draw_random_effects(self) -> None:
        """u_j | rest for all clusters at once: prior u_j | v_j ~ N(K v_j, T) times the
        level-1 likelihood, precision T^-1 + Omega_e^-1 ⊗ Z_j'Z_j."""
        if self.d1 == 0:
            return
        o_uu, o_uv, o_vv = self._split_omega_u()
        if self.w2:
            v = self._level2_residuals()
            k = np.linalg.solve(o_vv, o_uv.T).T      # (d1, w2)
            prior_cov = symmetrize(o_uu - k @ o_uv.T)
            prior_prec = inv_pd(prior_cov)
            linear = (v @ k.T) @ prior_prec
        else:
            prior_prec = inv_pd(o_uu)
            linear = np.zeros((self.n_clusters, self.d1))
        # the level-1 data enter through S_j = sum_i w_i (W1_i - X_i B1) z_i' (w1, q), as
        # Omega_e^-1 S_j; with W1 - X B1 = r + Z u that is the cluster sum over the
        # residuals r plus U_j Z_j'WZ_j (U_j the (w1, q) layout of u_j).  Omega_e (or the
        # cluster's Omega_e,j) is constant within a cluster, so it multiplies the sums.
        weighted = self._resid1 if self._w_unit is None else self._resid1 * self._w_unit[:, None]
        if self._z_is_ones:
            sums = self._cluster_sums(weighted)[:, :, None]
        elif self.q == 1:
            sums = self._cluster_sums(weighted * self.z)[:, :, None]
        else:
            sums = self._cluster_sums(weighted[:, :, None] * self.z[:, None, :])
        u_layout = self.u.reshape(self.n_clusters, self.w1, self.q)
        sums += np.einsum("jrb,jba->jra", u_layout, self._zz)
        prec_e = inv_pd(self.omega_e) if self.cluster_cov is None else self.cluster_cov.precisions
        per_cluster = "jrs" if prec_e.ndim == 3 else "rs"             # Omega_e,j^-1 or Omega_e^-1
        linear = linear + np.einsum(f"{per_cluster},jra->jsa", prec_e, sums).reshape(
            self.n_clusters, self.d1)
        if self.q == 1 and prec_e.ndim == 2:
            u = draw_normal_two_precisions(prior_prec, prec_e, self._zz[:, 0, 0], linear, self.rng)
        else:   # precision T^-1 + Omega_e^-1 ⊗ Z_j'WZ_j, cluster by cluster
            data_prec = np.einsum(f"{per_cluster},jab->jrasb", prec_e, self._zz).reshape(
                self.n_clusters, self.d1, self.d1)
            u = draw_normal_from_precision_batched(prior_prec + data_prec, linear, self.rng)
        self._resid1 -= self._random_part(u - self.u)
        self.u = u

    def _draw_omega_u(self, adapt: bool) -> None:
        if self.dim_u == 0:
            return
        joint = np.hstack([self.u, self._level2_residuals()])
        ss = joint.T @ self.level2.weighted(joint)
        self.omega_u = self.cov_u.draw(self.omega_u, ss, self.level2.total_weight, self.rng, adapt)

    def _draw_omega_e(self, adapt: bool) -> None:
        if self.w1 == 0:
            return
        resid = self._resid1
        if self.cluster_cov is None:
            ss = resid.T @ self.level1.weighted(resid)
            self.omega_e = self.cov_e.draw(self.omega_e, ss, self.level1.total_weight, self.rng, adapt)
            return
        weighted = resid if self._w_unit is None else resid * self._w_unit[:, None]
        ss = self._cluster_sums(resid[:, :, None] * weighted[:, None, :])
        self.cluster_cov.draw(ss, self._cluster_sizes, self.rng, adapt)
        # reported level-1 covariance: the average of the clusters' matrices
        self.omega_e = self.cluster_cov.omegas.mean(axis=0)

    def step(self, adapt: bool = False) -> None:
        """One Gibbs iteration (see the module docstring for the order).  ``adapt`` lets
        Metropolis-Hastings steps tune their proposals (burn-in only)."""
        self._impute_level1(adapt)
        self._impute_level2(adapt)
        self._draw_beta1()
        self._draw_beta2()
        self._draw_random_effects()
        self._draw_omega_u(adapt)
        self._draw_omega_e(adapt)

    # ------------------------------------------------------------------ output
    def type_parameters(self) -> dict[str, np.ndarray]:
        """Current values of the parameters owned by response types (thresholds ...)."""
        out = {f"level1.{k}": v for k, v in self.level1.parameters().items()}
        out.update({f"level2.{k}": v for k, v in self.level2.parameters().items()})
        if self.cluster_cov is not None:
            out["level1.cluster_df"] = np.array([self.cluster_cov.a])
        return out

    def current_values(self, shifted: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Completed response matrices of both levels, in the caller's row order, with
        the MNAR shift of :class:`~.model.LevelData` applied unless ``shifted`` is False."""
        self._fill_masked_level1()
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
            if not adapt and self.cluster_cov is not None:
                if self._cluster_sum is None:
                    self._cluster_sum = np.zeros_like(self.cluster_cov.omegas)
                self._cluster_sum += self.cluster_cov.omegas
                self._cluster_count += 1
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
        extra = {}
        if self._cluster_sum is not None:   # posterior means of Omega_e,j, clusters 0..J-1
            extra["omega_e_clusters"] = self._cluster_sum / self._cluster_count
        return SamplerResult(list(self._imputations), self.chain, self._missing1, self._missing2,
                             self.iterations_done, extra)

    def run(self, burnin: int, between: int, m: int,
            progress: ProgressCallback | None = None) -> SamplerResult:
        """Run `burnin` iterations, then keep one completed data set every `between`
        iterations, `m` in all (jomo's nburn / nbetween / nimp).

        ``progress(iterations_done, iterations_total, imputations_done)`` is called after
        every iteration.
        """
        if burnin < 0 or between < 1 or m < 1:
            raise ValueError("need burnin >= 0, between >= 1 and m >= 1")
        total = burnin + between * m

        def offset(by):
            if progress is None:
                return None
            return lambda done, _, kept: progress(by + done, total, kept)
        self.warm_up(burnin, offset(0))
        self.keep(between, m, offset(burnin))
        return self.result()


def run_sampler(data: ModelData, burnin: int, between: int, m: int,
                seed: int | np.random.SeedSequence | None = None,
                progress: ProgressCallback | None = None,
                jomo_compatible: bool = False) -> SamplerResult:
    """Convenience wrapper: build a sampler with a seeded generator and run it."""
    rng = np.random.default_rng(seed)
    return GibbsSampler(data, rng, jomo_compatible).run(burnin, between, m, progress=progress)
