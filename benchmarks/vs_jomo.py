"""mlimpute vs R jomo, side by side in one run: milliseconds per Gibbs iteration.

    python -m benchmarks.vs_jomo                       # all shapes, 3 repeats
    python -m benchmarks.vs_jomo --shape classsize --iterations 500 --repeats 5

Both samplers run the same model on the same data for the same number of iterations;
the runs alternate (jomo, mlimpute, jomo, ...) so that machine noise hits both.  Start-up
costs (R, data loading, building the sampler) are excluded.  Reported: min and median
ms/iteration and the ratio jomo / mlimpute (> 1: mlimpute is faster).  A Markdown
table is written to benchmarks/results/vs_jomo.md.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import mlimpute
from mlimpute.engine import GibbsSampler

HERE = Path(__file__).resolve().parent


@dataclass
class Shape:
    """A benchmark data set and model: level-1/level-2 responses (name -> type) and covariates."""

    name: str
    description: str
    frame: pd.DataFrame
    cluster: str
    level1: dict[str, str]
    level2: dict[str, str]
    covariates: list[str]
    iterations: int = 300          # default iterations per timed run


def _classsize_frame() -> tuple[pd.DataFrame, list[str]]:
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_classsize", HERE.parent / "fixtures" / "make_classsize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(), list(module.SCORES)


def classsize_shape(level2: str | None) -> Shape:
    frame, scores = _classsize_frame()
    level1 = {name: "continuous" for name in scores}
    if level2 == "continuous":
        return Shape("classsize_l2", "7,394 rows, 329 clusters, 4 continuous L1 + continuous L2",
                     frame, "class", level1, {"csize": "continuous"}, ["fsm"])
    if level2 == "categorical":
        frame["csize4"] = pd.Categorical(frame["csize4"])
        return Shape("classsize_cat", "7,394 rows, 329 clusters, 4 continuous L1 + 4-category L2",
                     frame, "class", level1, {"csize4": "categorical"}, ["fsm"])
    return Shape("classsize", "7,394 rows, 329 clusters, 4 continuous L1 responses",
                 frame, "class", level1, {}, ["fsm"])


def tldata_shape() -> Shape:
    from mlimpute.model.simulate import simulate_mixed
    frame, _ = simulate_mixed(level1=("continuous", "binary", ("categorical", 3)),
                              level2=("continuous",), n_clusters=200, cluster_size=250,
                              missing=0.2, seed=1)
    frame = frame.iloc[:50000].reset_index(drop=True)
    return Shape("tldata", "50,000 rows, 200 clusters, continuous + binary + 3-category L1, continuous L2",
                 frame, "cluster", {"y1": "continuous", "y2": "binary", "y3": "categorical"},
                 {"g1": "continuous"}, ["x"], iterations=60)


def small_shape() -> Shape:
    from mlimpute.model.simulate import simulate
    frame, _ = simulate(n_clusters=40, cluster_size=15, n_level1=3, n_level2=1, seed=1)
    return Shape("small", "about 600 rows, 40 clusters, 3 L1 + 1 L2 continuous", frame,
                 "cluster", {"y1": "continuous", "y2": "continuous", "y3": "continuous"},
                 {"g1": "continuous"}, ["x", "w"])


SHAPES = {"classsize": lambda: classsize_shape(None),
          "classsize_l2": lambda: classsize_shape("continuous"),
          "classsize_cat": lambda: classsize_shape("categorical"),
          "tldata": tldata_shape, "small": small_shape}


def _spec(shape: Shape) -> mlimpute.Spec:
    responses = [mlimpute.Response(n, type=t) for n, t in shape.level1.items()] + \
                [mlimpute.Response(n, type=t, level=2) for n, t in shape.level2.items()]
    level2_cov = [c for c in shape.covariates
                  if (shape.frame.groupby(shape.cluster)[c].nunique() <= 1).all()]
    return mlimpute.Spec(shape.cluster, responses, covariates=shape.covariates,
                         level2_covariates=level2_cov)


def time_mlimpute(shape: Shape, iterations: int, seed: int) -> float:
    """ms per iteration, with the BLAS threading mlimpute.impute uses."""
    from mlimpute.run.api import sampler_blas_threads
    model = mlimpute.compile_model(_spec(shape), shape.frame)
    sampler = GibbsSampler(model.data, np.random.default_rng(seed), jomo_compatible=True)
    with sampler_blas_threads():
        for _ in range(5):
            sampler.step()
        start = time.perf_counter()
        for _ in range(iterations):
            sampler.step()
    return 1000 * (time.perf_counter() - start) / iterations


def time_r(shape: Shape, csv: Path, iterations: int, seed: int, *extra: str) -> float:
    """ms per iteration of a peer in R on the shape's model (benchmarks/peer_run.R; R
    start-up and data loading excluded); `extra` are more of its arguments (tool=...,
    draws=FILE)."""
    spec = _spec(shape)
    names = lambda d, cont: ",".join(n for n, t in d.items() if (t == "continuous") == cont)
    args = [f"data={csv}", f"cluster={shape.cluster}", f"l1con={names(shape.level1, True)}",
            f"l1cat={names(shape.level1, False)}", f"l2con={names(shape.level2, True)}",
            f"l2cat={names(shape.level2, False)}", "x1=" + ",".join(["cons", *shape.covariates]),
            "x2=" + ",".join(["cons", *spec.level2_covariates]), f"iterations={iterations}",
            f"seed={seed}", *extra]
    run = subprocess.run(["Rscript", str(HERE / "peer_run.R"), *args],
                         capture_output=True, text=True, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def time_jomo(shape: Shape, csv: Path, iterations: int, seed: int) -> float:
    """ms per iteration of jomo's MCMCchain function for the shape's model."""
    return time_r(shape, csv, iterations, seed, "tool=chain")


def benchmark(shape: Shape, iterations: int | None, repeats: int) -> dict:
    iterations = iterations or shape.iterations
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        shape.frame.to_csv(csv, index=False)
        for r in range(repeats):
            theirs.append(time_jomo(shape, csv, iterations, seed=r + 1))
            ours.append(time_mlimpute(shape, iterations, seed=r + 1))
    return {"shape": shape.name, "data": shape.description, "iterations": iterations,
            "repeats": repeats,
            "mlimpute ms/it (min)": min(ours), "mlimpute ms/it (median)": statistics.median(ours),
            "jomo ms/it (min)": min(theirs), "jomo ms/it (median)": statistics.median(theirs),
            "ratio (median)": statistics.median(theirs) / statistics.median(ours),
            "ratio (min)": min(theirs) / min(ours)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append",
                        help="benchmark shape (repeatable; default: classsize and classsize_l2)")
    parser.add_argument("--iterations", type=int, help="iterations per timed run (default per shape)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []
    for name in args.shape or ["classsize", "classsize_l2", "classsize_cat", "tldata"]:
        row = benchmark(SHAPES[name](), args.iterations, args.repeats)
        rows.append(row)
        print(f"{row['shape']:>13}: mlimpute {row['mlimpute ms/it (median)']:.2f} ms/it, "
              f"jomo {row['jomo ms/it (median)']:.2f} ms/it, ratio {row['ratio (median)']:.2f}x "
              f"(min-based {row['ratio (min)']:.2f}x)", flush=True)
    write_table(rows, Path(args.out) / "vs_jomo.md")
    return 0


def write_table(rows: list[dict], path: Path) -> None:
    """Write `rows` as a Markdown table (creating the folder) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_table(rows))
    print(f"table written to {path}")


def markdown_table(rows: list[dict]) -> str:
    """A GitHub-flavoured Markdown table, floats with two decimals."""
    header = list(rows[0])
    cell = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[k]) for k in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
