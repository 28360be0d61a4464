"""Cost of one Gibbs iteration as the data grow: 10^4, 10^5, 10^6 rows; and one whole
imputation run at the largest size.

    python -m benchmarks.scaling [--sizes 10000 100000 1000000] [--iterations 5]
                                 [--full-rows 1000000] [--chains 2]

Six continuous level-1 responses, 2,000 clusters (fewer for small data), 20% missing
(MAR), random intercepts.  Prints ms/iteration and peak memory, writes
benchmarks/results/scaling.md and scaling.png.  Linear cost means ms/iteration per
10^5 rows stays roughly constant.

``--full-rows N`` (0: skip) then runs ``mlimpute.impute`` end to end on N rows with the
default M = 20, burn-in 1,000 and 500 iterations between imputations, in ``--chains``
processes, and reports the wall time and peak memory (this process, and the largest
worker) in results/full_run.md.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

import mlimpute
from mlimpute.run.api import sampler_blas_threads
from mlimpute.engine import GibbsSampler
from mlimpute.model.simulate import simulate

HERE = Path(__file__).resolve().parent


def _data(rows: int):
    clusters = min(2000, rows // 10)
    frame, _ = simulate(n_clusters=clusters, cluster_size=rows // clusters, n_level1=6,
                        n_level2=0, missing=0.2, seed=1, vary_size=False)
    return frame, clusters


def _peak_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def measure(rows: int, iterations: int) -> dict:
    frame, clusters = _data(rows)
    spec = mlimpute.propose(frame, "cluster")
    model = mlimpute.compile_model(spec, frame)
    sampler = GibbsSampler(model.data, np.random.default_rng(1))
    with sampler_blas_threads():
        sampler.step()
        start = time.perf_counter()
        for _ in range(iterations):
            sampler.step()
        ms = 1000 * (time.perf_counter() - start) / iterations
    return {"rows": len(frame), "clusters": clusters, "ms/iteration": ms,
            "ms per 1e5 rows": ms / len(frame) * 1e5, "peak memory MB": _peak_mb(resource.RUSAGE_SELF)}


def full_run(rows: int, chains: int) -> dict:
    """One whole default imputation run (M = 20, burn-in 1,000, between 500)."""
    frame, clusters = _data(rows)
    spec = mlimpute.propose(frame, "cluster")
    spec = spec.with_mcmc(chains=chains, seed=1)
    start = time.perf_counter()
    result = mlimpute.impute(frame, spec, workers=chains)
    minutes = (time.perf_counter() - start) / 60
    mcmc = spec.mcmc
    return {"rows": len(frame), "clusters": clusters, "responses": 6, "M": mcmc.m,
            "burn-in": mcmc.burnin, "between": mcmc.between, "chains": chains,
            "iterations (longest chain)": mcmc.burnin + mcmc.between * -(-mcmc.m // chains),
            "wall minutes": minutes, "imputations": len(result.imputations),
            "peak MB (main)": _peak_mb(resource.RUSAGE_SELF),
            "peak MB (largest worker)": _peak_mb(resource.RUSAGE_CHILDREN)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--full-rows", type=int, default=0,
                        help="rows of the end-to-end run (0: no such run)")
    parser.add_argument("--chains", type=int, default=2, help="chains of the end-to-end run")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        row = measure(size, args.iterations)
        rows.append(row)
        print(f"{row['rows']:>9} rows: {row['ms/iteration']:9.1f} ms/iteration "
              f"({row['ms per 1e5 rows']:.1f} per 1e5 rows), peak {row['peak memory MB']:.0f} MB", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from benchmarks.vs_jomo import markdown_table
    (out / "scaling.md").write_text(markdown_table(rows))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.loglog([r["rows"] for r in rows], [r["ms/iteration"] for r in rows], "o-")
    ax.set_xlabel("rows")
    ax.set_ylabel("ms per iteration")
    ax.set_title("mlimpute: cost of one iteration (6 continuous responses)")
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=90)
    if args.full_rows:
        row = full_run(args.full_rows, args.chains)
        print(f"end-to-end: {row['rows']} rows, M = {row['M']}, {row['chains']} chains: "
              f"{row['wall minutes']:.1f} minutes, peak {row['peak MB (main)']:.0f} MB (main) + "
              f"{row['peak MB (largest worker)']:.0f} MB (largest worker)", flush=True)
        (out / "full_run.md").write_text(markdown_table([row]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
