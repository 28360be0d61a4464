"""lme4's formula notation, parsed once for every part of mlimpute that reads it.

``y ~ x + w + (1 + x | school) + (1 | area)``: the fixed part is a patsy formula (as
statsmodels reads it); every ``( expression | grouping )`` term is a random term.  A
grouping ``a/b`` (b nested in a) is lme4's shorthand for two terms, ``(expr | a)`` and
``(expr | b:a)``; ``a:b`` groups by the combination of a and b.  The model of interest
(:mod:`mlimpute.fit`) and the mitml translator (:mod:`mlimpute.translate`) both split
formulas here, so the two can never disagree on what a random term is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MlimputeError

_NAME = r"`[^`]+`|[A-Za-z_.][\w.]*"
_BAR = re.compile(rf"\(\s*([^()|]*?)\s*(\|\|?)\s*((?:{_NAME})(?:\s*[/:]\s*(?:{_NAME}))*)\s*\)")
_ANY_BAR = re.compile(r"\([^()]*\|[^()]*\)")


@dataclass(frozen=True)
class RandomTerm:
    """One random term: the expression whose coefficients vary ("1", "1 + x") and the
    columns whose combination defines the groups (one column, or several for ``b:a``)."""

    expression: str
    factors: tuple[str, ...]

    @property
    def group(self) -> str:
        """The grouping as lme4 names it: ``school``, or ``class:school`` when nested."""
        return ":".join(self.factors)


def split_random(rhs: str, text: str | None = None) -> tuple[str, list[RandomTerm]]:
    """The right-hand side without its random terms, and those terms (``a/b`` expanded
    as lme4 does).  `text` (the whole formula) names the formula in errors."""
    text = text or rhs
    terms: list[RandomTerm] = []
    for expression, bars, grouping in _BAR.findall(rhs):
        if bars == "||":
            raise MlimputeError(f"formula '{text}': uncorrelated random effects (||) are not "
                                "supported; write the terms separately, (1 | g) + (0 + x | g)")
        expression = expression.strip() or "1"
        nested = [part.strip() for part in grouping.split("/")]
        for depth in range(1, len(nested) + 1):
            # lme4: a/b/c -> a, b:a, c:b:a (innermost first in the name)
            factors = tuple(name.strip().strip("`") for part in reversed(nested[:depth])
                            for name in part.split(":"))
            terms.append(RandomTerm(expression, factors))
    fixed = _BAR.sub("", rhs)
    if _ANY_BAR.search(fixed):
        bad = _ANY_BAR.search(fixed).group(0)
        raise MlimputeError(f"formula '{text}': cannot read the random term '{bad}'")
    fixed = re.sub(r"\+\s*\+", "+", fixed)
    fixed = re.sub(r"^\s*\+|\+\s*$", "", fixed.strip()).strip()
    groups = [t.group for t in terms]
    repeated = sorted({g for g in groups if groups.count(g) > 1})
    if repeated:
        raise MlimputeError(f"formula '{text}': grouping '{repeated[0]}' appears in two random "
                            "terms; put its effects in one term")
    return fixed, terms
