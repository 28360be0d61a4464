"""The model as equations, in the spirit of REALCOM's / MLwiN's Equations window:
:func:`render` for a spec, :func:`render_fitted` with the posterior means of a run."""
from __future__ import annotations

from mlimpute.engine.responses import REGISTRY

from .compile import INTERCEPT
from .spec import Spec

def _equation(spec: Spec, index: int, response, covariates: list[str], level: int) -> str:
    sub = "ij" if level == 1 else "j"
    terms = []
    if spec.uses_intercept(response):
        terms.append(f"b{index}.0 {INTERCEPT}")
    for k, c in enumerate(covariates, start=1):
        terms.append(f"b{index}.{k} {c}_{sub}")
    if level == 1:
        if spec.random_intercept:
            terms.append(f"u{index}.0_j")
        for k, c in enumerate(spec.random_slopes, start=1):
            terms.append(f"u{index}.{k}_j {c}_ij")
        terms.append(f"e{index}_ij")
    else:
        terms.append(f"v{index}_j")
    rtype = REGISTRY[response.type]
    lhs = rtype.symbol(response.name)
    if not rtype.single_scale:               # one latent per non-reference category k
        terms = [t.replace(f"{index}.", f"{index}.k,", 1) if t.startswith("b") else
                 t.replace(f"{index}", f"{index}.k", 1) for t in terms]
        return f"  {lhs}.k_{sub} = " + " + ".join(terms) + "   (k = 1..K-1)"
    return f"  {lhs}_{sub} = " + " + ".join(terms)


def render(spec: Spec) -> str:
    """Text rendering of the imputation model a spec describes."""
    lines = [f"Two-level joint imputation model (units i in clusters j = '{spec.cluster}')", ""]
    index = 0
    level2_default = spec.level2_covariates
    for level, responses in ((1, spec.level1_responses), (2, spec.level2_responses)):
        if not responses:
            continue
        lines.append(f"Level-{level} responses:")
        for r in responses:
            index += 1
            if r.covariates is not None:
                covs = r.covariates
            elif level == 1:
                covs = spec.covariates
            else:
                covs = level2_default if level2_default is not None else \
                    [f"{c}*" for c in spec.covariates]
            lines.append(_equation(spec, index, r, covs, level))
            if REGISTRY[r.type].has_latent:
                lines.append(f"      {r.name}: {r.type} response through a latent normal z "
                             f"({REGISTRY[r.type].link})")
        lines.append("")
    n1, n2 = len(spec.level1_responses), len(spec.level2_responses)
    q = int(spec.random_intercept) + len(spec.random_slopes)
    if level2_default is None and spec.level2_responses and spec.covariates:
        lines.append("  * only if constant within clusters (a level-2 covariate)")
        lines.append("")
    kinds = [r.type for r in spec.level1_responses] + [r.type for r in spec.level2_responses]
    mark = lambda i: f"{i}" if REGISTRY[kinds[i - 1]].single_scale else f"{i}.k"
    if n1 * q + n2:
        slopes = ([0] if spec.random_intercept else []) + list(range(1, len(spec.random_slopes) + 1))
        names = [f"u{mark(i)}.{k}_j" for i in range(1, n1 + 1) for k in slopes]
        names += [f"v{mark(i)}_j" for i in range(n1 + 1, n1 + n2 + 1)]
        lines.append(f"  ({', '.join(names)}) ~ N(0, Omega_u)   unstructured")
    if n1:
        names = [f"e{mark(i)}_ij" for i in range(1, n1 + 1)]
        lines.append(f"  ({', '.join(names)}) ~ N(0, Omega_e)   unstructured")
    if any(REGISTRY[k].has_latent for k in kinds):
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
    """(level, response, [(coefficient, covariate)], [random terms]) of each working column."""
    means = result.posterior_summary()["mean"]
    model = result.model
    out = []
    for level, working, covariates, prefix in ((1, model.level1_working, model.level1_covariates, "beta1"),
                                               (2, model.level2_working, model.level2_covariates, "beta2")):
        for resp in working:
            terms = [(means[f"{prefix}[{cov},{resp}]"], cov) for cov in covariates
                     if f"{prefix}[{cov},{resp}]" in means.index]
            if level == 1:
                random = [(f"u({resp}:{z})", None if z == INTERCEPT else z) for z in model.random_names]
                random.append((f"e({resp})", None))
            else:
                random = [(f"v({resp})", None)]
            out.append((level, resp, terms, random))
    return means, out


def render_fitted(result, latex: bool = False) -> str:
    """The imputation model with its posterior means, like REALCOM's Equations window
    after estimation: one equation per working column, then Omega_u and Omega_e.
    ``latex=True`` gives the equations as a LaTeX ``align*`` environment instead."""
    means, equations = _fitted_equations(result)
    if latex:
        return _latex(means, equations, result)
    model = result.model
    lines = [f"Fitted imputation model (posterior means over {len(result.parameter_draws())} "
             f"iterations after burn-in)", ""]
    for level in (1, 2):
        rows = [e for e in equations if e[0] == level]
        if not rows:
            continue
        sub = "ij" if level == 1 else "j"
        lines.append(f"Level-{level} responses:")
        for _, resp, terms, random in rows:
            body = " + ".join(f"{coef:.3f} {cov}" + ("" if cov == INTERCEPT else f"_{sub}")
                              for coef, cov in terms).replace("+ -", "- ")
            noise = " + ".join(f"{name}_{'ij' if name.startswith('e(') else 'j'}" +
                               ("" if z is None else f" {z}_ij") for name, z in random)
            lines.append(f"  {resp}_{sub} = {body} + {noise}")
        lines.append("")
    for key in [k for k in means.index if k.startswith("thresholds[")]:
        lines.append(f"  threshold {key[len('thresholds'):]} = {means[key]:.3f}")
    if result.random_effect_names:
        lines += _matrix(result.random_effect_names, means, "omega_u")
    if model.level1_working:
        lines += _matrix(model.level1_working, means, "omega_e")
    return "\n".join(lines) + "\n"


def _tex(name: str) -> str:
    return "\\mathrm{" + name.replace("_", "\\_").replace("[", "\\,[").replace("]", "]") + "}"


def _latex(means, equations, result) -> str:
    lines = ["\\begin{align*}"]
    for level, resp, terms, random in equations:
        sub = "ij" if level == 1 else "j"
        pieces = []
        for k, (coef, cov) in enumerate(terms):
            number = f"{coef:.3f}" if k == 0 else f"{'+' if coef >= 0 else '-'} {abs(coef):.3f}"
            pieces.append(f"{number}\\,{_tex(cov)}" + ("" if cov == INTERCEPT else f"_{{{sub}}}"))
        body = " ".join(pieces)
        noise = " ".join(f"+ {_tex(name)}_{{{'ij' if name.startswith('e(') else 'j'}}}" +
                         ("" if z is None else f"\\,{_tex(z)}_{{ij}}") for name, z in random)
        lines.append(f"{_tex(resp)}_{{{sub}}} &= {body} {noise} \\\\")
    for name, labels in (("omega_u", result.random_effect_names), ("omega_e", result.model.level1_working)):
        if not labels:
            continue
        symbol = "\\Omega_u" if name == "omega_u" else "\\Omega_e"
        rows = [" & ".join(f"{means[f'{name}[{labels[a]},{labels[b]}]']:.3f}" if b <= a else ""
                           for b in range(len(labels))) for a in range(len(labels))]
        lines.append(f"{symbol} &= \\begin{{pmatrix}} " + " \\\\ ".join(rows) + " \\end{pmatrix} \\\\")
    lines[-1] = lines[-1].rstrip(" \\")
    lines.append("\\end{align*}")
    return "\n".join(lines) + "\n"
