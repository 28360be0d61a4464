"""Imputation compatible with the model of interest against the truth, with the joint
model beside it: replicate data sets from ``mlimpute.model.simulate.simulate_compatible``
(a random slope of an incomplete x; an ``x * z`` interaction and a square; a binary
outcome with a random intercept; an ordinal x in an interaction), each imputed both ways, the model of interest pooled
(Rubin's rules) or, for the probit model, its posterior means taken.  The probit model is
also run through R's ``jomo.glmer`` (``--jomo``), whose binomial outcome is a probit too:
a reference is checked against the truth before it is used as one.

Run: ``python -m benchmarks.smc_truth [--reps 50] [--jomo]``; the table (mean estimate,
its Monte Carlo SE, and the bias in SEs) goes to benchmarks/results/smc_truth.md.  The
tests (tests/model/test_substantive.py) run the same functions with a few replicates.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import mlimpute
from mlimpute.analysis.fit import fit_pooled
from mlimpute.model.simulate import COMPATIBLE_MODELS, simulate_compatible

from .vs_jomo import HERE, write_table

JOMO_SCRIPT = HERE.parent / "tests" / "r" / "jomo_smc_chain.R"
# the probit model's parameters, by their draws' names
PROBIT_DRAWS = {"Intercept": "model.beta[Intercept]", "x": "model.beta[x]", "z": "model.beta[z]",
                "var(school)": "model.omega_b[Intercept,Intercept]"}


def replicates(kind: str, reps: int, compatible: bool, size=(50, 20), first_seed: int = 100
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per replicate: the pooled estimates of the model of interest and their
    standard errors (for ``"probit"``, the posterior means and SDs of its parameters)
    after imputing compatibly with it, or with the joint model (REALCOM's default)."""
    rows, errors = [], []
    model = COMPATIBLE_MODELS[kind]
    for seed in range(reps):
        frame, _ = simulate_compatible(kind, *size, seed=first_seed + seed)
        types = {"x": "ordinal"} if kind == "ordinal" else None
        spec = mlimpute.propose(frame, "school", types=types)
        if compatible:
            spec = mlimpute.spec_for_model(frame, mlimpute.ModelOfInterest(model), spec)
        result = mlimpute.impute(frame, spec.with_mcmc(burnin=300, between=40, m=5, seed=seed))
        if kind == "probit":
            summary = result.posterior_summary()
            rows.append({k: summary.loc[v, "mean"] for k, v in PROBIT_DRAWS.items()})
            errors.append({k: summary.loc[v, "sd"] for k, v in PROBIT_DRAWS.items()})
        else:
            pooled = fit_pooled(result, model)
            rows.append(pooled["estimate"])
            errors.append(pooled["std_error"])
    return pd.DataFrame(rows), pd.DataFrame(errors)


def jomo_glmer_chain(frame: pd.DataFrame, iterations: int, seed: int, folder: Path,
                     priors: bool = False) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Draws of the probit model of interest from R's ``jomo.glmer.MCMCchain`` on `frame`
    (every covariate a level-1 response of its covariate model), one row per iteration,
    named as mlimpute names them; with `priors`, also the prior scale of Omega_b jomo
    used (a complete-case logit glmer fit's, q x q)."""
    data, out, prior = folder / "glmer_in.csv", folder / "glmer_out.csv", folder / "glmer_prior.csv"
    frame[["y", "x", "z", "school"]].to_csv(data, index=False)
    command = ["Rscript", str(JOMO_SCRIPT), f"data={data}", f"out={out}", "family=binomial",
               f"formula={COMPATIBLE_MODELS['probit']}", "columns=y,x,z,school",
               f"iterations={iterations}", f"seed={seed}"] + ([f"priors={prior}"] if priors else [])
    run = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"jomo_smc_chain.R failed:\n{run.stderr[-2000:]}")
    scale = pd.read_csv(prior).to_numpy()[0, 1:].astype(float) if priors else None
    return pd.read_csv(out), scale


def jomo_glmer_replicates(reps: int, size=(60, 20), first_seed: int = 100, iterations: int = 3000
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """As `replicates` for the probit model, the posterior means and SDs (after a burn-in
    of a third) from ``jomo.glmer`` with its own priors and covariate model."""
    rows, errors = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(reps):
            frame, _ = simulate_compatible("probit", *size, seed=first_seed + seed)
            draws, _ = jomo_glmer_chain(frame, iterations, seed, Path(folder))
            kept = draws.iloc[iterations // 3:]
            rows.append({k: kept[v].mean() for k, v in PROBIT_DRAWS.items()})
            errors.append({k: kept[v].std() for k, v in PROBIT_DRAWS.items()})
    return pd.DataFrame(rows), pd.DataFrame(errors)


def bias_z(estimates: pd.DataFrame, truth: dict, errors: pd.DataFrame | None = None) -> pd.Series:
    """(mean - truth) / (spread / sqrt(replicates)) of every true parameter, the spread
    the SD over replicates or, given `errors` (each replicate's standard error), their
    mean: with few replicates a sample SD is itself too uncertain to scale by."""
    names = [n for n in truth if n in estimates]
    est = estimates[names]
    spread = est.std(ddof=1) if errors is None else errors[names].mean()
    return (est.mean() - pd.Series(truth)[names]) / (spread / np.sqrt(len(est)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--jomo", action="store_true",
                        help="also run the probit model through R's jomo.glmer")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []

    def report(model, imputation, est, truth):
        z = bias_z(est, truth)
        for name in z.index:
            rows.append({"model": model.replace("|", "\\|"),   # Markdown
                         "imputation": imputation, "parameter": name, "truth": truth[name],
                         "mean": float(est[name].mean()),
                         "MC SE": float(est[name].std(ddof=1) / np.sqrt(len(est))),
                         "bias / SE": float(z[name])})
            print(rows[-1], flush=True)

    for kind in ("slope", "interaction", "probit", "ordinal"):
        _, truth = simulate_compatible(kind, seed=0)
        ways = [True] if kind == "probit" else [True, False]
        for compatible in ways:
            est, _ = replicates(kind, args.reps, compatible,
                                size=(60, 20) if kind == "probit" else (50, 20))
            report(COMPATIBLE_MODELS[kind], "compatible" if compatible else "joint", est, truth)
        if kind == "probit" and args.jomo:
            est, _ = jomo_glmer_replicates(args.reps)
            report(COMPATIBLE_MODELS[kind], "jomo.glmer", est, truth)
    write_table(rows, Path(args.out) / "smc_truth.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
