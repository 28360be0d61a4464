"""Variance components of a linear mixed model with standard errors, and the scales on
which they are pooled.

Per imputation: the REML estimates (:mod:`mlimpute.analysis.mixed`) of every random term's
covariance Psi_k and of the residual variance sigma^2 are re-expressed as theta =
(per term: log SDs, Fisher z of the correlations; then log sigma); the observed
information is the numerical Hessian of the REML log-likelihood in theta at the
estimates.  Standard errors of the variances, correlations and ICCs follow by the delta
method.

Pooled: Rubin's rules behave when the estimate is roughly normal, which variances and
correlations are not (they are bounded and skewed).  So each component is pooled on its
own unbounded scale and transformed back (:data:`SCALES`): a variance on the log-SD
scale, a correlation on Fisher's z, an ICC on the logit; the interval is transformed
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


def to_theta(covariances: list[np.ndarray], sigma2: float) -> np.ndarray:
    """Per term (log SDs, Fisher z of the correlations, lower triangle by row), then
    log sigma."""
    parts = []
    for psi in covariances:
        sd = np.sqrt(np.diag(psi))
        low = np.tril_indices(len(sd), -1)
        parts += [np.log(sd), np.arctanh(psi[low] / (sd[low[0]] * sd[low[1]]))]
    return np.concatenate(parts + [[0.5 * np.log(sigma2)]])


def from_theta(theta: np.ndarray, sizes: list[int]) -> tuple[list[np.ndarray], float]:
    covariances, start = [], 0
    for r in sizes:
        sd = np.exp(theta[start: start + r])
        low = np.tril_indices(r, -1)
        corr = np.eye(r)
        corr[low] = np.tanh(theta[start + r: start + r + len(low[0])])
        corr[low[1], low[0]] = corr[low]
        covariances.append(corr * np.outer(sd, sd))
        start += r + len(low[0])
    return covariances, float(np.exp(2 * theta[-1]))


def theta_covariance(fit, step: float = 1e-4) -> np.ndarray:
    """Inverse of the negative Hessian of the REML log-likelihood in theta at the
    estimates (central differences): the asymptotic covariance of theta-hat."""
    model = fit.model
    sizes = [t.r for t in model.terms]
    theta = to_theta(fit.covariances, fit.sigma2)
    k = len(theta)

    def loglik(t):
        covariances, sigma2 = from_theta(t, sizes)
        return -0.5 * model.full_deviance(model.theta_of(covariances, sigma2), sigma2)
    hessian = np.empty((k, k))
    centre = loglik(theta)
    for a in range(k):
        for b in range(a, k):
            ea, eb = np.eye(k)[a] * step, np.eye(k)[b] * step
            if a == b:
                value = (loglik(theta + ea) - 2 * centre + loglik(theta - ea)) / step ** 2
            else:
                value = (loglik(theta + ea + eb) - loglik(theta + ea - eb) - loglik(theta - ea + eb)
                         + loglik(theta - ea - eb)) / (4 * step ** 2)
            hessian[a, b] = hessian[b, a] = value
    return np.linalg.inv(-hessian)


def component_table(fit) -> pd.DataFrame:
    """Rows var(group[:slope]) and cor(group:a,b) of every random term, var(residual)
    and, when every term is a random intercept, icc(group) = var(group) / (sum of the
    variances), each with its REML estimate and delta-method standard error.  A
    boundary fit (a variance estimated as 0, a correlation of +-1) has no information
    matrix: its standard errors are NaN."""
    terms = fit.model.terms
    covariances, sigma2 = fit.covariances, fit.sigma2
    rows, where = {}, []              # where: (label, kind, index into theta)
    position = 0
    for term, psi in zip(terms, covariances):
        group, r = term.term.group, term.r
        sd = np.sqrt(np.diag(psi))
        for a, name in enumerate(term.columns):
            label = f"var({group})" if name == "Intercept" else f"var({group}:{name})"
            rows[label] = psi[a, a]
            where.append((label, "var", position + a))
        for k, (a, b) in enumerate(zip(*np.tril_indices(r, -1))):
            label = f"cor({group}:{term.columns[b]},{term.columns[a]})"
            rows[label] = psi[a, b] / (sd[a] * sd[b])
            where.append((label, "cor", position + r + k))
        position += r + r * (r - 1) // 2
    rows["var(residual)"] = sigma2
    where.append(("var(residual)", "var", position))
    intercepts_only = all(t.columns == ["Intercept"] for t in terms)
    total = sum(float(psi[0, 0]) for psi in covariances) + sigma2
    if intercepts_only:
        for term, psi in zip(terms, covariances):
            rows[f"icc({term.term.group})"] = float(psi[0, 0]) / total
    table = pd.DataFrame({"estimate": pd.Series(rows), "std_error": np.nan})

    sds = np.concatenate([np.sqrt(np.diag(psi)) for psi in covariances])
    correlations = [v for label, kind, _ in where if kind == "cor" for v in [rows[label]]]
    if np.any(sds <= 1e-4 * np.sqrt(sigma2)) or np.any(np.abs(correlations) > 1 - 1e-4):
        return table
    try:
        cov = theta_covariance(fit)
    except np.linalg.LinAlgError:
        return table
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    for label, kind, index in where:
        value = rows[label]
        table.loc[label, "std_error"] = se[index] / SCALES[kind][2](value)
    if intercepts_only:         # logit icc_k = log v_k - log(total - v_k), theta = log SDs
        variances = [float(psi[0, 0]) for psi in covariances]
        log_sd_positions = [index for label, kind, index in where if kind == "var"]
        for k, term in enumerate(terms):
            rest = total - variances[k]
            gradient = np.zeros(len(se))
            for l, (position, v) in enumerate(zip(log_sd_positions, variances + [sigma2])):
                gradient[position] = 2.0 if l == k else -2.0 * v / rest
            p = rows[f"icc({term.term.group})"]
            table.loc[f"icc({term.term.group})", "std_error"] = \
                p * (1 - p) * np.sqrt(gradient @ cov @ gradient)
    return table
