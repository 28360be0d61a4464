"""The model as equations, in the spirit of REALCOM's / MLwiN's Equations window:
:func:`render` for a spec, :func:`render_fitted` with the posterior means of a run."""
from __future__ import annotations

from mlimpute.engine.responses import REGISTRY

from .compile import INTERCEPT
from .spec import Spec

LETTERS = "jklmnopqrst"      # subscripts of the classifications (i: the units)


def _letters(spec: Spec) -> list[str]:
    return list(LETTERS[:len(spec.clusters)])


def _above(spec: Spec, c: int) -> list[int]:
    """Classifications classification c is nested in (none when crossed)."""
    return [] if spec.crossed else list(range(c + 1, len(spec.clusters)))


def _subscript(spec: Spec, level: int) -> str:
    """'ij' for the units of a two-level model, 'j' for its clusters; with more
    classifications the unit's letter followed by those of the units it is nested in
    (nested) or all of them (the units, crossed)."""
    letters = _letters(spec)
    if level == 0:
        return "i" + "".join(letters)
    return letters[level - 1] + "".join(letters[a] for a in _above(spec, level - 1))


def _covariates_of(spec: Spec, response, level: int) -> list[str]:
    if response.covariates is not None:
        return response.covariates
    if level == 0:
        return spec.covariates
    if spec.level2_covariates is not None:
        return spec.level2_covariates
    return [f"{c}*" for c in spec.covariates]


def _equation(spec: Spec, index: int, response, covariates: list[str], level: int) -> str:
    sub = _subscript(spec, level)
    letters = _letters(spec)
    terms = []
    if spec.uses_intercept(response):
        terms.append(f"b{index}.0 {INTERCEPT}")
    for k, c in enumerate(covariates, start=1):
        terms.append(f"b{index}.{k} {c}_{sub}")
    if level == 0:
        for letter, cluster in zip(letters, spec.clusters):
            if spec.random_intercept:
                terms.append(f"u{index}.0_{letter}")
            for k, c in enumerate(spec.slopes_by_classification[cluster], start=1):
                terms.append(f"u{index}.{k}_{letter} {c}_{sub}")
        terms.append(f"e{index}_{sub}")
    else:
        terms += [f"u{index}.0_{letters[a]}" for a in _above(spec, level - 1)]
        terms.append(f"v{index}_{letters[level - 1]}")
    rtype = REGISTRY[response.type]
    lhs = rtype.symbol(response.name)
    if not rtype.single_scale:               # one latent per non-reference category k
        terms = [t.replace(f"{index}.", f"{index}.k,", 1) if t.startswith("b") else
                 t.replace(f"{index}", f"{index}.k", 1) for t in terms]
        return f"  {lhs}.k_{sub} = " + " + ".join(terms) + "   (k = 1..K-1)"
    return f"  {lhs}_{sub} = " + " + ".join(terms)


def _title(spec: Spec) -> str:
    letters = _letters(spec)
    if len(spec.clusters) == 1:
        return f"Two-level joint imputation model (units i in clusters j = '{spec.cluster}')"
    named = [f"{letter} = '{c}'" for letter, c in zip(letters, spec.clusters)]
    if spec.crossed:
        return f"Cross-classified joint imputation model (units i in {' and '.join(named)})"
    words = {3: "Three", 4: "Four", 5: "Five"}.get(len(spec.clusters) + 1, f"{len(spec.clusters) + 1}")
    return f"{words}-level joint imputation model (units i in {' in '.join(named)})"


def _covariance_lines(spec: Spec, number) -> list[str]:
    """One line per covariance matrix: which random terms it holds."""
    letters = _letters(spec)
    lines = []
    n1 = len(spec.level1_responses)
    for c, cluster in enumerate(spec.clusters):
        slopes = ([0] if spec.random_intercept else []) + list(
            range(1, len(spec.slopes_by_classification[cluster]) + 1))
        names = [f"u{number(r)}.{k}_{letters[c]}" for r in spec.level1_responses for k in slopes]
        for inner in range(len(spec.clusters)):
            if c in _above(spec, inner):
                names += [f"u{number(r)}.0_{letters[c]}" for r in spec.responses_at(inner + 1)]
        names += [f"v{number(r)}_{letters[c]}" for r in spec.responses_at(c + 1)]
        if names:
            omega = "Omega_u" if len(spec.clusters) == 1 else f"Omega_u{c + 2}"
            where = "" if len(spec.clusters) == 1 else f"   ('{cluster}')"
            lines.append(f"  ({', '.join(names)}) ~ N(0, {omega})   unstructured{where}")
    if n1:
        names = [f"e{number(r)}_{_subscript(spec, 0)}" for r in spec.level1_responses]
        lines.append(f"  ({', '.join(names)}) ~ N(0, Omega_e)   unstructured")
    return lines


def _model_lines(spec: Spec) -> list[str]:
    """The model of interest and how it factorises the imputation model."""
    from .substantive import parse_model
    model = spec.model
    formula, grouping = parse_model(model)
    fixed = formula.fixed.split("~", 1)[1].strip()
    sub = _subscript(spec, 0)
    random = formula.terms[0].expression if formula.terms else None
    part = f" + Z_{sub} b_j" if random else ""
    if model.family == "probit":
        head = f"  P({model.outcome}_{sub} = 1) = Phi(X_{sub} beta{part})   (probit)"
    else:
        head = f"  {model.outcome}_{sub} = X_{sub} beta{part} + e_{sub},   e ~ N(0, sigma2)"
    lines = ["Model of interest (imputes the outcome; the covariates' draws are accepted so "
             "that it holds):", head, f"  X: {fixed}"]
    if random:
        lines += [f"  Z: {random}", f"  b_j ~ N(0, Omega_b)   unstructured ('{grouping}')"]
    covariates = ", ".join(r.name for r in spec.responses) or "none"
    lines += [f"  = p({model.outcome} | covariates) x p({covariates} | fully observed "
              "covariates), the second the joint model below", ""]
    return lines


def render(spec: Spec) -> str:
    """Text rendering of the imputation model a spec describes."""
    lines = [_title(spec), ""]
    if spec.model is not None:
        lines += _model_lines(spec)
    order = []
    for level in range(len(spec.clusters) + 1):
        responses = spec.responses_at(level)
        if not responses:
            continue
        where = "" if len(spec.clusters) == 1 or level == 0 else f" ('{spec.clusters[level - 1]}')"
        lines.append(f"Level-{level + 1} responses{where}:")
        for r in responses:
            order.append(r)
            lines.append(_equation(spec, len(order), r, _covariates_of(spec, r, level), level))
            if REGISTRY[r.type].has_latent:
                lines.append(f"      {r.name}: {r.type} response through a latent normal z "
                             f"({REGISTRY[r.type].link})")
        lines.append("")
    higher = [r for r in spec.responses if spec.level_of(r) > 0]
    if spec.level2_covariates is None and higher and spec.covariates:
        lines.append("  * only if constant within clusters (a level-2 covariate)"
                     if len(spec.clusters) == 1 else
                     "  * only if constant within the response's classification")
        lines.append("")

    def number(response) -> str:
        i = next(k for k, r in enumerate(order, start=1) if r.name == response.name)
        return f"{i}" if REGISTRY[response.type].single_scale else f"{i}.k"
    lines += _covariance_lines(spec, number)
    if any(REGISTRY[r.type].has_latent for r in spec.responses):
        lines.append("  latent variances fixed at 1 (0.5 between the latents of one categorical "
                     "response); thresholds for ordinal responses, the first at 0")
    m = spec.mcmc
    seed = "random (recorded in the output)" if m.seed is None else m.seed
    lines += ["", f"MCMC: burn-in {m.burnin}, {m.between} iterations between imputations, "
                  f"M = {m.m}, seed {seed}"]
    if spec.delta:
        lines += ["", "MNAR sensitivity shifts (added to imputed values, latent scale for "
                      "binary/ordinal):"]
        lines += [f"  {d.response} {d.shift:+g}" + (f"  where {d.where}" if d.where else "")
                  for d in spec.delta]
    return "\n".join(lines) + "\n"


def _matrix(labels: list[str], means, name: str) -> list[str]:
    width = max([len(l) for l in labels] + [8])
    lines = [f"  {name} (posterior means, lower triangle):"]
    for a, label in enumerate(labels):
        cells = " ".join(f"{means[f'{name}[{labels[a]},{labels[b]}]']:8.3f}" for b in range(a + 1))
        lines.append(f"    {label:>{width}}  {cells}")
    return lines


def _fitted_equations(result):
    """(subscript, response, [(coefficient, covariate)], [(random term, its subscript,
    its covariate or None)]) of each working column, level by level."""
    means = result.posterior_summary()["mean"]
    model, spec = result.model, result.model.spec
    out = []
    for level, (working, covariates) in enumerate(zip(model.working, model.covariates)):
        prefix = f"beta{level + 1}"
        for resp in working:
            terms = [(means[f"{prefix}[{cov},{resp}]"], cov) for cov in covariates
                     if f"{prefix}[{cov},{resp}]" in means.index]
            letters = _letters(spec)
            if level == 0:
                random = [(f"u({resp}:{z})", letters[c], None if z == INTERCEPT else z)
                          for c, names in enumerate(model.random_columns) for z in names]
                random.append((f"e({resp})", _subscript(spec, 0), None))
            else:
                random = [(f"u({resp})", letters[a], None) for a in _above(spec, level - 1)]
                random.append((f"v({resp})", letters[level - 1], None))
            out.append((_subscript(spec, level), resp, terms, random))
    return means, out


def _covariances(result) -> list[tuple[str, list[str]]]:
    """(name in the draws, row labels) of every covariance matrix with rows, level 1 last."""
    model = result.model
    out = [(result.covariance_name(c + 1), result.random_effect_labels(c))
           for c in range(len(model.spec.clusters))]
    out.append(("omega_e", model.level1_working))
    return [(name, labels) for name, labels in out if labels]


def render_fitted(result, latex: bool = False) -> str:
    """The imputation model with its posterior means, like REALCOM's Equations window
    after estimation: one equation per working column, then the covariance matrices.
    ``latex=True`` gives the equations as a LaTeX ``align*`` environment instead."""
    means, equations = _fitted_equations(result)
    if latex:
        return _latex(means, equations, result)
    lines = [f"Fitted imputation model (posterior means over {len(result.parameter_draws())} "
             f"iterations after burn-in)", ""]
    for sub in dict.fromkeys(e[0] for e in equations):
        rows = [e for e in equations if e[0] == sub]
        lines.append(f"Level-{_level_number(result, sub)} responses:")
        for _, resp, terms, random in rows:
            body = " + ".join(f"{coef:.3f} {cov}" + ("" if cov == INTERCEPT else f"_{sub}")
                              for coef, cov in terms).replace("+ -", "- ")
            unit = _subscript(result.model.spec, 0)
            noise = " + ".join(f"{name}_{where}" + ("" if z is None else f" {z}_{unit}")
                               for name, where, z in random)
            lines.append(f"  {resp}_{sub} = {body} + {noise}")
        lines.append("")
    for key in [k for k in means.index if k.startswith("thresholds[")]:
        lines.append(f"  threshold {key[len('thresholds'):]} = {means[key]:.3f}")
    for name, labels in _covariances(result):
        lines += _matrix(labels, means, name)
    terms = result.model.substantive
    if terms is not None:
        lines += ["", f"Model of interest {terms.formula} ({terms.family}):"]
        lines += [f"  beta[{name}] = {means[f'model.beta[{name}]']:.3f}" for name in terms.fixed_names]
        if terms.random_names:
            lines += _matrix(terms.random_names, means, "model.omega_b")
        if "model.sigma2" in means:
            lines.append(f"  sigma2 = {means['model.sigma2']:.3f}")
    return "\n".join(lines) + "\n"


def _level_number(result, sub: str) -> int:
    spec = result.model.spec
    return next(level + 1 for level in range(len(spec.clusters) + 1)
                if _subscript(spec, level) == sub)


def _tex(name: str) -> str:
    return "\\mathrm{" + name.replace("_", "\\_").replace("[", "\\,[").replace("]", "]") + "}"


def _latex(means, equations, result) -> str:
    lines = ["\\begin{align*}"]
    for sub, resp, terms, random in equations:
        pieces = []
        for k, (coef, cov) in enumerate(terms):
            number = f"{coef:.3f}" if k == 0 else f"{'+' if coef >= 0 else '-'} {abs(coef):.3f}"
            pieces.append(f"{number}\\,{_tex(cov)}" + ("" if cov == INTERCEPT else f"_{{{sub}}}"))
        body = " ".join(pieces)
        unit = _subscript(result.model.spec, 0)
        noise = " ".join(f"+ {_tex(name)}_{{{where}}}" +
                         ("" if z is None else f"\\,{_tex(z)}_{{{unit}}}") for name, where, z in random)
        lines.append(f"{_tex(resp)}_{{{sub}}} &= {body} {noise} \\\\")
    for name, labels in _covariances(result):
        part = name.split("_", 1)[1]
        symbol = "\\Omega_" + (part if len(part) == 1 else "{" + part + "}")
        rows = [" & ".join(f"{means[f'{name}[{labels[a]},{labels[b]}]']:.3f}" if b <= a else ""
                           for b in range(len(labels))) for a in range(len(labels))]
        lines.append(f"{symbol} &= \\begin{{pmatrix}} " + " \\\\ ".join(rows) + " \\end{pmatrix} \\\\")
    lines[-1] = lines[-1].rstrip(" \\")
    lines.append("\\end{align*}")
    return "\n".join(lines) + "\n"
