"""The joint draws of fixed and random effects: given the completed data
(engine.steps.JointFixedRandom1) and given the observed cells alone
(engine.collapsed.ObservedDataFixedRandom1).  Their conditionals are the exact
marginals (dense GLS), and their chains have the stationary distribution of the draws
they replace, with far better mixing."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import mlimpute
from mlimpute.engine import GibbsSampler
from mlimpute.engine.convergence import chain_matrix
from mlimpute.engine.diagnostics import ess
from mlimpute.model.simulate import default_truth, simulate


def _sampler(frame, spec, joint: bool, seed: int = 1, collapse: bool = False) -> GibbsSampler:
    model = mlimpute.compile_model(spec, frame)
    data = replace(model.data, block_fixed_random=joint, collapse_missing=collapse)
    return GibbsSampler(data, np.random.default_rng(seed))


@pytest.mark.parametrize("slopes", [[], ["x"]], ids=["intercepts", "random-slope"])
def test_marginal_of_the_fixed_effects_equals_dense_gls(slopes):
    """At any state: precision and linear term of B1 | everything but u equal the
    generalised least squares with V_j = Z_j T Z_j' + I ⊗ Omega_e built densely (the
    prior mean of u_j given the level-2 residual subtracted)."""
    frame, _ = simulate(n_clusters=6, cluster_size=4, n_level1=2, n_level2=1, seed=3)
    spec = replace(mlimpute.propose(frame, "cluster"), random_slopes=slopes)
    s = _sampler(frame, spec, joint=True)
    s.warm_up(5)
    step = next(b for b in s.steps if type(b).__name__ == "JointFixedRandom1")
    precision, linear = step.system(s)
    c = s.classes[0]
    x, z, w, k, q = s.level1.x, c.z, s.w1, s.level1.x.shape[1], c.q
    o_uu, o_uv, o_vv = c.split_omega()
    gain = np.linalg.solve(o_vv, o_uv.T).T
    prior_cov = o_uu - gain @ o_uv.T
    prior_mean = c.residuals() @ gain.T
    values = s.resid1 + x @ s.beta1 + c.random_part(c.u, np.empty_like(s.resid1))
    dense_p, dense_l = np.zeros((w * k, w * k)), np.zeros(w * k)
    for j in range(c.n_units):
        rows = np.flatnonzero(c.codes == j)
        zt, xt = np.zeros((len(rows) * w, w * q)), np.zeros((len(rows) * w, w * k))
        for a, i in enumerate(rows):
            for r in range(w):
                zt[a * w + r, r * q:(r + 1) * q] = z[i]
                xt[a * w + r, r * k:(r + 1) * k] = x[i]
        v_inv = np.linalg.inv(zt @ prior_cov @ zt.T + np.kron(np.eye(len(rows)), s.omega_e))
        dense_p += xt.T @ v_inv @ xt
        dense_l += xt.T @ v_inv @ (values[rows].reshape(-1) - zt @ prior_mean[j])
    np.testing.assert_allclose(precision, dense_p, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(linear.T.reshape(-1), dense_l, rtol=1e-10, atol=1e-10)


def _high_icc():
    truth = default_truth(3, 0)
    truth.omega_u = truth.omega_u * 4                       # ICC 0.55-0.7
    frame, _ = simulate(n_clusters=30, cluster_size=20, n_level1=3, n_level2=0, seed=4,
                        truth=truth, vary_size=False)
    return frame, mlimpute.propose(frame, "cluster")


def _compare_posteriors(frame, spec, old: dict, new: dict, draws: int = 3000):
    """Chains of `draws` draws after 300 of burn-in under two sampler variants (keyword
    arguments of _sampler): the new variant's posterior means must lie within 4
    combined Monte Carlo SE of the old one's, and its SDs within 15% or, for parameters
    with few effective draws, within 4 combined Monte Carlo SE of the log SD (variance
    1 / (2 ESS) each).  Returns the bulk ESS of every free parameter under each, and the
    number of fixed effects (first)."""
    summaries = []
    for variant in (old, new):
        s = _sampler(frame, spec, seed=2, **variant)
        s.warm_up(300)
        s.keep(1, draws)
        chain = chain_matrix(s.chain, 300)
        free = chain.std(axis=0) > 0
        summaries.append((chain[:, free].mean(0), chain[:, free].std(0), ess(chain[:, free])))
    (m0, sd0, e0), (m1, sd1, e1) = summaries
    z = (m1 - m0) / np.sqrt(sd0 ** 2 / e0 + sd1 ** 2 / e1)
    assert np.abs(z).max() < 4, np.abs(z).max()
    log_sd_se = np.sqrt(1 / (2 * e0) + 1 / (2 * e1))
    allowed = np.maximum(np.log(1.15), 4 * log_sd_se)
    assert np.all(np.abs(np.log(sd1 / sd0)) < allowed), (sd1 / sd0, e0, e1)
    return e0, e1, s.chain.beta[0][0].size


def test_joint_draw_keeps_the_posterior_and_mixes_better():
    """30 clusters, ICC about 0.6: posterior means of every parameter agree within 4
    combined Monte Carlo SE, SDs within 15%; the slowest fixed effect's bulk ESS is at
    least 10 times that of the separate draws (measured: 57 -> 2,500 per 8,000)."""
    frame, spec = _high_icc()
    e0, e1, nb = _compare_posteriors(frame, spec, {"joint": False}, {"joint": True})
    assert e1[:nb].min() > 10 * e0[:nb].min(), (e0[:nb].min(), e1[:nb].min())


def test_default_is_joint_and_separate_is_kept_for_old_specs():
    frame, spec = _high_icc()
    assert spec.mcmc.fixed_random == "joint"
    joint = mlimpute.compile_model(spec, frame).data
    assert joint.block_fixed_random
    separate = mlimpute.compile_model(spec.with_mcmc(fixed_random="separate"), frame).data
    assert not separate.block_fixed_random
    frame["wt"] = 1.0                                  # weighted: the separate draws
    weighted = mlimpute.compile_model(replace(spec, level1_weight="wt"), frame).data
    assert not weighted.block_fixed_random
    with pytest.raises(mlimpute.SpecError, match="fixed_random must be 'joint' or 'separate'"):
        spec.with_mcmc(fixed_random="both")


def _observed_blocks(s, j, values, observed):
    """Dense design of unit j's observed cells: (Z block, X block, values), cells in row
    order, responses within rows."""
    c = s.classes[0]
    x, z, w, k, q = s.level1.x, c.z, s.w1, s.level1.x.shape[1], c.q
    rows = np.flatnonzero(c.codes == j)
    cells = [(i, r) for i in rows for r in range(w) if observed[i, r]]
    zt, xt = np.zeros((len(cells), w * q)), np.zeros((len(cells), w * k))
    for a, (i, r) in enumerate(cells):
        zt[a, r * q:(r + 1) * q] = z[i]
        xt[a, r * k:(r + 1) * k] = x[i]
    cov = np.zeros((len(cells), len(cells)))
    for a, (i, r) in enumerate(cells):
        for b, (i2, r2) in enumerate(cells):
            if i == i2:
                cov[a, b] = s.omega_e[r, r2]
    return zt, xt, np.array([values[i, r] for i, r in cells]), cov


@pytest.mark.parametrize("slopes", [[], ["x"]], ids=["intercepts", "random-slope"])
def test_observed_data_conditionals_equal_dense_gls(slopes):
    """At any state, with cells missing: B1 | observed cells (u and the missing cells
    integrated out) is the GLS over the observed cells with V_j = Z_j T Z_j' + the
    rows' Omega_e[o, o] blocks, and u_j | B1, observed cells has precision
    T^-1 + Z_j' D_j^-1 Z_j and linear term T^-1 m_j + Z_j' D_j^-1 (y_j - X_j B1),
    all built densely cell by cell (m_j the prior mean of u_j given the level-2 residual)."""
    frame, _ = simulate(n_clusters=6, cluster_size=5, n_level1=3, n_level2=1, seed=5,
                        missing=0.4)
    spec = replace(mlimpute.propose(frame, "cluster"), random_slopes=slopes)
    s = _sampler(frame, spec, joint=True, collapse=True)
    step = next(b for b in s.steps if type(b).__name__ == "ObservedDataFixedRandom1")
    s.warm_up(5)
    observed = ~s.level1.impute_mask
    assert (~observed).any(axis=0).all() and len({tuple(r) for r in observed}) > 3
    terms = step.system(s)
    c = s.classes[0]
    x, w, k = s.level1.x, s.w1, s.level1.x.shape[1]
    o_uu, o_uv, o_vv = c.split_omega()
    gain = np.linalg.solve(o_vv, o_uv.T).T
    prior_cov = o_uu - gain @ o_uv.T
    prior_mean = c.residuals() @ gain.T
    values = s.resid1 + x @ s.beta1 + c.random_part(c.u, np.empty_like(s.resid1))
    beta = s.beta1.T.reshape(-1)
    dense_p, dense_l = np.zeros((w * k, w * k)), np.zeros(w * k)
    for j in range(c.n_units):
        zt, xt, y, d = _observed_blocks(s, j, values, observed)
        v_inv = np.linalg.inv(zt @ prior_cov @ zt.T + d)
        dense_p += xt.T @ v_inv @ xt
        dense_l += xt.T @ v_inv @ (y - zt @ prior_mean[j])
        d_inv = np.linalg.inv(d)
        prec_u = np.linalg.inv(prior_cov) + zt.T @ d_inv @ zt
        lin_u = np.linalg.solve(prior_cov, prior_mean[j]) + zt.T @ d_inv @ (y - xt @ beta)
        np.testing.assert_allclose(terms["prec_u"][j], prec_u, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(terms["h_u"][j] - terms["cross"][j].T @ beta, lin_u,
                                   rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(terms["precision"], dense_p, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(terms["linear"], dense_l, rtol=1e-9, atol=1e-9)


def test_observed_data_draw_keeps_the_posterior_and_mixes_better():
    """30 clusters, ICC about 0.6, a third of each response missing: against the joint
    draw given the completed data, posterior means agree within 4 combined Monte Carlo
    SE and SDs within 15%; the slowest fixed effect's bulk ESS at least doubles and the
    slowest parameter's rises by a third (measured per 3,000 draws: fixed effects 1,091
    -> 2,743; slowest, an element of Omega_e, 813 -> 1,400 with the two rounds of
    (missing cells, Omega_e) that a third missing gives)."""
    frame, spec = _high_icc()
    for collapse in (False, True):
        s = _sampler(frame, spec, True, collapse=collapse)
        assert any(type(b).__name__ == "ObservedDataFixedRandom1" for b in s.steps) == collapse
    e0, e1, nb = _compare_posteriors(frame, spec, {"joint": True, "collapse": False},
                                     {"joint": True, "collapse": True})
    assert e1[:nb].min() > 2 * e0[:nb].min(), (e0[:nb].min(), e1[:nb].min())
    assert e1.min() > 1.33 * e0.min(), (e0.min(), e1.min())


def test_covariance_rounds_follow_the_missing_fraction():
    """One (missing cells, Omega_e) round up to 20% missing in the worst column, two up
    to 45%, three beyond; f^rounds <= 0.2 wherever three suffice."""
    from mlimpute.engine.collapsed import covariance_rounds

    def mask(fraction):
        m = np.zeros((1000, 3), bool)
        m[:int(round(fraction * 1000)), 1] = True
        return m
    assert [covariance_rounds(mask(f)) for f in (0.0, 0.1, 0.2, 0.21, 0.3, 0.44, 0.46, 0.58, 0.9)] \
        == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    for f in np.linspace(0.01, 0.58, 40):
        r = covariance_rounds(mask(f))
        assert f ** r <= 0.2 + 1e-9 and (r == 1 or f ** (r - 1) > 0.2 - 1e-3), (f, r)


def test_observed_data_draw_keeps_the_posterior_with_latent_responses():
    """Binary, 3-category and ordinal responses beside a continuous one, 30% missing:
    the latents behind observed categories stay in the data the draw conditions on, the
    missing cells' latents are integrated out like any missing cell.  Against the draw
    given the completed data: posterior means within 4 combined Monte Carlo SE, SDs
    within 15%."""
    from mlimpute.model.simulate import simulate_mixed
    frame, _ = simulate_mixed(level1=("continuous", "binary", ("categorical", 3), ("ordinal", 3)),
                              level2=("continuous",), n_clusters=25, cluster_size=12,
                              missing=0.3, seed=7)
    spec = mlimpute.propose(frame, "cluster")
    _compare_posteriors(frame, spec, {"joint": True, "collapse": False},
                        {"joint": True, "collapse": True}, draws=1500)
