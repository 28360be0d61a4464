"""What the sampler keeps for one classification: its units, random effects and covariance.

For classification c (classes, schools, neighbourhoods ...) with J units, unit j carries
one joint normal vector (u_j, e_j) ~ N(0, Omega_c):

* u_j, the random effects of lower levels in unit j: for every level-1 working column r
  its q random coefficients (index r*q + a, jomo's layout), then for every classification
  nested in c (a class inside a school) a random intercept of each of its working
  columns;
* e_j, the residuals of the responses that live at c (constant within its units),
  W_c = X_c B_c + (random intercepts from the classifications above c) + e.

The two-level model has one classification, no nested levels below it, none above it.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .covariance import CovarianceSampler
from .imputer import PatternImputer
from .level import Level
from .linalg import inv_pd, symmetrize


class GroupSums:
    """Sums of rows by group: the product with a sparse (J, N) 0/1 indicator matrix.

    One pass over the rows in any order; several times faster than ``np.add.reduceat``
    over rows sorted by group, which loops over short runs of narrow rows.
    """

    def __init__(self, group: np.ndarray, n_groups: int):
        n = len(group)
        self.group = group
        self.indicator = sparse.csr_matrix((np.ones(n), (group, np.arange(n))),
                                           shape=(n_groups, n))
        # where each group's run starts, when the rows are sorted by group and none is
        # empty (the usual layout): then of_columns sums contiguous runs
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else group
        sorted_runs = n and len(starts) == n_groups and bool(np.all(np.diff(group) >= 0))
        self._starts = starts if sorted_runs else None

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """(J, ...) sums of the rows of `a` (N, ...) by group."""
        sums = self.indicator @ a.reshape(len(a), -1)
        return np.asarray(sums).reshape((self.indicator.shape[0],) + a.shape[1:])

    def of_columns(self, a: np.ndarray) -> np.ndarray:
        """(J, m) sums by group of the columns of `a` (m, N): for data kept one variable
        per row, whose products are many times faster to form than (N, m, m) ones.  Rows
        sorted by group: one ``np.add.reduceat`` along the rows' axis (long contiguous
        runs); otherwise the sparse indicator's product (2-3x faster than a bincount
        over m J offset bins at m = 12)."""
        if self._starts is not None:
            return np.add.reduceat(a, self._starts, axis=1).T
        return np.asarray(self.indicator @ a.T)


class Nested:
    """A classification `inner` nested in this one: where its rows sit, and where its random
    intercepts sit in this classification's u (columns ``span``)."""

    def __init__(self, inner: "ClassificationState", codes: np.ndarray, n_units: int,
                 start: int, weights: np.ndarray | None):
        self.inner = inner
        self.codes = codes                              # (J_inner,) unit of this classification
        self.span = slice(start, start + inner.level.width)
        self.weights = weights                          # (J_inner,) within-unit weights or None
        self.sums = GroupSums(codes, n_units)

    def counts(self, n_units: int) -> np.ndarray:
        """(J,) weighted number of inner units in each unit."""
        w = np.ones(len(self.codes)) if self.weights is None else self.weights
        return np.bincount(self.codes, weights=w, minlength=n_units)


class ClassificationState:
    """Random effects u (J, d), level responses, Omega (dim, dim) of one classification.

    codes : (N,) unit of each (sorted) level-1 row; z : (N, q) sorted like the rows;
    unit_weights : (N,) level-1 row weights within this classification's units (None:
    unweighted), for the draw of u.
    """

    def __init__(self, index: int, codes: np.ndarray, n_units: int, z: np.ndarray,
                 level: Level, n_level1_columns: int, unit_weights: np.ndarray | None):
        self.index = index
        self.codes = codes
        self.n_units = n_units
        self.sums = GroupSums(codes, n_units)
        self.z = z
        self.q = z.shape[1]
        self.z_is_ones = self.q == 1 and bool((z == 1.0).all())
        self.level = level
        self.unit_weights = unit_weights
        zz = z[:, :, None] * z[:, None, :]
        if unit_weights is not None:
            zz = zz * unit_weights[:, None, None]
        self.zz = self.sums(zz)                               # (J, q, q) per-unit Z'WZ
        self.w1 = n_level1_columns
        self.d_units = n_level1_columns * self.q               # level-1 random coefficients
        self.d = self.d_units
        self.nested: list[Nested] = []                          # classifications inside this one
        self.above: list[tuple["ClassificationState", np.ndarray, slice]] = []
        self.cov: CovarianceSampler | None = None
        self.u = self.omega = self.beta = None
        self.imputer: PatternImputer | None = None

    def add_nested(self, inner: "ClassificationState", codes: np.ndarray,
                   weights: np.ndarray | None) -> None:
        """Give the responses of `inner` (nested in this classification; `codes` its units'
        units here) random intercepts in this classification."""
        part = Nested(inner, codes, self.n_units, self.d, weights)
        self.nested.append(part)
        self.d += inner.level.width
        inner.above.append((self, codes, part.span))

    @property
    def width(self) -> int:
        """Working columns of the responses at this classification."""
        return self.level.width

    @property
    def dim(self) -> int:
        return self.d + self.level.width

    def start(self, cov: CovarianceSampler) -> None:
        """Covariance sampler, zero random effects, imputer of the joint (u, e) rows."""
        self.cov = cov
        self.omega = cov.initial()
        self.u = np.zeros((self.n_units, self.d))
        mask = np.hstack([np.zeros((self.n_units, self.d), bool), self.level.impute_mask])
        self.imputer = PatternImputer(mask)

    def split_omega(self):
        """(Omega_uu, Omega_ue, Omega_ee): the blocks of the random effects u and of the
        residuals e of this classification's responses."""
        d, o = self.d, self.omega
        return o[:d, :d], o[:d, d:], o[d:, d:]

    def residuals_given_effects(self) -> tuple[np.ndarray | None, np.ndarray]:
        """(H, S) with e_j | u_j ~ N(H u_j, S) under Omega: H = O_eu O_uu^-1,
        S = O_ee - H O_ue (H None when the classification has no random effects)."""
        o_uu, o_ue, o_ee = self.split_omega()
        if not self.d:
            return None, o_ee
        h = np.linalg.solve(o_uu, o_ue).T                  # (w, d)
        return h, symmetrize(o_ee - h @ o_ue)

    def effects_given_residuals(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(T^-1, m) with u_j | e_j ~ N(m_j, T): m_j = K e_j, K = O_ue O_ee^-1,
        T = O_uu - K O_eu (m None when the classification has no responses)."""
        o_uu, o_ue, o_ee = self.split_omega()
        if not self.width:
            return inv_pd(o_uu), None
        k = np.linalg.solve(o_ee, o_ue.T).T                # (d, w)
        return inv_pd(symmetrize(o_uu - k @ o_ue.T)), self.residuals() @ k.T

    def offsets(self) -> np.ndarray | None:
        """(J, w) random intercepts of this classification's responses from the
        classifications above it (None when there are none)."""
        if not self.above or not self.width:
            return None
        out = np.zeros((self.n_units, self.width))
        for outer, codes, span in self.above:
            out += outer.u[codes, span]
        return out

    def fixed_part(self) -> np.ndarray:
        """X_c B_c plus the random intercepts from above: the mean of W_c given e = 0."""
        mean = self.level.x @ self.beta
        offsets = self.offsets()
        return mean if offsets is None else mean + offsets

    def residuals(self) -> np.ndarray:
        """e = W_c - X_c B_c - (random intercepts from above), (J, w)."""
        return self.level.working - self.fixed_part()

    def random_part_at(self, codes: np.ndarray, z: np.ndarray) -> np.ndarray:
        """(n, w1) contribution of the level-1 random coefficients to some rows, given
        their units `codes` and random-coefficient covariates `z` (n, q)."""
        if self.z_is_ones:
            return self.u[codes, :self.w1]
        u = self.u[codes, :self.d_units].reshape(len(codes), self.w1, self.q)
        return np.einsum("na,nra->nr", z, u)

    def random_part(self, u: np.ndarray, out: np.ndarray) -> np.ndarray:
        """(N, w1) contribution (I ⊗ z_i') u_j of the level-1 random coefficients in u
        (J, d), written into `out` (the sampler's scratch buffer)."""
        u = u[:, :self.d_units] if self.d != self.d_units else u
        if self.q == 1:
            np.take(u, self.codes, axis=0, out=out)
            if not self.z_is_ones:
                out *= self.z
            return out
        u = u.reshape(self.n_units, self.w1, self.q)[self.codes]
        return np.einsum("na,nra->nr", self.z, u, out=out)
