"""mlimpute against its peers, side by side in one run: ms per iteration and effective
samples per second of the slowest-mixing parameter of each block.

    python -m benchmarks.peers                          # every shape
    python -m benchmarks.peers --shape classsize --iterations 2000 --no-cli

Peers: ``jomo()`` (the call users make), jomo's ``*.MCMCchain`` function (what jomo()
runs inside; the only jomo call that returns its parameter draws) and, on the shapes
with continuous level-1 responses only, pan through ``mitml::panImpute``.  All run the
same model on the same data, one after another in this process's run.

* ms/iteration: R tools are timed inside R; jomo() on N/2 and N iterations and the slope
  taken, so that its set-up inside the call (checking and preparing the data) is not
  counted;
  mlimpute is timed over N iterations of its sampler after 5 warm-up iterations, one
  BLAS thread (as ``mlimpute.impute`` runs).
* ESS/s: the draws after the first fifth, every free element of each block (fixed
  effects; Omega_u; Omega_e), bulk ESS by one estimator for every tool
  (:func:`mlimpute.engine.diagnostics.ess`, Vehtari et al. 2021), the minimum over the
  block divided by the seconds those iterations took.  jomo's draws come from the
  MCMCchain run (the same sampler as jomo()), its seconds from jomo()'s ms/iteration.
* end to end: the wall time of one default ``mlimpute impute`` command (M = 20, burn-in
  1,000, 500 between, one chain) writing Stata flong, and, from an in-process run with
  the same settings, what diagnostics and writing cost as a share of the sampling.

Writes benchmarks/results/peers.md.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mlimpute
from mlimpute.engine import GibbsSampler
from mlimpute.engine.diagnostics import ess

from .vs_jomo import HERE, SHAPES, Shape, _spec, time_r, write_table

BLOCKS = ("fixed", "omega_u", "omega_e")
DEFAULT_ITERATIONS = {"classsize": 2000, "classsize_l2": 2000, "classsize_cat": 2000,
                      "tldata": 300, "small": 2000, "few_clusters": 2000}


def few_clusters_shape() -> Shape:
    """30 clusters of 20, three continuous responses, intraclass correlations 0.55-0.7:
    where Gibbs samplers of random-effect covariances mix worst."""
    from mlimpute.model.simulate import default_truth, simulate
    truth = default_truth(3, 0)
    truth.omega_u = truth.omega_u * 4
    frame, _ = simulate(n_clusters=30, cluster_size=20, n_level1=3, n_level2=0, seed=4,
                        truth=truth, vary_size=False)
    return Shape("few_clusters", "600 rows, 30 clusters, ICC about 0.6, 3 continuous L1", frame,
                 "cluster", {"y1": "continuous", "y2": "continuous", "y3": "continuous"}, {},
                 ["x", "w"])


SHAPES = {**SHAPES, "few_clusters": few_clusters_shape}


def _continuous_level1_only(shape: Shape) -> bool:
    return not shape.level2 and all(t == "continuous" for t in shape.level1.values())


def _block_of(column: str) -> str:
    """fixed (beta...), omega_u (any classification's) or omega_e."""
    return "fixed" if column.startswith("beta") else column[:7]


def block_ess(draws: pd.DataFrame) -> dict[str, float]:
    """Minimum bulk ESS over the free (varying) elements of each block."""
    out = {}
    for block in BLOCKS:
        columns = [c for c in draws.columns if _block_of(c) == block]
        values = draws[columns].to_numpy(dtype=float)
        free = values.std(axis=0) > 1e-12 * (1 + np.abs(values).max(axis=0))
        out[block] = float(np.min(ess(values[:, free]))) if free.any() else np.nan
    return out


# --------------------------------------------------------------------------- the tools

def run_r(tool: str, shape: Shape, csv: Path, iterations: int, seed: int,
          draws: Path | None = None) -> float:
    """ms per iteration of one R call (set-up inside the call included)."""
    extra = [f"tool={tool}"] + ([f"draws={draws}"] if draws is not None else [])
    return time_r(shape, csv, iterations, seed, *extra)


def r_tool(tool: str, shape: Shape, csv: Path, iterations: int, seed: int, tmp: Path):
    """(ms/iteration, draws of the N-run).  jomo() prepares its data before sampling, so
    its ms/iteration is the slope between N/2 and N iterations (the whole call per
    iteration when the runs are too short for R's millisecond clock to tell)."""
    path = tmp / f"{tool}.csv"
    long = run_r(tool, shape, csv, iterations, seed, None if tool == "jomo" else path)
    if tool != "jomo":
        return long, pd.read_csv(path)
    half = iterations // 2
    short = run_r(tool, shape, csv, half, seed) * half
    slope = (long * iterations - short) / (iterations - half)
    return (slope if 0 < slope <= long else long), None


def ours(shape: Shape, iterations: int, seed: int) -> tuple[float, pd.DataFrame]:
    from mlimpute.run.api import sampler_blas_threads
    model = mlimpute.compile_model(_spec(shape), shape.frame)
    sampler = GibbsSampler(model.data, np.random.default_rng(seed))
    with sampler_blas_threads():
        sampler.warm_up(5)
        start = time.perf_counter()
        sampler.warm_up(iterations)
        ms = 1000 * (time.perf_counter() - start) / iterations
    chain = sampler.chain
    columns = {}
    for k, beta in enumerate(chain.beta):
        flat = beta[5:].reshape(iterations, -1)
        columns.update({f"beta{k + 1}[{j}]": flat[:, j] for j in range(flat.shape[1])})
    for k, omega in enumerate(chain.omega):
        name = "omega_e" if k == 0 else f"omega_u{k}"
        low = np.tril_indices(omega.shape[1])
        for a, b in zip(*low):
            columns[f"{name}[{a},{b}]"] = omega[5:, a, b]
    return ms, pd.DataFrame(columns)


def end_to_end(shape: Shape, tmp: Path, **mcmc) -> dict[str, float]:
    """Wall seconds of one default command-line run (`mcmc` settings override the
    defaults, for tests), and the parts of an in-process run with the same settings;
    the data are in tmp/data.csv."""
    spec = _spec(shape).with_mcmc(seed=1, **mcmc)
    csv, spec_file = tmp / "data.csv", tmp / "spec.toml"
    spec.save(spec_file)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "impute", str(csv), "-o",
                    str(tmp / "cli.dta"), "--spec", str(spec_file), "--quiet"], check=True)
    wall = time.perf_counter() - start
    result = mlimpute.impute(shape.frame, spec)
    start = time.perf_counter()
    mlimpute.write_data(result.stacked("flong"), tmp / "inprocess.dta")
    writing = time.perf_counter() - start
    sampling = result.timings["sampling"]
    return {"CLI wall s": wall, "sampling s": sampling,
            "after sampling %": 100 * (result.timings["diagnostics"] + writing) / sampling}


# --------------------------------------------------------------------------- one shape

def benchmark(shape: Shape, iterations: int, cli: bool = True) -> dict:
    burn = iterations // 5
    row: dict = {"shape": shape.name, "iterations": iterations}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        csv = tmp / "data.csv"
        shape.frame.to_csv(csv, index=False)
        tools = {"jomo()": "jomo", "jomo chain": "chain"}
        if _continuous_level1_only(shape):
            tools["pan"] = "pan"
        timing, draws = {}, {}
        for label, tool in tools.items():
            timing[label], draws[label] = r_tool(tool, shape, csv, iterations, seed=1, tmp=tmp)
        timing["mlimpute"], draws["mlimpute"] = ours(shape, iterations, seed=1)
        draws["jomo()"] = draws["jomo chain"]          # the same sampler
        for label in ["mlimpute", *tools]:
            row[f"{label} ms/it"] = timing[label]
            seconds = timing[label] * (iterations - burn) / 1000
            per_block = block_ess(draws[label].iloc[burn:])
            for block in BLOCKS:
                row[f"{label} ESS/s {block}"] = per_block[block] / seconds
            row[f"{label} ESS/s slowest"] = min(per_block.values()) / seconds
        for peer in ("jomo()", "pan"):
            if peer in tools:
                row[f"slowest ESS/s vs {peer}"] = (row["mlimpute ESS/s slowest"]
                                                   / row[f"{peer} ESS/s slowest"])
        if cli:
            row.update(end_to_end(shape, tmp))
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append")
    parser.add_argument("--iterations", type=int, help="iterations per run (default per shape)")
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end runs")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []
    for name in args.shape or ["classsize", "few_clusters", "classsize_cat", "tldata"]:
        row = benchmark(SHAPES[name](), args.iterations or DEFAULT_ITERATIONS[name],
                        cli=not args.no_cli)
        rows.append(row)
        print("  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows).set_index("shape").T.reset_index().rename(columns={"index": "measure"})
    write_table(table.to_dict("records"), Path(args.out) / "peers.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
