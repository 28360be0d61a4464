"""The Gibbs sampler of the multilevel joint imputation model (REALCOM-IMPUTE / jomo).

Model, with W the working (latent-normal) columns of the responses, for the two-level
case (one classification, units i in clusters j)::

    level 1 (unit i in cluster j):  W1_ij = X1_ij B1 + (I ⊗ z_ij') u_j + e_ij,  e_ij ~ N(0, Omega_e)
    level 2 (cluster j):            W2_j  = X2_j B2 + v_j
    (u_j, v_j) ~ N(0, Omega_u)      jointly: random coefficients of the level-1 responses
                                    and residuals of the level-2 responses

u_j holds, for each level-1 working column r, its q random coefficients (index r*q + a,
the layout jomo uses).  One iteration (:meth:`GibbsSampler.step`) draws

1. latent values behind observed categories (response types that have them),
2. missing level-1 values | B1, u, Omega_e        (joint conditional normal per pattern),
3. missing level-2 values | B2, u, Omega_u        (likewise, u treated as observed),
4. B1 | W1, u, Omega_e                            (GLS normal equations, flat prior),
5. B2 | W2, u, Omega_u                            (GLS given u: v_j | u_j ~ N(H u_j, S)),
6. u_j | W1, v_j, B1, Omega_e, Omega_u             (all clusters at once, batched Cholesky),
7. Omega_u | u, v and Omega_e | residuals          (inverse-Wishart).

With several classifications (nested: pupils in classes in schools; crossed: pupils in
schools and neighbourhoods) every level-1 response gets random effects from each of
them, each classification has its own responses, fixed effects and Omega
(:mod:`.classification`), and steps 3, 5, 6 and the Omega_u part of 7 run once per
classification, in the order the classifications are listed.  A response of a nested
classification (a class-level variable) also gets a random intercept from every
classification above it (the school), part of that classification's u.

By default (``ModelData.block_fixed_random``) B1 is drawn with the first classification's
u integrated out, then u (steps 4 and 6 as one joint draw).  Where level-1 cells are
missing (and there is no model of interest), that joint draw is given the observed cells
alone, and the missing cells are drawn right after it (:mod:`.collapsed`: step 2 moves
after step 6, which frees B1 and u from the data augmentation's autocorrelation), and the
level-1 part of step 7 alternates with a redraw of the missing cells a few times when
many are missing (:func:`.collapsed.covariance_rounds`).

Each step is a block of :mod:`.steps` over this sampler's shared state (PyMC's compound
step); :attr:`GibbsSampler.steps` lists them in this order.  With
``ModelData.cluster_covariance`` every cluster j has its own Omega_e,j (R jomo's
``meth = "random"``, see :mod:`.cluster_covariance`): the level-1 covariance block is
then :class:`.steps.ClusterCovariance1`, which steps 2, 4 and 6 ask for each row's own
cluster matrix.

Level-1 rows are kept sorted by (missingness pattern, first classification) internally,
so that each pattern's rows are one block for step 2.  The residuals W1 - X1 B1 - Z u
are kept up to date by steps 1, 2, 4 and 6 rather than recomputed, so no step forms the
means, and the imputed level-1 cells live in them until output.  Results are returned in
the caller's row order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .classification import ClassificationState
from .collapsed import ObservedDataFixedRandom1, UpdateLatents1, covariance_rounds
from .covariance import CovarianceSampler
from .imputer import PatternImputer, distinct_rows
from .level import Level
from .errors import NonFiniteDraw
from .model import ModelData, parent_codes, scaled_weights
from .steps import (ClusterCovariance1, Covariance, Covariance1, FixedEffects, FixedEffects1,
                    ImputeLevel, ImputeLevel1, JointFixedRandom1, RandomEffects, Step)


# --------------------------------------------------------------------------- results

@dataclass
class Chain:
    """Every iteration's parameter draws, burn-in included (``burnin`` tells where it ends).

    beta[0] (T, k1, w1) are the level-1 fixed effects and beta[c + 1] (T, k, w) those of the
    responses of classification c; omega[0] (T, w1, w1) is Omega_e and omega[c + 1]
    (T, D, D) the Omega of classification c (D = its random effects + its working
    columns).  ``beta1``, ``beta2``, ``omega_e``, ``omega_u`` name the two-level parts.
    ``extra`` holds the parameters response types own, e.g. ``"level1.thresholds[2]"``
    (T, K - 2) for the free thresholds of ordinal response 2 of level 1.
    """

    beta: list[np.ndarray]
    omega: list[np.ndarray]
    burnin: int
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    beta1 = property(lambda self: self.beta[0])
    beta2 = property(lambda self: self.beta[1])
    omega_e = property(lambda self: self.omega[0])
    omega_u = property(lambda self: self.omega[1])

    @property
    def length(self) -> int:
        return self.beta[0].shape[0]


@dataclass
class Imputation:
    """Imputed values of one completed data set, at the missing cells only: levels[0] the
    level-1 cells (following ``SamplerResult.missing[0]``, row-major over (row,
    response)), levels[c + 1] those of classification c."""

    levels: list[np.ndarray]
    iteration: int
    #: imputed cells of the model of interest's outcome (None without one)
    outcome: np.ndarray | None = None

    level1 = property(lambda self: self.levels[0])
    level2 = property(lambda self: self.levels[1])


@dataclass
class SamplerResult:
    imputations: list[Imputation]
    chain: Chain
    missing: list[np.ndarray]
    iterations: int = 0
    extra: dict = field(default_factory=dict)

    missing1 = property(lambda self: self.missing[0])
    missing2 = property(lambda self: self.missing[1])


ProgressCallback = Callable[[int, int, int], None]


def level_key(level: int) -> str:
    """Prefix of the type-owned parameters of a level in the chain: ``level1`` for the
    units, ``level{c + 2}`` for the responses of classification c."""
    return f"level{level + 1}"


# --------------------------------------------------------------------------- sampler state

class GibbsSampler:
    """Draws parameters and missing values of the joint model; see the module docstring.

    Parameters
    ----------
    data : ModelData
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same chain.
    jomo_compatible : bool
        Draw B2 as R's jomo does, from N(GLS given Omega_vv only), ignoring the level-1
        random effects u it is correlated with.  That is not the exact full conditional
        (step 5 above is), so the chain targets a slightly different distribution — in
        our checks cov(u, v) differs by a few percent.  Only for cross-checking with jomo.
    """

    def __init__(self, data: ModelData, rng: np.random.Generator, jomo_compatible: bool = False):
        self.data = data
        self.rng = rng
        self.jomo_compatible = jomo_compatible
        # rows sorted by missingness pattern (then cluster): each pattern's rows are one
        # block for the imputer
        pattern = distinct_rows(np.isnan(data.level1.y))[1]
        self._order = np.lexsort((data.cluster, pattern))

        l1 = data.level1
        self.level1 = Level(l1.y[self._order], l1.x[self._order], l1.coef_mask, l1.kinds,
                             l1.n_categories, None if l1.shift is None else l1.shift[self._order])
        self.w1 = self.level1.width
        self.classes = self._classifications(data)
        self.cov_e = CovarianceSampler(self.level1.fixed_covariance(0, self.w1),
                                       *data.priors.level1(self.w1), flat=jomo_compatible)
        self.cov_e.check_posterior_df(self.level1.total_weight, "level-1")
        for c, cls in enumerate(self.classes):
            what = "level-2" if len(self.classes) == 1 else f"classification {c + 1}"
            cov = CovarianceSampler(cls.level.fixed_covariance(cls.d, cls.dim),
                                    *data.priors.level2(cls.dim), flat=jomo_compatible)
            cov.check_posterior_df(cls.level.total_weight, what)
            cls.start(cov)

        if data.cluster_covariance:
            _, gamma_scale = data.priors.level1(self.w1)
            self.covariance1: Covariance1 = ClusterCovariance1(self, gamma_scale,
                                                               *data.priors.cluster_df(self.w1))
        else:
            self.covariance1 = Covariance1(self.cov_e)
        classes = range(len(self.classes))
        #: the Gibbs iteration: these blocks, in this order, over this object's state
        self.imputer1 = PatternImputer(self.level1.impute_mask)
        first = self.classes[0]                        # every model has one at least
        if (data.block_fixed_random and data.collapse_missing and first.d_units
                and self.imputer1.active and data.substantive is None
                and first.d == first.d_units):
            # (B1, u of the first classification, missing level-1 cells) jointly given the
            # observed cells, then the rest given them
            self.steps: list[Step] = [UpdateLatents1(),
                                      *(ImputeLevel(c) for c in classes),
                                      ObservedDataFixedRandom1(self),
                                      *(FixedEffects(c) for c in classes),
                                      *(RandomEffects(c, self.covariance1) for c in classes[1:]),
                                      *(Covariance(c) for c in classes),
                                      self.covariance1]
            self.covariance1.rounds = covariance_rounds(self.level1.impute_mask)
        elif data.block_fixed_random and first.d_units:
            # (B1, u of the first classification) jointly, then the rest given them
            self.steps: list[Step] = [ImputeLevel1(self.covariance1),
                                      *(ImputeLevel(c) for c in classes),
                                      JointFixedRandom1(self),
                                      RandomEffects(0, self.covariance1),
                                      *(FixedEffects(c) for c in classes),
                                      *(RandomEffects(c, self.covariance1) for c in classes[1:]),
                                      *(Covariance(c) for c in classes),
                                      self.covariance1]
        else:
            self.steps = [ImputeLevel1(self.covariance1),
                          *(ImputeLevel(c) for c in classes),
                          FixedEffects1(self.covariance1),
                          *(FixedEffects(c) for c in classes),
                          *(RandomEffects(c, self.covariance1) for c in classes),
                          *(Covariance(c) for c in classes),
                          self.covariance1]
        self.smc = None

        # starting values: least squares on the mean-filled data, no random effects
        self.beta1 = self._least_squares(self.level1)
        for cls in self.classes:
            cls.beta = self._least_squares(cls.level)
        self.omega_e = self.cov_e.initial()
        # residuals W1 - X1 B1 - Z u of the level-1 working values, kept up to date by every
        # step that changes W1, B1 or u, so that no step recomputes them from scratch
        self.resid1 = self.level1.working - self.level1.x @ self.beta1
        self.scratch1 = np.empty_like(self.resid1)     # reused for (N, w1) temporaries
        # what a run has done so far (warm_up / keep may be called repeatedly)
        self._missing = [np.isnan(data.level1.y)] + [np.isnan(c.level.y) for c in data.classifications]
        if data.substantive is not None:
            # the model of interest (outcome | covariates) joins as blocks of its own
            from .substantive import SubstantiveState, with_model_of_interest
            self.smc = SubstantiveState(self, data.substantive)
            self.steps = with_model_of_interest(self, self.steps)
        self._segments: list[Chain] = []
        self._imputations: list[Imputation] = []
        self.iterations_done = 0
        self.burnin_done = 0

    def _classifications(self, data: ModelData) -> list[ClassificationState]:
        """One :class:`ClassificationState` per classification, with the sampling weights
        each update uses and the nested classifications' random intercepts wired in."""
        w_unit, own = scaled_weights(data)
        w_unit = None if w_unit is None else w_unit[self._order]
        specs = data.classifications
        up = [None if c.parent is None else parent_codes(c.codes, specs[c.parent].codes, c.n_units)
              for c in specs]

        def times(a, b):
            return b if a is None else a if b is None else a * b

        # a row's weight for the parameters: its own times those of the units above it
        full: list = [None] * len(specs)
        for c in reversed(range(len(specs))):
            parent = specs[c].parent
            full[c] = own[c] if parent is None else times(own[c], None if full[parent] is None
                                                          else full[parent][up[c]])
        # level-1 rows within a classification's units: their own weight times the weights
        # of the classifications on the first one's chain below it
        chain = [0] + data.above(0)
        states = []
        for c, spec in enumerate(specs):
            within = w_unit
            if c in chain:
                for below in chain[:chain.index(c)]:
                    if own[below] is not None:
                        within = times(within, own[below][specs[below].codes[self._order]])
            y = spec.level
            level = Level(y.y, y.x, y.coef_mask, y.kinds, y.n_categories, y.shift)
            level.weight(full[c])
            states.append(ClassificationState(c, spec.codes[self._order], spec.n_units,
                                              spec.z[self._order], level, self.w1, within))
        # every classification's responses get random intercepts from those above it;
        # inner units weigh in with their own weight times those between
        for c, spec in enumerate(specs):
            codes, weight, inner = np.arange(spec.n_units), own[c], c
            for outer in data.above(c):
                codes = up[inner][codes]
                if states[c].width:
                    states[outer].add_nested(states[c], codes, weight)
                if own[outer] is not None:
                    weight = times(weight, own[outer][codes])
                inner = outer
        w_cluster = full[0]
        self._w_param1 = times(w_unit, None if w_cluster is None else w_cluster[states[0].codes])
        self.level1.weight(self._w_param1)
        return states

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _least_squares(level: Level) -> np.ndarray:
        beta = np.zeros(level.coef_mask.shape)
        for c in range(level.width):
            cols = level.coef_mask[:, c]
            beta[cols, c] = np.linalg.lstsq(level.x[:, cols], level.working[:, c], rcond=None)[0]
        return beta

    def level1_mean(self) -> np.ndarray:
        """X1 B1 + the random parts of every classification, (N, w1), sorted rows."""
        mean = self.level1.x @ self.beta1
        for cls in self.classes:
            mean += cls.random_part(cls.u, self.scratch1)
        return mean

    def fill_masked_level1(self) -> None:
        """Write the imputed level-1 cells into the working values.  Between iterations
        they live only in the kept residuals: no step reads them as values (latent
        updates read observed categories' cells), so this runs only for output."""
        self.imputer1.fill(self.level1.working, self.level1_mean(), self.resid1)

    def resid1_exact(self) -> np.ndarray:
        """W1 - X1 B1 - Z u computed afresh (the sampler keeps it updated instead)."""
        self.fill_masked_level1()
        return self.level1.working - self.level1_mean()

    @property
    def levels(self) -> list[Level]:
        """Level 1, then the responses of each classification."""
        return [self.level1] + [cls.level for cls in self.classes]

    def step(self, adapt: bool = False) -> None:
        """One Gibbs iteration: every block of :attr:`steps` in turn (see the module
        docstring for the order).  ``adapt`` lets Metropolis-Hastings steps tune their
        proposals (burn-in only)."""
        for block in self.steps:
            block.step(self, adapt)

    # ------------------------------------------------------------------ output
    def type_parameters(self) -> dict[str, np.ndarray]:
        """Current values of the parameters owned by response types (thresholds ...)."""
        out = {}
        for index, level in enumerate(self.levels):
            out.update({f"{level_key(index)}.{k}": v for k, v in level.parameters().items()})
        for block in self.steps:
            out.update(block.parameters())
        return out

    def current_values(self, shifted: bool = True) -> list[np.ndarray]:
        """Completed response matrices of every level (level 1 in the caller's row
        order), with the MNAR shift of :class:`~.model.LevelData` applied unless
        ``shifted`` is False."""
        self.fill_masked_level1()
        values1 = np.empty_like(self.level1.values)
        values1[self._order] = self.level1.decode(shifted)
        return [values1] + [cls.level.decode(shifted) for cls in self.classes]

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Current fixed effects and covariance matrices, in :class:`Chain`'s order."""
        return ([self.beta1] + [cls.beta for cls in self.classes],
                [self.omega_e] + [cls.omega for cls in self.classes])

    def chain_bytes(self, iterations: int) -> int:
        """Memory the :class:`Chain` of `iterations` iterations takes (parameters the
        response types own included), for checking a run's size before it starts."""
        beta, omega = self.parameters()
        per_iteration = sum(b.size for b in beta) + sum(o.size for o in omega)
        per_iteration += sum(len(v) for v in self.type_parameters().values())
        return 8 * iterations * per_iteration

    # ------------------------------------------------------------------ running
    def warm_up(self, iterations: int, progress: ProgressCallback | None = None) -> None:
        """Run `iterations` more burn-in iterations (Metropolis-Hastings steps adapt),
        recording the parameters.  Can be called repeatedly (how ``burnin = "auto"``
        extends a burn-in until the chains have converged), but not once imputations
        are kept."""
        if self._imputations:
            raise ValueError("the burn-in is over: imputations are already kept")
        self._advance(iterations, adapt=True, between=0, progress=progress)
        self.burnin_done += iterations

    def keep(self, between: int, m: int, progress: ProgressCallback | None = None) -> None:
        """Keep `m` more completed data sets, one every `between` iterations (no
        adaptation).  Can be called again to add imputations without a new burn-in."""
        if between < 1 or m < 0:
            raise ValueError("need between >= 1 and m >= 0")
        self._advance(between * m, adapt=False, between=between, progress=progress)

    def _advance(self, total: int, adapt: bool, between: int,
                 progress: ProgressCallback | None) -> None:
        """`total` iterations, the parameters recorded; with ``between``, the completed
        data every `between` iterations.  ``progress(done, total, imputations)``
        counts within this call."""
        if total < 0:
            raise ValueError("the number of iterations cannot be negative")
        segment = self._empty_segment(total)
        for it in range(total):
            self.step(adapt=adapt)
            if not adapt:
                self.covariance1.keep()
            beta, omega = self.parameters()
            drawn = beta + omega
            for store, value in zip(segment.beta + segment.omega, beta + omega):
                store[it] = value
            for name, value in self.type_parameters().items():
                segment.extra[name][it] = value
                drawn.append(value)
            if not np.isfinite(sum(float(np.sum(value)) for value in drawn)):
                self._stop_at_non_finite(self.iterations_done + it + 1)
            done = it + 1
            if between and done % between == 0:
                values = self.current_values()
                outcome = None if self.smc is None else self.smc.imputed_outcome(self._order)
                self._imputations.append(Imputation([v[miss] for v, miss in zip(values, self._missing)],
                                                    self.iterations_done + done, outcome))
            if progress is not None:
                progress(done, total, len(self._imputations))
        self.iterations_done += total
        self._segments.append(segment)

    def _stop_at_non_finite(self, iteration: int) -> None:
        """Raise :class:`~.errors.NonFiniteDraw` naming the first block (in the order of
        the iteration) whose draws are not finite: a NaN or an infinity spreads to every
        later block, so the first is where it arose."""
        for block in self.steps:
            if not all(np.isfinite(value).all() for value in block.outputs(self)):
                raise NonFiniteDraw(block.label, block.index, iteration)
        raise NonFiniteDraw("the parameters of the response types (thresholds)", None, iteration)

    @property
    def chain(self) -> Chain:
        """The parameter draws of every iteration run so far, burn-in first."""
        parts = self._segments or [self._empty_segment()]
        return Chain([np.concatenate([p.beta[k] for p in parts]) for k in range(len(parts[0].beta))],
                     [np.concatenate([p.omega[k] for p in parts]) for k in range(len(parts[0].omega))],
                     self.burnin_done,
                     {name: np.concatenate([p.extra[name] for p in parts]) for name in parts[0].extra})

    def _empty_segment(self, length: int = 0) -> Chain:
        """Room for `length` iterations' parameter draws."""
        beta, omega = self.parameters()
        return Chain([np.empty((length,) + b.shape) for b in beta],
                     [np.empty((length,) + o.shape) for o in omega], 0,
                     {name: np.empty((length, len(value)))
                      for name, value in self.type_parameters().items()})

    def result(self) -> SamplerResult:
        """The imputations kept and the chain so far."""
        extra = self.covariance1.summaries()
        if self.smc is not None:
            extra["outcome_missing"] = np.isnan(self.data.substantive.y)
            extra["acceptance"] = self.smc.acceptance()
        return SamplerResult(list(self._imputations), self.chain, self._missing,
                             self.iterations_done, extra)

    def advance(self, warm: int, between: int, m: int,
                progress: ProgressCallback | None = None) -> None:
        """`warm` more burn-in iterations, then `m` more imputations `between` apart:
        one step of a run (:class:`~.parallel.ChainSet` runs chains in such steps).
        ``progress(done, total, imputations)`` counts within this step."""
        total = warm + between * m

        def offset(by):
            if progress is None:
                return None
            return lambda done, _, kept: progress(by + done, total, kept)
        if warm:
            self.warm_up(warm, offset(0))
        if m:
            self.keep(between, m, offset(warm))

    def run(self, burnin: int, between: int, m: int,
            progress: ProgressCallback | None = None) -> SamplerResult:
        """Run `burnin` iterations, then keep one completed data set every `between`
        iterations, `m` in all (jomo's nburn / nbetween / nimp).

        ``progress(iterations_done, iterations_total, imputations_done)`` is called after
        every iteration.
        """
        if burnin < 0 or between < 1 or m < 1:
            raise ValueError("need burnin >= 0, between >= 1 and m >= 1")
        self.advance(burnin, between, m, progress)
        return self.result()


def run_sampler(data: ModelData, burnin: int, between: int, m: int,
                seed: int | np.random.SeedSequence | None = None,
                progress: ProgressCallback | None = None,
                jomo_compatible: bool = False) -> SamplerResult:
    """Convenience wrapper: build a sampler with a seeded generator and run it."""
    rng = np.random.default_rng(seed)
    return GibbsSampler(data, rng, jomo_compatible).run(burnin, between, m, progress=progress)
