"""Imputation compatible with the model of interest: mlimpute against R jomo's jomo.lmer.

Same data (``mlimpute.model.simulate.simulate_compatible``: a random slope of an incomplete
x, 40% of x and 10% of y missing), same model ``y ~ x + z + (1 + x | school)`` and
jomo.lmer's covariate model (x and z responses with random intercepts, built by
``mlimpute.from_jomo_smc``), side by side in one run:

* ms per iteration: for jomo.lmer the slope between runs of N/2 and N iterations (its
  set-up, a complete-case lmer fit, drops out); for mlimpute the time of N iterations
  after a short warm-up, on one thread;
* bulk ESS per second of the slowest parameter of the model of interest (beta,
  Omega_b, sigma2), one estimator (:func:`mlimpute.engine.diagnostics.ess`) for both.

Run: ``python -m benchmarks.smc [--sizes 60x15 500x20 2000x50]``; the table goes to
benchmarks/results/smc.md.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mlimpute
from mlimpute.engine import GibbsSampler
from mlimpute.engine.diagnostics import ess
from mlimpute.model.simulate import COMPATIBLE_MODELS, simulate_compatible

from .vs_jomo import HERE, write_table

R_SCRIPT = HERE.parent / "tests" / "r" / "jomo_smc_chain.R"
FORMULA = COMPATIBLE_MODELS["slope"]


def _data(n_clusters: int, size: int) -> pd.DataFrame:
    frame, _ = simulate_compatible("slope", n_clusters, size, seed=1)
    frame.loc[frame.index[::10], "y"] = np.nan
    return frame[["y", "x", "z", "school"]]


def jomo_lmer(csv: Path, iterations: int, tmp: Path) -> tuple[float, pd.DataFrame]:
    """(ms/iteration, draws of an N-iteration run) of jomo.lmer.MCMCchain."""
    common = [f"data={csv}", f"formula={FORMULA}", "columns=y,x,z,school", "seed=1",
              f"iterations={iterations}"]
    timing = tmp / "time.csv"
    subprocess.run(["Rscript", str(R_SCRIPT), *common, f"out={timing}", "time=1"], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    half, full = map(float, timing.read_text().split(","))
    draws = tmp / "draws.csv"
    subprocess.run(["Rscript", str(R_SCRIPT), *common, f"out={draws}"], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    slope = 1000 * (full - half) / (iterations - iterations // 2)
    # runs too short for R's millisecond clock to tell apart: the whole call per iteration
    return (slope if slope > 0 else 1000 * full / iterations), pd.read_csv(draws)


def ours(frame: pd.DataFrame, iterations: int) -> tuple[float, pd.DataFrame]:
    """(ms/iteration, draws) of mlimpute with jomo.lmer's model."""
    from mlimpute.run.api import sampler_blas_threads
    spec = mlimpute.from_jomo_smc(frame, FORMULA)
    compiled = mlimpute.compile_model(spec, frame)
    sampler = GibbsSampler(compiled.data, np.random.default_rng(1))
    with sampler_blas_threads():
        sampler.warm_up(20)
        start = time.perf_counter()
        sampler.warm_up(iterations)
        ms = 1000 * (time.perf_counter() - start) / iterations
    extra = sampler.chain.extra
    columns = {f"beta[{k}]": extra["model.beta"][20:, k] for k in range(extra["model.beta"].shape[1])}
    columns.update({f"omega_b[{k}]": extra["model.omega_b"][20:, k]
                    for k in range(extra["model.omega_b"].shape[1])})
    columns["sigma2"] = extra["model.sigma2"][20:, 0]
    return ms, pd.DataFrame(columns)


def slowest_ess(draws: pd.DataFrame) -> float:
    values = draws.to_numpy(dtype=float)
    return float(np.min(ess(values)))


def benchmark(n_clusters: int, size: int, iterations: int) -> dict:
    frame = _data(n_clusters, size)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        csv = tmp / "data.csv"
        frame.to_csv(csv, index=False)
        theirs_ms, theirs = jomo_lmer(csv, iterations, tmp)
        ours_ms, mine = ours(frame, iterations)
    theirs_ess = slowest_ess(theirs.iloc[:, :])
    ours_ess = slowest_ess(mine)
    per_second = lambda e, ms: e / (iterations * ms / 1000)            # noqa: E731
    return {"rows": len(frame), "clusters": n_clusters, "iterations": iterations,
            "jomo.lmer ms/it": theirs_ms, "mlimpute ms/it": ours_ms,
            "ratio per iteration": theirs_ms / ours_ms,
            "jomo.lmer slowest ESS": theirs_ess, "mlimpute slowest ESS": ours_ess,
            "ratio ESS/s": per_second(ours_ess, ours_ms) / per_second(theirs_ess, theirs_ms)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["60x15", "500x20", "1000x50"],
                        help="clusters x cluster size")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        j, n = map(int, size.lower().split("x"))
        # jomo.lmer's iteration grows faster than its rows (about 30 ms at 10^4 rows and
        # 500 clusters, over 2 s at 10^5 and 4,000): fewer iterations for large data
        iterations = args.iterations if j * n <= 20000 else max(60, args.iterations // 10)
        row = benchmark(j, n, iterations)
        rows.append(row)
        print("  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()), flush=True)
    write_table(rows, Path(args.out) / "smc.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
