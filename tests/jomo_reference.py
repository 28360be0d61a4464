"""Running R's jomo on our data and comparing its posterior with ours: the helpers the
jomo comparisons (tests/engine/test_vs_jomo.py, tests/model/test_translate.py) share."""
from __future__ import annotations

import numpy as np
import pandas as pd

import mlimpute

from conftest import run_r, z_scores

BURNIN = 500


def jomo_draws(tmp_path, frame, spec, iterations, seed, hr=False, extra=()):
    """Run tests/r/jomo_chain.R on the spec's model; post-burn-in draws as a frame."""
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "jomo.csv"
    names = lambda rs, cont: ",".join(r.name for r in rs if (r.type == "continuous") == cont)
    run_r("jomo_chain.R", f"data={data}", f"out={out}", f"cluster={spec.cluster}",
          f"l1con={names(spec.level1_responses, True)}", f"l1cat={names(spec.level1_responses, False)}",
          f"l2con={names(spec.level2_responses, True)}", f"l2cat={names(spec.level2_responses, False)}",
          "x1=" + ",".join(["cons", *spec.covariates]),
          "x2=" + ",".join(["cons", *(spec.level2_covariates or [])]),
          "z=" + ",".join(["cons", *spec.random_slopes]),
          f"iterations={BURNIN + iterations}", f"seed={seed}", f"hr={int(hr)}", *extra)
    return pd.read_csv(out).iloc[BURNIN:]


def our_draws(frame, spec, iterations, seed, compatible=True):
    """mlimpute's post-burn-in draws; in compatible mode with jomo's parameterisation
    of categorical responses (the last category is the reference)."""
    settings = {"burnin": BURNIN, "between": iterations, "m": 1, "seed": seed,
                "jomo_compatible": compatible}
    data = spec.to_dict()
    if compatible:
        for r in data["responses"]:
            if r["type"] in ("binary", "categorical"):
                r["reference"] = "last"
    spec = mlimpute.Spec.from_dict({**data, "mcmc": settings})
    return mlimpute.impute(frame, spec).parameter_draws()


def assert_agree(ours: pd.DataFrame, theirs: pd.DataFrame, limit: float = 4.0) -> None:
    assert set(ours.columns) == set(theirs.columns), \
        set(ours.columns).symmetric_difference(theirs.columns)
    theirs = theirs[ours.columns]
    fixed = (ours.std() == 0) & (theirs.std() == 0)
    np.testing.assert_allclose(ours.loc[:, fixed].iloc[0], theirs.loc[:, fixed].iloc[0])
    free = ours.columns[~fixed]
    z = pd.Series(z_scores(ours[free].to_numpy(), theirs[free].to_numpy()), index=free)
    assert z.abs().max() < limit, z.abs().sort_values().tail(5).to_dict()
    # the comparison has power: Monte Carlo error is small next to the posterior spread
    rel = (ours[free].mean() - theirs[free].mean()).abs() / ours[free].std()
    assert rel.max() < 0.3, rel.sort_values().tail(3).to_dict()
