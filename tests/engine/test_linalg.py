"""The distributional building blocks, checked against scipy and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mlimpute.engine.linalg import (conditional_normal, draw_inverse_wishart, draw_normal_from_precision,
                                    draw_normal_from_precision_batched, draw_normal_two_precisions)
from mlimpute.engine.imputer import PatternImputer as _PatternImputer
from mlimpute.engine.steps import draw_coefficients as _draw_coefficients

RNG = np.random.default_rng(2024)
COV = np.array([[2.0, 0.6, 0.3], [0.6, 1.0, -0.2], [0.3, -0.2, 1.5]])


def _assert_moments(draws, mean, cov, n_sd=5):
    """Sample mean and covariance of iid draws match, within n_sd standard errors."""
    n = len(draws)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < n_sd * se_mean)
    sd = np.sqrt(np.diag(cov))
    se_cov = np.sqrt((cov ** 2 + np.outer(sd ** 2, sd ** 2)) / n)   # Var of a sample covariance
    assert np.all(np.abs(np.cov(draws.T) - cov) < n_sd * se_cov)


def test_inverse_wishart_matches_scipy_and_closed_form_moments():
    scale, df, d = COV * 20, 30.0, 3
    ours = np.array([draw_inverse_wishart(scale, df, RNG) for _ in range(20000)])
    theirs = stats.invwishart(df=df, scale=scale).rvs(20000, random_state=1)
    expected_mean = scale / (df - d - 1)
    diag = np.diag(scale)
    expected_var = ((df - d + 1) * scale ** 2 + (df - d - 1) * np.outer(diag, diag)) / (
        (df - d) * (df - d - 1) ** 2 * (df - d - 3))
    for draws in (ours, theirs):
        se = draws.std(axis=0) / np.sqrt(len(draws))
        assert np.all(np.abs(draws.mean(axis=0) - expected_mean) < 5 * se)
        assert np.allclose(draws.var(axis=0), expected_var, rtol=0.08)


def test_normal_from_precision_single_and_batched():
    precision = np.linalg.inv(COV)
    linear = np.array([1.0, -2.0, 0.5])
    mean = COV @ linear
    single = np.array([draw_normal_from_precision(precision, linear, RNG) for _ in range(20000)])
    _assert_moments(single, mean, COV)
    batched = draw_normal_from_precision_batched(np.broadcast_to(precision, (20000, 3, 3)),
                                                 np.broadcast_to(linear, (20000, 3)).copy(), RNG)
    _assert_moments(batched, mean, COV)


@pytest.mark.parametrize("scale", [0.0, 1.0, 25.0])
def test_two_precision_draw_equals_the_general_one(scale):
    prior = np.linalg.inv(COV)
    data = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.4], [0.0, 0.4, 0.7]])
    linear = np.array([0.2, 1.0, -1.0])
    precision = prior + scale * data
    cov = np.linalg.inv(precision)
    n = 20000
    draws = draw_normal_two_precisions(prior, data, np.full(n, scale), np.tile(linear, (n, 1)), RNG)
    _assert_moments(draws, cov @ linear, cov)


@pytest.mark.parametrize("order", ["C", "F"])
def test_pattern_imputer_draws_from_the_conditional_normal(order):
    """Also on a Fortran-ordered array, where the fast flat write-back does not apply."""
    n = 30000
    mean = np.tile([1.0, -1.0, 0.5], (n, 1))
    values = np.asarray(RNG.multivariate_normal(mean[0], COV, size=n), order=order)
    mask = np.zeros((n, 3), bool)
    mask[: n // 2, 1] = True                  # pattern A: column 1 missing
    mask[n // 2:, [0, 2]] = True              # pattern B: columns 0 and 2 missing
    fixed = values.copy()
    assert values.flags.c_contiguous == (order == "C")
    resid = np.asarray(values - mean, order=order)
    imputer = _PatternImputer(mask)
    imputer.draw(resid, COV, RNG)
    imputer.fill(values, mean, resid)
    assert np.array_equal(values[~mask], fixed[~mask])            # observed cells untouched
    assert not np.any(values[mask] == fixed[mask])                # masked cells redrawn
    np.testing.assert_allclose(resid, values - mean, atol=1e-12)  # residuals kept in step
    for rows, missing in ((slice(0, n // 2), np.array([False, True, False])),
                          (slice(n // 2, n), np.array([True, False, True]))):
        coef, resid_cov = conditional_normal(COV, missing)
        predicted = mean[rows][:, missing] + (fixed[rows][:, ~missing] - mean[rows][:, ~missing]) @ coef
        residual = values[rows][:, missing] - predicted
        _assert_moments(residual, np.zeros(missing.sum()), resid_cov)


def test_seemingly_unrelated_regression_draw_matches_gls():
    """With per-response covariates the coefficient draw centres on the GLS estimate."""
    n = 400
    x = np.column_stack([np.ones(n), RNG.normal(size=n), RNG.normal(size=n)])
    mask = np.array([[True, True], [True, False], [False, True]])
    cov = np.array([[1.0, 0.7], [0.7, 1.0]])
    y = RNG.multivariate_normal([0, 0], cov, size=n) + x @ np.where(mask, 0.5, 0.0)
    q = np.linalg.inv(cov)
    # GLS by brute force: stack the two equations with their own design matrices
    blocks = [x[:, mask[:, r]] for r in range(2)]
    design = np.zeros((2 * n, mask.sum()))
    design[:n, :2] = blocks[0]
    design[n:, 2:] = blocks[1]
    omega_inv = np.kron(q, np.eye(n))
    stacked_y = np.concatenate([y[:, 0], y[:, 1]])
    precision = design.T @ omega_inv @ design
    gls = np.linalg.solve(precision, design.T @ omega_inv @ stacked_y)
    # free coefficients in row-major order: (cons,y1) (cons,y2) (x1,y1) (x2,y2)
    draws = np.array([_draw_coefficients(x.T @ x, x.T @ y, q, mask, RNG)[mask]
                      for _ in range(8000)])
    expected = np.array([gls[0], gls[2], gls[1], gls[3]])
    se = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - expected) < 5 * se)
    expected_sd = np.sqrt(np.diag(np.linalg.inv(precision)))[[0, 2, 1, 3]]
    assert np.allclose(draws.std(axis=0), expected_sd, rtol=0.05)


@pytest.mark.parametrize("mean, sd, lower, upper", [
    (0.3, 1.2, -np.inf, 0.0), (0.3, 1.2, 0.0, np.inf), (-2.0, 0.5, 1.0, np.inf),
    (5.0, 1.0, -np.inf, -1.0), (0.0, 1.0, -1.0, 2.0), (0.0, 1.0, 40.0, 41.0),
    (0.0, 1.0, -60.0, -59.5), (0.0, 1.0, 3.0, 3.001),
])
def test_truncated_normal_matches_scipy(mean, sd, lower, upper):
    from mlimpute.engine.truncated import truncated_normal
    n = 50000
    draws = truncated_normal(np.full(n, mean), sd, np.full(n, lower), np.full(n, upper), RNG)
    ref = stats.truncnorm((lower - mean) / sd, (upper - mean) / sd, loc=mean, scale=sd)
    assert draws.min() >= lower and draws.max() <= upper
    assert abs(draws.mean() - ref.mean()) < 5 * ref.std() / np.sqrt(n)
    assert abs(draws.std() / ref.std() - 1) < 0.03
    assert stats.kstest(draws, ref.cdf).pvalue > 1e-4


def test_truncated_normal_mixes_methods_exactly():
    """One call holding intervals for both methods: one-sided ones with at least half
    the mass (rejection, some falling back to the inverse CDF after REJECTION_ROUNDS),
    tails and two-sided ones (inverse CDF); each group must match scipy in place."""
    from mlimpute.engine.truncated import truncated_normal
    cases = [(0.0, 1.0, -np.inf, 0.05), (0.2, 0.7, -1.0, np.inf), (1.5, 1.0, 0.0, np.inf),
             (0.0, 1.0, 1.5, np.inf), (0.0, 2.0, -0.5, 0.5), (-1.0, 1.0, -np.inf, -3.0)]
    n = 20000
    mean, sd, lower, upper = (np.repeat([c[i] for c in cases], n) for i in range(4))
    order = RNG.permutation(len(mean))                 # interleave the groups
    draws = np.empty(len(mean))
    draws[order] = truncated_normal(mean[order], sd[order], lower[order], upper[order], RNG)
    for g, (m, s, lo, hi) in enumerate(cases):
        group = draws[g * n:(g + 1) * n]
        ref = stats.truncnorm((lo - m) / s, (hi - m) / s, loc=m, scale=s)
        assert group.min() >= lo and group.max() <= hi
        assert stats.kstest(group, ref.cdf).pvalue > 1e-4, (m, s, lo, hi)


def test_one_sided_truncated_normal_matches_scipy():
    """Above and below bounds interleaved in one call, including far tails."""
    from mlimpute.engine.truncated import truncated_normal_one_sided
    cases = [(0.5, 0.0, True), (0.5, 0.0, False), (-1.0, 2.5, True), (0.0, -9.0, False),
             (1.0, 0.9, False)]
    sd, n = 0.8, 20000
    mean, bound, above = (np.repeat([c[i] for c in cases], n) for i in range(3))
    order = RNG.permutation(len(mean))
    draws = np.empty(len(mean))
    draws[order] = truncated_normal_one_sided(mean[order], sd, bound[order], above[order].astype(bool), RNG)
    for g, (m, b, up) in enumerate(cases):
        group = draws[g * n:(g + 1) * n]
        lo, hi = (b, np.inf) if up else (-np.inf, b)
        assert group.min() >= lo and group.max() <= hi
        ref = stats.truncnorm((lo - m) / sd, (hi - m) / sd, loc=m, scale=sd)
        assert stats.kstest(group, ref.cdf).pvalue > 1e-4, (m, b, up)


def test_lapack_helpers_equal_scipy_and_numpy():
    from scipy import linalg as sla
    from mlimpute.engine.linalg import inv_pd, solve_triangular
    rng = np.random.default_rng(3)
    for d in (1, 3, 7):
        a = rng.normal(size=(d, d))
        pd_matrix = a @ a.T + d * np.eye(d)
        chol = np.linalg.cholesky(pd_matrix)
        for b in (rng.normal(size=d), rng.normal(size=(d, 4))):
            np.testing.assert_allclose(solve_triangular(chol, b), sla.solve_triangular(chol, b, lower=True),
                                       rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(solve_triangular(chol, b, transpose=True),
                                       sla.solve_triangular(chol.T, b, lower=False), rtol=1e-12, atol=1e-14)
        inverse = inv_pd(pd_matrix)
        np.testing.assert_allclose(inverse, np.linalg.inv(pd_matrix), rtol=1e-10, atol=1e-14)
        assert np.array_equal(inverse, inverse.T)
    with pytest.raises(np.linalg.LinAlgError):
        inv_pd(-np.eye(2))
    assert inv_pd(np.zeros((0, 0))).shape == (0, 0)



def test_batched_inverse_and_cholesky_equal_numpys():
    """The closed forms for 1 x 1 and 2 x 2 stacks (and the general path) equal numpy's
    batched inverse and Cholesky factor, ill-conditioned matrices included."""
    from mlimpute.engine.linalg import cholesky_batched, inv_pd_batched
    rng = np.random.default_rng(4)
    for d in (1, 2, 3):
        a = rng.normal(size=(200, d, d))
        stack = a @ np.swapaxes(a, 1, 2) + 1e-6 * np.eye(d)
        np.testing.assert_allclose(inv_pd_batched(stack), np.linalg.inv(stack), rtol=1e-8)
        np.testing.assert_allclose(cholesky_batched(stack), np.linalg.cholesky(stack), rtol=1e-8,
                                   atol=1e-12)


def test_one_dimensional_inverse_wishart_is_scipys_inverse_gamma():
    """IW(df, s) in one dimension is inverse-gamma(df / 2, s / 2): a KS test against
    scipy's, 20,000 draws."""
    draws = np.array([draw_inverse_wishart(np.array([[3.0]]), 9.0, RNG)[0, 0] for _ in range(20000)])
    assert stats.kstest(draws, stats.invgamma(4.5, scale=1.5).cdf).pvalue > 1e-3
