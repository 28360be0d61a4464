"""Regenerate the stored output of the two-level engine before classifications became a
list (commit fbed242, the last release before the step-block redesign).

    python tests/reference/previous_engine.py            # a git worktree of fbed242
    python tests/reference/previous_engine.py --tree DIR # any other source tree

The old engine runs in a subprocess, on data simulated by today's code, with the
mixed-type model of
``tests/engine/test_multilevel.py`` (25 clusters of 8, continuous/binary/3-category/4-category
ordinal at level 1, continuous and 3-category at level 2; burn-in 30, 5 between, M = 3,
seed 7) and its stacked flong output and every iteration's parameter draws are written
here as CSV, floats in Python's shortest round-trip form:

* ``previous_engine_stacked.csv`` (categories as their labels),
* ``previous_engine_draws.csv``.

The test compares today's engine with these numbers within a tolerance for rounding
(another CPU runs another BLAS kernel, so bytes differ across machines), see
tests/README.md.  The script also prints the SHA-256 digests the earlier test pinned,
computed on this machine, for provenance.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
COMMIT = "fbed242"

RUN = r"""
import hashlib, sys
import pandas as pd
import mlimpute
from mlimpute.propose import propose
assert mlimpute.__file__.startswith(sys.argv[1]), mlimpute.__file__
df = pd.read_pickle(sys.argv[3])
spec = propose(df, "cluster").with_mcmc(burnin=30, between=5, m=3, seed=7)
result = mlimpute.impute(df, spec)
stacked = result.stacked("flong")
draws = result.parameter_draws(include_burnin=True)
print("stacked sha256", hashlib.sha256(pd.util.hash_pandas_object(stacked).to_numpy().tobytes()).hexdigest())
print("draws sha256", hashlib.sha256(draws.to_numpy().tobytes()).hexdigest())
stacked.to_csv(sys.argv[2] + "/previous_engine_stacked.csv", index=False, float_format=None)
draws.to_csv(sys.argv[2] + "/previous_engine_draws.csv", index=False, float_format=None)
"""


def today_data():
    """The test's data, simulated by today's code (portable: Cholesky draws), that the old
    engine is run on."""
    from mlimpute.model.simulate import simulate_mixed
    df, _ = simulate_mixed(level1=("continuous", "binary", ("categorical", 3), ("ordinal", 4)),
                           level2=("continuous", ("categorical", 3)), n_clusters=25,
                           cluster_size=8, seed=3)
    return df


def importable_copy(tree: Path, into: Path) -> Path:
    """The package as setuptools maps it (bridge/ is ``mlimpute``, engine/ is
    ``mlimpute.engine``), copied under `into`, which goes first on sys.path."""
    package = into / "mlimpute"
    shutil.copytree(tree / "bridge", package)
    shutil.copytree(tree / "engine", package / "engine")
    return package


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help=f"source tree to run (default: commit {COMMIT})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tree = args.tree
        if tree is None:
            tree = tmp / "tree"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                            COMMIT], check=True, capture_output=True)
        try:
            package = importable_copy(tree, tmp / "path")
            data = tmp / "data.pkl"
            today_data().to_pickle(data)
            subprocess.run([sys.executable, "-c", RUN, str(package), str(HERE), str(data)], check=True,
                           env={"PYTHONPATH": str(tmp / "path"), "PATH": "/usr/bin:/bin"})
        finally:
            if args.tree is None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
