"""Variance components of a linear mixed model with standard errors, and the scales on
which they are pooled.

Per imputation: the REML estimates (statsmodels) of the random-effects covariance Psi
and the residual variance sigma^2 are re-expressed as theta = (log SDs, Fisher z of the
correlations, log sigma); the observed information is the numerical Hessian of the
REML log-likelihood in theta at the estimates (:func:`reml_loglik`, computed from
per-cluster cross-products, so its cost is linear in rows).  Standard errors of the
variances, correlations and the ICC follow by the delta method.

Pooled: Rubin's rules behave when the estimate is roughly normal, which variances and
correlations are not (they are bounded and skewed).  So each component is pooled on its
own unbounded scale and transformed back (:data:`SCALES`): a variance on the log-SD
scale, a correlation on Fisher's z, the ICC on the logit; the interval is transformed
back end by end, the standard error by the delta method.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: kind of component -> (to the pooling scale, back, derivative of the transform)
SCALES = {
    "var": (lambda v: 0.5 * np.log(v), lambda t: np.exp(2 * t), lambda v: 0.5 / v),
    "cor": (np.arctanh, np.tanh, lambda r: 1.0 / (1.0 - r ** 2)),
    "icc": (lambda p: np.log(p / (1 - p)), lambda t: 1 / (1 + np.exp(-t)),
            lambda p: 1.0 / (p * (1 - p))),
}


def kind_of(term: str) -> str | None:
    """``"var"``, ``"cor"`` or ``"icc"`` for a variance-component row name, else None."""
    head = term.split("(", 1)[0]
    return head if head in SCALES and term.endswith(")") else None


class ClusterCrossProducts:
    """Per-cluster X'X, X'Z, Z'Z, X'y, Z'y, y'y of a linear mixed model: all that the
    REML likelihood needs, whatever Psi and sigma^2 are."""

    def __init__(self, y: np.ndarray, x: np.ndarray, z: np.ndarray, groups: np.ndarray):
        codes, self.n_groups = pd.factorize(groups)[0], len(pd.unique(groups))
        sums = lambda a: np.stack([np.bincount(codes, weights=a[:, k], minlength=self.n_groups)
                                   for k in range(a.shape[1])], axis=1)
        outer = lambda a, b: sums((a[:, :, None] * b[:, None, :]).reshape(len(a), -1)).reshape(
            self.n_groups, a.shape[1], b.shape[1])
        self.n, self.p, self.q = len(y), x.shape[1], z.shape[1]
        self.sizes = np.bincount(codes, minlength=self.n_groups)
        self.xx, self.xz, self.zz = outer(x, x), outer(x, z), outer(z, z)
        self.xy, self.zy = outer(x, y[:, None])[..., 0], outer(z, y[:, None])[..., 0]
        self.yy = np.bincount(codes, weights=y * y, minlength=self.n_groups)


def reml_loglik(stats: ClusterCrossProducts, psi: np.ndarray, sigma2: float) -> float:
    """REML log-likelihood (up to a constant) at random-effects covariance `psi` and
    residual variance `sigma2`, the fixed effects profiled out by GLS:
    -1/2 [sum_j log|V_j| + log|X'V^-1 X| + r'V^-1 r],  V_j = Z_j Psi Z_j' + sigma2 I.
    Uses V_j^-1 = (I - Z_j A_j^-1 Psi Z_j') / sigma2 with A_j = sigma2 I + Psi Z_j'Z_j."""
    a = sigma2 * np.eye(stats.q) + psi @ stats.zz                        # (J, q, q)
    sign, logdet_a = np.linalg.slogdet(a)
    if np.any(sign <= 0) or sigma2 <= 0:
        return -np.inf
    solve = lambda b: np.linalg.solve(a, psi @ b)                         # A^-1 Psi (.)
    zx = np.swapaxes(stats.xz, 1, 2)
    xvx = (stats.xx - stats.xz @ solve(zx)).sum(axis=0) / sigma2
    xvy = (stats.xy - (stats.xz @ solve(stats.zy[..., None]))[..., 0]).sum(axis=0) / sigma2
    yvy = (stats.yy - (stats.zy[:, None, :] @ solve(stats.zy[..., None]))[:, 0, 0]).sum() / sigma2
    sign_x, logdet_x = np.linalg.slogdet(xvx)
    if sign_x <= 0:
        return -np.inf
    logdet_v = stats.n * np.log(sigma2) + (logdet_a - stats.q * np.log(sigma2)).sum()
    quadratic = yvy - xvy @ np.linalg.solve(xvx, xvy)
    return float(-0.5 * (logdet_v + logdet_x + quadratic))


def to_theta(psi: np.ndarray, sigma2: float) -> np.ndarray:
    """(log SDs of Psi, Fisher z of its correlations (lower triangle, by row), log sigma)."""
    sd = np.sqrt(np.diag(psi))
    low = np.tril_indices(len(sd), -1)
    corr = psi[low] / (sd[low[0]] * sd[low[1]])
    return np.concatenate([np.log(sd), np.arctanh(corr), [0.5 * np.log(sigma2)]])


def from_theta(theta: np.ndarray, q: int) -> tuple[np.ndarray, float]:
    sd = np.exp(theta[:q])
    corr = np.eye(q)
    low = np.tril_indices(q, -1)
    corr[low] = np.tanh(theta[q: q + len(low[0])])
    corr[low[1], low[0]] = corr[low]
    return corr * np.outer(sd, sd), float(np.exp(2 * theta[-1]))


def theta_covariance(stats: ClusterCrossProducts, psi: np.ndarray, sigma2: float,
                     step: float = 1e-4) -> np.ndarray:
    """Inverse of the negative Hessian of the REML log-likelihood in theta at the
    estimates (central differences): the asymptotic covariance of theta-hat."""
    theta = to_theta(psi, sigma2)
    k = len(theta)
    f = lambda t: reml_loglik(stats, *from_theta(t, stats.q))
    hessian = np.empty((k, k))
    centre = f(theta)
    for a in range(k):
        for b in range(a, k):
            ea, eb = np.eye(k)[a] * step, np.eye(k)[b] * step
            if a == b:
                value = (f(theta + ea) - 2 * centre + f(theta - ea)) / step ** 2
            else:
                value = (f(theta + ea + eb) - f(theta + ea - eb) - f(theta - ea + eb)
                         + f(theta - ea - eb)) / (4 * step ** 2)
            hessian[a, b] = hessian[b, a] = value
    return np.linalg.inv(-hessian)


def component_table(stats: ClusterCrossProducts, psi: np.ndarray, sigma2: float,
                    group: str, names: list[str]) -> pd.DataFrame:
    """Rows var(group[:slope]), cor(group:a,b), var(residual) and, for a random-intercept
    model, icc(group), each with its REML estimate and delta-method standard error.
    A boundary fit (a variance estimated as 0) has no standard error (NaN)."""
    q = len(names)
    labels = [f"var({group})" if n in ("Group", "Intercept") else f"var({group}:{n})" for n in names]
    sd = np.sqrt(np.diag(psi))
    low = np.tril_indices(q, -1)
    rows = {label: [psi[a, a], np.nan] for a, label in enumerate(labels)}
    for a, b in zip(*low):
        rows[f"cor({group}:{_plain(names[b])},{_plain(names[a])})"] = \
            [psi[a, b] / (sd[a] * sd[b]), np.nan]
    rows["var(residual)"] = [sigma2, np.nan]
    icc = f"icc({group})"
    if q == 1:
        rows[icc] = [psi[0, 0] / (psi[0, 0] + sigma2), np.nan]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "std_error"])
    correlations = table["estimate"].iloc[q: q + len(low[0])].to_numpy()
    if np.any(sd <= 1e-4 * np.sqrt(sigma2)) or np.any(np.abs(correlations) > 1 - 1e-4):
        return table                                  # on the boundary: no information matrix
    try:
        cov = theta_covariance(stats, psi, sigma2)
    except np.linalg.LinAlgError:
        return table
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    for a, label in enumerate(labels):                 # var = exp(2 log sd)
        table.loc[label, "std_error"] = 2 * psi[a, a] * se[a]
    for k, (a, b) in enumerate(zip(*low)):             # r = tanh(z)
        r = table.iloc[q + k]["estimate"]
        table.iloc[q + k, 1] = (1 - r ** 2) * se[q + k]
    table.loc["var(residual)", "std_error"] = 2 * sigma2 * se[-1]
    if q == 1:                                         # logit icc = 2 log sd_u - 2 log sigma
        gradient = np.zeros(len(se))
        gradient[0], gradient[-1] = 2.0, -2.0
        p = table.loc[icc, "estimate"]
        table.loc[icc, "std_error"] = p * (1 - p) * np.sqrt(gradient @ cov @ gradient)
    return table


def _plain(name: str) -> str:
    return "Intercept" if name in ("Group", "Intercept") else name
