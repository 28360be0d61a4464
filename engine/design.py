"""Design matrices recomputed from the current values of a model's variables.

The substantive model (:mod:`.substantive`) is a regression on *terms* of variables,
some of which are imputed: ``x * z`` has the terms x, z and x:z, ``I(x^2)`` the term
x squared, a categorical g one dummy per category but the first.  When an imputed x
changes, every term built from it changes with it ("passive" imputation done right),
so the sampler keeps the variables' values and rebuilds the terms from them, never the
other way round.

A term is a product of factors; a factor is a small expression tree over the variables,
written as nested tuples so that a model can be pickled to worker processes:

=========================  =============================================
``("var", i)``              variable i (column i of the values)
``("const", v)``            the number v
``("neg", a)``              -a
``("add", a, b)``           a + b; likewise ``sub``, ``mul``, ``div``, ``pow``
``("fn", name, a)``         log, exp, sqrt or abs of a
``("is", i, k)``            1 where variable i equals k (a category's dummy), else 0
``("map", i, table)``       table[k] where variable i is the category code k (the
                            number a numeric category stands for)
=========================  =============================================

The empty product is the intercept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "pow": np.power}
FUNCTIONS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}


def evaluate(factor: tuple, values: np.ndarray) -> np.ndarray:
    """The factor's value in every row, `values` (variables, n) holding one variable per
    row (so that each is contiguous)."""
    kind = factor[0]
    if kind == "var":
        return values[factor[1]]
    if kind == "const":
        return np.full(values.shape[1], float(factor[1]))
    if kind == "is":
        return (values[factor[1]] == factor[2]).astype(float)
    if kind == "map":
        return np.asarray(factor[2])[values[factor[1]].astype(int)]
    if kind == "neg":
        return -evaluate(factor[1], values)
    if kind == "fn":
        return FUNCTIONS[factor[1]](evaluate(factor[2], values))
    return _BINARY[kind](evaluate(factor[1], values), evaluate(factor[2], values))


def variables_of(factor: tuple) -> set[int]:
    """The variables a factor reads."""
    kind = factor[0]
    if kind in ("var", "is", "map"):
        return {factor[1]}
    if kind == "const":
        return set()
    if kind == "fn":
        return variables_of(factor[2])
    return set().union(*(variables_of(f) for f in factor[1:]))


@dataclass(frozen=True)
class Design:
    """The columns of a design matrix, each a product of factors (() the intercept)."""

    terms: tuple[tuple[tuple, ...], ...]

    @property
    def width(self) -> int:
        return len(self.terms)

    def columns(self, values: np.ndarray) -> np.ndarray:
        """The design transposed, (width, n), of `values` (variables, n): one term per row,
        the layout in which the sampler's per-unit products and sums are fastest."""
        out = np.ones((self.width, values.shape[1]))
        for k, term in enumerate(self.terms):
            for factor in term:
                out[k] *= evaluate(factor, values)
        return out

    def variables(self) -> set[int]:
        """Every variable some term reads."""
        return set().union(*(variables_of(f) for term in self.terms for f in term))
