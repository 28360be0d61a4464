"""Effective samples per second, mlimpute vs R jomo, side by side in one run.

    python -m benchmarks.ess                         # class-size (4-category L2) and tldata shapes
    python -m benchmarks.ess --shape classsize --iterations 3000

Speed per iteration is only half of it: a sampler that mixes worse needs more
iterations.  Both samplers run the same model on the same data; after discarding a
burn-in (a fifth of the run) the effective sample size (Geyer's initial-sequence
estimator, mlimpute.engine.diagnostics) of every free element of the level-1 and
level-2 covariance matrices is divided by the sampling time of the kept iterations.
Reported: the minimum and median over elements, and their ratios mlimpute / jomo
(> 1: more independent draws per second).  Elements that do not vary (fixed by a
constraint, e.g. latent variances of categorical responses) are left out.  A Markdown
table is written to benchmarks/results/ess.md.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mlimpute
from mlimpute.engine.diagnostics import effective_sample_size

from .vs_jomo import HERE, SHAPES, _spec, time_jomo, write_table

DEFAULT_ITERATIONS = {"classsize": 3000, "classsize_l2": 3000, "classsize_cat": 3000,
                      "tldata": 500, "small": 3000}


def _ess_per_second(draws: pd.DataFrame, seconds: float) -> np.ndarray:
    values = draws.to_numpy(dtype=float)
    free = values.std(axis=0) > 1e-12 * (1 + np.abs(values).max(axis=0))
    return effective_sample_size(values[:, free]) / seconds


def ours(shape, iterations: int, burnin: int, seed: int) -> np.ndarray:
    spec = _spec(shape).to_dict()
    spec["mcmc"] = {"burnin": burnin, "between": iterations - burnin, "m": 1, "seed": seed}
    spec = mlimpute.Spec.from_dict(spec)
    start = time.perf_counter()
    result = mlimpute.impute(shape.frame, spec)
    seconds = (time.perf_counter() - start) * (iterations - burnin) / iterations
    draws = result.parameter_draws()
    covariance = draws[[c for c in draws.columns if c.startswith(("omega_e", "omega_u"))]]
    return _ess_per_second(covariance, seconds)


def theirs(shape, iterations: int, burnin: int, seed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "data.csv", Path(tmp) / "draws.csv"
        shape.frame.to_csv(csv, index=False)
        ms = time_jomo(shape, csv, iterations, seed, f"draws={out}")
        draws = pd.read_csv(out).iloc[burnin:]
    return _ess_per_second(draws, ms * (iterations - burnin) / 1000)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []
    for name in args.shape or ["classsize_cat", "tldata"]:
        shape = SHAPES[name]()
        iterations = args.iterations or DEFAULT_ITERATIONS[name]
        burnin = iterations // 5
        jomo = theirs(shape, iterations, burnin, seed=1)
        mine = ours(shape, iterations, burnin, seed=1)
        row = {"shape": name, "iterations": iterations,
               "mlimpute ESS/s (min)": mine.min(), "mlimpute ESS/s (median)": np.median(mine),
               "jomo ESS/s (min)": jomo.min(), "jomo ESS/s (median)": np.median(jomo),
               "ratio (min)": mine.min() / jomo.min(),
               "ratio (median)": np.median(mine) / np.median(jomo)}
        rows.append(row)
        print(f"{name:>13}: ESS/s of the covariance elements, mlimpute min {row['mlimpute ESS/s (min)']:.1f} "
              f"median {row['mlimpute ESS/s (median)']:.1f}; jomo min {row['jomo ESS/s (min)']:.1f} "
              f"median {row['jomo ESS/s (median)']:.1f}; ratio min {row['ratio (min)']:.1f}x "
              f"median {row['ratio (median)']:.1f}x", flush=True)
    write_table(rows, Path(args.out) / "ess.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
