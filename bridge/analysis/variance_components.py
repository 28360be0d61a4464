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


#: a variance this small relative to the residual variance, or a correlation this close to
#: +-1, is an estimate on the boundary of the parameter space: it has no standard error
BOUNDARY_VARIANCE = 1e-8
BOUNDARY_CORRELATION = 1 - 1e-4


def boundary_terms(table: pd.DataFrame) -> list[str]:
    """The rows of a fit's table (:func:`component_table`'s labels) estimated on the
    boundary: a variance of (numerically) 0, a correlation of +-1."""
    if "var(residual)" not in table.index:
        return []
    residual = float(table.loc["var(residual)", "estimate"])
    found = []
    for label, value in table["estimate"].items():
        label = str(label)
        if label.startswith("var(") and label != "var(residual)" and value <= BOUNDARY_VARIANCE * residual:
            found.append(label)
        elif label.startswith("cor(") and abs(value) > BOUNDARY_CORRELATION:
            found.append(label)
    found += [label for label in map(str, table.index)
              if label.startswith("icc(") and f"var({label[4:-1]})" in found]
    return found


def theta_covariance(fit, step: float = 1e-4, free: list[int] | None = None) -> np.ndarray:
    """Inverse of the negative Hessian of the REML log-likelihood in theta at the
    estimates (central differences): the asymptotic covariance of theta-hat.  With
    `free`, only those parameters vary (the others, on the boundary, are held where they
    are: the fit is then the model without them) and the rows and columns of the rest
    are 0."""
    model = fit.model
    sizes = [t.r for t in model.terms]
    theta = to_theta(fit.covariances, fit.sigma2)
    full = len(theta)
    free = list(range(full)) if free is None else list(free)
    k = len(free)

    def loglik(t):
        covariances, sigma2 = from_theta(t, sizes)
        return -0.5 * model.full_deviance(model.theta_of(covariances, sigma2), sigma2)
    hessian = np.empty((k, k))
    centre = loglik(theta)
    unit = np.eye(full)[free] * step
    for a in range(k):
        for b in range(a, k):
            ea, eb = unit[a], unit[b]
            if a == b:
                value = (loglik(theta + ea) - 2 * centre + loglik(theta - ea)) / step ** 2
            else:
                value = (loglik(theta + ea + eb) - loglik(theta + ea - eb) - loglik(theta - ea + eb)
                         + loglik(theta - ea - eb)) / (4 * step ** 2)
            hessian[a, b] = hessian[b, a] = value
    covariance = np.zeros((full, full))
    covariance[np.ix_(free, free)] = np.linalg.inv(-hessian)
    return covariance


def _held_at_boundary(terms, covariances, sigma2, where, rows) -> set[int]:
    """Theta positions on the boundary: the log-SD of a variance of 0, a correlation of
    +-1, and every correlation of an effect whose variance is 0 (undefined there)."""
    held, position = set(), 0
    for term, psi in zip(terms, covariances):
        r = term.r
        zero = [a for a in range(r) if psi[a, a] <= BOUNDARY_VARIANCE * sigma2]
        held.update(position + a for a in zero)
        for k, (a, b) in enumerate(zip(*np.tril_indices(r, -1))):
            if a in zero or b in zero:
                held.add(position + r + k)
        position += r + r * (r - 1) // 2
    held.update(index for label, kind, index in where
                if kind == "cor" and abs(rows[label]) > BOUNDARY_CORRELATION)
    return held


def component_table(fit) -> pd.DataFrame:
    """Rows var(group[:slope]) and cor(group:a,b) of every random term, var(residual)
    and, when every term is a random intercept, icc(group) = var(group) / (sum of the
    variances), each with its REML estimate and delta-method standard error.  A
    component on the boundary (a variance estimated as 0, a correlation of +-1;
    :func:`boundary_terms`) has no standard error (NaN); the others get theirs from the
    information of the model with it held there (the fit is that model's)."""
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

    held = _held_at_boundary(terms, covariances, sigma2, where, rows)
    free = [index for _, _, index in where if index not in held]
    try:
        cov = theta_covariance(fit, free=free)
    except np.linalg.LinAlgError:
        return table
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    for label, kind, index in where:
        if index not in held:
            table.loc[label, "std_error"] = se[index] / SCALES[kind][2](rows[label])
    if intercepts_only:         # logit icc_k = log v_k - log(total - v_k), theta = log SDs
        variances = [float(psi[0, 0]) for psi in covariances]
        log_sd_positions = [index for label, kind, index in where if kind == "var"]
        for k, term in enumerate(terms):
            if log_sd_positions[k] in held:          # an icc of 0: on the boundary too
                continue
            rest = total - variances[k]
            gradient = np.zeros(len(se))
            for l, (position, v) in enumerate(zip(log_sd_positions, variances + [sigma2])):
                gradient[position] = 2.0 if l == k else -2.0 * v / rest
            p = rows[f"icc({term.term.group})"]
            table.loc[f"icc({term.term.group})", "std_error"] = \
                p * (1 - p) * np.sqrt(gradient @ cov @ gradient)
    return table
