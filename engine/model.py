"""The numeric description of an imputation model, as the sampler sees it.

The bridge turns a user's spec and data frame into a :class:`ModelData`: plain arrays,
no column names, no file formats.  Level 1 has one row per unit, level 2 one row per
cluster; cluster codes are 0..J-1.  Responses hold NaN where a value is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError


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
class Classification:
    """One classification of the units (classes, schools, neighbourhoods ...).

    codes : (N,) int code of the unit each level-1 row belongs to, 0..J-1, every code used.
    level : the responses that live at this classification (J rows, one value per unit:
        constant within it) and their covariates.
    z : (N, q) covariates with random coefficients of this classification for every
        level-1 response (a column of ones = random intercepts).
    weights : optional (J,) sampling weights of its units, see :func:`scaled_weights`.
    parent : index (in ``ModelData.classifications``) of the classification this one is
        nested in (each of its units inside exactly one unit of the parent), or None.
        Parents come later in the list (innermost first).  Responses of this
        classification get random intercepts from every classification above it.
    """

    codes: np.ndarray
    level: LevelData
    z: np.ndarray
    weights: np.ndarray | None = None
    parent: int | None = None

    @property
    def n_units(self) -> int:
        return self.level.n_rows


@dataclass
class ModelData:
    """Everything the sampler needs: the level-1 (unit) responses, the classifications
    with their own responses, and the priors.

    weights1 : optional (N,) level-1 sampling weights, see :func:`scaled_weights`.
    cluster_covariance : give every unit of the (one) classification its own level-1
        covariance matrix (jomo's ``meth = "random"``); continuous level-1 responses only.
    block_fixed_random : a sampler choice, not a model one: draw the level-1 fixed effects
        and the first classification's random effects jointly (:class:`~.steps.
        JointFixedRandom1`), which mixes far better at high intraclass correlations;
        unweighted models with a common level-1 covariance.
    collapse_missing : with ``block_fixed_random``, where level-1 cells are missing and
        there is no model of interest, draw B1, u and the missing cells jointly given the
        observed cells (:class:`~.collapsed.ObservedDataFixedRandom1`), which removes the
        data augmentation's autocorrelation from the fixed and random effects; False
        keeps the draw given the completed data (for comparisons).

    The two-level model is one classification; ``level2``, ``cluster``, ``z``,
    ``weights2`` and ``n_clusters`` name the first one.
    """

    level1: LevelData
    classifications: list[Classification]
    priors: Priors = field(default_factory=Priors)
    weights1: np.ndarray | None = None
    cluster_covariance: bool = False
    block_fixed_random: bool = False
    #: the model of interest as part of the imputation model (:mod:`.substantive`), or None
    substantive: object = None
    collapse_missing: bool = True

    def __post_init__(self):
        n = self.level1.n_rows
        if not self.classifications:
            raise ValueError("the model needs at least one classification")
        for c, cls in enumerate(self.classifications):
            cls.codes = np.asarray(cls.codes)
            if not np.issubdtype(cls.codes.dtype, np.integer):
                raise ValueError("cluster codes must be integers 0..J-1")
            if cls.codes.shape != (n,):
                raise ValueError("one cluster code per level-1 row is needed")
            cls.z = np.asarray(cls.z, dtype=float)
            if cls.z.ndim != 2 or cls.z.shape[0] != n:
                raise ValueError("z must have one row per level-1 row")
            if not np.isfinite(cls.z).all():
                raise ValueError("random-coefficient covariates must be fully observed")
            counts = np.bincount(cls.codes, minlength=cls.n_units)
            if len(counts) != cls.n_units or (counts == 0).any():
                raise ValueError("cluster codes must be exactly 0..J-1 with J = rows of its level")
            cls.weights = _checked_weights(cls.weights, cls.n_units, f"weights of classification {c}")
            if cls.parent is not None:
                if not isinstance(cls.parent, int) or not c < cls.parent < len(self.classifications):
                    raise ValueError(f"classification {c}: parent must be a later classification")
                parent_codes(cls.codes, self.classifications[cls.parent].codes, cls.n_units)
        self.weights1 = _checked_weights(self.weights1, n, "weights1")
        if self.weights1 is not None:
            sums = np.bincount(self.cluster, weights=self.weights1, minlength=self.n_clusters)
            if (sums <= 0).any():
                raise ValueError("every cluster needs a positive level-1 weight")
        if self.cluster_covariance and len(self.classifications) > 1:
            raise ValueError("a cluster-specific level-1 covariance needs a single classification")
        if self.block_fixed_random and (self.cluster_covariance or self.weights1 is not None
                                        or any(c.weights is not None for c in self.classifications)):
            raise ValueError("the joint draw of fixed and random effects needs an unweighted "
                             "model with one level-1 covariance matrix")
        if self.substantive is not None:
            check_model_of_interest(self)

    # the first classification, by its two-level names
    @property
    def level2(self) -> LevelData:
        return self.classifications[0].level

    @property
    def cluster(self) -> np.ndarray:
        return self.classifications[0].codes

    @property
    def z(self) -> np.ndarray:
        return self.classifications[0].z

    @property
    def weights2(self) -> np.ndarray | None:
        return self.classifications[0].weights

    @property
    def n_clusters(self) -> int:
        return self.classifications[0].n_units

    @property
    def n_missing(self) -> int:
        """Missing response cells of every level: what every imputation stores."""
        return int(np.isnan(self.level1.y).sum()
                   + sum(np.isnan(c.level.y).sum() for c in self.classifications))

    def above(self, c: int) -> list[int]:
        """The classifications classification `c` is nested in, innermost first."""
        out, parent = [], self.classifications[c].parent
        while parent is not None:
            out.append(parent)
            parent = self.classifications[parent].parent
        return out


class NestingError(ValueError):
    """A unit of a classification lies in two units of the one it is declared nested in."""

    def __init__(self, unit: int, parents: tuple[int, int]):
        self.unit, self.parents = unit, parents
        super().__init__(f"unit {unit} lies in units {parents[0]} and {parents[1]} of the "
                         "classification it is nested in")


def parent_codes(codes: np.ndarray, parent: np.ndarray, n_units: int) -> np.ndarray:
    """(J,) the parent unit of each unit, from the rows' codes of both classifications;
    raises :class:`NestingError` when a unit lies in two parent units."""
    out = np.full(n_units, -1)
    out[codes] = parent
    clash = np.flatnonzero(out[codes] != parent)
    if clash.size:
        row = clash[0]
        raise NestingError(int(codes[row]), (int(out[codes[row]]), int(parent[row])))
    return out


def _checked_weights(w, size: int, name: str):
    if w is None:
        return None
    w = np.asarray(w, dtype=float)
    if w.shape != (size,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{name} must be {size} finite non-negative numbers, not all zero")
    return w


def scaled_weights(data: ModelData) -> tuple[np.ndarray | None, list[np.ndarray | None]]:
    """Level-1 weights and each classification's weights as the sampler uses them
    (Pfeffermann et al. 1998; Rabe-Hesketh & Skrondal 2006 for more levels).

    Level-1 weights are scaled within each unit of the first classification to sum to
    its size; a classification's weights within each unit of its parent to sum to the
    number of its units there, or (no parent) to sum to its number of units J.  The
    parameter full conditionals then use each row's contribution times the product of
    its own weight and those of the units it is nested in (pseudo-likelihood); missing
    values are still drawn from their own, unweighted conditional distributions.
    """
    w1 = None
    first = data.classifications[0]
    if data.weights1 is not None:
        sizes = np.bincount(first.codes, minlength=first.n_units)
        sums = np.bincount(first.codes, weights=data.weights1, minlength=first.n_units)
        w1 = data.weights1 * (sizes / sums)[first.codes]
    out = []
    for cls in data.classifications:
        w = cls.weights
        if w is not None:
            if cls.parent is None:
                w = w * (cls.n_units / w.sum())
            else:
                up = parent_codes(cls.codes, data.classifications[cls.parent].codes, cls.n_units)
                n_up = data.classifications[cls.parent].n_units
                sizes = np.bincount(up, minlength=n_up)
                sums = np.bincount(up, weights=w, minlength=n_up)
                w = w * (sizes / sums)[up]
        out.append(w)
    return w1, out


def check_model_of_interest(data) -> None:
    """Raise ModelError when the model of interest cannot be part of `data`'s model."""
    smc = data.substantive
    if data.cluster_covariance or data.weights1 is not None or any(
            c.weights is not None for c in data.classifications):
        raise ModelError("a model of interest in the imputation model needs an unweighted "
                         "model with one level-1 covariance matrix")
    if len(smc.y) != data.level1.n_rows:
        raise ModelError("the outcome needs one value per level-1 row")
    if not 0 <= smc.classification < len(data.classifications):
        raise ModelError("the model of interest's random effects name no classification")
    levels = [data.level1] + [c.level for c in data.classifications]
    for src in smc.sources:
        if src is None:
            continue
        level, r = src
        if not (0 <= level < len(levels) and 0 <= r < levels[level].n_responses):
            raise ModelError("a variable of the model of interest names no response")
        if level > 0 and levels[level].kinds[r] == "ordinal":
            raise ModelError("an ordinal covariate of the model of interest must be a level-1 "
                             "variable; model a higher-level one as categorical")
    for v, src in enumerate(smc.sources):
        if src is None and np.isnan(smc.values[:, v]).any():
            raise ModelError("a fully observed variable of the model of interest has missing values")
