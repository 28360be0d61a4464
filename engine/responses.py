"""Response types as latent-normal blocks.

Every response enters the joint model through one or more *working* normal columns:
a continuous response is its own working column; a binary or ordinal response is a
probit latent (variance fixed at 1, first threshold at 0); an unordered categorical
response with K categories has K-1 latents (maximum-indicant model, category 0 the
reference).  The sampler only ever sees working columns.  A response type says

* how many working columns it needs (:meth:`ResponseType.n_working`),
* how to start them (:meth:`ResponseType.initial_working`),
* how to redraw the latent values behind *observed* categories, one working column at
  a time from its conditional given everything else in the row
  (:meth:`ResponseType.update_observed`; nothing to do for continuous data),
* how to turn working values back into response values (:meth:`ResponseType.decode`),
* which entries of its own covariance block are fixed for identification
  (:meth:`ResponseType.fixed_covariance`),
* which extra parameters it owns, for the chain (:meth:`ResponseType.parameters`).

Missing values of every type are drawn by the sampler jointly from the conditional
normal of the missing working columns given the observed ones, then decoded.  Adding a
type is adding a class here and registering it; the sampler loop does not change.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .truncated import log_normal_interval, special, truncated_normal, truncated_normal_one_sided


class ColumnConditional:
    """Conditional normal of one working column given all other columns of its row.

    values (n, W) are the current working values and resid (n, W) their residuals from
    the mean, both C-ordered and modified in place by :meth:`redraw`; cov (W, W) is their
    covariance.  With Q = cov^-1 the conditional of column c is
    N(mu_c - sum_{k != c} Q_ck r_k / Q_cc, 1 / Q_cc), r = x - mu; since mu_c = x_c - r_c
    that mean is x_c - (Q r)_c / Q_cc, so a column's conditional means cost one
    (n, W) x (W,) product, not copies of row subsets.
    """

    def __init__(self, values: np.ndarray, resid: np.ndarray, cov: np.ndarray):
        if not (values.flags.c_contiguous and resid.flags.c_contiguous):
            raise ValueError("ColumnConditional needs C-ordered values and residuals")
        self.values = values
        self.resid = resid
        self.precision = np.linalg.inv(cov)

    def redraw(self, c: int, rows: np.ndarray,
               draw: Callable[[np.ndarray, float], np.ndarray]) -> np.ndarray:
        """Replace column c in `rows` by draw(conditional means, conditional sd); returns
        the new values."""
        q = self.precision[:, c]
        cells = rows * self.values.shape[1] + c              # flat positions: 1-d take/put
        values, resid = self.values.reshape(-1), self.resid.reshape(-1)   # views
        old = values.take(cells)
        new = draw(old - (self.resid @ (q / q[c]))[rows], 1.0 / np.sqrt(q[c]))
        resid.put(cells, resid.take(cells) + (new - old))
        values.put(cells, new)
        return new


class ResponseType:
    """Base class: the protocol every response type implements.

    The class is the one description of its type for all of mlimpute: the spec takes the
    type names from :data:`REGISTRY`, the bridge asks the class how to label its working
    columns, what to print in an equation and whether its values can be shifted on one
    scale (:class:`~mlimpute.model.spec.Delta`)."""

    name = "abstract"
    has_latent = False
    #: how the equations describe the type (``mlimpute show``)
    link = ""
    #: categories the type needs (None: any number; continuous types have none)
    fixed_categories: int | None = None
    #: a single working column on which an MNAR shift is meaningful
    single_scale = True

    def __init__(self, n_categories: int | None = None):
        self.n_categories = n_categories

    def n_working(self) -> int:
        raise NotImplementedError

    def initial_working(self, values: np.ndarray) -> np.ndarray:
        """(n, n_working) starting working values; NaN in rows where the response is missing."""
        raise NotImplementedError

    def update_observed(self, cond: ColumnConditional, columns: list[int], values: np.ndarray,
                        rng: np.random.Generator, adapt: bool) -> None:
        """Redraw the working values of rows whose response is observed (latent data
        augmentation); `columns` are this block's column indices in ``cond.values``.
        ``adapt`` is True during burn-in (tuning of Metropolis-Hastings steps allowed)."""
        return None

    def update_parameters(self, y: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                          rng: np.random.Generator, adapt: bool) -> None:
        """Redraw the parameters the type owns (ordinal thresholds) given the observed
        categories `y` and their latents' conditional means and SD, just before those
        latents are redrawn (from :meth:`update_observed`).  Types without any: nothing."""
        return None

    def decode(self, working: np.ndarray) -> np.ndarray:
        """(n,) response values implied by the working columns (n, n_working)."""
        raise NotImplementedError

    def fixed_covariance(self) -> np.ndarray | None:
        """Fixed values of this block's own covariance (None: unconstrained)."""
        return None

    def parameters(self) -> dict[str, np.ndarray]:
        """Parameters this type owns besides the regression and covariance (for the chain)."""
        return {}

    def working_labels(self, response: str) -> list[str]:
        """Names of the working columns of a response called `response`."""
        return [response]

    @classmethod
    def symbol(cls, response: str) -> str:
        """The left-hand side of the response's equation: the value or its latent z."""
        return f"z({response})" if cls.has_latent else response


class Continuous(ResponseType):
    """A normally distributed response: the working column is the value itself."""

    name = "continuous"
    link = "~ N"

    def n_working(self):
        return 1

    def initial_working(self, values):
        return np.asarray(values, dtype=float).reshape(-1, 1).copy()

    def decode(self, working):
        return working[:, 0]


def _check_codes(values: np.ndarray, k: int, name: str) -> np.ndarray:
    observed = values[~np.isnan(values)]
    if observed.size and (np.any(observed != np.round(observed)) or observed.min() < 0
                          or observed.max() > k - 1):
        raise ValueError(f"{name} response codes must be integers 0..{k - 1}")
    return observed.astype(int)


class Ordinal(ResponseType):
    """Ordered categories 0..K-1 through one probit latent z ~ N(mu, 1):
    y = k iff alpha_k < z <= alpha_{k+1}, alpha_0 = -inf, alpha_1 = 0, alpha_K = +inf.

    The free thresholds alpha_2..alpha_{K-1} get a Metropolis-Hastings step with the
    latent integrated out (Cowles 1996): all are proposed jointly from normals truncated
    to keep them ordered, under a flat prior; the proposal sd is tuned during burn-in.
    """

    name = "ordinal"
    link = "ordered probit"
    has_latent = True
    #: set when the response is a covariate of a model of interest (:mod:`.substantive`):
    #: ``extra_log_ratio(new, old)`` gives the outcome's log likelihood ratio of the
    #: categories the missing cells' latents fall in under new against old thresholds,
    #: and a function that records the new categories if the move is accepted
    extra_log_ratio = None

    def __init__(self, n_categories: int | None = None):
        if n_categories is None or n_categories < 2:
            raise ValueError(f"a {self.name} response needs at least 2 categories")
        super().__init__(n_categories)
        self.cut = np.concatenate([[-np.inf], np.arange(n_categories - 1, dtype=float), [np.inf]])
        self.step_sd = 0.05
        self._tries = self._accepted = 0

    def n_working(self):
        return 1

    def initial_working(self, values):
        k = self.n_categories
        codes = _check_codes(values, k, self.name)
        if k > 2 and codes.size:
            share = np.bincount(codes, minlength=k).cumsum()[:-1] / codes.size
            probit = special.ndtri(np.clip(share, 0.01, 0.99))
            alphas = probit - probit[0]
            self.cut[1:-1] = np.maximum.accumulate(alphas + np.arange(k - 1) * 1e-3)
        finite = self.cut.copy()
        finite[0], finite[-1] = self.cut[1] - 1.0, self.cut[-2] + 1.0
        start = np.full(len(values), np.nan)
        observed = ~np.isnan(values)
        y = values[observed].astype(int)
        start[observed] = 0.5 * (finite[y] + finite[y + 1])
        return start[:, None]

    def update_observed(self, cond, columns, values, rng, adapt):
        rows = np.flatnonzero(~np.isnan(values))
        if rows.size == 0:
            return
        y = values[rows].astype(int)

        def draw(mean, sd):
            self.update_parameters(y, mean, sd, rng, adapt)
            return self._draw_latent(mean, sd, y, rng)
        cond.redraw(columns[0], rows, draw)

    def _draw_latent(self, mean, sd, y, rng):
        """Latents of observed categories y: N(mean, sd^2) between their thresholds."""
        return truncated_normal(mean, sd, self.cut[y], self.cut[y + 1], rng)

    def update_parameters(self, y, mean, sd, rng, adapt):
        """Thresholds 2..K-2 by Metropolis-Hastings (Cowles 1996); none for K = 2."""
        if self.n_categories <= 2:
            return
        old = self.cut
        new = old.copy()
        s = self.step_sd
        log_q = 0.0
        for k in range(2, self.n_categories):
            new[k] = truncated_normal(old[k], s, new[k - 1], old[k + 1], rng)
            log_q += (log_normal_interval((new[k - 1] - old[k]) / s, (old[k + 1] - old[k]) / s)
                      - log_normal_interval((old[k - 1] - new[k]) / s, (new[k + 1] - new[k]) / s))
        log_like_new = log_normal_interval((new[y] - mean) / sd, (new[y + 1] - mean) / sd).sum()
        log_like_old = log_normal_interval((old[y] - mean) / sd, (old[y + 1] - mean) / sd).sum()
        extra, commit = (0.0, None) if self.extra_log_ratio is None else self.extra_log_ratio(new, old)
        accept = np.log(rng.random()) < log_like_new - log_like_old + log_q + extra
        if accept:
            self.cut = new
            if commit is not None:
                commit()
        if adapt:   # Robbins-Monro towards 40% acceptance, during burn-in only
            self._tries += 1
            self.step_sd *= np.exp((float(accept) - 0.4) / np.sqrt(self._tries))

    @staticmethod
    def category(cut: np.ndarray, latents: np.ndarray) -> np.ndarray:
        """The categories latents fall in under thresholds `cut` (-inf, 0, ..., +inf)."""
        return np.searchsorted(cut[1:-1], latents, side="left").astype(float)

    def decode(self, working):
        return self.category(self.cut, working[:, 0])

    def fixed_covariance(self):
        return np.ones((1, 1))

    def parameters(self):
        return {"thresholds": self.cut[2:-1].copy()} if self.n_categories > 2 else {}


class Binary(Ordinal):
    """Two categories 0/1 through one probit latent: y = 1 iff z > 0, var(z) = 1."""

    name = "binary"
    link = "probit"
    fixed_categories = 2

    def __init__(self, n_categories: int | None = 2):
        if n_categories != 2:
            raise ValueError(f"a binary response has 2 categories, got {n_categories}")
        super().__init__(2)

    def _draw_latent(self, mean, sd, y, rng):
        return truncated_normal_one_sided(mean, sd, 0.0, y == 1, rng)


class Categorical(ResponseType):
    """Unordered categories 0..K-1 through K-1 latents (maximum indicant, Aitchison &
    Bennett 1970): y = 0 iff every z < 0, y = k iff z_k is the largest and positive.

    The block's own level-1 covariance is fixed (1 on the diagonal, 0.5 off it, as in
    jomo); latents of observed categories are redrawn one at a time from truncated
    normals given the other latents (the region is a product of half-lines given them).
    """

    name = "categorical"
    link = "max-indicant probit"
    single_scale = False
    has_latent = True

    def __init__(self, n_categories: int | None = None):
        if n_categories is None or n_categories < 2:
            raise ValueError("a categorical response needs at least 2 categories")
        super().__init__(n_categories)

    def working_labels(self, response: str) -> list[str]:
        """``name.k``: the latent of category k (1..K-1; category 0 the reference)."""
        return [f"{response}.{k}" for k in range(1, self.n_working() + 1)]

    def n_working(self):
        return self.n_categories - 1

    def initial_working(self, values):
        codes = _check_codes(values, self.n_categories, self.name)
        start = np.full((len(values), self.n_working()), np.nan)
        observed = np.flatnonzero(~np.isnan(values))
        start[observed] = -0.5
        positive = codes > 0
        start[observed[positive], codes[positive] - 1] = 0.5
        return start

    def update_observed(self, cond, columns, values, rng, adapt):
        rows = np.flatnonzero(~np.isnan(values))
        if rows.size == 0:
            return
        y = values[rows].astype(int)
        block = slice(columns[0], columns[-1] + 1)          # a block's columns are contiguous
        # this block's latents, one contiguous array per column, kept in step with cond
        current = [cond.values[rows, j] for j in range(block.start, block.stop)]
        for k, col in enumerate(columns):
            max_other = np.full(len(rows), -np.inf)
            for j, column in enumerate(current):
                if j != k:
                    np.maximum(max_other, column, out=max_other)
            chosen = current[0].copy()              # the latent of the observed category
            for j in range(1, len(current)):
                np.copyto(chosen, current[j], where=(y - 1 == j))
            # category k+1: above max(0, the others); category 0: below 0; else below
            # the latent of the observed category
            above = y == k + 1
            bound = np.where(above, np.maximum(0.0, max_other), chosen)
            np.copyto(bound, 0.0, where=y == 0)
            current[k] = cond.redraw(col, rows, lambda mean, sd, bound=bound, above=above:
                                     truncated_normal_one_sided(mean, sd, bound, above, rng))

    def decode(self, working):
        top = working.max(axis=1)
        return np.where(top > 0, working.argmax(axis=1) + 1, 0).astype(float)

    def fixed_covariance(self):
        w = self.n_working()
        return np.full((w, w), 0.5) + 0.5 * np.eye(w)


REGISTRY: dict[str, type[ResponseType]] = {
    cls.name: cls for cls in (Continuous, Binary, Ordinal, Categorical)
}

#: Types the spec knows about: those registered (one list, kept by the registry).
KNOWN_KINDS = tuple(REGISTRY)


class UnsupportedResponseType(ValueError):
    """A response type the engine does not implement (yet)."""


def make_response_type(kind: str, n_categories: int | None = None) -> ResponseType:
    """Instantiate the registered response type `kind`."""
    try:
        cls = REGISTRY[kind]
    except KeyError:
        supported = ", ".join(sorted(REGISTRY))
        raise UnsupportedResponseType(
            f"response type '{kind}' is not supported by this version of the engine "
            f"(supported: {supported})") from None
    return cls() if cls is Continuous else cls(n_categories)
