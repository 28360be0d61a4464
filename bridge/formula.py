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

_GROUPING = re.compile(r"^\s*(`[^`]+`|[A-Za-z_.][\w.]*)(\s*[/:]\s*(`[^`]+`|[A-Za-z_.][\w.]*))*\s*$")


def _parenthesised(text: str):
    """(start, end) of every top-level parenthesised group of `text` (end exclusive)."""
    depth, start = 0, None
    for k, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = k
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                yield start, k + 1
            if depth < 0:
                return


def _top_level_bar(inner: str) -> int:
    """Position of the first '|' of `inner` outside nested parentheses, or -1."""
    depth = 0
    for k, char in enumerate(inner):
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            return k
    return -1


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


def r_powers(text: str) -> str:
    """R's power ``^`` inside ``I(...)`` written as Python's ``**`` (patsy evaluates the
    inside of I() as Python, where ^ is exclusive or): ``I(x^2)`` means x squared in an
    lme4 formula and here alike."""
    out, k = [], 0
    for match in re.finditer(r"(?<![\w.])I\(", text):
        if match.start() < k:
            continue
        depth, end = 0, None
        for j in range(match.end() - 1, len(text)):
            depth += (text[j] == "(") - (text[j] == ")")
            if depth == 0:
                end = j + 1
                break
        if end is None:
            break
        out.append(text[k:match.start()])
        out.append(text[match.start():end].replace("^", "**"))
        k = end
    out.append(text[k:])
    return "".join(out)


def without_random_terms(rhs: str, placeholder: str = "1") -> str:
    """The right-hand side with each random term replaced by `placeholder`: what the
    formula reads as once its random terms count as terms (so that a trailing '+' or an
    empty term stays visible to a parser)."""
    pieces, last = [], 0
    for start, end in _parenthesised(rhs):
        if _top_level_bar(rhs[start + 1: end - 1]) < 0:
            continue
        pieces += [rhs[last:start], placeholder]
        last = end
    return "".join(pieces) + rhs[last:]


def split_random(rhs: str, text: str | None = None) -> tuple[str, list[RandomTerm]]:
    """The right-hand side without its random terms, and those terms (``a/b`` expanded
    as lme4 does).  `text` (the whole formula) names the formula in errors.  A random
    term is a top-level parenthesised group with a '|' outside any inner parentheses,
    so ``(1 + C(g) | school)`` is one and ``I(x^2)`` is not."""
    text = text or rhs
    terms: list[RandomTerm] = []
    pieces, last = [], 0
    for start, end in _parenthesised(rhs):
        inner = rhs[start + 1: end - 1]
        bar = _top_level_bar(inner)
        if bar < 0:
            continue
        pieces.append(rhs[last:start])
        last = end
        expression, grouping = inner[:bar].strip() or "1", inner[bar + 1:]
        if grouping.startswith("|"):
            raise MlimputeError(f"formula '{text}': uncorrelated random effects (||) are not "
                                "supported; write the terms separately, (1 | g) + (0 + x | g)")
        if not _GROUPING.match(grouping):
            raise MlimputeError(f"formula '{text}': cannot read the grouping '{grouping.strip()}' "
                                "of a random term (expected a column, a/b or a:b)")
        nested = [part.strip() for part in grouping.split("/")]
        for depth in range(1, len(nested) + 1):
            # lme4: a/b/c -> a, b:a, c:b:a (innermost first in the name)
            factors = tuple(name.strip().strip("`") for part in reversed(nested[:depth])
                            for name in part.split(":"))
            terms.append(RandomTerm(expression, factors))
    fixed = "".join(pieces) + rhs[last:]
    if "|" in fixed:
        raise MlimputeError(f"formula '{text}': a '|' outside a random term (expr | group)")
    fixed = re.sub(r"\+\s*\+", "+", fixed)
    fixed = re.sub(r"^\s*\+|\+\s*$", "", fixed.strip()).strip()
    groups = [t.group for t in terms]
    repeated = sorted({g for g in groups if groups.count(g) > 1})
    if repeated:
        raise MlimputeError(f"formula '{text}': grouping '{repeated[0]}' appears in two random "
                            "terms; put its effects in one term")
    return fixed, terms
