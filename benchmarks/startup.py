"""What a short command costs a user: wall seconds of whole processes, side by side.

    python -m benchmarks.startup                # 7 rounds
    python -m benchmarks.startup --rounds 3

Each round runs, one after another (so that the machine's drift hits them alike):

* ``mlimpute --version``;
* ``mlimpute impute`` of a 100-row CSV (the first 100 rows of the shipped class-size
  fixture: 4 responses, 5 classes) with a short run (burn-in 100, 10 between, M = 5),
  writing CSV;
* the floor: a Python process that only imports what every imputation needs (numpy,
  pandas, scipy.linalg, scipy.sparse), and an empty Python process.

Reported: the minimum and the median over the rounds, and the imputation's seconds above
the floor (what mlimpute itself costs: its modules, reading, the model, the sampling,
diagnostics and writing).  Python's bytecode caches are allowed (as on a user's machine),
whatever PYTHONDONTWRITEBYTECODE says.  Writes benchmarks/results/startup.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .vs_jomo import HERE, write_table

FIXTURE = HERE.parent / "fixtures" / "classsize.csv"
FLOOR_IMPORTS = "import numpy, pandas, scipy.linalg, scipy.sparse"


def commands(folder: Path) -> dict[str, list[str]]:
    """The timed commands; the 100-row input is written to `folder`."""
    small = folder / "small.csv"
    with open(FIXTURE) as source, open(small, "w") as target:
        target.writelines(line for _, line in zip(range(101), source))
    cli = [sys.executable, "-m", "mlimpute"]
    return {
        "mlimpute --version": cli + ["--version"],
        "impute 100-row CSV": cli + ["impute", str(small), "-o", str(folder / "out.csv"),
                                     "--cluster", "class", "--burnin", "100", "--between", "10",
                                     "--m", "5", "--seed", "1", "--quiet"],
        "floor: import numpy, pandas, scipy": [sys.executable, "-c", FLOOR_IMPORTS],
        "empty Python": [sys.executable, "-c", "pass"],
    }


def wall(command: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - start


def measure(rounds: int) -> list[dict]:
    folder = Path(tempfile.mkdtemp(prefix="mlimpute-startup-"))
    try:
        todo = commands(folder)
        for command in todo.values():           # warm the caches (bytecode, page cache)
            wall(command)
        seconds = {label: [] for label in todo}
        for _ in range(rounds):
            for label, command in todo.items():
                seconds[label].append(wall(command))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = [{"command": label, "min s": min(s), "median s": float(np.median(s))}
            for label, s in seconds.items()]
    above = np.subtract(seconds["impute 100-row CSV"], seconds["floor: import numpy, pandas, scipy"])
    rows.append({"command": "impute above the floor (paired per round)",
                 "min s": float(above.min()), "median s": float(np.median(above))})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    rows = measure(args.rounds)
    for row in rows:
        print(f"{row['command']}: min {row['min s']:.2f} s, median {row['median s']:.2f} s")
    write_table(rows, Path(args.out) / "startup.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
