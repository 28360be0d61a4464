"""Response types as latent-normal blocks.

Every response enters the joint model through one or more *working* normal columns:
a continuous response is its own working column; a binary or ordinal response is a
probit latent; an unordered categorical response with K categories has K-1 latents.
The sampler only ever sees working columns.  A response type says

* how many working columns it needs (:meth:`ResponseType.n_working`),
* how to start them (:meth:`ResponseType.initial_working`),
* how to redraw the latent values behind *observed* categories given the rest of
  the model (:meth:`ResponseType.update_observed`; nothing to do for continuous data),
* how to turn working values back into response values (:meth:`ResponseType.decode`),
* which entries of the level's covariance are fixed for identification
  (:meth:`ResponseType.fixed_covariance`).

Missing values of every type are drawn by the sampler jointly from the conditional
normal of the missing working columns given the observed ones, then decoded.  Adding a
type is adding a class here and registering it; the sampler loop does not change.
"""
from __future__ import annotations

import numpy as np


class ResponseType:
    """Base class: the protocol every response type implements."""

    name = "abstract"

    def n_working(self, values: np.ndarray) -> int:
        raise NotImplementedError

    def initial_working(self, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(n, n_working) starting working values; NaN in rows where the response is missing."""
        raise NotImplementedError

    def update_observed(self, working: np.ndarray, values: np.ndarray, cond_mean: np.ndarray,
                        cond_cov: np.ndarray, rng: np.random.Generator) -> None:
        """Redraw, in place, the working values of rows whose response is observed.

        working (n, w) is this block's columns, values (n,) the observed responses (NaN
        where missing), cond_mean (n, w) and cond_cov (w, w) the conditional normal of
        the block given every other working column of the row (latent data augmentation).
        """
        raise NotImplementedError

    def decode(self, working: np.ndarray) -> np.ndarray:
        """(n,) response values implied by the working columns."""
        raise NotImplementedError

    def fixed_covariance(self, n_working: int) -> np.ndarray | None:
        """Fixed values of this block's own covariance (None: unconstrained)."""
        return None

    @property
    def has_latent(self) -> bool:
        return False


class Continuous(ResponseType):
    """A normally distributed response: the working column is the value itself."""

    name = "continuous"

    def n_working(self, values):
        return 1

    def initial_working(self, values, rng):
        return np.asarray(values, dtype=float).reshape(-1, 1).copy()

    def update_observed(self, working, values, cond_mean, cond_cov, rng):
        return None  # observed continuous values are data, never redrawn

    def decode(self, working):
        return working[:, 0]


REGISTRY: dict[str, type[ResponseType]] = {
    Continuous.name: Continuous,
}

#: Types the spec knows about; those not in REGISTRY are refused by the engine with a clear message.
KNOWN_KINDS = ("continuous", "binary", "ordinal", "categorical")


class UnsupportedResponseType(ValueError):
    """A response type the engine does not implement (yet)."""


def make_response_type(kind: str) -> ResponseType:
    """Instantiate the registered response type `kind`."""
    try:
        return REGISTRY[kind]()
    except KeyError:
        supported = ", ".join(sorted(REGISTRY))
        raise UnsupportedResponseType(
            f"response type '{kind}' is not supported by this version of the engine "
            f"(supported: {supported})") from None
