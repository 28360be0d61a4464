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
    """A benchmark data set and model: level-1/level-2 responses and covariates."""

    name: str
    description: str
    frame: pd.DataFrame
    cluster: str
    level1: list[str]
    level2: list[str]
    covariates: list[str]


def classsize_shape(with_level2: bool) -> Shape:
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_classsize", HERE.parent / "fixtures" / "make_classsize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.generate()
    level2 = ["csize"] if with_level2 else []
    name = "classsize_l2" if with_level2 else "classsize"
    desc = ("7,394 rows, 329 clusters, 4 continuous L1 responses" +
            (" + continuous L2 response" if with_level2 else ""))
    return Shape(name, desc, frame, "class", list(module.SCORES), level2, ["fsm"])


def small_shape() -> Shape:
    from mlimpute.simulate import simulate
    frame, _ = simulate(n_clusters=40, cluster_size=15, n_level1=3, n_level2=1, seed=1)
    return Shape("small", "about 600 rows, 40 clusters, 3 L1 + 1 L2 continuous", frame,
                 "cluster", ["y1", "y2", "y3"], ["g1"], ["x", "w"])


SHAPES = {"classsize": lambda: classsize_shape(False), "classsize_l2": lambda: classsize_shape(True),
          "small": small_shape}


def _spec(shape: Shape) -> mlimpute.Spec:
    responses = [mlimpute.Response(n) for n in shape.level1] + \
                [mlimpute.Response(n, level=2) for n in shape.level2]
    level2_cov = [c for c in shape.covariates
                  if (shape.frame.groupby(shape.cluster)[c].nunique() <= 1).all()]
    return mlimpute.Spec(shape.cluster, responses, covariates=shape.covariates,
                         level2_covariates=level2_cov)


def time_mlimpute(shape: Shape, iterations: int, seed: int) -> float:
    model = mlimpute.compile_model(_spec(shape), shape.frame)
    sampler = GibbsSampler(model.data, np.random.default_rng(seed), jomo_compatible=True)
    for _ in range(5):
        sampler.step()
    start = time.perf_counter()
    for _ in range(iterations):
        sampler.step()
    return 1000 * (time.perf_counter() - start) / iterations


def time_jomo(shape: Shape, csv: Path, iterations: int, seed: int) -> float:
    spec = _spec(shape)
    args = [csv, shape.cluster, ",".join(shape.level1) or "-", ",".join(shape.level2) or "-",
            ",".join(["cons", *shape.covariates]), ",".join(["cons", *spec.level2_covariates]),
            iterations, seed]
    run = subprocess.run(["Rscript", str(HERE / "jomo_time.R"), *map(str, args)],
                         capture_output=True, text=True, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def benchmark(shape: Shape, iterations: int, repeats: int) -> dict:
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
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = []
    for name in args.shape or ["classsize", "classsize_l2"]:
        row = benchmark(SHAPES[name](), args.iterations, args.repeats)
        rows.append(row)
        print(f"{row['shape']:>13}: mlimpute {row['mlimpute ms/it (median)']:.2f} ms/it, "
              f"jomo {row['jomo ms/it (median)']:.2f} ms/it, ratio {row['ratio (median)']:.2f}x "
              f"(min-based {row['ratio (min)']:.2f}x)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vs_jomo.md").write_text(markdown_table(rows))
    print(f"table written to {out / 'vs_jomo.md'}")
    return 0


def markdown_table(rows: list[dict]) -> str:
    """A GitHub-flavoured Markdown table, floats with two decimals."""
    header = list(rows[0])
    cell = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[k]) for k in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
