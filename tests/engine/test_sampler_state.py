"""Bookkeeping the sampler does for speed, checked against the plain computation.

The sampler keeps the level-1 residuals W1 - X1 B1 - Z u up to date step by step
instead of recomputing them, and sums rows by cluster through a sparse indicator
matrix, with rows sorted by (missingness pattern, cluster).  Both are exact identities; these tests check that the
kept residuals stay equal to freshly computed ones over a run of every model feature
that touches them, and that the cluster sums equal a direct per-cluster sum.
"""
from __future__ import annotations

import numpy as np
import pytest

import mlimpute
from mlimpute.engine import GibbsSampler
from mlimpute.engine.classification import GroupSums
from mlimpute.model.simulate import simulate, simulate_mixed


def _mixed_model():
    frame, _ = simulate_mixed(level1=("continuous", "binary", ("ordinal", 4), ("categorical", 3)),
                              level2=("continuous",), n_clusters=40, cluster_size=15, seed=3)
    frame["wt"] = np.random.default_rng(0).uniform(0.5, 2.0, len(frame))
    responses = [mlimpute.Response("y1"), mlimpute.Response("y2", type="binary"),
                 mlimpute.Response("y3", type="ordinal"), mlimpute.Response("y4", type="categorical"),
                 mlimpute.Response("g1", level=2)]
    spec = mlimpute.Spec("cluster", responses, covariates=["x", "w"], level2_covariates=["w"],
                         random_slopes=["x"], level1_weight="wt")
    return mlimpute.compile_model(spec, frame)


def _cluster_covariance_model():
    frame, _ = simulate(n_clusters=30, cluster_size=12, n_level1=2, n_level2=1, seed=4)
    spec = mlimpute.propose(frame, "cluster")
    spec.level1_covariance = "cluster"
    return mlimpute.compile_model(spec, frame)


@pytest.mark.parametrize("build", [_mixed_model, _cluster_covariance_model])
def test_kept_residuals_equal_recomputed_ones(build):
    model = build()
    sampler = GibbsSampler(model.data, np.random.default_rng(1))
    observed = ~np.isnan(sampler.level1.values)
    start = sampler.level1.values.copy()
    for _ in range(200):
        sampler.step(adapt=True)
    exact = sampler.resid1_exact().copy()
    scale = np.abs(exact).max()
    assert scale > 0.1
    np.testing.assert_allclose(sampler.resid1, exact, rtol=0, atol=1e-10 * scale)
    # observed responses are never changed by the bookkeeping
    assert np.array_equal(sampler.level1.values[observed], start[observed])
    decoded = sampler.level1.decode()
    assert np.array_equal(decoded[observed], start[observed])


def test_cluster_sums_equal_direct_sums():
    rng = np.random.default_rng(5)
    n, clusters = 3000, 70
    cluster = rng.integers(0, clusters, n)
    cluster[:clusters] = np.arange(clusters)          # every cluster has a row
    pattern = rng.integers(0, 6, n)
    order = np.lexsort((cluster, pattern))
    values = rng.normal(size=(n, 3, 2))
    sums = GroupSums(cluster[order], clusters)(values[order])
    direct = np.zeros((clusters, 3, 2))
    np.add.at(direct, cluster, values)
    np.testing.assert_allclose(sums, direct, rtol=1e-12, atol=1e-12)
    sizes = GroupSums(cluster, clusters)(np.ones(n))          # 1-d input keeps its shape
    assert np.array_equal(sizes, np.bincount(cluster, minlength=clusters))


@pytest.mark.parametrize("width", [0, 3, 11])
def test_distinct_rows_equal_numpy_unique(width):
    from mlimpute.engine.imputer import distinct_rows as _distinct_rows
    mask = np.random.default_rng(width).random((500, width)) < 0.3
    patterns, inverse = _distinct_rows(mask)
    expected, expected_inverse = np.unique(mask, axis=0, return_inverse=True)
    assert np.array_equal(patterns, expected)
    assert np.array_equal(inverse, np.asarray(expected_inverse).reshape(-1))


def _slope_model_of_interest():
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("slope", n_clusters=30, cluster_size=15, seed=2)
    frame.loc[frame.index[::7], "y"] = np.nan
    spec = mlimpute.spec_for_model(frame, mlimpute.ModelOfInterest("y ~ x + z + (1 + x | school)"))
    return mlimpute.compile_model(spec, frame)


def _probit_model_of_interest():
    from mlimpute.model.simulate import simulate_compatible
    frame, _ = simulate_compatible("probit", n_clusters=30, cluster_size=15, seed=2)
    spec = mlimpute.spec_for_model(frame, mlimpute.ModelOfInterest("y ~ x * z + (1 | school)"))
    return mlimpute.compile_model(spec, frame)


def _three_levels(crossed: bool):
    from mlimpute.model.simulate import simulate_multilevel
    frame, _ = simulate_multilevel(n_schools=12, classes=3, pupils=8, crossed=crossed, seed=3)
    inner = "area" if crossed else "class"
    spec = mlimpute.Spec(clusters=[inner, "school"], crossed=crossed, covariates=["x", "w"],
                         responses=[mlimpute.Response("y"), mlimpute.Response("k", type="categorical"),
                                    mlimpute.Response("c", level=inner),
                                    mlimpute.Response("s", level="school")])
    return mlimpute.compile_model(spec, frame)


def _collapsed():
    frame, _ = simulate(n_clusters=25, cluster_size=10, n_level1=3, n_level2=1, missing=0.35, seed=6)
    return mlimpute.compile_model(mlimpute.propose(frame, "cluster"), frame)


@pytest.mark.parametrize("build", [_mixed_model, _cluster_covariance_model, _slope_model_of_interest,
                                   _probit_model_of_interest, _collapsed,
                                   lambda: _three_levels(False), lambda: _three_levels(True)],
                         ids=["mixed", "cluster_covariance", "model_of_interest_slope",
                              "model_of_interest_probit", "collapsed", "nested", "crossed"])
def test_a_sampler_sent_to_another_process_goes_on_exactly(build):
    """A chain's state travels to a worker process and back between the steps of a run
    (burnin = "auto" extends it stage by stage): pickled and restored, the sampler must
    go on with the same draws bit for bit, as if it had stayed.  (Arrays that are views
    of one buffer come back as separate copies, unless the state rebuilds them.)"""
    import pickle
    model = build()
    stayed = GibbsSampler(model.data, np.random.default_rng(4))
    stayed.warm_up(25)
    travelled = pickle.loads(pickle.dumps(stayed))
    for sampler in (stayed, travelled):
        sampler.warm_up(25)
        sampler.keep(5, 2)
    a, b = stayed.result(), travelled.result()
    for x, y in zip(a.chain.beta + a.chain.omega, b.chain.beta + b.chain.omega):
        assert np.array_equal(x, y, equal_nan=True)
    for name in a.chain.extra:
        assert np.array_equal(a.chain.extra[name], b.chain.extra[name], equal_nan=True), name
    for x, y in zip(a.imputations, b.imputations):
        for u, v in zip(x.levels, y.levels):
            assert np.array_equal(u, v, equal_nan=True)
        assert (x.outcome is None) == (y.outcome is None)
        if x.outcome is not None:
            assert np.array_equal(x.outcome, y.outcome)
