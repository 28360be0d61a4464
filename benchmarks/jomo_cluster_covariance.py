"""Does jomo's cluster-specific level-1 covariance sampler (meth = "random",
jomo1ranconhr) recover the level-1 covariance?  A replicated truth simulation.

    python -m benchmarks.jomo_cluster_covariance                  # 3 replicates per design
    python -m benchmarks.jomo_cluster_covariance --replicates 10

Data come from the model itself (mlimpute.model.simulate.simulate_heteroscedastic: two level-1
responses, Omega_j ~ IW(a, B) per cluster with average [[1, 0.4], [0.4, 1.5]], random
intercepts, a covariate, 20% MCAR).  Both samplers run the same model; jomo's per-iteration
average over clusters of its Omega_j (collectomega, read cluster-major as its dimnames say)
and mlimpute's are averaged after burn-in, and set against the average of the generating
Omega_j.  The layout is also checked: the per-cluster posterior means correlate with the
generating Omega_j.  Table: benchmarks/results/jomo_cluster_covariance.md.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import mlimpute
from mlimpute.model.simulate import simulate_heteroscedastic

from .vs_jomo import HERE, write_table

SCRIPT = HERE.parent / "tests" / "r" / "jomo_chain.R"     # the jomo runner the tests use
ELEMENTS = ("omega_e[y1,y1]", "omega_e[y2,y1]", "omega_e[y2,y2]")
DESIGNS = [(60, 20, 8.0), (100, 20, 8.0), (80, 25, 20.0)]


def run_jomo(frame: pd.DataFrame, folder: Path, burnin: int, iterations: int, seed: int):
    data, out, clusters = folder / "d.csv", folder / "j.csv", folder / "c.csv"
    frame.to_csv(data, index=False)
    subprocess.run(["Rscript", str(SCRIPT), f"data={data}", f"out={out}", "cluster=cluster",
                    "l1con=y1,y2", "l1cat=", "l2con=", "l2cat=", "x1=cons,x", "x2=cons",
                    "z=cons", f"iterations={burnin + iterations}", f"seed={seed}", "hr=1",
                    f"clusters_out={clusters}", f"burnin={burnin}"],
                   check=True, capture_output=True)
    return pd.read_csv(out).iloc[burnin:], pd.read_csv(clusters)


def replicate(design, seed: int, burnin: int, iterations: int) -> dict:
    n_clusters, size, a = design
    frame, omegas = simulate_heteroscedastic(n_clusters, size, a=a, seed=seed)
    spec = mlimpute.propose(frame, "cluster").to_dict()
    spec.update(level1_covariance="cluster",
                mcmc={"burnin": burnin, "between": iterations, "m": 1, "seed": seed + 1})
    result = mlimpute.impute(frame, mlimpute.Spec.from_dict(spec))
    ours = result.parameter_draws()
    with tempfile.TemporaryDirectory() as tmp:
        theirs, per_cluster = run_jomo(frame, Path(tmp), burnin, iterations, seed + 2)
    truth = omegas.mean(0)
    row = {"clusters x size": f"{n_clusters} x {size}", "a": a, "seed": seed,
           "true cov": truth[1, 0], "jomo cov": theirs[ELEMENTS[1]].mean(),
           "mlimpute cov": ours[ELEMENTS[1]].mean(),
           "true var2": truth[1, 1], "jomo var2": theirs[ELEMENTS[2]].mean(),
           "mlimpute var2": ours[ELEMENTS[2]].mean(),
           "jomo layout corr": np.corrcoef(per_cluster[ELEMENTS[1]], omegas[:, 1, 0])[0, 1]}
    row["jomo cov / true"] = row["jomo cov"] / row["true cov"]
    row["mlimpute cov / true"] = row["mlimpute cov"] / row["true cov"]
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--burnin", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=3000)
    args = parser.parse_args(argv)
    rows = [replicate(design, 31 + 7 * k, args.burnin, args.iterations)
            for design in DESIGNS for k in range(args.replicates)]
    table = pd.DataFrame(rows)
    summary = table.groupby(["clusters x size", "a"], sort=False)[
        ["jomo cov / true", "mlimpute cov / true", "jomo layout corr"]].mean()
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    write_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
                 for row in rows], HERE / "results" / "jomo_cluster_covariance.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
