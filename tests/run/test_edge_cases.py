"""Shapes of data that real users have: each must impute cleanly (or fail with a clear
error), with observed values untouched."""
from __future__ import annotations

import numpy as np
import pytest

import mlimpute
from mlimpute.model.simulate import simulate, simulate_mixed

MCMC = mlimpute.MCMC(burnin=20, between=5, m=2, seed=1)


def _base():
    frame, _ = simulate(20, 8, 2, 1, seed=1)
    return frame


def _only_level2(f):
    return f.drop(columns=["y1", "y2"])


def _rows_all_missing(f):
    f = f.copy()
    f.loc[f.index[:5], ["y1", "y2"]] = np.nan
    return f


def _singletons(f):
    f = f.drop(columns=["g1"]).copy()
    f["cluster"] = np.arange(len(f))
    return f


def _string_cluster(f):
    return f.assign(cluster="school_" + f["cluster"].astype(str))


def _nullable_int(f):
    return f.assign(y1=(f["y1"] * 10).round().astype("Int64"))


def _many_responses(f):
    frame, _ = simulate(30, 10, 6, 2, seed=3)
    return frame


def _mixed_level2_binary(f):
    frame, _ = simulate_mixed(level1=("continuous", ("categorical", 4)), level2=("binary",),
                              n_clusters=20, cluster_size=8, seed=2)
    return frame


@pytest.mark.parametrize("make", [_only_level2, _rows_all_missing, _singletons, _string_cluster,
                                  _nullable_int, _many_responses, _mixed_level2_binary])
def test_imputes_cleanly(make):
    frame = make(_base())
    spec = mlimpute.propose(frame, "cluster")
    spec.mcmc = MCMC
    result = mlimpute.impute(frame, spec)
    stacked = result.stacked()
    assert len(stacked) == 3 * len(frame)
    for completed in result.completed_all():
        assert not completed[result.imputed_vars].isna().any().any()
        for name in result.imputed_vars:
            observed = frame[name].notna().to_numpy()
            assert (completed[name].to_numpy()[observed] == frame[name].to_numpy()[observed]).all()


def test_random_slopes_with_a_categorical_response():
    frame = _mixed_level2_binary(None)
    spec = mlimpute.propose(frame, "cluster")
    spec = mlimpute.Spec.from_dict({**spec.to_dict(), "random_slopes": ["x"], "mcmc": MCMC.__dict__})
    draws = mlimpute.impute(frame, spec).parameter_draws()
    assert "omega_u[y2.3:x,y1:cons]" in draws.columns
