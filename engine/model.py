"""The numeric description of an imputation model, as the sampler sees it.

The bridge turns a user's spec and data frame into a :class:`ModelData`: plain arrays,
no column names, no file formats.  Level 1 has one row per unit, level 2 one row per
cluster; cluster codes are 0..J-1.  Responses hold NaN where a value is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ModelError(ValueError):
    """The model cannot be sampled as given (an improper posterior, a chain too large for
    memory, ...); the message says what to change."""


@dataclass
class LevelData:
    """Responses and covariates of one level.

    y : (n, p) response values, NaN where missing (continuous values as they are;
        later response types hold category codes 0..K-1).
    x : (n, k) fully observed covariates (a column of ones for the intercept).
    coef_mask : (k, p) bool, True where covariate a enters the equation of response r
        (REALCOM's per-response covariates and zero constraints).
    kinds : response type of each column, a key of ``engine.responses.REGISTRY``.
    n_categories : number of categories of each column (None for continuous ones);
        categorical values are coded 0..K-1.
    shift : optional (n, p) MNAR delta adjustment: added to the imputed values of
        missing cells (on the latent scale for binary and ordinal responses) when a
        completed data set is kept; never fed back into the chain, never applied to an
        observed cell.  Categorical responses take no shift.
    """

    y: np.ndarray
    x: np.ndarray
    coef_mask: np.ndarray
    kinds: list[str] = field(default_factory=list)
    n_categories: list[int | None] = field(default_factory=list)
    shift: np.ndarray | None = None

    def __post_init__(self):
        self.y = np.asarray(self.y, dtype=float)
        self.x = np.asarray(self.x, dtype=float)
        self.coef_mask = np.asarray(self.coef_mask, dtype=bool)
        n, p = self.y.shape
        if self.x.shape[0] != n:
            raise ValueError(f"covariates have {self.x.shape[0]} rows, responses {n}")
        if self.coef_mask.shape != (self.x.shape[1], p):
            raise ValueError(f"coef_mask shape {self.coef_mask.shape} != {(self.x.shape[1], p)}")
        if not self.kinds:
            self.kinds = ["continuous"] * p
        if len(self.kinds) != p:
            raise ValueError("one kind per response column is needed")
        if not self.n_categories:
            self.n_categories = [None] * p
        if len(self.n_categories) != p:
            raise ValueError("one n_categories entry per response column is needed")
        if p and not self.coef_mask.any(axis=0).all():
            raise ValueError("every response needs at least one covariate (e.g. the intercept)")
        if not np.isfinite(self.x).all():
            raise ValueError("covariates must be fully observed and finite")
        if self.shift is not None:
            self.shift = np.asarray(self.shift, dtype=float)
            if self.shift.shape != self.y.shape or not np.isfinite(self.shift).all():
                raise ValueError(f"shift must be a finite {self.y.shape} array")

    @property
    def n_rows(self) -> int:
        return self.y.shape[0]

    @property
    def n_responses(self) -> int:
        return self.y.shape[1]

    @classmethod
    def empty(cls, n: int) -> "LevelData":
        """A level without responses (e.g. a model with no level-2 response)."""
        return cls(np.zeros((n, 0)), np.ones((n, 1)), np.zeros((1, 0), dtype=bool), [], [])


@dataclass
class Priors:
    """Inverse-Wishart priors for the level-1 (Omega_e) and level-2 (Omega_u) covariance.

    The posterior is IW(df + n, scale + sum of squares).  Defaults are jomo's:
    identity scales; level-1 df = -1 (jomo draws Omega_e from IW(N - 1, ...), a flat
    improper prior), level-2 df = dimension of Omega_u.  ``None`` means the default.
    """

    level1_df: float | None = None
    level1_scale: np.ndarray | None = None
    level2_df: float | None = None
    level2_scale: np.ndarray | None = None
    cluster_df_start: float | None = None
    cluster_df_prior: float | None = None

    def level1(self, dim: int) -> tuple[float, np.ndarray]:
        df = -1.0 if self.level1_df is None else float(self.level1_df)
        scale = np.eye(dim) if self.level1_scale is None else np.asarray(self.level1_scale, float)
        return df, _checked_scale(scale, dim, "level-1")

    def cluster_df(self, dim: int) -> tuple[float, float]:
        """Cluster-specific level-1 covariance: start of the degrees of freedom a and the
        df of its chi-square prior (jomo's ``a`` = dim + 50 and ``a.prior`` = dim).
        The level-1 scale above is then the scale of B's Wishart prior (jomo's l1cov.prior)."""
        start = dim + 50.0 if self.cluster_df_start is None else float(self.cluster_df_start)
        prior = float(dim) if self.cluster_df_prior is None else float(self.cluster_df_prior)
        if start <= dim - 1:
            raise ValueError(f"priors.cluster_df_start must exceed {dim - 1} (the number of "
                             f"level-1 working columns - 1), got {start:g}")
        if prior <= 0:
            raise ValueError(f"priors.cluster_df_prior must be positive, got {prior:g}")
        return start, prior

    def level2(self, dim: int) -> tuple[float, np.ndarray]:
        df = float(dim) if self.level2_df is None else float(self.level2_df)
        scale = np.eye(dim) if self.level2_scale is None else np.asarray(self.level2_scale, float)
        return df, _checked_scale(scale, dim, "level-2")


def _checked_scale(scale: np.ndarray, dim: int, what: str) -> np.ndarray:
    if scale.shape != (dim, dim):
        raise ValueError(f"{what} prior scale must be {dim}x{dim}, got {scale.shape}")
    if dim and (not np.allclose(scale, scale.T) or np.linalg.eigvalsh(scale).min() <= 0):
        raise ValueError(f"{what} prior scale must be symmetric positive definite")
    return scale


@dataclass
class ModelData:
    """Everything the sampler needs: both levels, the cluster index and the random part.

    cluster : (N,) int cluster code of each level-1 row, 0..J-1, every code used.
    z : (N, q) covariates with cluster-level random coefficients for every level-1
        response (a column of ones = random intercepts).
    weights1, weights2 : optional level-1 (N,) and level-2 (J,) sampling weights, see
        :func:`scaled_weights`.
    cluster_covariance : give every cluster its own level-1 covariance matrix (jomo's
        ``meth = "random"``); continuous level-1 responses only.
    """

    level1: LevelData
    level2: LevelData
    cluster: np.ndarray
    z: np.ndarray
    priors: Priors = field(default_factory=Priors)
    weights1: np.ndarray | None = None
    weights2: np.ndarray | None = None
    cluster_covariance: bool = False

    def __post_init__(self):
        self.cluster = np.asarray(self.cluster)
        if not np.issubdtype(self.cluster.dtype, np.integer):
            raise ValueError("cluster codes must be integers 0..J-1")
        self.z = np.asarray(self.z, dtype=float)
        if self.z.ndim != 2 or self.z.shape[0] != self.level1.n_rows:
            raise ValueError("z must have one row per level-1 row")
        if self.cluster.shape != (self.level1.n_rows,):
            raise ValueError("one cluster code per level-1 row is needed")
        n_clusters = self.level2.n_rows
        counts = np.bincount(self.cluster, minlength=n_clusters)
        if len(counts) != n_clusters or (counts == 0).any():
            raise ValueError("cluster codes must be exactly 0..J-1 with J = rows of level 2")
        if not np.isfinite(self.z).all():
            raise ValueError("random-coefficient covariates must be fully observed")
        for name, size in (("weights1", self.level1.n_rows), ("weights2", n_clusters)):
            w = getattr(self, name)
            if w is None:
                continue
            w = np.asarray(w, dtype=float)
            if w.shape != (size,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"{name} must be {size} finite non-negative numbers, not all zero")
            setattr(self, name, w)
        if self.weights1 is not None:
            sums = np.bincount(self.cluster, weights=self.weights1, minlength=n_clusters)
            if (sums <= 0).any():
                raise ValueError("every cluster needs a positive level-1 weight")

    @property
    def n_clusters(self) -> int:
        return self.level2.n_rows

    @property
    def n_missing(self) -> int:
        """Missing response cells of both levels: what every imputation stores."""
        return int(np.isnan(self.level1.y).sum() + np.isnan(self.level2.y).sum())


def scaled_weights(data: ModelData) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Level-1 and level-2 weights as the sampler uses them (Pfeffermann et al. 1998).

    Level-1 weights are scaled within each cluster to sum to the cluster's size n_j,
    level-2 weights to sum to the number of clusters J.  The parameter full conditionals
    then use each unit's contribution times w_i|j * w_j (pseudo-likelihood); missing
    values are still drawn from their own, unweighted conditional distributions.
    """
    w1 = w2 = None
    if data.weights1 is not None:
        sizes = np.bincount(data.cluster, minlength=data.n_clusters)
        sums = np.bincount(data.cluster, weights=data.weights1, minlength=data.n_clusters)
        w1 = data.weights1 * (sizes / sums)[data.cluster]
    if data.weights2 is not None:
        w2 = data.weights2 * (data.n_clusters / data.weights2.sum())
    return w1, w2
