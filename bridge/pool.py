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
from scipy import stats

from .errors import MlimputeError


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
    crit = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame({
        "estimate": qbar, "std_error": se, "df": df, "t": tstat,
        "p_value": 2 * stats.t.sf(np.abs(tstat), df),
        "ci_lower": qbar - crit * se, "ci_upper": qbar + crit * se,
        "riv": riv, "lambda": lam, "fmi": fmi,
    }, index=names)
