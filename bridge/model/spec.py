"""The intermediate model specification: one data model every translator produces.

A :class:`Spec` names the responses (type and level), the covariates of every
equation, the random coefficients, the cluster identifier, the MCMC settings and the
priors.  It is checked for internal consistency when constructed and against a data
frame by :meth:`Spec.validate`.  It round-trips losslessly through JSON and TOML::

    spec = Spec(cluster="school", responses=[Response("y1"), Response("y2", level=2)],
                covariates=["x"])
    spec.save("model.toml");  Spec.load("model.toml") == spec

Defaults follow REALCOM-IMPUTE: every response has an intercept and a random intercept,
every covariate enters every level-1 equation, level-2 responses get the level-2
covariates (those constant within clusters) only.  Optional level-1 and level-2
sampling weights (columns) enter the parameter updates as in REALCOM's extension (see
``mlimpute.engine.model.scaled_weights``).  ``delta`` lists MNAR sensitivity shifts of
imputed values (:class:`Delta`, :mod:`mlimpute.model.delta`); the MCMC settings ``burnin``,
``between`` and ``m`` may be ``"auto"`` (:class:`MCMC`).  ``level1_covariance = "cluster"`` gives
every cluster its own level-1 covariance matrix (R jomo's ``meth = "random"``; continuous
level-1 responses only), with ``priors.cluster_df_start`` / ``cluster_df_prior`` as
jomo's ``a`` / ``a.prior`` and ``priors.level1_scale`` as its ``l1cov.prior``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import SpecError

from mlimpute.engine.responses import REGISTRY

#: response types a spec may name: the engine's registry, the one list
RESPONSE_TYPES = tuple(REGISTRY)
SPEC_VERSION = 1


@dataclass
class Response:
    """One partially observed variable modelled as a response.

    level : where the variable lives: 1 for the units (rows), 2 for the first
        classification (constant within its units), 3 for the second, ...; or the
        classification's column name.
    covariates : None (the model's default for this level) or an explicit list of
        column names entering this response's equation — REALCOM's per-response
        covariates; leaving a covariate out constrains its coefficient to zero.
    intercept : None (the model's default) or whether the equation has a constant.
    reference : for binary and categorical responses, the category whose latents are all
        negative: "first" (REALCOM's and our default) or "last" (R jomo's choice).  The two
        give the same model; only the coefficients' meaning changes.
    """

    name: str
    type: str = "continuous"
    level: int | str = 1
    covariates: list[str] | None = None
    intercept: bool | None = None
    reference: str = "first"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("every response needs a non-empty column name")
        if self.type not in RESPONSE_TYPES:
            raise SpecError(f"response '{self.name}': unknown type '{self.type}' "
                            f"(expected one of {', '.join(RESPONSE_TYPES)})")
        if isinstance(self.level, bool) or not (isinstance(self.level, int) and self.level >= 1
                                                 or isinstance(self.level, str) and self.level):
            raise SpecError(f"response '{self.name}': level must be 1 (the units), 2, 3, ... or "
                            f"the name of a classification, got {self.level!r}")
        if self.covariates is not None:
            self.covariates = _names(self.covariates, f"response '{self.name}' covariates")
        if self.reference not in ("first", "last"):
            raise SpecError(f"response '{self.name}': reference must be 'first' or 'last', "
                            f"got {self.reference!r}")
        if self.reference == "last" and self.type not in ("binary", "categorical"):
            raise SpecError(f"response '{self.name}': reference applies to binary and "
                            "categorical responses only")


AUTO = "auto"
#: largest magnitude accepted in a numeric column or a shift: sums of squares of many
#: such values must stay far below float64's overflow at 1.8e308
MAX_MAGNITUDE = 1e100
#: fewest burn-in iterations from which ``between = "auto"`` reads the autocorrelation
MIN_BURNIN_FOR_BETWEEN = 100


@dataclass
class MCMC:
    """Sampler settings: burn-in, iterations between kept data sets, M, seed, and the
    number of independent chains (each with its own burn-in, M split among them).

    ``burnin``, ``between`` and ``m`` may be ``"auto"``:

    * ``burnin = "auto"`` extends the burn-in until every parameter has rank-normalised
      split R-hat below 1.01 and bulk ESS of at least 400 over the second half of it,
      up to ``max_burnin`` iterations per chain (:mod:`mlimpute.engine.convergence`);
    * ``between = "auto"`` takes the smallest lag at which every parameter's
      autocorrelation has fallen below 0.05;
    * ``m = "auto"`` keeps ``pilot_m`` imputations, estimates the fraction of missing
      information and adds imputations until the standard errors are replicable to a
      coefficient of variation ``se_cv`` (von Hippel 2020; :func:`mlimpute.analysis.pool.how_many_imputations`).

    The numbers chosen are recorded in the result's spec, so a saved spec repeats the
    run exactly.  jomo_compatible reproduces R jomo's (approximate) draw of the level-2
    fixed effects, for cross-checking against jomo only; the default is the exact full
    conditional.

    ``fixed_random = "joint"`` (the default) draws the level-1 fixed effects together
    with the random effects of the first classification, the fixed effects with the
    random effects integrated out (:class:`mlimpute.engine.steps.JointFixedRandom1`):
    the same posterior, and at high intraclass correlations many times the effective
    samples per iteration.  Where level-1 cells are missing (and no model of interest is
    part of the model), that draw is given the observed cells alone and the missing cells
    are drawn right after it (:mod:`mlimpute.engine.collapsed`), so that the fixed and
    random effects do not inherit the data augmentation's autocorrelation.  Weighted models and cluster-specific level-1 covariances
    use ``"separate"`` (one given the other), which is also what releases before 0.2
    did: a spec saved by them repeats its run exactly with ``fixed_random = "separate"``.
    """

    burnin: int | str = 1000
    between: int | str = 500
    m: int | str = 20
    seed: int | None = None
    jomo_compatible: bool = False
    chains: int = 1
    max_burnin: int = 20000
    pilot_m: int = 20
    se_cv: float = 0.05
    fixed_random: str = "joint"

    def __post_init__(self):
        for name, low in (("burnin", 0), ("between", 1), ("m", 1), ("chains", 1),
                          ("max_burnin", 8), ("pilot_m", 2)):
            value = getattr(self, name)
            if name in ("burnin", "between", "m") and value == AUTO:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                also = " or 'auto'" if name in ("burnin", "between", "m") else ""
                raise SpecError(f"mcmc.{name} must be an integer >= {low}{also}, got {value!r}")
        if self.between == AUTO:
            shortest = self.burnin if self.burnin != AUTO else min(1000, self.max_burnin)
            if shortest < MIN_BURNIN_FOR_BETWEEN:
                what = (f"burnin = {self.burnin}" if self.burnin != AUTO
                        else f"max_burnin = {self.max_burnin}")
                raise SpecError(f"mcmc: between = 'auto' reads the autocorrelation of the burn-in, "
                                f"which needs at least {MIN_BURNIN_FOR_BETWEEN} iterations "
                                f"({what}); give a longer burn-in or a number for between")
        if isinstance(self.m, int) and self.chains > self.m:
            raise SpecError(f"mcmc.chains ({self.chains}) cannot exceed mcmc.m ({self.m})")
        if self.m == AUTO and self.chains > self.pilot_m:
            raise SpecError(f"mcmc.chains ({self.chains}) cannot exceed mcmc.pilot_m ({self.pilot_m})")
        if isinstance(self.se_cv, bool) or not isinstance(self.se_cv, (int, float)) \
                or not 0 < self.se_cv < 1:
            raise SpecError(f"mcmc.se_cv must be a number between 0 and 1, got {self.se_cv!r}")
        if self.fixed_random not in ("joint", "separate"):
            raise SpecError(f"mcmc.fixed_random must be 'joint' or 'separate', got {self.fixed_random!r}")
        if not isinstance(self.jomo_compatible, bool):
            raise SpecError(f"mcmc.jomo_compatible must be true or false, got {self.jomo_compatible!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or self.seed < 0):
            raise SpecError(f"mcmc.seed must be a non-negative integer, got {self.seed!r}")

    @property
    def automatic(self) -> bool:
        """Whether any of burnin, between and m is chosen by the run."""
        return AUTO in (self.burnin, self.between, self.m)


@dataclass
class Delta:
    """A sensitivity shift for data missing not at random (Carpenter & Kenward 2013,
    ch. 10): `shift` is added to every imputed value of response `response` (on the
    latent probit scale for binary and ordinal responses), in the rows where `where`
    holds (``"column"``: the column is nonzero; ``"column == value"`` and the other
    comparisons ``!= < <= > >=``; None: every row).  Observed values never move."""

    response: str
    shift: float
    where: str | None = None

    def __post_init__(self):
        if not isinstance(self.response, str) or not self.response:
            raise SpecError("every delta needs a response name")
        if isinstance(self.shift, bool) or not isinstance(self.shift, (int, float)) \
                or not math.isfinite(self.shift):
            raise SpecError(f"delta for '{self.response}': the shift must be a finite number, "
                            f"got {self.shift!r}")
        if abs(self.shift) > MAX_MAGNITUDE:
            raise SpecError(f"delta for '{self.response}': the shift {self.shift:g} is beyond "
                            f"{MAX_MAGNITUDE:g} (data values beyond it are refused too); give "
                            "a shift on the response's scale")
        self.shift = float(self.shift)
        if self.where is not None and (not isinstance(self.where, str) or not self.where.strip()):
            raise SpecError(f"delta for '{self.response}': 'where' must be a condition such as "
                            "\"girl == 1\"")


@dataclass
class PriorSpec:
    """Inverse-Wishart priors; None keeps jomo's defaults (identity scale; level-1
    df = -1, i.e. posterior df N - 1; level-2 df = dimension of Omega_u)."""

    level1_df: float | None = None
    level1_scale: list[list[float]] | None = None
    level2_df: float | None = None
    level2_scale: list[list[float]] | None = None
    cluster_df_start: float | None = None
    cluster_df_prior: float | None = None
    #: the model of interest's Omega_b ~ IW(model_df, model_scale) (default: q, identity)
    #: and sigma2 ~ IW(model_residual_df, model_residual_scale) (default: -1, 0)
    model_df: float | None = None
    model_scale: list[list[float]] | None = None
    model_residual_df: float | None = None
    model_residual_scale: float | None = None

    def __post_init__(self):
        for name in ("level1_scale", "level2_scale", "model_scale"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                rows = [[float(v) for v in row] for row in value]
            except (TypeError, ValueError):
                raise SpecError(f"priors.{name} must be a square matrix of numbers") from None
            if any(len(r) != len(rows) for r in rows):
                raise SpecError(f"priors.{name} must be a square matrix")
            setattr(self, name, rows)
        for name in ("level1_df", "level2_df", "cluster_df_start", "cluster_df_prior",
                     "model_df", "model_residual_df", "model_residual_scale"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise SpecError(f"priors.{name} must be a number")
        if self.cluster_df_prior is not None and self.cluster_df_prior <= 0:
            raise SpecError(f"priors.cluster_df_prior must be positive, got {self.cluster_df_prior}")


FAMILIES = ("auto", "gaussian", "probit")


@dataclass
class ModelOfInterest:
    """The analysis model, in lme4 notation, as part of the imputation model
    (substantive-model-compatible imputation, :mod:`mlimpute.model.substantive`):
    ``formula = "y ~ x * z + I(x^2) + (1 + x | school)"``.  Its outcome is imputed from
    it and its incomplete covariates so that it holds; the spec's responses are then the
    covariate model (the incomplete covariates and any auxiliary variables).
    ``family``: ``"gaussian"`` (linear mixed model), ``"probit"`` (binary outcome), or
    ``"auto"`` (probit for a two-category outcome, else gaussian).  There is no logit:
    the sampler's binary outcome model is the probit's exact data augmentation."""

    formula: str
    family: str = "auto"

    def __post_init__(self):
        if not isinstance(self.formula, str) or "~" not in self.formula:
            raise SpecError(f"model.formula must be a formula 'outcome ~ terms', got {self.formula!r}")
        if self.family == "logit":
            raise SpecError("model.family: logit is not available (a binary outcome is modelled "
                            "by probit, whose data augmentation is exact); use 'probit'")
        if self.family not in FAMILIES:
            raise SpecError(f"model.family must be one of {', '.join(FAMILIES)}, got {self.family!r}")

    @property
    def outcome(self) -> str:
        return self.formula.split("~", 1)[0].strip().strip("`")


@dataclass
class Spec:
    """A multilevel joint imputation model; see the module docstring.

    ``cluster`` names the one classification of a two-level model.  ``clusters`` lists
    several, innermost first (``["class", "school"]``): nested, each unit of one inside
    exactly one unit of the next (checked against the data), unless ``crossed`` is true
    (pupils in schools and in neighbourhoods).  ``cluster`` is then the first of them.
    ``random_slopes`` are random coefficients in the first classification; a mapping
    ``{classification: [columns]}`` puts them in others.  ``level2_weight`` weighs the
    units of the first classification, ``cluster_weights`` (``{classification:
    column}``) those of any.
    """

    cluster: str = ""
    responses: list[Response] = field(default_factory=list)
    covariates: list[str] = field(default_factory=list)
    level2_covariates: list[str] | None = None
    intercept: bool = True
    random_intercept: bool = True
    random_slopes: list[str] | dict[str, list[str]] = field(default_factory=list)
    level1_weight: str | None = None
    level2_weight: str | None = None
    level1_covariance: str = "common"
    mcmc: MCMC = field(default_factory=MCMC)
    priors: PriorSpec = field(default_factory=PriorSpec)
    delta: list[Delta] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    crossed: bool = False
    cluster_weights: dict[str, str] = field(default_factory=dict)
    model: ModelOfInterest | None = None
    version: int = SPEC_VERSION

    def __post_init__(self):
        self._check_classifications()
        self.responses = [r if isinstance(r, Response) else Response(**_known(Response, r, "response"))
                          for r in self.responses]
        if isinstance(self.model, dict):
            self.model = ModelOfInterest(**_known(ModelOfInterest, self.model, "model"))
        if isinstance(self.model, str):
            self.model = ModelOfInterest(self.model)
        if not self.responses and self.model is None:
            raise SpecError("the spec has no response: nothing to impute")
        if isinstance(self.mcmc, dict):
            self.mcmc = MCMC(**_known(MCMC, self.mcmc, "mcmc"))
        if isinstance(self.priors, dict):
            self.priors = PriorSpec(**_known(PriorSpec, self.priors, "priors"))
        if not isinstance(self.delta, list):
            raise SpecError("delta must be a list of {response, shift, where} settings")
        self.delta = [d if isinstance(d, Delta) else Delta(**_known(Delta, d, "delta"))
                      for d in self.delta]
        self.covariates = _names(self.covariates, "covariates")
        self._check_slopes()
        if self.level2_covariates is not None:
            self.level2_covariates = _names(self.level2_covariates, "level2_covariates")
        if self.version != SPEC_VERSION:
            raise SpecError(f"spec version {self.version} is not supported (expected {SPEC_VERSION})")
        for r in self.responses:
            self.level_of(r)
        names = [r.name for r in self.responses]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"response '{dup[0]}' is listed more than once")
        for cluster in self.clusters:
            if cluster in names:
                raise SpecError(f"the cluster identifier '{cluster}' cannot also be a response")
        if self.model is not None:
            outcome = self.model.outcome
            if outcome in names:
                raise SpecError(f"'{outcome}' is the outcome of the model of interest and cannot "
                                "also be a response of the covariate model")
            if outcome in self.covariates or outcome in (self.level2_covariates or []):
                raise SpecError(f"'{outcome}' is the outcome of the model of interest and cannot "
                                "also be a covariate of the covariate model")
        slopes = [c for cols in self.slopes_by_classification.values() for c in cols]
        for r in self.responses:
            used = r.covariates if r.covariates is not None else []
            for c in used + self.covariates + slopes + (self.level2_covariates or []):
                if c in names:
                    raise SpecError(f"column '{c}' is both a response and a covariate; "
                                    "partially observed variables must be responses")
                if c in self.clusters:
                    raise SpecError(f"the cluster identifier '{c}' cannot be a covariate")
        for weight in (self.level1_weight, self.level2_weight, *self.cluster_weights.values()):
            if weight is not None and (not isinstance(weight, str) or not weight):
                raise SpecError("weights must name a column")
            if weight in names or weight in self.clusters:
                raise SpecError(f"column '{weight}' cannot be both a weight and a response or cluster")
        if self.level1_covariance not in ("common", "cluster"):
            raise SpecError(f"level1_covariance must be 'common' or 'cluster', "
                            f"got {self.level1_covariance!r}")
        if self.level1_covariance == "cluster" and len(self.clusters) > 1:
            raise SpecError("level1_covariance = 'cluster' needs a single classification "
                            f"(the spec has {len(self.clusters)}: {', '.join(self.clusters)})")
        if self.level1_covariance == "cluster":
            latent = [r.name for r in self.level1_responses if r.type != "continuous"]
            if latent:
                raise SpecError(f"level1_covariance = 'cluster' needs continuous level-1 responses; "
                                f"'{latent[0]}' is {self.responses[names.index(latent[0])].type}")
            if not self.level1_responses:
                raise SpecError("level1_covariance = 'cluster' needs at least one level-1 response")
        if not self.level1_responses and slopes:
            raise SpecError("random_slopes need at least one level-1 response")
        for d in self.delta:
            if d.response not in names:
                raise SpecError(f"delta: '{d.response}' is not a response of the model")
            kind = self.responses[names.index(d.response)].type
            if not REGISTRY[kind].single_scale:
                shiftable = ", ".join(k for k, c in REGISTRY.items() if c.single_scale)
                raise SpecError(f"delta: '{d.response}' is {kind}, which has no single "
                                f"scale to shift; shift a response of type {shiftable}")

    # ------------------------------------------------------------------ classifications
    def _check_classifications(self) -> None:
        if not isinstance(self.cluster, str):
            raise SpecError("the cluster identifier must be a column name")
        if self.clusters in (None, []):
            if not self.cluster:
                raise SpecError("the spec needs a cluster identifier column ('cluster', or "
                                "'clusters' for several classifications)")
            self.clusters = [self.cluster]
        self.clusters = _names(self.clusters, "clusters")
        if self.cluster and len(self.clusters) == 1:
            self.clusters = [self.cluster]      # replace(spec, cluster=...) of a two-level spec
        if self.cluster and self.cluster != self.clusters[0]:
            raise SpecError(f"cluster '{self.cluster}' and clusters {self.clusters} disagree: "
                            "give one of them (clusters innermost first)")
        self.cluster = self.clusters[0]
        if not isinstance(self.crossed, bool):
            raise SpecError(f"crossed must be true or false, got {self.crossed!r}")
        if not isinstance(self.cluster_weights, dict):
            raise SpecError("cluster_weights must map classifications to weight columns")
        for name, column in self.cluster_weights.items():
            if name not in self.clusters:
                raise SpecError(f"cluster_weights: '{name}' is not one of the clusters "
                                f"({', '.join(self.clusters)})")
            if not isinstance(column, str) or not column:
                raise SpecError(f"cluster_weights: the weight of '{name}' must name a column")
        if self.level2_weight and self.cluster_weights.get(self.cluster, self.level2_weight) \
                != self.level2_weight:
            raise SpecError(f"level2_weight and cluster_weights give '{self.cluster}' two weights")

    def _check_slopes(self) -> None:
        slopes = self.random_slopes
        if isinstance(slopes, dict):
            for name in slopes:
                if name not in self.clusters:
                    raise SpecError(f"random_slopes: '{name}' is not one of the clusters "
                                    f"({', '.join(self.clusters)})")
            self.random_slopes = {k: _names(v, f"random_slopes of '{k}'") for k, v in slopes.items()}
            if list(self.random_slopes) == [self.cluster]:     # the plain two-level form
                self.random_slopes = self.random_slopes[self.cluster]
        else:
            self.random_slopes = _names(slopes, "random_slopes")

    @property
    def slopes_by_classification(self) -> dict[str, list[str]]:
        """Random-slope columns of every classification (empty lists included)."""
        if isinstance(self.random_slopes, dict):
            return {c: list(self.random_slopes.get(c, [])) for c in self.clusters}
        return {c: list(self.random_slopes) if k == 0 else [] for k, c in enumerate(self.clusters)}

    def weight_of(self, cluster: str) -> str | None:
        """The weight column of a classification's units, if any."""
        if cluster == self.cluster and self.level2_weight:
            return self.level2_weight
        return self.cluster_weights.get(cluster)

    def level_of(self, response: Response) -> int:
        """0 for a level-1 response, c + 1 for one of classification ``clusters[c]``."""
        level = response.level
        if isinstance(level, str):
            if level not in self.clusters:
                raise SpecError(f"response '{response.name}': level '{level}' is not one of the "
                                f"clusters ({', '.join(self.clusters)})")
            return self.clusters.index(level) + 1
        if level > len(self.clusters) + 1:
            raise SpecError(f"response '{response.name}': level {level} needs {level - 1} "
                            f"classifications, the spec has {len(self.clusters)}")
        return level - 1

    # ------------------------------------------------------------------ views
    def responses_at(self, level: int) -> list[Response]:
        """Responses of level 0 (units) or of classification ``clusters[level - 1]``."""
        return [r for r in self.responses if self.level_of(r) == level]

    @property
    def level1_responses(self) -> list[Response]:
        return self.responses_at(0)

    @property
    def level2_responses(self) -> list[Response]:
        """Responses of the first classification (the two-level model's level 2)."""
        return self.responses_at(1)

    @property
    def response_names(self) -> list[str]:
        return [r.name for r in self.responses]

    def uses_intercept(self, response: Response) -> bool:
        return self.intercept if response.intercept is None else response.intercept

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A plain dict (None entries dropped, so that it also fits TOML).  A model with
        one classification is written as before (``cluster``), one with several with
        ``clusters`` (and ``crossed``)."""
        out = _drop_none(asdict(self))
        if len(self.clusters) == 1:
            del out["clusters"], out["crossed"]
        else:
            del out["cluster"]
        if not self.cluster_weights:
            del out["cluster_weights"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Spec":
        if not isinstance(data, dict):
            raise SpecError("a spec must be a mapping of settings")
        if "cluster" not in data and "clusters" not in data:
            raise SpecError("the spec has no 'cluster' setting")
        if "responses" not in data:
            raise SpecError("the spec has no 'responses' setting")
        return cls(**_known(cls, data, "spec"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Spec":
        return cls._parse(json.loads, json.JSONDecodeError, "JSON", text)

    @classmethod
    def from_toml(cls, text: str) -> "Spec":
        import tomllib      # here, not at the top: most commands read no TOML

        return cls._parse(tomllib.loads, tomllib.TOMLDecodeError, "TOML", text)

    @classmethod
    def _parse(cls, loads, error, what: str, text: str) -> "Spec":
        try:
            return cls.from_dict(loads(text))
        except error as exc:
            raise SpecError(f"invalid {what}: {str(exc).splitlines()[0]}") from None

    def save(self, path: str | Path) -> None:
        """Write the spec as JSON or TOML (by extension), atomically."""
        from ..io.atomic import atomic_write_text
        path = Path(path)
        atomic_write_text(path, self.to_json() if path.suffix.lower() == ".json" else self.to_toml())

    @classmethod
    def load(cls, path: str | Path) -> "Spec":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"file '{path}': cannot read spec ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise SpecError(f"file '{path}': a spec file must be UTF-8 text; byte {exc.start} "
                            "is not") from None
        try:
            if path.suffix.lower() == ".json":
                return cls.from_json(text)
            return cls.from_toml(text)
        except SpecError as exc:
            raise SpecError(f"file '{path}': {exc}") from None

    # ------------------------------------------------------------------ data checks
    def with_mcmc(self, **settings) -> "Spec":
        """A copy with the MCMC settings given (and not None) replaced, checked as usual:
        how command-line and R-side options override a spec's."""
        given = {k: v for k, v in settings.items() if v is not None}
        return replace(self, mcmc=replace(self.mcmc, **given)) if given else self


def _names(value, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    try:
        names = list(value)
    except TypeError:
        raise SpecError(f"{what} must be a list of column names") from None
    if not all(isinstance(n, str) and n for n in names):
        raise SpecError(f"{what} must be a list of column names")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"{what}: column '{dup[0]}' is listed more than once")
    return names


def _known(cls, data: dict, what: str) -> dict:
    """Keep only the fields `cls` has; unknown keys are an error (typos must not pass)."""
    if not isinstance(data, dict):
        raise SpecError(f"{what} must be a mapping")
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(f"{what}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(allowed))})")
    return dict(data)


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
