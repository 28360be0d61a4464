"""The Python entry points: impute a data frame under a spec."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlimpute.engine import GibbsSampler, UnsupportedResponseType

from .compile import compile_model
from .errors import SpecError
from .progress import ProgressBar
from .propose import propose
from .result import ImputationResult
from .spec import Spec


def new_seed() -> int:
    """A fresh random seed (recorded in the result so the run can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1)[0])


def impute(data: pd.DataFrame, spec: Spec | None = None, *, cluster: str | None = None,
           progress: bool = False) -> ImputationResult:
    """Multiply impute `data` under `spec` (or the default model for `cluster`).

    Returns an :class:`ImputationResult` with the M completed data sets, the stacked
    forms and the parameter chains.  The input frame is not modified.
    """
    if spec is None:
        if cluster is None:
            raise SpecError("give a spec or the name of the cluster identifier")
        spec = propose(data, cluster)
    model = compile_model(spec, data)
    seed = spec.mcmc.seed if spec.mcmc.seed is not None else new_seed()
    settings = spec.mcmc
    try:
        sampler = GibbsSampler(model.data, np.random.default_rng(seed), settings.jomo_compatible)
    except UnsupportedResponseType as exc:
        raise SpecError(str(exc)) from None
    total = settings.burnin + settings.between * settings.m
    with ProgressBar(total, settings.m, enabled=progress) as bar:
        result = sampler.run(settings.burnin, settings.between, settings.m, progress=bar)
    return ImputationResult(data.copy(), model, result, seed)
