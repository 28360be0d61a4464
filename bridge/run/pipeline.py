"""One imputation run from a compiled model to an :class:`ImputationResult`.

The steps every front end shares (Python's :func:`mlimpute.impute`, the command line,
the R package and the Stata ado all come here):

1. the burn-in: fixed, or run until the chains converge (``burnin = "auto"``);
2. the gap between kept imputations: fixed, or read off the burn-in's autocorrelation
   (``between = "auto"``);
3. the imputations: M of them, or a pilot whose fraction of missing information sizes M
   (``m = "auto"``), the rest added to the same chains without a new burn-in;
4. the diagnostics (rank-normalised R-hat, bulk and tail ESS, autocorrelation at the
   gap) and the warnings in words, which the result carries.

What each automatic step chose and how long it took is in ``result.notes``, and in
``result.spec``, so that the run can be repeated exactly.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from mlimpute.engine.convergence import choose_between, warm_up_until_converged
from mlimpute.engine.parallel import ChainSet, split_imputations

from ..analysis.diagnose import ESS_LIMIT, RHAT_LIMIT, diagnose, summarize
from ..errors import SpecError
from .limits import check_room
from ..analysis.pool import how_many_imputations, rubin
from .result import ImputationResult
from ..model.spec import AUTO, MIN_BURNIN_FOR_BETWEEN

#: autocorrelation below which consecutive imputations count as independent
ACF_TARGET = 0.05


class Run:
    """The data, compiled model and bookkeeping of one run; :meth:`sample` does it."""

    def __init__(self, data: pd.DataFrame, compiled, seed: int, hard_missing: dict,
                 rows, model: str | None):
        self.data, self.compiled, self.seed = data, compiled, seed
        self.hard_missing, self.rows, self.model = hard_missing, rows, model
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self._diagnostics_seconds = 0.0

    def sample(self, chains: ChainSet, bar=None) -> ImputationResult:
        """Run the chains through the steps of the module docstring; `bar` (a
        :class:`~mlimpute.run.progress.ProgressBar`) is told how many imputations to expect."""
        started = time.perf_counter()
        result = self._sample(chains, bar)
        total = time.perf_counter() - started
        result.timings = {"sampling": total - self._diagnostics_seconds,
                          "diagnostics": self._diagnostics_seconds}
        return result

    def _sample(self, chains: ChainSet, bar) -> ImputationResult:
        mcmc = self.compiled.spec.mcmc
        n_chains = len(chains.samplers)
        burnin, between, m = mcmc.burnin, mcmc.between, mcmc.m
        if not mcmc.automatic:
            _expect(bar, m)
            chains.advance(burnin, between, split_imputations(m, n_chains), final=True)
            return self._result(chains, burnin, between, m)
        convergence = None
        if burnin == AUTO:
            started = time.monotonic()
            convergence = warm_up_until_converged(chains, min(1000, mcmc.max_burnin),
                                                  mcmc.max_burnin, RHAT_LIMIT, ESS_LIMIT)
            burnin = convergence.burnin
            how = ("the chains converged" if convergence.converged else
                   "the chains had not converged by max_burnin")
            self.notes.append(f"burn-in: {burnin:,} iterations per chain ({how}: R-hat "
                              f"{np.nanmax(convergence.rhat):.3f}, bulk ESS at least "
                              f"{np.nanmin(convergence.ess_bulk):.0f} over its second half; "
                              f"{time.monotonic() - started:.1f} s)")
        elif burnin:
            chains.advance(warm=burnin)
        if between == AUTO:
            if burnin < MIN_BURNIN_FOR_BETWEEN:
                raise SpecError(f"mcmc: between = 'auto' reads the autocorrelation of the burn-in, "
                                f"which needs at least {MIN_BURNIN_FOR_BETWEEN} iterations "
                                f"(burnin = {burnin})")
            window = burnin // 2
            between = choose_between(chains.chains, burnin - window, ACF_TARGET)
            if between >= window:
                self.warnings.append(f"between: some parameter's autocorrelation stays above "
                                     f"{ACF_TARGET} over {window} iterations; using {between}, "
                                     "but the imputations may not be independent: run a longer "
                                     "burn-in")
            self.notes.append(f"between: {between} iterations (the first lag at which every "
                              f"parameter's autocorrelation is below {ACF_TARGET})")
        if m == AUTO:
            m = self._pilot_then_rest(chains, between, bar)
        else:
            _expect(bar, m)
            chains.advance(0, between, split_imputations(m, n_chains), final=True)
        result = self._result(chains, burnin, between, m,
                              convergence is not None and convergence.converged)
        if convergence is not None and not convergence.converged:
            result.warnings.insert(0, _not_converged(result, burnin, mcmc.max_burnin))
        return result

    # ------------------------------------------------------------------ m = "auto"
    def _pilot_then_rest(self, chains: ChainSet, between: int, bar) -> int:
        mcmc = self.compiled.spec.mcmc
        n_chains = len(chains.samplers)
        pilot = split_imputations(mcmc.pilot_m, n_chains)
        _expect(bar, mcmc.pilot_m)
        chains.advance(0, between, pilot)
        fmi, what = self.pilot_fmi([s.result() for s in chains.samplers])
        m = max(how_many_imputations(fmi, mcmc.pilot_m, mcmc.se_cv), mcmc.pilot_m)
        check_room(self.compiled, m, np.nanmax(fmi))
        _expect(bar, m)
        more = [total - done for total, done in zip(split_imputations(m, n_chains), pilot)]
        chains.advance(0, between, more, final=True)
        self.notes.append(f"m: {m} imputations (a pilot of {mcmc.pilot_m} estimated the "
                          f"fraction of missing information of {what} at up to {np.nanmax(fmi):.2f}; "
                          f"M for standard errors replicable to a coefficient of variation of "
                          f"{mcmc.se_cv:g}, von Hippel 2020)")
        return m

    def pilot_fmi(self, samplers) -> tuple[np.ndarray, str]:
        """Fractions of missing information of the pilot imputations: of the model of
        interest's fixed effects when there is one, else of the imputed variables'
        means (continuous) and category shares."""
        pilot = ImputationResult(self.data, self.compiled, samplers, self.seed,
                                 self.hard_missing, self.rows)
        frames = list(pilot.completed_all())
        if self.model is not None:
            from ..analysis.fit import fit_pooled
            pooled = fit_pooled(frames, self.model)
            return pooled["fmi"].to_numpy(dtype=float), f"the estimates of '{self.model}'"
        return summary_fmi(frames, pilot.imputed_vars, self.compiled.categories), \
            "the means of the imputed variables"

    # ------------------------------------------------------------------ result
    def _result(self, chains: ChainSet, burnin: int, between: int, m: int,
                burnin_converged: bool = False) -> ImputationResult:
        spec = self.compiled.spec
        resolved = replace(spec, mcmc=replace(spec.mcmc, burnin=burnin, between=between, m=m,
                                              seed=self.seed))
        if spec.model is not None and self.compiled.substantive is not None:
            # "auto" recorded as what it chose, so that pooling fits the same family
            resolved = replace(resolved, model=replace(spec.model,
                                                       family=self.compiled.substantive.family))
        result = ImputationResult(self.data.copy(), replace(self.compiled, spec=resolved),
                                  chains.results, self.seed, self.hard_missing, self.rows)
        result.notes = list(self.notes)
        result.warnings = list(self.warnings)
        started = time.perf_counter()
        draws = result.chain_draws(include_burnin=True)
        if min(len(c) for c in draws) - burnin >= 4:
            result.diagnostics, found = diagnose(draws, None, burnin, between,
                                                 burnin_converged=burnin_converged)
            result.warnings += found
        self._diagnostics_seconds = time.perf_counter() - started
        return result


def _expect(bar, m: int) -> None:
    """Tell the progress bar how many imputations the run will keep."""
    if bar is not None:
        bar.m = m


def summary_fmi(frames: list[pd.DataFrame], names: list[str], categories: dict) -> np.ndarray:
    """Fraction of missing information of the mean of every imputed variable (for a
    categorical one, of the share of each category but the first), from Rubin's rules."""
    estimates, variances = [], []
    for frame in frames:
        q, u = [], []
        for name in names:
            column = frame[name]
            if name in categories:
                values = [(column == level).astype(float) for level in categories[name][1:]]
            else:
                values = [column.astype(float)]
            for v in values:
                v = v.dropna()
                q.append(v.mean())
                u.append(v.var(ddof=1) / max(len(v), 1))
        estimates.append(q)
        variances.append(u)
    with np.errstate(invalid="ignore", divide="ignore"):
        return rubin(np.array(estimates), np.array(variances))["fmi"].to_numpy(dtype=float)


def _not_converged(result: ImputationResult, burnin: int, cap: int) -> str:
    """The warning for a burn-in that reached its cap, naming the worst parameter."""
    window = [c.iloc[burnin - burnin // 2: burnin] for c in result.chain_draws(include_burnin=True)]
    table = summarize(window)
    table = table[table["sd"] > 0]
    if (table["rhat"] >= RHAT_LIMIT).any():
        name = table["rhat"].idxmax()
        what = f"R-hat {table.loc[name, 'rhat']:.3f}"
    else:
        name = table["ess_bulk"].idxmin()
        what = f"bulk ESS {table.loc[name, 'ess_bulk']:.0f}"
    return (f"the chains did not converge within max_burnin = {cap:,} iterations: parameter "
            f"{name} still has {what} (needs R-hat < {RHAT_LIMIT} and bulk ESS >= "
            f"{ESS_LIMIT:.0f}); raise max_burnin, or simplify the model")
