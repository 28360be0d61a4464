"""The ``mlimpute`` command.

    mlimpute impute INPUT -o OUTPUT --cluster VAR [VAR ...] [--crossed] [--responses ...] [--covariates ...]
                    [--spec FILE] [--m 20] [--burnin 1000] [--between 500] [--seed N]
                    [--style flong|long] [--save-spec FILE] [--chain FILE] [--quiet]
                    [--chains K] [--workers N | --scheduler dask://HOST:PORT]
    mlimpute propose INPUT --cluster VAR -o spec.toml
    mlimpute show spec.toml
    mlimpute impute INPUT -o OUTPUT --model "y ~ x * z + (1 + x | school)"   (compatible with the model)
    mlimpute pool STACKED [--model "y ~ x + (1 | cluster)"] [-o table.csv]
    mlimpute diagnose CHAIN -o DIR [--between N]
    mlimpute sensitivity INPUT --response Y --deltas D1 D2 ... --model "..." -o table.csv
    mlimpute demo [--out DIR]                 (the worked example on the shipped data)
    mlimpute install-stata [DIR] [--plus]     (the ado files, where Stata finds them)
    mlimpute install-r [--lib DIR]            (the R package, R CMD INSTALL)

--m, --burnin and --between also take 'auto' (run until converged, size M for replicable
standard errors).

Input and output formats follow the file extensions (.csv, .parquet, .dta, .rds, .RData).  Errors in
the input are reported as one line on stderr with exit status 2; nothing is written.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .. import __version__
from ..errors import MlimputeError
from ..run.shutdown import exit_status, signals_as_exceptions
from ..model.spec import RESPONSE_TYPES

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with our exit status and one-line errors."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"mlimpute: error: {message}\n")


def _count(low: int):
    """An argparse type: an integer >= low, with a one-line error otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = "count"
    return parse


def _count_or_auto(low: int):
    """An argparse type: an integer >= low, or the word 'auto'."""
    count = _count(low)

    def parse(text: str):
        if text.strip().lower() == "auto":
            return "auto"
        try:
            return count(text)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc} or 'auto'") from None
    parse.__name__ = "count or auto"
    return parse


def _number_between(low: float, high: float, wanted: str):
    """An argparse type: a number strictly between `low` and `high` (`wanted` says so in
    the one-line error)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


#: argparse types: a finite number above 0; a number strictly between 0 and 1
_positive_float = _number_between(0.0, float("inf"), "a finite number above 0")
_fraction = _number_between(0.0, 1.0, "between 0 and 1")


def _na_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--na-values", nargs="+", metavar="TEXT", default=[],
                   help="CSV input: further fields read as missing (always missing: an empty "
                        "field and NA), e.g. --na-values . -99")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlimpute", description="Multilevel multiple imputation "
                     "(REALCOM-IMPUTE joint model).")
    parser.add_argument("--version", action="version", version=f"mlimpute {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    imp = sub.add_parser("impute", help="impute a data file and write the stacked imputations")
    imp.add_argument("input", help="data file (.csv, .parquet, .dta)")
    imp.add_argument("-o", "--output", required=True, help="stacked output file (.csv, .parquet, .dta, .rds, .RData; "
                     "CSV and Parquet are written one imputation at a time)")
    _model_options(imp)
    imp.add_argument("--spec", help="model spec (.toml or .json); command-line settings override it")
    _mcmc_options(imp)
    imp.add_argument("--workers", type=_count(1), help="processes for the chains (default: one per core, none for a run shorter than starting them)")
    imp.add_argument("--scheduler", metavar="dask://HOST:PORT",
                     help="run the chains on a Dask cluster instead of local processes "
                          "(needs dask.distributed; use --chains to spread the work)")
    imp.add_argument("--realcom", action="store_true",
                     help="INPUT is a REALCOM-IMPUTE text file (as realcomImpute.ado writes); an "
                     "OUTPUT without extension is a folder that receives impvals.txt and the "
                     "imputation files realcomImputeLoad reads")
    imp.add_argument("--impvals", action="store_true",
                     help="write REALCOM's output instead of a stacked file: OUTPUT is a folder "
                          "that receives impvals.txt and one file per imputation, as MLwiN's "
                          "imputation menu and realcomImputeLoad read them (any INPUT format)")
    imp.add_argument("--style", choices=["flong", "long"], default=None,
                     help="stacking: Stata flong (_mi_m/_mi_id/_mi_miss) or R long (.imp/.id); "
                          "default long for .rds/.RData output, flong otherwise")
    imp.add_argument("--dta-format", type=int, choices=[114, 117, 118, 119], default=118,
                     help=".dta format of the output (118: Stata 14+, 114: Stata 10/MLwiN)")
    imp.add_argument("--save-spec", help="also write the spec actually used (with its seed)")
    imp.add_argument("--chain", help="also write every iteration's parameter draws (burn-in "
                     "included, column 'iteration') to this file, for monitoring convergence")
    imp.add_argument("--show-fitted", choices=["text", "latex"], nargs="?", const="text",
                     help="print the imputation model with its posterior means (equations; "
                     "text, or latex)")
    imp.add_argument("--diagnostics", metavar="DIR", help="write chain diagnostics (summary.csv, "
                     "trace and autocorrelation plots) to this folder")
    imp.add_argument("--report", metavar="FILE.html", help="write an HTML report (model, posterior "
                     "means, convergence diagnostics with plots, pooled model of interest)")
    imp.add_argument("--model", help='model of interest in lme4 notation, e.g. "y ~ x * z + '
                     'I(x^2) + (1 + x | school)": part of the imputation model (the outcome '
                     "and the incomplete covariates are imputed compatibly with it; the cluster "
                     "comes from its grouping), fitted and pooled in --report, and what --m auto "
                     "sizes M for")
    imp.add_argument("--family", choices=["auto", "gaussian", "probit"], default="auto",
                     help="the --model outcome's distribution: gaussian (linear mixed model) or "
                          "probit (binary); auto: probit for two categories")
    imp.add_argument("--joint-only", action="store_true",
                     help="impute with the joint model alone; --model then only names the "
                          "report's model and what --m auto sizes M for")
    imp.add_argument("--delta", action="append", metavar='"Y=SHIFT [if COND]"',
                     help="MNAR sensitivity: add SHIFT to the imputed values of response Y (latent "
                          "scale for binary/ordinal), optionally only where COND holds "
                          '("girl == 1"); repeatable')
    imp.add_argument("--sample", metavar="VAR", help="impute within the rows where VAR is "
                     "nonzero (Stata's if/in); the other rows are kept unchanged in every "
                     "imputation")
    imp.add_argument("--quiet", action="store_true", help="no progress bar, summary or warnings")
    imp.add_argument("--progress", choices=["bar", "lines"], default="bar",
                     help="a progress bar on stderr, or a line on stdout at every tenth (for "
                          "hosts that cannot redraw a bar, e.g. Stata)")
    _na_option(imp)

    prop = sub.add_parser("propose", help="write REALCOM's default model for a data file")
    prop.add_argument("input")
    prop.add_argument("-o", "--output", required=True, help="spec file (.toml or .json)")
    prop.add_argument("--model", help='a model of interest to impute compatibly with, e.g. '
                      '"y ~ x * z + (1 + x | school)": the spec gets its [model] and the '
                      "covariate model without the outcome")
    prop.add_argument("--family", choices=["auto", "gaussian", "probit"], default="auto",
                      help="the --model outcome's distribution")
    _model_options(prop)
    _na_option(prop)

    show = sub.add_parser("show", help="print a spec as equations")
    show.add_argument("spec")

    diag = sub.add_parser("diagnose", help="diagnostics of a chain written by 'impute --chain'")
    diag.add_argument("chain")
    diag.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for summary.csv and plots")
    diag.add_argument("--between", type=_count(1), help="iterations between imputations (for the lag check)")
    diag.add_argument("--quiet", action="store_true", help="no progress bar")

    pool = sub.add_parser("pool", help="fit a model to every imputation and pool (Rubin's rules)")
    pool.add_argument("stacked", help="stacked imputations written by 'mlimpute impute'")
    pool.add_argument("--model",
                      help='model of interest, e.g. "y ~ x + C(g) + (1 | school)" (lme4 notation); '
                           "default: the model of interest the imputation used (recorded in a "
                           ".dta output, or in --spec)")
    pool.add_argument("--spec", help="the spec the imputation saved (--save-spec): its model of "
                      "interest is the default --model")
    pool.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    pool.add_argument("--family", choices=["gaussian", "logit", "probit"], default=None,
                      help="linear (mixed) model, or logit/probit for a binary response "
                           "(default: the family the imputation recorded for this outcome, "
                           "else gaussian)")
    pool.add_argument("--force", action="store_true",
                      help="pool a stacked file that breaks the checks (completed sets with "
                           "missing values or changed observed values, unequal rows, gaps in "
                           "the numbers, no original), e.g. one written by another program: "
                           "each problem is printed as a warning")
    pool.add_argument("--null-model", help="a nested model: adds the likelihood-ratio test (D3) "
                      "of --model against it")
    pool.add_argument("--test", action="append", metavar="HYPOTHESIS",
                      help='a linear hypothesis about the fixed effects, named as the table '
                           'shows them, e.g. "G.SES - I.SES = 0"; repeat for a joint test of '
                           "several (D1 Wald test, as mitml's testConstraints)")
    pool.add_argument("--df-com", type=_positive_float, metavar="DF",
                      help="complete-data degrees of freedom (mitml's df.com): Barnard-Rubin "
                           "df for the coefficients and Reiter's for --test (default: infinite)")
    pool.add_argument("--workers", type=_count(1), default=1, help="processes for the per-imputation fits")
    pool.add_argument("-o", "--output", help="also write the pooled table (.csv, .parquet, .dta)")
    pool.add_argument("--se-cv", type=_fraction, default=0.05,
                      help="report the imputations needed for standard errors replicable to "
                           "this coefficient of variation (von Hippel 2020; default 0.05)")
    pool.add_argument("--quiet", action="store_true", help="no progress bar")
    _na_option(pool)

    sens = sub.add_parser("sensitivity", help="MNAR sensitivity analysis: impute and pool over a "
                          "grid of delta shifts of one response")
    sens.add_argument("input", help="data file (.csv, .parquet, .dta, .rds)")
    sens.add_argument("--response", required=True, help="the response whose imputed values are shifted")
    sens.add_argument("--deltas", required=True, nargs="+", type=float, metavar="D",
                      help="the shifts, e.g. --deltas -0.5 -0.25 0 0.25 0.5 (0 is the MAR run)")
    sens.add_argument("--where", metavar="COND", help='shift only where COND holds, e.g. "girl == 1"')
    sens.add_argument("--model", required=True, help='model of interest, e.g. "y ~ x + (1 | school)"')
    sens.add_argument("-o", "--output", required=True, help="table of pooled estimates by delta "
                      "(.csv, .parquet, .dta)")
    sens.add_argument("--plot", metavar="FILE.png", help="also plot each estimate against delta")
    _model_options(sens)
    sens.add_argument("--spec", help="model spec (.toml or .json); command-line settings override it")
    _mcmc_options(sens)
    sens.add_argument("--workers", type=_count(1), help="processes for the chains")
    sens.add_argument("--quiet", action="store_true", help="no progress bar")
    _na_option(sens)

    demo = sub.add_parser("demo", help="impute the shipped class-size data and print the pooled "
                          "table (the README's worked example)")
    demo.add_argument("--out", default="mlimpute_demo", metavar="DIR",
                      help="folder for the stacked imputations (default: ./mlimpute_demo)")
    demo.add_argument("--paper", action="store_true",
                      help="the paper's MCMC settings (burn-in 2000, 500 between, M = 20; slow)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    stata = sub.add_parser("install-stata", help="copy the Stata ado and help files where Stata "
                           "finds them, and say how Stata finds this Python")
    stata.add_argument("folder", nargs="?", metavar="DIR",
                       help="install into this folder (default: Stata's PERSONAL folder)")
    stata.add_argument("--plus", action="store_true",
                       help="install into Stata's PLUS folder (where net install puts files) "
                            "instead of PERSONAL")

    rpkg = sub.add_parser("install-r", help="install the R package (R CMD INSTALL), set up to "
                          "use this Python")
    rpkg.add_argument("--lib", metavar="DIR", help="R library folder (default: R's first)")
    return parser


def _mcmc_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--m", type=_count_or_auto(1), help="number of imputations (default 20), or "
                   "'auto': a pilot sizes M for replicable standard errors (von Hippel 2020)")
    p.add_argument("--burnin", type=_count_or_auto(0), help="burn-in iterations (default 1000), "
                   "or 'auto': until R-hat < 1.01 and bulk ESS >= 400 (at most --max-burnin)")
    p.add_argument("--between", type=_count_or_auto(1), help="iterations between imputations "
                   "(default 500), or 'auto': from the burn-in's autocorrelation")
    p.add_argument("--max-burnin", type=_count(8), help="cap of --burnin auto per chain "
                   "(default 20000)")
    p.add_argument("--pilot-m", type=_count(2), help="pilot imputations of --m auto (default 20)")
    p.add_argument("--se-cv", type=_fraction, help="--m auto: coefficient of variation of the "
                   "standard errors to reach (default 0.05)")
    p.add_argument("--seed", type=_count(0), help="random seed (default: random, recorded in the spec)")
    p.add_argument("--chains", type=_count(1), help="independent chains, each with its own burn-in "
                   "(default 1); M is split among them")
    p.add_argument("--fixed-random", choices=("joint", "separate"),
                   help="draw the level-1 fixed and random effects jointly (default: joint, "
                        "far better mixing at high ICC) or one given the other (as releases "
                        "before 0.2 did)")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", nargs="+", metavar="VAR",
                   help="cluster identifier column (level-2 units); several for more levels, "
                        "innermost first: --cluster class school (nested, checked) or with "
                        "--crossed: --cluster school area")
    p.add_argument("--crossed", action="store_true",
                   help="the --cluster classifications are crossed (pupils in schools and in "
                        "neighbourhoods), not nested")
    p.add_argument("--responses", nargs="+", metavar="VAR",
                   help="responses (default: every partially observed column)")
    p.add_argument("--covariates", nargs="+", metavar="VAR",
                   help="covariates (default: every other fully observed column)")
    p.add_argument("--exclude", nargs="+", metavar="VAR", help="columns left out of the model")
    p.add_argument("--random-slopes", nargs="+", metavar="VAR",
                   help="covariates with cluster-level random slopes in the level-1 equations")
    p.add_argument("--level1-weight", metavar="VAR", help="level-1 (unit) sampling weight column")
    p.add_argument("--level2-weight", metavar="VAR", help="level-2 (cluster) sampling weight column")
    p.add_argument("--cluster-covariance", action="store_true",
                   help="give every cluster its own level-1 covariance matrix (jomo's "
                        "meth=\"random\"; continuous level-1 responses)")
    for kind in RESPONSE_TYPES:
        p.add_argument(f"--{kind}", nargs="+", metavar="VAR", default=[],
                       help=f"declare responses as {kind} (overrides the type inferred from the data)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with signals_as_exceptions(), warnings.catch_warnings():
            if not args.debug:        # numpy/pandas warnings are noise to a user: what
                warnings.simplefilter("ignore")   # matters is checked and said in words
            from .commands import COMMANDS     # numpy, pandas, scipy: not for --help/--version
            return COMMANDS[args.command](args)
    except MlimputeError as exc:
        print(f"mlimpute: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:      # Ctrl-C, or SIGTERM/SIGHUP (shutdown.Interrupted)
        print(f"mlimpute: stopped ({str(exc) or 'SIGINT'}); unfinished output removed",
              file=sys.stderr)
        return exit_status(exc)
    except Exception as exc:  # an internal error: one line unless --debug
        if args.debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"mlimpute: internal error: {type(exc).__name__}: {first} (rerun with --debug "
              "for details and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
