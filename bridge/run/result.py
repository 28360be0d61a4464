"""The outcome of an imputation run: completed data sets, stacked frames, parameter chains."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from mlimpute.engine import SamplerResult, effective_sample_size

from ..model.compile import CompiledModel
from ..model.encoding import decode
from ..io.stack import stacked_parts


@dataclass
class ImputationResult:
    """Completed data and parameter draws of one run.

    Observed values of the input are carried over untouched; only missing cells of the
    response columns are filled.  ``seed`` is the seed actually used (drawn at random and
    recorded when the spec had none), so every run can be repeated.
    """

    original: pd.DataFrame
    model: CompiledModel
    samplers: list[SamplerResult]
    seed: int
    #: column -> row mask of hard missing cells (Stata's .a-.z): missing for the model,
    #: left missing in every completed data set
    hard_missing: dict[str, np.ndarray] = field(default_factory=dict)
    #: positions of the rows the model used (the sample, as Stata's ``if``/``in`` give
    #: it); None: every row.  Other rows are carried through unchanged.
    rows: np.ndarray | None = None
    #: what the automatic settings chose and how long they took, in words
    notes: list[str] = field(default_factory=list)
    #: convergence and independence warnings in words (empty when all is well)
    warnings: list[str] = field(default_factory=list)
    #: per-parameter diagnostics after burn-in: mean, sd, ess_bulk, ess_tail, rhat and
    #: the autocorrelation at the gap between kept imputations (None: too few draws)
    diagnostics: pd.DataFrame | None = None
    #: wall seconds of the run's parts: "sampling" (the chains, every automatic choice
    #: included) and "diagnostics" (R-hat, ESS, autocorrelation and the warnings)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def spec(self):
        """The spec of the run with every setting it chose filled in (seed, and the
        numbers behind ``"auto"``): saving it repeats the run exactly."""
        return self.model.spec

    @property
    def sampler(self) -> SamplerResult:
        """The first chain (the only one unless several chains were run)."""
        return self.samplers[0]

    @property
    def imputations(self):
        return [imp for s in self.samplers for imp in s.imputations]

    @property
    def m(self) -> int:
        return sum(len(s.imputations) for s in self.samplers)

    @property
    def imputed_vars(self) -> list[str]:
        """Every column the run imputes: the responses of each level, then the outcome of
        the model of interest (when it is part of the imputation model and has missing
        values: a fully observed outcome is a covariate of the others, not imputed)."""
        names = [name for names in self.model.names for name in names]
        if self.model.substantive is not None and np.isnan(self.model.data.substantive.y).any():
            names.append(self.model.substantive.outcome)
        return names

    @property
    def model_family(self) -> str | None:
        """The family of the model of interest ("gaussian" or "probit", "auto" resolved on
        the data), None without one: what ``mlimpute pool`` fits it with."""
        if self.model.substantive is not None:
            return self.model.substantive.family
        if self.spec.model is None:
            return None
        from ..model.substantive import resolved_family
        return resolved_family(self.original, self.spec.model)

    def completed(self, m: int) -> pd.DataFrame:
        """Completed data set m (1..M), same rows, columns and dtypes as the input (an
        integer column imputed as continuous is float64).  Rows outside the sample (see
        ``rows``) and hard missing cells are left as they were."""
        if not 1 <= m <= self.m:
            raise IndexError(f"imputation {m} out of range 1..{self.m}")
        imputation = self.imputations[m - 1]
        frame = self.original_as_output().copy()
        columns = []
        for level, (data, missing, imputed) in enumerate(zip(
                self.model.levels, self.sampler.missing, imputation.levels)):
            values = data.y.copy()
            values[missing] = imputed
            rows = values[self.model.rows_of(level)]
            columns += [(name, rows[:, k]) for k, name in enumerate(self.model.names[level])]
        if self.model.substantive is not None:
            values = self.model.data.substantive.y.copy()
            values[np.isnan(values)] = imputation.outcome
            columns.append((self.model.substantive.outcome, values))
        rows = slice(None) if self.rows is None else self.rows
        for name, codes in columns:
            filled = decode(codes, self.original[name].iloc[rows], self.model.categories.get(name))
            if name in self.hard_missing:
                filled = filled.mask(self.hard_missing[name][rows])
            if self.rows is None:
                frame[name] = filled
            else:
                column = frame[name].copy()
                column.iloc[self.rows] = filled.to_numpy()
                frame[name] = column
        return frame

    def completed_all(self):
        """Iterate over the M completed data sets."""
        for m in range(1, self.m + 1):
            yield self.completed(m)

    def stacked(self, style: str = "flong") -> pd.DataFrame:
        """All completed data sets with the original, stacked: ``"flong"`` (Stata) or
        ``"long"`` (R: ``.imp``/``.id``)."""
        return pd.concat(self.stacked_parts(style), ignore_index=True)

    def stacked_parts(self, style: str = "flong"):
        """:meth:`stacked` one block (the original, then each completed data set) at a
        time, built as consumed: what streaming writers take (``mlimpute.io.write_stacked``)."""
        return stacked_parts(self.original_as_output(), self.completed_all(), style,
                             self.imputed_vars, self.hard_missing, self.may_stay_missing())

    def may_stay_missing(self) -> dict[str, np.ndarray]:
        """{column: row mask} of the cells of imputed variables that a completed data set
        leaves missing: hard missing cells, and every row outside the sample."""
        outside = None
        if self.rows is not None:
            outside = np.ones(len(self.original), dtype=bool)
            outside[self.rows] = False
        out = {}
        for name in self.imputed_vars:
            mask = self.hard_missing.get(name)
            if outside is not None:
                mask = outside if mask is None else mask | outside
            if mask is not None:
                out[name] = mask
        return out

    def original_as_output(self) -> pd.DataFrame:
        """The original data with every imputed column in the type the completed data sets
        give it (an integer column imputed as continuous becomes float64), so that the
        m = 0 block and the completed blocks of a stacked file share one column type;
        observed values unchanged.  Built once: every completed data set starts from it."""
        return self._original_as_output

    @cached_property
    def _original_as_output(self) -> pd.DataFrame:
        frame = self.original
        for name in self.imputed_vars:
            if name in self.model.categories:
                continue
            column = decode(np.full(len(frame), np.nan), frame[name], None)
            if column.dtype != frame[name].dtype:
                frame = frame.copy() if frame is self.original else frame
                frame[name] = column
        return frame

    # ------------------------------------------------------------------ parameters
    def parameter_draws(self, include_burnin: bool = False) -> pd.DataFrame:
        """One column per model parameter, one row per iteration (after burn-in by default),
        the chains one after another.

        Names: ``beta1[cov,resp]``, ``beta2[cov,resp]``, ``omega_e[r,s]`` and ``omega_u[a,b]``
        (lower triangle), with random-effect names ``resp:cov`` for level-1 random
        coefficients and the response name for level-2 residuals; latents of categorical
        responses are ``resp.k``; ordinal thresholds ``thresholds[resp,k]``.
        """
        return pd.concat(self.chain_draws(include_burnin), ignore_index=True)

    def chain_draws(self, include_burnin: bool = False) -> list[pd.DataFrame]:
        """:meth:`parameter_draws` of each chain separately (for R-hat across chains)."""
        return [self._draws(s.chain, include_burnin) for s in self.samplers]

    def _draws(self, chain, include_burnin: bool) -> pd.DataFrame:
        start = 0 if include_burnin else chain.burnin
        m = self.model
        columns: dict[str, np.ndarray] = {}
        for level, (draws, data) in enumerate(zip(chain.beta, m.levels)):
            free = data.coef_mask[:, m.owner[level]]
            name = f"beta{level + 1}"
            for a, cov in enumerate(m.covariates[level]):
                for r, resp in enumerate(m.working[level]):
                    if free[a, r]:
                        columns[f"{name}[{cov},{resp}]"] = draws[start:, a, r]
        for level, draws in enumerate(chain.omega):
            labels = m.working[0] if level == 0 else self.random_effect_labels(level - 1)
            name = self.covariance_name(level)
            for a in range(len(labels)):
                for b in range(a + 1):
                    columns[f"{name}[{labels[a]},{labels[b]}]"] = draws[start:, a, b]
        for key, draws in chain.extra.items():
            level, rest = key.split(".", 1)
            if level == "model":
                columns.update(self._model_draws(rest, draws[start:]))
                continue
            if "[" not in rest:                 # a model-wide parameter, e.g. cluster_df
                columns[rest] = draws[start:, 0]
                continue
            what, index = rest.rstrip("]").split("[")
            names = m.names[int(level.removeprefix("level")) - 1]
            for k in range(draws.shape[1]):
                columns[f"{what}[{names[int(index)]},{k + 2}]"] = draws[start:, k]
        return pd.DataFrame(columns)

    def _model_draws(self, what: str, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Columns of the model of interest's parameters: ``model.beta[term]``,
        ``model.omega_b[a,b]`` (lower triangle) and ``model.sigma2``."""
        terms = self.model.substantive
        if what == "beta":
            return {f"model.beta[{name}]": draws[:, k] for k, name in enumerate(terms.fixed_names)}
        if what == "omega_b":
            rows, cols = np.tril_indices(len(terms.random_names))
            return {f"model.omega_b[{terms.random_names[a]},{terms.random_names[b]}]": draws[:, k]
                    for k, (a, b) in enumerate(zip(rows, cols))}
        return {f"model.{what}": draws[:, 0]}

    def covariance_name(self, level: int) -> str:
        """Name of the covariance matrix of `level` in the draws: ``omega_e`` (level 1),
        ``omega_u`` (the one classification of a two-level model), or ``omega_u2``,
        ``omega_u3``, ... (classification ``clusters[level - 1]`` of several)."""
        if level == 0:
            return "omega_e"
        return "omega_u" if len(self.model.spec.clusters) == 1 else f"omega_u{level + 1}"

    def cluster_covariances(self) -> pd.DataFrame:
        """Posterior means of the cluster-specific level-1 covariance matrices
        (``level1_covariance = "cluster"``): one row per cluster, columns ``omega_e[r,s]``
        (lower triangle), averaged over the chains."""
        stacks = [s.extra.get("omega_e_clusters") for s in self.samplers]
        if any(x is None for x in stacks):
            raise ValueError("the model has one common level-1 covariance matrix")
        mean = np.mean(stacks, axis=0)
        labels = self.model.level1_working
        columns = {f"omega_e[{labels[a]},{labels[b]}]": mean[:, a, b]
                   for a in range(len(labels)) for b in range(a + 1)}
        frame = pd.DataFrame(columns)
        frame.insert(0, self.model.spec.cluster, self.model.cluster_labels)
        return frame

    @property
    def random_effect_names(self) -> list[str]:
        """Rows of Omega_u of the first classification (:meth:`random_effect_labels`)."""
        return self.random_effect_labels(0)

    def random_effect_labels(self, c: int) -> list[str]:
        """Rows of the Omega of classification c: ``resp:cov`` for the random coefficients
        of level-1 responses, the response name for the random intercepts of responses of
        classifications nested in c, then its own responses' residuals."""
        m = self.model
        names = [f"{resp}:{cov}" for resp in m.working[0] for cov in m.random_columns[c]]
        for k in range(len(m.spec.clusters)):
            if c in m.data.above(k):
                names += m.working[k + 1]
        return names + list(m.working[c + 1])

    def posterior_summary(self) -> pd.DataFrame:
        """Posterior mean, sd, effective sample size (for the mean, over every chain) and
        Monte Carlo SE of every parameter, after burn-in."""
        draws = self.chain_draws()
        chains = [c.to_numpy(dtype=float) for c in draws]
        names = draws[0].columns
        values = np.vstack(chains)
        n = min(len(c) for c in chains)
        ess = effective_sample_size(chains) if n > 3 else np.full(values.shape[1], np.nan)
        sd = values.std(axis=0, ddof=1) if len(values) > 1 else np.full(values.shape[1], np.nan)
        return pd.DataFrame({"mean": values.mean(axis=0), "sd": sd, "ess": ess,
                             "mcse": sd / np.sqrt(ess)}, index=names)
