"""Rubin's rules: combine per-imputation estimates into one inference.

The single implementation in mlimpute (every fit, test and summary that pools goes
through :func:`rubin`).  It needs only a table of estimates and their squared standard
errors per imputation, so it does not care which model produced them.

For M estimates Q_m with variances U_m:  Qbar = mean Q_m, Ubar = mean U_m,
B = var(Q_m), T = Ubar + (1 + 1/M) B, r = (1 + 1/M) B / Ubar, lambda = (1 + 1/M) B / T,
Rubin's df nu_old = (M - 1) / lambda^2 and, given the complete-data df nu_com, the
Barnard-Rubin (1999) df nu = 1 / (1/nu_old + 1/nu_obs) with
nu_obs = (nu_com + 1) / (nu_com + 3) nu_com (1 - lambda).
Fraction of missing information: (r + 2 / (nu + 3)) / (r + 1) with nu the df used
for inference (Barnard-Rubin when nu_com is given), as mitml::testEstimates and
mice::pool compute it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MlimputeError


def rubin(estimates, variances, df_complete: float | None = None, level: float = 0.95,
          names=None) -> pd.DataFrame:
    """Pool scalar estimands.

    estimates, variances : (M, k) arrays (or DataFrames, whose columns name the estimands).
    df_complete : complete-data degrees of freedom; None (infinite) gives Rubin's df.
    Returns one row per estimand: estimate, std_error, df, t, p_value, ci_lower,
    ci_upper, riv (relative increase in variance), lambda, fmi.
    """
    if isinstance(estimates, pd.DataFrame) and names is None:
        names = list(estimates.columns)
    q = np.atleast_2d(np.asarray(estimates, dtype=float))
    u = np.atleast_2d(np.asarray(variances, dtype=float))
    if q.shape != u.shape:
        raise MlimputeError(f"estimates {q.shape} and variances {u.shape} differ in shape")
    m = q.shape[0]
    if m < 2:
        raise MlimputeError(f"pooling needs at least 2 imputations, got {m}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * b / ubar
        lam = (1 + 1 / m) * b / t
        df_old = np.where(lam > 0, (m - 1) / lam ** 2, np.inf)
        if df_complete is None:
            df = df_old
        else:
            df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
            df = 1 / (1 / df_old + 1 / df_obs)
        fmi = (riv + 2 / (df + 3)) / (riv + 1)
        se = np.sqrt(t)
        tstat = qbar / se
    from scipy import stats          # here, not at import: scipy.stats takes ~0.6 s to load
    crit = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame({
        "estimate": qbar, "std_error": se, "df": df, "t": tstat,
        "p_value": 2 * stats.t.sf(np.abs(tstat), df),
        "ci_lower": qbar - crit * se, "ci_upper": qbar + crit * se,
        "riv": riv, "lambda": lam, "fmi": fmi,
    }, index=names)


def _li_df(k: int, m: int, riv: float) -> float:
    """Denominator df of the D1/D3 F reference (Li, Raghunathan & Rubin 1991)."""
    t = k * (m - 1)
    if t > 4:
        return 4 + (t - 4) * (1 + (1 - 2 / t) / riv) ** 2
    return t * (1 + 1 / k) * (1 + 1 / riv) ** 2 / 2


def _f_test(statistic: float, k: int, df: float, riv: float, method: str) -> pd.Series:
    from scipy import stats
    p_value = float(stats.f.sf(statistic, k, df)) if np.isfinite(statistic) else np.nan
    return pd.Series({"F": statistic, "df1": k, "df2": df, "p_value": p_value, "riv": riv,
                      "method": method})


def wald_d1(estimates, covariances, df_complete: float | None = None, null=None) -> pd.Series:
    """Multi-parameter Wald test of Q = null (default 0) with the D1 statistic
    (Li, Raghunathan & Rubin 1991), pooling the M estimates and covariance matrices.

    estimates (M, k), covariances (M, k, k).  The denominator df is Li et al.'s, or
    Reiter's (2007) small-sample version when the complete-data df is given and
    k (M - 1) >= 4 (below that Reiter's approximation is undefined).
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(covariances, dtype=float)
    m, k = q.shape
    if m < 2:
        raise MlimputeError(f"pooling needs at least 2 imputations, got {m}")
    if u.shape != (m, k, k):
        raise MlimputeError(f"covariances must have shape {(m, k, k)}, got {u.shape}")
    qbar = q.mean(axis=0) - (0.0 if null is None else np.asarray(null, dtype=float))
    ubar = u.mean(axis=0)
    b = np.cov(q.T, ddof=1).reshape(k, k)
    riv = (1 + 1 / m) * np.trace(b @ np.linalg.inv(ubar)) / k
    statistic = float(qbar @ np.linalg.solve((1 + riv) * ubar, qbar) / k)
    t = k * (m - 1)
    if df_complete is not None and t >= 4:
        # Reiter's approximation divides by t - 4: with t = 4 (one coefficient, M = 5) its
        # limit, df = 4, as mitml's .D1 computes it in R's arithmetic (1 / 0 = Inf); below
        # 4 it is undefined (mitml gives NaN) and Li et al.'s df is used instead
        t = np.float64(t)
        a = riv * t / (t - 2)
        vstar = (df_complete + 1) / (df_complete + 3) * df_complete
        c1, c2 = vstar - 2 * (1 + a), vstar - 4 * (1 + a)
        with np.errstate(divide="ignore", invalid="ignore"):
            c0 = np.float64(1.0) / (t - 4)
            z = (1 / c2 + c0 * (a ** 2 * c1 / ((1 + a) ** 2 * c2))
                 + c0 * (8 * a ** 2 * c1 / ((1 + a) * c2 ** 2) + 4 * a ** 2 / ((1 + a) * c2))
                 + c0 * (4 * a ** 2 / (c2 * c1) + 16 * a ** 2 * c1 / c2 ** 3)
                 + c0 * (8 * a ** 2 / c2 ** 2))
            df = float(4 + np.float64(1.0) / z)
    else:
        df = _li_df(k, m, riv)
    return _f_test(statistic, k, df, riv, "D1")


def wald_d2(chi_square, k: int) -> pd.Series:
    """Combine M complete-data chi-square (Wald) statistics with k df into one F test
    (D2, Li, Meng, Raghunathan & Rubin 1991)."""
    d = np.asarray(chi_square, dtype=float)
    m = len(d)
    if m < 2:
        raise MlimputeError(f"pooling needs at least 2 imputations, got {m}")
    riv = (1 + 1 / m) * np.var(np.sqrt(d), ddof=1)
    statistic = (d.mean() / k - (m + 1) / (m - 1) * riv) / (1 + riv)
    df = k ** (-3 / m) * (m - 1) * (1 + 1 / riv) ** 2
    return _f_test(float(statistic), k, float(df), float(riv), "D2")


def wald_statistics(estimates, covariances, null=None) -> np.ndarray:
    """Each imputation's Wald chi-square of Q = null (for :func:`wald_d2`)."""
    q = np.asarray(estimates, dtype=float) - (0.0 if null is None else np.asarray(null, dtype=float))
    u = np.asarray(covariances, dtype=float)
    return np.array([qm @ np.linalg.solve(um, qm) for qm, um in zip(q, u)])


def likelihood_ratio_d3(loglik, loglik_null, loglik_pooled, loglik_null_pooled, k: int) -> pd.Series:
    """Combine likelihood-ratio statistics over imputations (D3, Meng & Rubin 1992).

    loglik / loglik_null: each imputation's maximised log-likelihood of the full and the
    nested null model; the *_pooled ones: each imputation's log-likelihood evaluated at the
    parameters averaged over imputations.  k is the number of restricted parameters.
    """
    ll, ll0 = np.asarray(loglik, float), np.asarray(loglik_null, float)
    llp, ll0p = np.asarray(loglik_pooled, float), np.asarray(loglik_null_pooled, float)
    m = len(ll)
    if m < 2:
        raise MlimputeError(f"pooling needs at least 2 imputations, got {m}")
    d_bar = np.mean(2 * (ll - ll0))
    d_tilde = np.mean(2 * (llp - ll0p))
    riv = (m + 1) / (k * (m - 1)) * (d_bar - d_tilde)
    statistic = d_tilde / (k * (1 + riv))
    return _f_test(float(statistic), k, float(_li_df(k, m, riv)), float(riv), "D3")


def how_many_imputations(fmi, m_pilot: int, cv: float = 0.05, level: float = 0.95) -> int:
    """Imputations needed for replicable standard errors (von Hippel 2020, "How many
    imputations do you need? A two-stage calculation using a quadratic rule",
    Sociological Methods & Research 49(3)).

    The standard error of a pooled estimate varies from one set of M imputations to the
    next with coefficient of variation about gamma / sqrt(2 (M - 1)), gamma the fraction
    of missing information; solving for M gives the quadratic rule
    M = 1 + (gamma / cv)^2 / 2.  Since gamma is itself estimated from a pilot of
    `m_pilot` imputations, the rule takes the upper limit of its `level` confidence
    interval, computed on the logit scale where its standard error is about
    sqrt(2 / m_pilot).  `fmi` may hold several estimands: the largest decides."""
    from scipy.special import ndtri
    values = np.atleast_1d(np.asarray(fmi, dtype=float))
    values = values[np.isfinite(values)]
    if not values.size:
        raise MlimputeError("no fraction of missing information to size M from")
    if m_pilot < 2:
        raise MlimputeError(f"the pilot needs at least 2 imputations, got {m_pilot}")
    if not 0 < cv < 1:
        raise MlimputeError(f"the coefficient of variation must be between 0 and 1, got {cv}")
    gamma = float(np.clip(values.max(), 1e-12, 1 - 1e-12))
    z = ndtri(0.5 + level / 2)
    logit = np.log(gamma / (1 - gamma)) + z * np.sqrt(2.0 / m_pilot)
    upper = 1.0 / (1.0 + np.exp(-logit))
    return int(np.ceil(1 + 0.5 * (upper / cv) ** 2))


def imputations_needed(pooled: pd.DataFrame, m: int, cv: float = 0.05) -> int | None:
    """:func:`how_many_imputations` for a pooled table of `m` imputations (its ``fmi``
    column; components pooled without interval have none); None when no row has one."""
    fmi = pooled["fmi"].dropna()
    return how_many_imputations(fmi, m, cv) if len(fmi) else None
