"""``mlimpute demo`` (and ``make demo``): impute the shipped class-size data and print the
pooled table, from any folder once mlimpute is installed.

The worked example of Carpenter, Goldstein & Kenward (2011, sections 2-4), on the
simulated stand-in data the package carries (``fixtures/classsize.csv``):

1. the imputation model is REALCOM's default: the four normal scores are level-1
   responses, the class size in four categories (csize4) is a level-2 categorical
   response, and fsm is a covariate;
2. the Gibbs sampler runs with the demo settings (burn-in 500, 100 between, M = 10), or
   with the paper's (2000 / 500 / 20) when ``--paper`` is given;
3. the stacked imputations are written as a Stata flong .dta in the output folder;
4. the model of interest ``nmatpost ~ nmatpre + nlitpre + C(csize4) + (1 | class)`` is
   fitted by REML to the complete cases and to every imputation, pooled with Rubin's
   rules, and printed side by side as in the paper's Table 3.
"""
from __future__ import annotations

import sys
from pathlib import Path

MODEL = "nmatpost ~ nmatpre + nlitpre + C(csize4) + (1 | class)"
#: what the demo writes into its output folder
OUTPUT_NAME = "classsize_mi.dta"


def _cell(estimate: float, se: float) -> str:
    import numpy as np
    return f"{estimate:7.3f}" + (f" ({se:.3f})" if np.isfinite(se) else "        ")


def run(out: str | Path = "mlimpute_demo", paper: bool = False, quiet: bool = False) -> int:
    """Run the demo, writing ``<out>/classsize_mi.dta``; returns the exit status."""
    import numpy as np
    import pandas as pd

    from ..run.api import impute
    from ..errors import MlimputeError
    from ..model.equations import render
    from ..analysis.fit import fit_one, fit_pooled
    from ..io import read_data, write_data
    from ..io.paths import FilePlan
    from ..model.propose import propose
    from .resources import demo_data
    from ..model.spec import MCMC

    source = demo_data()
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise MlimputeError(f"--out '{folder}': exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MlimputeError(f"--out '{folder}': cannot create the folder "
                            f"({exc.strerror or exc})") from None
    target = folder / OUTPUT_NAME
    FilePlan().read("demo data", source).write("output file", target).check()
    frame, _ = read_data(source)
    frame["csize4"] = pd.Categorical(frame["csize4"])
    mcmc = MCMC(burnin=2000, between=500, m=20, seed=2011) if paper \
        else MCMC(burnin=500, between=100, m=10, seed=2011)
    spec = propose(frame, "class", exclude=["pupil", "csize"], mcmc=mcmc)
    print(f"mlimpute demo: {len(frame)} pupils in {frame['class'].nunique()} classes "
          "(simulated stand-in for the JSS 2011 class-size data)\n")
    print(render(spec))
    result = impute(frame, spec, progress=not quiet)
    write_data(result.stacked("flong"), target)
    print(f"\nwrote {target} (Stata flong: _mi_m 0..{result.m}, _mi_id, _mi_miss)\n")

    complete = frame.dropna(subset=["nmatpost", "nmatpre", "nlitpre", "csize4"])
    cc = fit_one(complete, MODEL)
    mi = fit_pooled(result, MODEL)
    rows = [{"term": term,
             "CC estimate (se)": _cell(cc.loc[term, "estimate"], cc.loc[term, "std_error"]),
             "MI estimate (se)": _cell(mi.loc[term, "estimate"], mi.loc[term, "std_error"]),
             "MI df": "" if not np.isfinite(mi.loc[term].get("df", np.nan))
             else f"{mi.loc[term, 'df']:.0f}"}
            for term in mi.index]
    print(f"Model of interest: {MODEL}")
    print(f"complete cases: {len(complete)} pupils; MI: {len(frame)} pupils, M = {result.m}, "
          "Rubin's rules (variance components pooled on the log-SD and logit scales)\n")
    print(pd.DataFrame(rows).to_string(index=False))
    sys.stdout.flush()
    return 0
