"""Cost of one Gibbs iteration as the data grow: 10^4, 10^5, 10^6 rows.

    python -m benchmarks.scaling [--sizes 10000 100000 1000000] [--iterations 5]

Six continuous level-1 responses, 2,000 clusters (fewer for small data), 20% missing
(MAR), random intercepts.  Prints ms/iteration and peak memory, writes
benchmarks/results/scaling.md and scaling.png.  Linear cost means ms/iteration per
10^5 rows stays roughly constant.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

import mlimpute
from mlimpute.api import single_threaded_blas
from mlimpute.engine import GibbsSampler
from mlimpute.simulate import simulate

HERE = Path(__file__).resolve().parent


def measure(rows: int, iterations: int) -> dict:
    clusters = min(2000, rows // 10)
    frame, _ = simulate(n_clusters=clusters, cluster_size=rows // clusters, n_level1=6,
                        n_level2=0, missing=0.2, seed=1, vary_size=False)
    spec = mlimpute.propose(frame, "cluster")
    model = mlimpute.compile_model(spec, frame)
    sampler = GibbsSampler(model.data, np.random.default_rng(1))
    with single_threaded_blas():
        sampler.step()
        start = time.perf_counter()
        for _ in range(iterations):
            sampler.step()
        ms = 1000 * (time.perf_counter() - start) / iterations
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": len(frame), "clusters": clusters, "ms/iteration": ms,
            "ms per 1e5 rows": ms / len(frame) * 1e5, "peak memory MB": peak}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--iterations", type=int, default=5)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
