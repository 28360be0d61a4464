"""Linear mixed models with several random terms (nested or crossed), fitted by REML as
lme4 fits them.

The model is y = X beta + Z b + e with b = Lambda_theta u, u ~ N(0, sigma^2 I) and
e ~ N(0, sigma^2 I) (Bates, Maechler, Bolker & Walker 2015, "Fitting linear mixed-effects
models using lme4", J. Stat. Software 67(1)).  Each random term k (``(1 + x | school)``)
contributes the columns of its expression for every level of its grouping, and a lower
triangular factor T_k (its covariance is sigma^2 T_k T_k'), repeated over the levels in
Lambda.  With A = Lambda'Z'Z Lambda + I, M = X'X - X'Z Lambda A^-1 Lambda'Z'X and
r^2 the penalised residual sum of squares at the conditional estimates,

    -2 REML(theta, sigma) = log|A| + log|M| + (n - p) log(2 pi sigma^2) + r^2 / sigma^2,

profiled over sigma^2 = r^2 / (n - p) for the fit (a bounded quasi-Newton search over
theta, the variances kept non-negative, from lme4's start T_k = I).  A is sparse (a
block per level of a single grouping; for nested and crossed groupings the blocks
couple), and is factorised with a sparse LU (A is symmetric positive definite, so its
log-determinant is the sum of the logs of U's diagonal).

``tests/analysis/test_fit.py`` compares estimates, fixed-effect standard errors (lme4's
sigma^2 M^-1) and variance-component standard errors with lme4 on nested and crossed
designs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import MlimputeError
from ..model.formula import RandomTerm


@dataclass
class _Term:
    """One random term on the data: its design columns, group codes and labels."""

    term: RandomTerm
    design: np.ndarray          # (n, r) columns of the expression
    codes: np.ndarray           # (n,) level of each row, 0..J-1
    n_levels: int
    columns: list[str]          # names of the expression's columns ("Intercept", "x")

    @property
    def r(self) -> int:
        return self.design.shape[1]

    @property
    def n_theta(self) -> int:
        return self.r * (self.r + 1) // 2


class MixedModel:
    """y, X and the random terms of one data set; :meth:`fit` does REML."""

    def __init__(self, y: np.ndarray, x: np.ndarray, terms: list[_Term]):
        self.y, self.x, self.terms = y, x, terms
        self.n, self.p = x.shape
        blocks = []
        for t in terms:      # Z_k: row i, column level * r + a holds design[i, a]
            rows = np.repeat(np.arange(self.n), t.r)
            cols = (t.codes[:, None] * t.r + np.arange(t.r)).reshape(-1)
            blocks.append(sparse.csc_matrix((t.design.reshape(-1), (rows, cols)),
                                            shape=(self.n, t.n_levels * t.r)))
        self.z = sparse.hstack(blocks).tocsc()
        self.q = self.z.shape[1]
        self.ztz = (self.z.T @ self.z).tocsc()
        self.ztx = np.asarray((self.z.T @ x))
        self.zty = np.asarray(self.z.T @ y).reshape(-1)
        self.xtx, self.xty, self.yty = x.T @ x, x.T @ y, float(y @ y)
        if self.p and np.linalg.matrix_rank(x) < self.p:
            raise MlimputeError("the fixed-effects design is rank deficient")
        # the diagonal of each factor is a standard deviation ratio: kept >= 0
        self.on_diagonal = np.concatenate([_diagonal_mask(t.r) for t in terms])

    # ------------------------------------------------------------------ likelihood
    def _lambda(self, theta: np.ndarray) -> sparse.csc_matrix:
        blocks, start = [], 0
        for t in self.terms:
            factor = np.zeros((t.r, t.r))
            factor[np.tril_indices(t.r)] = theta[start: start + t.n_theta]
            start += t.n_theta
            blocks.append(sparse.kron(sparse.identity(t.n_levels), sparse.csc_matrix(factor)))
        return sparse.block_diag(blocks).tocsc()

    def _factor(self, theta: np.ndarray):
        """Lambda, the sparse LU of A = Lambda'Z'Z Lambda + I and log|A| at theta (A is
        positive definite: log|A| is the sum of the logs of U's diagonal)."""
        lam = self._lambda(theta)
        lu = sparse.linalg.splu((lam.T @ self.ztz @ lam + sparse.identity(self.q)).tocsc())
        return lam, lu, float(np.log(np.abs(lu.U.diagonal())).sum())

    def pieces(self, theta: np.ndarray):
        """(log|A|, log|M|, r^2, beta, M) at theta."""
        lam, lu, log_det_a = self._factor(theta)
        b = np.asarray(lam.T @ self.ztx)                       # Lambda'Z'X   (q, p)
        c = np.asarray(lam.T @ self.zty).reshape(-1)           # Lambda'Z'y   (q,)
        a_b, a_c = lu.solve(b), lu.solve(c)
        m = self.xtx - b.T @ a_b
        sign, log_det_m = np.linalg.slogdet(m)
        if sign <= 0:      # X has full rank (checked): theta so extreme that m lost it
            raise _Degenerate
        beta = np.linalg.solve(m, self.xty - b.T @ a_c)
        # r^2 = (y - X beta)' (I - Z Lambda A^-1 Lambda'Z') (y - X beta)
        e_e = self.yty - 2 * beta @ self.xty + beta @ self.xtx @ beta
        g = c - b @ beta
        r2 = float(e_e - g @ lu.solve(g))
        return log_det_a, float(log_det_m), r2, beta, m

    def deviance(self, theta: np.ndarray, reml: bool = True) -> float:
        """REML (or ML) deviance profiled over sigma^2: what the fit minimises (infinite
        where theta is so extreme that the fixed effects' matrix loses its rank in
        floating point, so that the search turns back)."""
        try:
            log_a, log_m, r2, _, _ = self.pieces(theta)
        except _Degenerate:
            return np.inf
        if not reml:
            return log_a + self.n * (1 + np.log(2 * np.pi * r2 / self.n))
        df = self.n - self.p
        return log_a + log_m + df * (1 + np.log(2 * np.pi * r2 / df))

    def full_deviance(self, theta: np.ndarray, sigma2: float) -> float:
        """-2 REML at theta and sigma^2 (not profiled): for the variance components'
        information matrix."""
        log_a, log_m, r2, _, _ = self.pieces(theta)
        return log_a + log_m + (self.n - self.p) * np.log(2 * np.pi * sigma2) + r2 / sigma2

    def loglik_at(self, beta: np.ndarray, covariances: list[np.ndarray], sigma2: float) -> float:
        """Gaussian log-likelihood of y at any parameters (random effects integrated out):
        log|V| = n log sigma^2 + log|A| and e'V^-1 e = (e'e - g'A^-1 g) / sigma^2 with
        e = y - X beta, g = Lambda'Z'e."""
        lam, lu, log_det_a = self._factor(self.theta_of(covariances, sigma2))
        e_e = self.yty - 2 * beta @ self.xty + beta @ self.xtx @ beta
        g = np.asarray(lam.T @ (self.zty - self.ztx @ beta)).reshape(-1)
        quadratic = (e_e - g @ lu.solve(g)) / sigma2
        return float(-0.5 * (self.n * np.log(2 * np.pi * sigma2) + log_det_a + quadratic))

    # ------------------------------------------------------------------ fit
    def fit(self, reml: bool = True) -> "MixedFit":
        """REML (or ML) estimates: a bounded quasi-Newton search over theta, polished by
        Powell's method (lme4 uses a derivative-free search; both stop where the
        deviance no longer falls)."""
        from scipy.optimize import minimize
        objective = lambda theta: self.deviance(theta, reml)
        start = self.on_diagonal.astype(float)
        bounds = [(0.0, None) if diagonal else (None, None) for diagonal in self.on_diagonal]
        with np.errstate(invalid="ignore", over="ignore"):   # inf - inf near a turn-back
            best = minimize(objective, start, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000})
            polish = minimize(objective, best.x, method="Powell", bounds=bounds,
                              options={"xtol": 1e-10, "ftol": 1e-14, "maxiter": 20000})
        theta = polish.x if polish.fun <= best.fun else best.x
        if not np.isfinite(objective(theta)):
            raise MlimputeError("the mixed model did not converge")
        _, _, r2, beta, m = self.pieces(theta)
        sigma2 = r2 / ((self.n - self.p) if reml else self.n)
        return MixedFit(self, theta, beta, sigma2, sigma2 * np.linalg.inv(m),
                        -0.5 * objective(theta))

    def covariances(self, theta: np.ndarray, sigma2: float) -> list[np.ndarray]:
        """Psi_k = sigma^2 T_k T_k' of every term."""
        out, start = [], 0
        for t in self.terms:
            factor = np.zeros((t.r, t.r))
            factor[np.tril_indices(t.r)] = theta[start: start + t.n_theta]
            start += t.n_theta
            out.append(sigma2 * factor @ factor.T)
        return out

    def theta_of(self, covariances: list[np.ndarray], sigma2: float) -> np.ndarray:
        """The relative factors theta of given covariances (their Cholesky factors / sigma)."""
        parts = []
        for psi in covariances:
            psi = np.atleast_2d(psi)
            try:
                factor = np.linalg.cholesky(psi)
            except np.linalg.LinAlgError:     # a variance on the boundary (0): nearly singular
                factor = np.linalg.cholesky(psi + 1e-12 * max(float(np.trace(psi)), 1e-12)
                                            * np.eye(len(psi)))
            parts.append((factor / np.sqrt(sigma2))[np.tril_indices(len(psi))])
        return np.concatenate(parts)


class _Degenerate(ArithmeticError):
    """The fixed effects' matrix is numerically singular at this theta."""


@dataclass
class MixedFit:
    model: MixedModel
    theta: np.ndarray
    beta: np.ndarray
    sigma2: float
    beta_covariance: np.ndarray
    loglik: float               # REML or ML log-likelihood at the estimates

    @property
    def covariances(self) -> list[np.ndarray]:
        return self.model.covariances(self.theta, self.sigma2)


def _diagonal_mask(r: int) -> np.ndarray:
    """Which entries of a packed lower triangle (row by row, numpy's tril order) are on
    the diagonal."""
    rows, cols = np.tril_indices(r)
    return rows == cols


def build_terms(frame: pd.DataFrame, terms: list[RandomTerm]) -> list[_Term]:
    """Design columns and group codes of each random term on `frame` (expressions as
    patsy reads them, names quoted where needed)."""
    import patsy
    built = []
    for term in terms:
        design = patsy.dmatrix(term.expression, frame, return_type="dataframe")
        columns = list(design.columns)
        keys = frame[list(term.factors)].astype(str).agg("\x1f".join, axis=1) \
            if len(term.factors) > 1 else frame[term.factors[0]]
        codes, levels = pd.factorize(keys, sort=True)
        if len(levels) < 2:
            raise MlimputeError(f"grouping '{term.group}' has a single level; a random term "
                                "needs at least 2 groups")
        built.append(_Term(term, design.to_numpy(dtype=float), codes, len(levels), columns))
    return built
