"""The class-size fixture (fixtures/make_classsize.py): structure of the paper's data,
and multiple imputation recovering the analysis model better than complete cases."""
from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

import mlimpute

from conftest import ROOT
from mlimpute.analysis.fit import fit_one, fit_pooled

MODEL = "nmatpost ~ nmatpre + nlitpre + C(csize4) + (1 | class)"


def _generator():
    spec = importlib.util.spec_from_file_location("make_classsize", ROOT / "fixtures" / "make_classsize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_fixture_has_the_papers_structure():
    gen = _generator()
    frame = pd.read_csv(ROOT / "fixtures" / "classsize.csv")
    pd.testing.assert_frame_equal(frame, gen.generate(), check_dtype=False)   # reproducible
    assert len(frame) == 7394 and frame["class"].nunique() == 329
    per_class = frame.groupby("class")["csize4"].first()
    assert per_class.isna().sum() == 32
    assert set(per_class.dropna().unique()) == {1.0, 2.0, 3.0, 4.0}
    patterns = frame[gen.SCORES].isna().value_counts(normalize=True)
    for pattern, share in gen.PATTERNS.items():
        assert abs(patterns.get(pattern, 0.0) - share) < 0.012, pattern


def _bias(seeds):
    gen = _generator()
    cc_dev, mi_dev = [], []
    for seed in seeds:
        full, missing = gen.generate(seed, complete=True), gen.generate(seed)
        for f in (full, missing):
            f["csize4"] = pd.Categorical(f["csize4"])
        reference = fit_one(full, MODEL)["estimate"]
        cc = fit_one(missing.dropna(subset=["nmatpost", "nmatpre", "nlitpre", "csize4"]), MODEL)
        spec = mlimpute.propose(missing, "class", exclude=["pupil", "csize"],
                                mcmc=mlimpute.MCMC(burnin=300, between=50, m=5, seed=seed))
        mi = fit_pooled(mlimpute.impute(missing, spec), MODEL)
        fixed = [t for t in reference.index if not t.startswith("var(")]
        cc_dev.append(cc.loc[fixed, "estimate"] - reference[fixed])
        mi_dev.append(mi.loc[fixed, "estimate"] - reference[fixed])
    return pd.concat(cc_dev, axis=1).mean(axis=1), pd.concat(mi_dev, axis=1).mean(axis=1)


def _check(cc_bias, mi_bias):
    # fsm pupils score lower and are missing more often: complete cases overstate the intercept
    assert cc_bias["Intercept"] > 0.02
    assert abs(mi_bias["Intercept"]) < 0.4 * cc_bias["Intercept"]
    assert (mi_bias ** 2).sum() < (cc_bias ** 2).sum()


def test_mi_recovers_the_analysis_model_better_than_complete_cases_reduced():
    """CI form: 2 replicates (estimates compared with the fit to the same data before deletion)."""
    _check(*_bias([1, 2]))


@pytest.mark.slow
def test_mi_recovers_the_analysis_model_better_than_complete_cases_full():
    _check(*_bias(range(1, 21)))
