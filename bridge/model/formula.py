"""lme4's formula notation, parsed once for every part of mlimpute that reads it.

``y ~ x + w + (1 + x | school) + (1 | area)``: the fixed part is a patsy formula (as
statsmodels reads it); every ``( expression | grouping )`` term is a random term.  A
grouping ``a/b`` (b nested in a) is lme4's shorthand for two terms, ``(expr | a)`` and
``(expr | b:a)``; ``a:b`` groups by the combination of a and b.  The model of interest
(:mod:`mlimpute.analysis.fit`, :mod:`mlimpute.model.substantive`) and the mitml translator (:mod:`mlimpute.model.translate`) both split
formulas here, so the two can never disagree on what a random term is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import MlimputeError

if TYPE_CHECKING:
    import pandas as pd

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


@dataclass
class Formula:
    """A model-of-interest formula split into its fixed part (a patsy formula) and its
    random terms (:mod:`mlimpute.model.formula`)."""

    fixed: str
    terms: list[RandomTerm] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "Formula":
        """Split and check the formula: an outcome, random terms as lme4 writes them, and
        a fixed part patsy can read (a trailing '+' or an unclosed bracket is named here,
        before anything else is checked)."""
        import patsy

        if "~" not in text:
            raise MlimputeError(f"formula '{text}': expected 'response ~ terms'")
        lhs, rhs = text.split("~", 1)
        if not lhs.strip():
            raise MlimputeError(f"formula '{text}': no outcome before '~'")
        fixed, terms = split_random(r_powers(rhs), text)
        try:
            skeleton = quote_names(without_random_terms(r_powers(rhs)), ())   # `a b` as Q()
            patsy.ModelDesc.from_formula(f"~ {skeleton}")
        except patsy.PatsyError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot be read"
            raise MlimputeError(f"formula '{text}': {reason}") from None
        return cls(f"{lhs.strip()} ~ {fixed or '1'}", terms)

    @property
    def group(self) -> str | None:
        """The grouping of a single random term (None without random terms)."""
        return self.terms[0].group if len(self.terms) == 1 else (
            None if not self.terms else ", ".join(t.group for t in self.terms))

    @property
    def random(self) -> str | None:
        """The expression of a single random term ("1", "1 + x")."""
        return self.terms[0].expression if len(self.terms) == 1 else None

    @property
    def factors(self) -> list[str]:
        """Every column that groups a random term."""
        return list(dict.fromkeys(f for t in self.terms for f in t.factors))

    def quoted(self, columns) -> "Formula":
        """The formula with column names patsy cannot read quoted (:func:`quote_names`)."""
        return Formula(quote_names(self.fixed, columns),
                       [RandomTerm(quote_names(t.expression, columns), t.factors)
                        for t in self.terms])


def formula_columns(formula: Formula, frame: pd.DataFrame, text: str) -> list[str]:
    """Raise unless every column the formula names is in `frame`; return those columns."""
    terms = formula.fixed + " " + " ".join(t.expression for t in formula.terms)
    quoted = re.findall(r"`([^`]+)`", terms)
    for name in quoted:
        if name not in frame.columns:
            raise MlimputeError(f"formula '{text}': column '{name}' is not in the data")
    names = set(re.findall(r"[A-Za-z_][\w.]*", re.sub(r"`[^`]+`", " ", terms)))
    builtin = {"C", "np", "I", "log", "exp", "sqrt", "abs", "center", "standardize", "Treatment",
               "Sum", "Q"}
    unknown = sorted(n for n in names - builtin if n not in frame.columns)
    if unknown:
        raise MlimputeError(f"formula '{text}': column '{unknown[0]}' is not in the data")
    for factor in formula.factors:
        if factor not in frame.columns:
            raise MlimputeError(f"formula '{text}': grouping column '{factor}' is not in the data")
    used = [n for n in frame.columns if n in names or n in quoted or n in formula.factors]
    return used


def check_formula(text: str, frame: pd.DataFrame) -> None:
    """Parse a model-of-interest formula and check its columns exist in `frame`: what can
    be checked before a long run starts."""
    formula_columns(Formula.parse(text), frame, text)


QUOTED = re.compile(r'Q\("((?:[^"\\]|\\.)*)"\)')


def quote_names(text: str, columns) -> str:
    """The formula with every column name that is not a Python identifier (R's
    ``Read.Dis``, a name with spaces written in R's backticks) wrapped in patsy's
    ``Q("...")``, so that R users' formulas work as written."""
    text = re.sub(r"`([^`]+)`", lambda match: f'Q("{match.group(1)}")', text)
    odd = sorted((str(c) for c in columns if not str(c).isidentifier()), key=len, reverse=True)
    for name in odd:
        if " " in name:
            continue              # only reachable in backticks, done above
        text = re.sub(rf'(?<![\w."]){re.escape(name)}(?![\w."])', f'Q("{name}")', text)
    return text


def model_columns(formula: str, frame: pd.DataFrame) -> list[str]:
    """The columns of `frame` the model of interest uses (its variables and groupings)."""
    return formula_columns(Formula.parse(formula), frame, formula)
