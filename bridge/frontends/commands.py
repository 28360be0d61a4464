"""What each ``mlimpute`` command does, once :mod:`mlimpute.frontends.cli` has parsed its arguments.

Kept apart from the parser so that ``mlimpute --version`` and ``--help`` load no numpy,
pandas or scipy: this module is imported only when a command runs.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..run.api import check_not_stacked, impute
from ..analysis.diagnose import chain_table, diagnose
from ..model.encoding import is_numeric
from ..model.equations import render, render_fitted
from ..model.compile import check_against_data
from ..errors import DataError, MlimputeError, SpecError, about_file
from ..io import R_SUFFIXES, Metadata, check_output_columns, check_output_frame, format_for, read_data, write_data, write_stacked
from ..io.mlwin import check_names, precision_notes
from ..io.paths import FilePlan
from ..io.realcom import IMPVALS_PATTERNS, read_realcom, weights_path, write_impvals
from ..io.stata import output_time
from ..model.propose import propose, propose_from_realcom
from ..model.spec import RESPONSE_TYPES, Spec
from ..io.stack import MI_COLUMNS, R_COLUMNS, mi_characteristics

#: what --diagnostics DIR receives
DIAGNOSTICS_PATTERNS = ("summary.csv", "*.png")


def _names(text: str) -> list[str]:
    return [n for part in text for n in part.replace(",", " ").split() if n]


def _declared_types(args) -> dict[str, str]:
    declared: dict[str, str] = {}
    for kind in RESPONSE_TYPES:
        for name in _names(getattr(args, kind)) if getattr(args, kind) else []:
            if name in declared and declared[name] != kind:
                raise SpecError(f"column '{name}' is declared both {declared[name]} and {kind}")
            declared[name] = kind
    return declared


def _spec_from_args(args, frame, metadata: Metadata) -> Spec:
    declared = _declared_types(args)
    if getattr(args, "spec", None):
        spec = Spec.load(args.spec)
        given = getattr(args, "responses", None)
        if given and sorted(set(given)) != sorted(spec.response_names):
            raise SpecError(f"--responses {' '.join(given)} disagrees with the responses of "
                            f"spec file '{args.spec}' ({', '.join(spec.response_names)}); "
                            "give the spec's responses or none (the spec says what is imputed)")
        if args.cluster and (args.cluster != spec.clusters or getattr(args, "crossed", False) != spec.crossed):
            spec = replace(spec, cluster=args.cluster[0], clusters=args.cluster,
                           crossed=getattr(args, "crossed", False))
        unknown = sorted(set(declared) - set(spec.response_names))
        if unknown:
            raise SpecError(f"column '{unknown[0]}' is given a type but is not a response of the spec")
        spec = replace(spec, responses=[replace(r, type=declared.get(r.name, r.type))
                                        for r in spec.responses])
    else:
        if not args.cluster and getattr(args, "model", None) and not getattr(args, "joint_only", False):
            from ..model.spec import ModelOfInterest
            from ..model.substantive import parse_model
            grouping = parse_model(ModelOfInterest(args.model, args.family))[1]
            args.cluster = [grouping] if grouping else None
        if not args.cluster:
            raise SpecError("--cluster is required (or give --spec, or a --model with a random "
                            "term)")
        responses = _names(args.responses) if args.responses else None
        if responses is not None:
            missing = sorted(set(declared) - set(responses))
            if missing:
                raise SpecError(f"column '{missing[0]}' is given a type but is not in --responses")
        sample = getattr(args, "sample", None)
        spec = propose(frame, args.cluster, responses=responses,
                       covariates=_names(args.covariates) if args.covariates else None,
                       exclude=_names(args.exclude or []) + ([sample] if sample else []),
                       types=declared, value_labels=metadata.value_labels,
                       level1_weight=args.level1_weight, level2_weight=args.level2_weight,
                       notify=None if getattr(args, "quiet", False) else _note_left_out,
                       crossed=getattr(args, "crossed", False))
        unknown = sorted(set(declared) - set(spec.response_names))
        if unknown:
            raise SpecError(f"column '{unknown[0]}' is given a type but has no missing values "
                            "(it is a covariate); list it in --responses to impute it")
    if args.random_slopes:
        slopes = _names(args.random_slopes)
        in_equations = set(spec.covariates).union(
            *[r.covariates or [] for r in spec.level1_responses])
        for name in slopes:
            if name not in in_equations:
                what = ("a response" if name in spec.response_names else
                        "the cluster identifier" if name == spec.cluster else
                        "a cluster identifier" if name in spec.clusters else
                        "not a covariate of the level-1 equations")
                raise SpecError(f"column '{name}': --random-slopes takes covariates of the level-1 "
                                f"equations, and '{name}' is {what}")
        spec = replace(spec, random_slopes=slopes)
    for option in ("level1_weight", "level2_weight"):
        if getattr(args, option):
            spec = replace(spec, **{option: getattr(args, option)})
    if args.cluster_covariance:
        spec = replace(spec, level1_covariance="cluster")
    return spec


def _with_run_settings(spec: Spec, args) -> Spec:
    """The spec with the command line's MCMC settings and MNAR deltas (without a seed,
    the run draws one and records it in ``result.spec``)."""
    from ..model.delta import with_shifts
    spec = spec.with_mcmc(**{k: getattr(args, k, None) for k in (
        "m", "burnin", "between", "seed", "chains", "max_burnin", "pilot_m", "se_cv",
        "fixed_random")})
    return with_shifts(spec, getattr(args, "delta", None))


def sample_mask(frame, name: str) -> np.ndarray:
    """The rows where column `name` is nonzero (a 0/1 marker such as Stata's touse)."""
    if name not in frame.columns:
        raise DataError(f"column '{name}' (--sample) is not in the data")
    column = frame[name]
    if not is_numeric(column) or column.isna().any():
        raise DataError(f"column '{name}': --sample needs a fully observed 0/1 column")
    mask = column.to_numpy(dtype=float) != 0
    if not mask.any():
        raise DataError(f"column '{name}': no row is in the sample (every value is 0)")
    return mask


def _read_input(args, path) -> tuple:
    """read_data with the command's missing markers; what the reader noticed (a numeric
    column with a stray text field) is said unless --quiet."""
    frame, metadata = read_data(path, args.na_values)
    if not getattr(args, "quiet", False):
        for note in metadata.notes:
            print(f"mlimpute: note: file '{path}': {note}", file=sys.stderr)
    return frame, metadata


def _note_left_out(name: str, why: str) -> None:
    """Say that the default model leaves a constant or id-like column out of the covariates."""
    print(f"mlimpute: note: column '{name}' is left out of the covariates ({why}); list it "
          "in --covariates to use it", file=sys.stderr)


#: what a run chose, as ``_dta`` characteristics of its .dta output: the Stata ado
#: returns them as r() results (seed, burn-in and gap as "auto" chose them, convergence)
RUN_CHARACTERISTICS = ("mlimpute_seed", "mlimpute_burnin", "mlimpute_between",
                       "mlimpute_chains", "mlimpute_max_rhat", "mlimpute_min_ess",
                       "mlimpute_converged")


def run_characteristics(result) -> dict:
    """The run's settings and convergence summary as ``_dta`` characteristics (text)."""
    mcmc = result.spec.mcmc
    chars = {"mlimpute_seed": result.seed, "mlimpute_burnin": mcmc.burnin,
             "mlimpute_between": mcmc.between, "mlimpute_chains": mcmc.chains}
    diagnostics = result.diagnostics
    if diagnostics is not None and len(diagnostics):
        rhat = pd.to_numeric(diagnostics.get("rhat"), errors="coerce")
        ess = pd.to_numeric(diagnostics.get("ess_bulk"), errors="coerce")
        if rhat is not None and rhat.notna().any():
            chars["mlimpute_max_rhat"] = f"{rhat.max():.4f}"
        if ess is not None and ess.notna().any():
            chars["mlimpute_min_ess"] = f"{ess.min():.0f}"
    chars["mlimpute_converged"] = "no" if result.warnings else "yes"
    return {("_dta", name): str(value) for name, value in chars.items()}


def _model_of_interest(result, args, frame):
    """The model of interest a run records for a later ``mlimpute pool`` (family resolved):
    the one imputed compatibly, or with ``--joint-only`` the ``--model`` given; None
    without one."""
    from ..model.spec import ModelOfInterest
    from ..model.substantive import resolved_family
    if result.spec.model is not None:
        return ModelOfInterest(result.spec.model.formula, result.model_family)
    if args.model:
        model = ModelOfInterest(args.model, args.family or "auto")
        return ModelOfInterest(args.model, resolved_family(frame, model))
    return None


def _cmd_impute(args) -> int:
    output = Path(args.output)
    impvals = args.impvals or (args.realcom and output.suffix == "")
    if impvals and output.suffix:
        raise MlimputeError(f"'{output}': --impvals writes a folder; give a name without extension")
    if not impvals:
        format_for(output)                  # unknown output type: fail before any work
    plan = FilePlan().read("input file", args.input).read("spec file", args.spec)
    if args.realcom:
        plan.read("weights file", weights_path(Path(args.input)))
    if impvals:
        plan.folder("output folder", output, IMPVALS_PATTERNS)
    else:
        plan.write("output file", output)
    if args.chain and hasattr(format_for(args.chain), "check_columns"):
        raise MlimputeError(f"--chain file '{args.chain}': parameter names such as "
                            "'omega_e[y,y]' are not Stata variable names; write the chain as "
                            ".csv, .parquet or .rds")
    plan.write("--chain file", args.chain).write("--save-spec file", args.save_spec)
    plan.write("--report file", args.report)
    plan.folder("--diagnostics folder", args.diagnostics, DIAGNOSTICS_PATTERNS)
    plan.check()
    if args.realcom:
        frame, info = read_realcom(args.input)
        metadata = Metadata(source_format="realcom")
        with about_file(args.input):
            spec = Spec.load(args.spec) if args.spec else propose_from_realcom(frame, info)
    else:
        frame, metadata = _read_input(args, args.input)
    sample = None
    with about_file(args.input):
        check_not_stacked(frame)
        if args.sample:
            if impvals:
                raise MlimputeError("--sample keeps the rows outside the sample in a stacked "
                                    "output; it cannot be used with --impvals")
            sample = sample_mask(frame, args.sample)
        if not args.realcom:
            spec = _spec_from_args(args, frame if sample is None else frame[sample], metadata)
    style = args.style or ("long" if output.suffix.lower() in R_SUFFIXES else "flong")
    options = {"dta_format": args.dta_format} if output.suffix.lower() == ".dta" else {}
    if not impvals:
        extra = list(MI_COLUMNS if style == "flong" else R_COLUMNS)
        check_output_columns(list(frame.columns) + extra, output, **options)
        check_output_frame(frame, output, **options)
    for_mlwin = impvals or options.get("dta_format") == 114
    if for_mlwin:
        what = "REALCOM impvals files" if impvals else ".dta format 114, MLwiN's RSTA"
        try:
            check_names(frame.columns, what)
        except MlimputeError as exc:
            raise type(exc)(f"file '{output}': {exc}") from None
        if not args.quiet:
            for note in precision_notes(frame):
                print(f"mlimpute: note: {note}", file=sys.stderr)
    spec = _with_run_settings(spec, args)
    with about_file(args.input):
        check_against_data(spec, frame if sample is None else frame[sample])
        result = impute(frame, spec, progress=False if args.quiet else args.progress,
                        workers=args.workers,
                        scheduler=args.scheduler, hard_missing=metadata.hard_missing,
                        sample=sample, model=args.model, family=args.family,
                        compatible=not args.joint_only)
    mcmc = result.spec.mcmc
    model_formula = args.model or (result.spec.model.formula if result.spec.model else None)
    out_meta = replace(metadata, characteristics=dict(metadata.characteristics))
    if output.suffix.lower() == ".dta" and style == "flong":
        out_meta.characteristics.update(mi_characteristics(frame, result.imputed_vars, result.m,
                                                           output_time(out_meta)))
        for name in (MODEL_CHARACTERISTIC, FAMILY_CHARACTERISTIC, *RUN_CHARACTERISTICS):  # an input's
            out_meta.characteristics.pop(("_dta", name), None)
        out_meta.characteristics.update(run_characteristics(result))
        recorded = _model_of_interest(result, args, frame)
        if recorded is not None:                # what `mlimpute pool` fits by default
            out_meta.characteristics[("_dta", MODEL_CHARACTERISTIC)] = recorded.formula
            out_meta.characteristics[("_dta", FAMILY_CHARACTERISTIC)] = recorded.family
    if impvals:
        write_impvals(result, output)
    if args.save_spec:
        result.spec.save(args.save_spec)
    chains = result.chain_draws(include_burnin=True)
    if args.chain:
        write_data(chain_table(chains, mcmc.burnin), args.chain)
    if args.diagnostics and result.diagnostics is not None:
        diagnose(chains, args.diagnostics, mcmc.burnin, mcmc.between)
    if not args.quiet:
        for note in result.notes:
            print(f"mlimpute: note: {note}", file=sys.stderr)
        for warning in result.warnings:
            print(f"mlimpute: warning: {warning}", file=sys.stderr)
    diagnostics = None if result.diagnostics is None else (result.diagnostics, result.warnings)
    if not impvals:
        write_stacked(result.stacked_parts(style), output, out_meta, **options)
    if args.show_fitted:
        sys.stdout.write(render_fitted(result, latex=args.show_fitted == "latex"))
    if args.report:
        from ..analysis.fit import fit_pooled
        from ..analysis.report import write_report
        pooled = fit_pooled(result, model_formula) if model_formula and result.m >= 2 else None
        write_report(args.report, result, pooled, model_formula, diagnostics, metadata)
    if not args.quiet:
        print(f"mlimpute: {result.m} imputations of {len(frame)} rows "
              f"({len(result.imputed_vars)} variables imputed, seed {result.seed}) -> {output}",
              file=sys.stderr)
    return 0


def _cmd_propose(args) -> int:
    FilePlan().read("input file", args.input).write("output file", args.output).check()
    frame, metadata = _read_input(args, args.input)
    with about_file(args.input):
        check_not_stacked(frame)
        spec = _spec_from_args(args, frame, metadata)
        if args.model:
            from ..model.spec import ModelOfInterest
            from ..model.substantive import spec_for_model
            spec = spec_for_model(frame, ModelOfInterest(args.model, args.family), spec)
        check_against_data(spec, frame)
    spec.save(args.output)
    return 0


def _cmd_show(args) -> int:
    sys.stdout.write(render(Spec.load(args.spec)))
    return 0


def _cmd_diagnose(args) -> int:
    FilePlan().read("chain file", args.chain).folder("output folder", args.output,
                                                     DIAGNOSTICS_PATTERNS).check()
    chain, _ = read_data(args.chain)
    if "burnin" not in chain.columns:
        raise MlimputeError(f"file '{args.chain}': not a chain written by 'mlimpute impute --chain'")
    if "chain" not in chain.columns:
        chain = chain.assign(chain=1)
    draws = [part.drop(columns=["chain", "iteration", "burnin"], errors="ignore").reset_index(drop=True)
             for _, part in chain.groupby("chain", sort=True)]
    burnin = int(chain.loc[chain["chain"] == chain["chain"].iloc[0], "burnin"].sum())
    if min(len(d) for d in draws) - burnin < 4:
        raise MlimputeError(f"file '{args.chain}': fewer than 4 iterations after burn-in")
    from ..run.progress import ProgressBar
    with ProgressBar(0, 0, enabled=not args.quiet, desc="plotting") as bar:
        table, notes = diagnose(draws, args.output, burnin, args.between, progress=bar)
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    for note in notes:
        print(f"warning: {note}")
    return 0


MODEL_CHARACTERISTIC = "mlimpute_model"
FAMILY_CHARACTERISTIC = "mlimpute_family"


def _recorded_model(args, metadata: Metadata) -> tuple[str, str | None]:
    """The model of interest an imputation recorded, (formula, family): in --spec, or in a
    .dta output's ``_dta[mlimpute_model]`` / ``_dta[mlimpute_family]`` characteristics."""
    if args.spec:
        spec = Spec.load(args.spec)
        if spec.model is None:
            raise MlimputeError(f"file '{args.spec}': the spec has no model of interest; give --model")
        return spec.model.formula, spec.model.family
    recorded = metadata.characteristics.get(("_dta", MODEL_CHARACTERISTIC))
    if not recorded:
        raise MlimputeError(f"file '{args.stacked}' records no model of interest (only a .dta "
                            "written by an imputation with --model does); give --model or --spec")
    return recorded, metadata.characteristics.get(("_dta", FAMILY_CHARACTERISTIC))


def _cmd_pool(args) -> int:
    from ..analysis.fit import fit_one, fit_pooled, recorded_family
    from ..model.formula import model_columns
    from ..analysis.imputed_file import split_stacked

    FilePlan().read("input file", args.stacked).read("spec file", args.spec) \
        .write("output file", args.output).check()
    stacked, metadata = _read_input(args, args.stacked)
    recorded = None
    if args.model is None or args.spec or ("_dta", MODEL_CHARACTERISTIC) in metadata.characteristics:
        try:
            recorded = _recorded_model(args, metadata)
        except MlimputeError:
            if args.model is None:
                raise
    if args.model is None:
        args.model = recorded[0]
    family = args.family or recorded_family(args.model, recorded)
    with about_file(args.stacked):
        used = model_columns(args.model, stacked)
        if args.null_model:
            from ..analysis.fit import check_nested
            check_nested(args.model, args.null_model)
            used = list(dict.fromkeys(used + model_columns(args.null_model, stacked)))
    original, completed, notes = split_stacked(stacked, args.stacked, used, force=args.force,
                                               hard_missing=metadata.hard_missing)
    for note in notes:
        print(f"mlimpute: warning: {note} (--force)", file=sys.stderr)
    from ..run.progress import ProgressBar
    from ..analysis.fit import fit_each
    with ProgressBar(len(completed), len(completed), enabled=not args.quiet,
                     desc="fitting") as bar:
        fits = fit_each(completed, args.model, reml=not args.ml, family=family,
                        workers=args.workers, progress=bar)
    pooled = fit_pooled(completed, args.model, df_complete=args.df_com, fits=fits)
    hypotheses = None
    if args.test:
        from ..analysis.hypotheses import wald_test_of
        hypotheses = wald_test_of(fits, args.test, df_complete=args.df_com)
    table = pooled[["estimate", "std_error", "ci_lower", "ci_upper", "df", "p_value", "fmi"]].copy()
    boundary = []
    if len(original):
        try:
            # the complete cases of the model's variables (lme4's na.omit), not of the file
            cc = fit_one(original, args.model, reml=not args.ml, family=family)
            table.insert(0, "cc_std_error", cc["std_error"].reindex(table.index))
            table.insert(0, "cc_estimate", cc["estimate"].reindex(table.index))
            from ..analysis.variance_components import boundary_terms
            boundary = [t for t in boundary_terms(cc) if t in table.index]
        except MlimputeError:
            pass      # complete cases may be too few: the MI table stands on its own
    what = "" if family == "gaussian" else f" ({family})"
    print(f"{args.model}{what}: {len(completed)} imputations pooled (Rubin's rules; variance "
          "components on the log-SD, Fisher-z and logit scales)")
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    if boundary:
        print(f"(complete cases: {', '.join(boundary)} estimated on the boundary - a variance "
              "of 0 or a correlation of +-1 - so without a standard error; the other "
              "components' are those of the model with it held there)")
    if args.null_model:
        from ..analysis.fit import compare_models_d3
        test = compare_models_d3(completed, args.model, args.null_model)
        statistic, p_value, why = test["F"], test["p_value"], ""
        if statistic < 0:      # the averaged-parameter statistic fell below 0: no evidence
            statistic, p_value = 0.0, 1.0
            why = f" (the combined statistic, {test['F']:.3g}, is below 0 and counts as 0)"
        print(f"\nD3 likelihood-ratio test against {args.null_model}: F = {statistic:.4g} on "
              f"{test['df1']:.0f} and {test['df2']:.4g} df, p = {p_value:.4g}{why}")
    if hypotheses is not None:
        what = " and ".join(args.test)
        print(f"\nD1 Wald test of {what}: F = {hypotheses['F']:.4g} on {hypotheses['df1']:.0f} "
              f"and {hypotheses['df2']:.4g} df, p = {hypotheses['p_value']:.4g} (relative "
              f"increase in variance {hypotheses['riv']:.3g})")
    from ..analysis.pool import imputations_needed
    needed = imputations_needed(pooled, len(completed), args.se_cv)
    if needed is not None:
        fmi = pooled["fmi"].dropna()
        print(f"\nImputations needed for standard errors replicable to a coefficient of "
              f"variation of {args.se_cv:g}: {needed} (von Hippel 2020; largest FMI "
              f"{fmi.max():.3f}, {fmi.idxmax()}); this analysis has {len(completed)}.")
    if args.output:
        write_data(table.reset_index(names="term"), args.output)
    return 0


def _cmd_sensitivity(args) -> int:
    from ..run.sensitivity import check_deltas, render_plot, sensitivity

    plan = FilePlan().read("input file", args.input).read("spec file", args.spec)
    plan.write("output file", args.output).write("--plot file", args.plot).check()
    format_for(Path(args.output))
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise MlimputeError(f"--plot '{args.plot}': the plot is written as PNG; name it .png")
    check_deltas(args.deltas)
    frame, metadata = _read_input(args, args.input)
    with about_file(args.input):
        check_not_stacked(frame)
        spec = _spec_from_args(args, frame, metadata)
        spec = _with_run_settings(spec, args)
        check_against_data(spec, frame)
        say = None if args.quiet else (lambda text: print(f"mlimpute: {text}", file=sys.stderr))
        table = sensitivity(frame, spec, args.response, args.deltas, args.model,
                            where=args.where, progress=not args.quiet, workers=args.workers,
                            hard_missing=metadata.hard_missing, notify=say)
    wide = table.pivot(index="delta", columns="term", values="estimate")
    image = render_plot(table, args.response) if args.plot else None
    # everything that can fail has run: now the files
    write_data(table, args.output)
    if image is not None:
        from ..io.atomic import atomic_path
        with atomic_path(args.plot) as temporary:
            temporary.write_bytes(image)
    print(f"Pooled estimates of {args.model} by delta (shift of the imputed {args.response}"
          f"{' where ' + args.where if args.where else ''}; delta = 0 is MAR):")
    print(wide[list(dict.fromkeys(table["term"]))].to_string(float_format=lambda v: f"{v:.4g}"))
    return 0


def _cmd_demo(args) -> int:
    from .demo import run
    return run(args.out, paper=args.paper, quiet=args.quiet)


def _cmd_install_stata(args) -> int:
    from .install import install_stata, stata_instructions
    if args.folder is not None and args.plus:
        raise MlimputeError("give a folder or --plus, not both")
    target, _ = install_stata(args.folder, plus=args.plus)
    sys.stdout.write(stata_instructions(target, default_folder=args.folder is None))
    return 0


def _cmd_install_r(args) -> int:
    from .install import install_r, python_interpreter
    lib = install_r(args.lib)
    print(f"mlimpute: installed the R package into {lib}; it uses this Python "
          f"({python_interpreter()}). In R: library(mlimpute)"
          + ("" if args.lib is None else f', or library(mlimpute, lib.loc = "{lib}")'))
    return 0


COMMANDS = {"impute": _cmd_impute, "propose": _cmd_propose, "show": _cmd_show, "pool": _cmd_pool,
            "diagnose": _cmd_diagnose, "sensitivity": _cmd_sensitivity, "demo": _cmd_demo,
            "install-stata": _cmd_install_stata, "install-r": _cmd_install_r}


