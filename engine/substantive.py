"""The model of interest as a block of the imputation model (substantive-model-compatible
imputation, Goldstein, Carpenter & Browne 2014; Bartlett et al. 2015; R jomo's
``jomo.lmer``/``jomo.glmer``).

The joint model imputes every incomplete variable as a response of one multivariate
normal model.  That is compatible with an analysis that is linear in those variables
with random intercepts, and not with a random slope of an incomplete x, an interaction
``x * z``, a square ``x^2`` or a binary outcome.  Here the joint distribution is
factorised instead::

    p(y, x | z) = p(y | x, z; model of interest) p(x | z; joint covariate model)

* the **model of interest** (outcome y): y_ij = X_ij beta + Z_ij b_j + e_ij, with X and Z
  terms of the variables (:mod:`.design`), b_j ~ N(0, Omega_b), and e_ij ~ N(0, sigma2)
  (``family = "normal"``) or a probit latent with sigma2 = 1 (``"probit"``);
* the **covariate model**: the incomplete covariates (and auxiliary variables) are the
  responses of the joint model the sampler already has, at level 1 or at any
  classification, of any response type.

Missing values of a covariate are drawn by Metropolis-Hastings: the joint model's own
draw (given the row's other values and random effects) is the proposal, accepted with
probability min(1, p(y_i | x_new) / p(y_i | x_old)), per row for level-1 covariates
and per unit (the product over its rows) for covariates of a classification.  Rows
whose outcome is missing always accept (their outcome is integrated out), and the
outcome is then drawn from the model of interest.  Terms built from imputed values
(products, powers, dummies) are recomputed from them at every use.

An ordinal covariate's thresholds also decide the categories its missing cells' latents
stand for, so their Metropolis-Hastings move (:class:`~.responses.Ordinal`) is accepted
with the outcome's likelihood ratio of those categories too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classification import GroupSums
from .covariance import CovarianceSampler
from .design import Design
from .linalg import cholesky_batched, draw_normal_from_precision, inv_pd, inv_pd_batched
from .responses import Ordinal
from .special import special
from .steps import ImputeLevel, ImputeLevel1, Step
from .truncated import truncated_normal_one_sided

FAMILIES = ("normal", "probit")


@dataclass
class SubstantiveData:
    """The model of interest, in the engine's terms.

    y : (N,) outcome, NaN where missing (0/1 for ``family = "probit"``).
    values : (N, V) the variables the terms read; columns that are responses of the
        covariate model are read from the sampler (their entries here are ignored).
    sources : per variable, None (fully observed, from ``values``) or (level, r): the
        response r of level 0 (level 1) or of classification level - 1.
    fixed, random : the terms of X and of Z (the random part).
    classification : index of the classification whose units carry b.
    prior_b : (df, scale) of the inverse-Wishart prior of Omega_b; None: (q, I), the joint
        model's level-2 default.
    prior_e : (df, scale) of the inverse-Wishart (inverse-gamma) prior of sigma2; None:
        (-1, 0), the joint model's level-1 default (posterior df N - 1).  R jomo's
        jomo.lmer uses (q, Omega_b) and (1, sigma2) from a complete-case lmer fit.
    """

    y: np.ndarray
    family: str
    values: np.ndarray
    sources: list[tuple[int, int] | None]
    fixed: Design
    random: Design
    classification: int = 0
    prior_b: tuple[float, np.ndarray] | None = None
    prior_e: tuple[float, float] | None = None

    def __post_init__(self):
        self.y = np.asarray(self.y, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        n = len(self.y)
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}")
        if self.values.shape != (n, len(self.sources)):
            raise ValueError("values need one row per level-1 row and one column per variable")
        if self.family == "probit" and not np.isin(self.y[~np.isnan(self.y)], (0.0, 1.0)).all():
            raise ValueError("a probit outcome takes the values 0 and 1")
        if np.isnan(self.y).all():
            raise ValueError("the outcome has no observed value")

    @property
    def n_missing(self) -> int:
        return int(np.isnan(self.y).sum())


class SubstantiveState:
    """What the sampler keeps of the model of interest: the current outcome (and probit
    latent), the variables' current values, beta, b, Omega_b, sigma2.  Rows are in the
    sampler's sorted order; values (V, N) and the designs x (K, N) and z (q, N) built
    from them at each sweep are kept one variable or term per row (transposed), the
    layout in which their per-unit products are fastest."""

    def __init__(self, s, data: SubstantiveData):
        order = s._order
        self.data = data
        self.family = data.family
        self.missing = np.isnan(data.y[order])
        self.observed_one = data.y[order] == 1.0
        self.y = np.where(self.missing, np.nanmean(data.y), data.y[order])
        cls = s.classes[data.classification]
        self.codes, self.n_units = cls.codes, cls.n_units
        self.sums = GroupSums(self.codes, self.n_units)
        self.values = np.ascontiguousarray(data.values[order].T)
        self.sources = data.sources
        self.fixed, self.random = data.fixed, data.random
        q = data.random.width
        df_b, scale_b = data.prior_b or (float(q), np.eye(q))
        df_e, scale_e = data.prior_e or (-1.0, 0.0)
        self.cov_b = CovarianceSampler(np.full((q, q), np.nan), float(df_b),
                                       np.asarray(scale_b, dtype=float).reshape(q, q))
        self.cov_e = CovarianceSampler(np.full((1, 1), np.nan), float(df_e),
                                       np.full((1, 1), float(scale_e)))
        k, n = data.fixed.width, len(self.y)
        # the designs and the outcome's working values, one buffer: x = rows 0..K-1,
        # z = the next q, the target (outcome or latent) the last, so that the per-unit
        # products of z with all of them are one operation (x and z are views of it,
        # made at each use: a view kept as an attribute would come back from another
        # process as a separate copy, and the buffer would go stale)
        self._stacked = np.empty((k + q + 1, n))
        self._products = np.empty((q, k + q + 1, n))
        self.read_values(s)
        seen = ~self.missing
        self.x[:] = self.fixed.columns(self.values)
        self.beta = np.linalg.lstsq(self.x[:, seen].T, self.y[seen], rcond=None)[0]
        resid = self.y - self.beta @ self.x
        self.sigma2 = 1.0 if self.family == "probit" else max(float(resid[seen].var()), 1e-8)
        self.omega_b = np.eye(q) * (0.1 * self.sigma2)
        self.b = np.zeros((self.n_units, q))
        #: X beta + Z b of every row at the current values and parameters, kept up to date
        #: by the sweep and by every accepted proposal (so neither recomputes it)
        self.eta = self.beta @ self.x
        self.latent = np.where(self.observed_one, 0.5, -0.5) if self.family == "probit" \
            else self.y
        self.accepted = np.zeros(2)               # (accepted, proposed) after burn-in

    @property
    def x(self) -> np.ndarray:
        """(K, N) the fixed-effects design at the current values (a view of the buffer)."""
        return self._stacked[:self.fixed.width]

    @property
    def z(self) -> np.ndarray:
        """(q, N) the random-effects design at the current values (a view of the buffer)."""
        return self._stacked[self.fixed.width:self.fixed.width + self.random.width]

    # ------------------------------------------------------------------ values
    def variables_at(self, level: int) -> list[tuple[int, int]]:
        """(variable, response) pairs of the variables that are responses of `level`."""
        return [(v, src[1]) for v, src in enumerate(self.sources)
                if src is not None and src[0] == level]

    def read_values(self, s) -> None:
        """Every covariate-model variable's current values from the sampler's state."""
        s.fill_masked_level1()
        levels = s.levels
        for v, src in enumerate(self.sources):
            if src is None:
                continue
            level, r = src
            decoded = levels[level].decode()[:, r]
            self.values[v] = decoded if level == 0 else decoded[s.classes[level - 1].codes]

    def propose(self, rows: np.ndarray, decoded: np.ndarray, level: int) -> np.ndarray:
        """Values (V, len(rows)) of `rows` with the variables of `level` replaced by
        `decoded` (len(rows), responses of the level): a proposal to accept or not."""
        values = self.values[:, rows]
        for v, r in self.variables_at(level):
            values[v] = decoded[:, r]
        return values

    def update(self, rows: np.ndarray, take: np.ndarray, proposal: np.ndarray,
               eta: np.ndarray, variables: list[int]) -> None:
        """Keep the accepted part (`take`) of a proposal for `rows` that changed
        `variables`, with its linear predictor `eta` (from :meth:`log_ratio`)."""
        kept = rows[take]
        for v in variables:
            self.values[v, kept] = proposal[v, take]
        self.eta[kept] = eta[take]

    # ------------------------------------------------------------------ likelihood
    def _random_part(self, z: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Z_i b_j of rows with random design z (q, n) in units `codes`."""
        out = np.zeros(z.shape[1])
        for a, effects in enumerate(self.b.T):
            out += z[a] * effects.take(codes)
        return out

    def _linear_predictor(self, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """X beta + Z b of rows with these variables' values (V, n) and units."""
        return (self.beta @ self.fixed.columns(values)
                + self._random_part(self.random.columns(values), codes))

    def log_likelihood(self, eta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """log p(y_i | x_i) of `rows` with linear predictor `eta`, given sigma2: for an
        observed outcome the normal density (or the probit probability of its
        category), 0 for a missing one."""
        if self.family == "normal":
            out = -0.5 * (self.y[rows] - eta) ** 2 / self.sigma2
        else:
            out = special.log_ndtr(np.where(self.observed_one[rows], eta, -eta))
        out[self.missing[rows]] = 0.0
        return out

    def log_ratio(self, rows: np.ndarray, proposal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log p(y | proposal) - log p(y | current values), row by row, and the
        proposal's linear predictor."""
        eta = self._linear_predictor(proposal, self.codes[rows])
        return self.log_likelihood(eta, rows) - self.log_likelihood(self.eta[rows], rows), eta

    def accept(self, log_ratio: np.ndarray, rng: np.random.Generator, adapt: bool) -> np.ndarray:
        """Metropolis-Hastings acceptance of proposals with these log likelihood ratios."""
        take = np.log(rng.random(len(log_ratio))) < log_ratio
        if not adapt:
            self.accepted += (take.sum(), len(take))
        return take

    def threshold_move(self, rows: np.ndarray, latents: np.ndarray, variable: int,
                       new_cut: np.ndarray, old_cut: np.ndarray):
        """The outcome's part of an ordinal covariate's threshold move: (log likelihood
        ratio, commit) for `rows` whose missing cell has latent `latents` (one per row),
        `variable` the covariate.  commit (None when no category changes) records the
        new categories, to be called if the move is accepted."""
        new, old = Ordinal.category(new_cut, latents), Ordinal.category(old_cut, latents)
        changed = new != old
        if not changed.any():
            return 0.0, None
        moved = rows[changed]
        proposal = self.values[:, moved]
        proposal[variable] = new[changed]
        ratio, eta = self.log_ratio(moved, proposal)
        return float(ratio.sum()), lambda: self.update(moved, np.ones(len(moved), bool),
                                                       proposal, eta, [variable])

    def acceptance(self) -> float:
        """Share of the covariates' proposals accepted after burn-in (NaN: none yet)."""
        return float(self.accepted[0] / self.accepted[1]) if self.accepted[1] else float("nan")

    # ------------------------------------------------------------------ the model's draws
    def draw(self, s) -> None:
        """One Gibbs sweep of the model of interest given the completed covariates: the
        outcome (missing values; the probit latent), beta, b, Omega_b, sigma2."""
        rng = s.rng
        self.x[:] = self.fixed.columns(self.values)
        self.z[:] = self.random.columns(self.values)
        x, z = self.x, self.z
        k, q = x.shape[0], z.shape[0]
        eta = self.eta
        if self.family == "normal":
            drawn = eta[self.missing] + np.sqrt(self.sigma2) * rng.standard_normal(int(self.missing.sum()))
            self.y[self.missing] = drawn
            target = self.y
        else:
            self.latent = truncated_normal_one_sided(eta, 1.0, 0.0, self.observed_one, rng)
            free = eta[self.missing] + rng.standard_normal(int(self.missing.sum()))
            self.latent[self.missing] = free
            self.y[self.missing] = (free > 0).astype(float)
            target = self.latent
        # beta with b integrated out, then b | beta: a joint draw of (beta, b), which mixes
        # far better than beta | b when the intercept and the b_j are strongly correlated.
        # With V_j = Z_j Omega_b Z_j' + sigma2 I, by Woodbury
        # sigma2 V_j^-1 = I - Z_j P_j^-1 Z_j', P_j = sigma2 Omega_b^-1 + Z_j'Z_j; and
        # b_j | beta ~ N(P_j^-1 Z_j'(t_j - X_j beta), sigma2 P_j^-1): one inverse of each
        # (small) P_j serves both.
        gram, cross = x @ x.T, x @ target
        if q:
            self._stacked[-1] = target
            np.multiply(z[:, None, :], self._stacked[None], out=self._products)
            sums = self.sums.of_columns(self._products.reshape(-1, len(target)))
            sums = sums.reshape(self.n_units, q, k + q + 1)           # Z_j'[X_j | Z_j | t_j]
            zx, zz, zt = sums[:, :, :k], sums[:, :, k:k + q], sums[:, :, -1]
            p_inv = inv_pd_batched(self.sigma2 * inv_pd(self.omega_b) + zz)
            solved_x = p_inv @ zx                                      # P_j^-1 Z_j'X_j
            solved_t = np.einsum("jab,jb->ja", p_inv, zt)              # P_j^-1 Z_j't_j
            flat = zx.reshape(-1, k)
            gram = gram - flat.T @ solved_x.reshape(-1, k)
            cross = cross - flat.T @ solved_t.reshape(-1)
        self.beta = draw_normal_from_precision(gram / self.sigma2, cross / self.sigma2, rng)
        resid = target - self.beta @ x
        if q:
            mean = solved_t - solved_x @ self.beta
            root = cholesky_batched(p_inv) * np.sqrt(self.sigma2)
            self.b = mean + np.einsum("jab,jb->ja", root, rng.standard_normal(mean.shape))
            self.omega_b = self.cov_b.draw(self.omega_b, self.b.T @ self.b, float(self.n_units),
                                           rng, False)
        e = resid - self._random_part(z, self.codes)
        self.eta = target - e
        if self.family == "normal":
            self.sigma2 = float(self.cov_e.draw(np.array([[self.sigma2]]),
                                                np.array([[e @ e]]), float(len(e)), rng, False)[0, 0])

    def parameters(self) -> dict[str, np.ndarray]:
        lower = np.tril_indices(self.omega_b.shape[0])
        out = {"model.beta": self.beta.copy(), "model.omega_b": self.omega_b[lower].copy()}
        if self.family == "normal":
            out["model.sigma2"] = np.array([self.sigma2])
        return out

    def imputed_outcome(self, order: np.ndarray) -> np.ndarray:
        """The outcome's imputed cells in the caller's row order."""
        y = np.empty(len(self.y))
        y[order] = self.y
        return y[np.isnan(self.data.y)]


# --------------------------------------------------------------------------- blocks

class _Level1MeansAt:
    """X1 B1 + Z u of some level-1 rows at the sampler's current parameters, (n, w1) or
    one column's (n,); what never changes (the rows' covariates, units and z) is
    gathered once."""

    def __init__(self, s, rows: np.ndarray):
        self.x = s.level1.x[rows]
        self.random = [(cls, cls.codes[rows], cls.z[rows]) for cls in s.classes if cls.d_units]

    def __call__(self, s, column=slice(None)) -> np.ndarray:
        mean = self.x @ s.beta1[:, column]
        for cls, codes, z in self.random:
            mean += cls.random_part_at(codes, z)[:, column]
        return mean


class ImputeLevel1GivenOutcome(Step):
    """Latents and missing level-1 cells as :class:`~.steps.ImputeLevel1` draws them, the
    missing cells then accepted row by row with the outcome's likelihood ratio (the
    covariate model's draw is the proposal).  The current values need no decoding: a
    rejected draw restores the cells' residuals, and the values they stand for."""

    label = "the missing level-1 covariates of the model of interest"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.resid1]

    def __init__(self, s, covariance):
        self.covariance = covariance
        imp = s.imputer1
        self.variables = [v for v, _ in s.smc.variables_at(0)]
        self.active = imp.active and bool(self.variables)
        if not self.active:
            return
        self.rows = rows = np.unique(imp.cell_rows)
        self.cells = (imp.cell_rows, imp.cell_cols)
        self.flat_cells = imp.flat_cells           # the same cells in the C-ordered residuals
        self.cell_at = np.searchsorted(self.rows, imp.cell_rows)      # position among rows
        self.means = _Level1MeansAt(s, rows)
        for variable, r in s.smc.variables_at(0):
            rtype, cols, _ = s.level1.blocks[r]
            if isinstance(rtype, Ordinal):
                rtype.extra_log_ratio = self._threshold_hook(s, variable, r, cols.start)

    def _threshold_hook(self, s, variable: int, r: int, column: int):
        """The outcome's part of the threshold move of ordinal covariate r: the latents
        of its missing cells are their current means plus residuals."""
        rows = np.flatnonzero(np.isnan(s.level1.values[:, r]))
        means = _Level1MeansAt(s, rows)

        def hook(new_cut, old_cut):
            latents = means(s, column) + s.resid1[rows, column]
            return s.smc.threshold_move(rows, latents, variable, new_cut, old_cut)
        return hook

    def step(self, s, adapt: bool) -> None:
        if s.w1 == 0:
            return
        if not self.active:
            self.covariance.impute(s, adapt)
            return
        flat = s.resid1.reshape(-1)                # a view: the residuals are C-ordered
        old = flat.take(self.flat_cells)           # latent updates leave masked cells alone
        self.covariance.impute(s, adapt)
        new = flat.take(self.flat_cells)
        smc, rows = s.smc, self.rows
        mean = self.means(s)
        working = s.level1.working[rows]
        working[self.cell_at, self.cells[1]] = mean[self.cell_at, self.cells[1]] + new
        proposal = smc.propose(rows, s.level1.decode(working=working), 0)
        ratio, eta = smc.log_ratio(rows, proposal)
        take = smc.accept(ratio, s.rng, adapt)
        smc.update(rows, take, proposal, eta, self.variables)
        back = ~take[self.cell_at]
        flat.put(self.flat_cells[back], old[back])


class ImputeLevelGivenOutcome(ImputeLevel):
    """:class:`~.steps.ImputeLevel` of a classification whose responses are covariates of
    the model of interest: each unit's draw is accepted with the likelihood ratio of the
    outcomes of all its rows."""

    label = "the missing covariates of the model of interest at {classification}"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.classes[self.index].level.working]

    def __init__(self, s, index: int):
        super().__init__(index)
        c = s.classes[index]
        mask = c.level.impute_mask
        self.units = np.flatnonzero(mask.any(axis=1))
        self.rows = np.flatnonzero(np.isin(c.codes, self.units))
        self.unit_of_row = np.searchsorted(self.units, c.codes[self.rows])
        self.variables = [v for v, _ in s.smc.variables_at(index + 1)]

    def step(self, s, adapt: bool) -> None:
        c = s.classes[self.index]
        if not len(self.units):
            super().step(s, adapt)
            return
        mask = c.level.impute_mask
        old = c.level.working[mask]
        super().step(s, adapt)
        smc = s.smc
        decoded = c.level.decode(working=c.level.working[self.units])[self.unit_of_row]
        proposal = smc.propose(self.rows, decoded, self.index + 1)
        per_row, eta = smc.log_ratio(self.rows, proposal)
        ratio = np.bincount(self.unit_of_row, weights=per_row, minlength=len(self.units))
        take = smc.accept(ratio, s.rng, adapt)
        smc.update(self.rows, take[self.unit_of_row], proposal, eta, self.variables)
        rejected = np.zeros(c.n_units, dtype=bool)
        rejected[self.units[~take]] = True
        keep_old = (mask & rejected[:, None])[mask]
        cells = c.level.working[mask]
        cells[keep_old] = old[keep_old]
        c.level.working[mask] = cells


class SubstantiveModel(Step):
    """The model of interest's Gibbs sweep (:meth:`SubstantiveState.draw`); its
    parameters go to the chain as ``model.beta``, ``model.omega_b`` (lower triangle, row
    by row) and ``model.sigma2``."""

    label = "the model of interest's parameters and outcome"

    def outputs(self, s) -> list[np.ndarray]:
        return [self.state.beta, self.state.b, self.state.omega_b, np.array([self.state.sigma2]), self.state.y]

    def __init__(self, state: SubstantiveState):
        self.state = state

    def step(self, s, adapt: bool) -> None:
        self.state.draw(s)

    def parameters(self) -> dict[str, np.ndarray]:
        return self.state.parameters()


def with_model_of_interest(s, steps: list[Step]) -> list[Step]:
    """The sampler's blocks with the model of interest added: the imputation blocks of
    levels holding its covariates become Metropolis-Hastings blocks, and its own sweep
    comes last."""
    out = []
    for block in steps:
        if isinstance(block, ImputeLevel1):
            block = ImputeLevel1GivenOutcome(s, block.covariance)
        elif isinstance(block, ImputeLevel) and s.smc.variables_at(block.index + 1):
            block = ImputeLevelGivenOutcome(s, block.index)
        out.append(block)
    return out + [SubstantiveModel(s.smc)]
