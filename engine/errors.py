"""The engine's exceptions: a model it cannot sample, a draw that is not finite.

The lowest module of the engine: every other one may import it, it imports none."""
from __future__ import annotations


class ModelError(ValueError):
    """The model cannot be sampled as given (an improper posterior, a chain too large for
    memory, ...); the message says what to change."""


class NonFiniteDraw(ArithmeticError):
    """A block of the sampler drew a value that is not a finite number (a covariance that
    ran off to infinity, a NaN): the run stops at once rather than go on with it.

    ``block`` is what the block draws, in words, with ``{classification}`` where the
    bridge puts the classification's name (``classification`` its index, or None);
    ``iteration`` counts the chain's iterations from 1."""

    def __init__(self, block: str, classification: int | None, iteration: int):
        super().__init__(block, classification, iteration)
        self.block, self.classification, self.iteration = block, classification, iteration

    def __str__(self) -> str:
        where = "" if self.classification is None else f"classification {self.classification + 1}"
        return (f"the draw of {self.block.format(classification=where)} was not finite at "
                f"iteration {self.iteration}")
