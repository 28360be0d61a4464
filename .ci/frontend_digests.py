"""SHA-256 of what every front end writes on the shipped fixture, for checking that a
refactoring changed nothing (same machine, same versions: the bytes must be equal).

    python .ci/frontend_digests.py > before.json
    ... move code ...
    python .ci/frontend_digests.py | diff before.json -

Front ends: the command line (impute to every format, REALCOM impvals, propose, show,
pool, diagnose, sensitivity, --model), the Python API, R's Python entry (impute_rds,
pool_rds) and Stata's entry (the argument line the ado builds).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> int:
    import pandas as pd

    import mlimpute
    from mlimpute.frontends.cli import main as cli

    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame = pd.read_csv(ROOT / "fixtures" / "classsize.csv")
        frame = frame[frame["class"] <= 60].reset_index(drop=True)     # a quick subset
        data = tmp / "cs.csv"
        frame.to_csv(data, index=False)
        fast = ["--m", "3", "--burnin", "40", "--between", "5", "--seed", "2"]
        runs = {
            "impute.dta": ["impute", data, "-o", tmp / "impute.dta", "--cluster", "class",
                           "--exclude", "pupil", "--categorical", "csize4", *fast,
                           "--save-spec", tmp / "spec.toml", "--chain", tmp / "chain.csv"],
            "impute.csv": ["impute", data, "-o", tmp / "impute.csv", "--cluster", "class",
                           "--exclude", "pupil", *fast],
            "impute.parquet": ["impute", data, "-o", tmp / "impute.parquet", "--cluster",
                               "class", "--exclude", "pupil", *fast],
            "impute.rds": ["impute", data, "-o", tmp / "impute.rds", "--cluster", "class",
                           "--exclude", "pupil", *fast],
            "impute114.dta": ["impute", data, "-o", tmp / "impute114.dta", "--cluster", "class",
                              "--exclude", "pupil", "--dta-format", "114", *fast],
            "impvals": ["impute", data, "--impvals", "-o", tmp / "impvals", "--cluster", "class",
                        "--exclude", "pupil", *fast],
            "model.dta": ["impute", data, "-o", tmp / "model.dta", "--exclude", "pupil",
                          "--model", "nmatpost ~ nmatpre * fsm + (1 + nmatpre | class)", *fast],
            "propose.toml": ["propose", data, "--cluster", "class", "-o", tmp / "propose.toml"],
            "pool.csv": ["pool", tmp / "impute.dta", "--model",
                         "nmatpost ~ nmatpre + (1 | class)", "-o", tmp / "pool.csv"],
            "diagnose": ["diagnose", tmp / "chain.csv", "-o", tmp / "diagnose", "--between", "5"],
            "sensitivity.csv": ["sensitivity", data, "--cluster", "class", "--exclude", "pupil",
                                "--response", "nmatpost", "--deltas", "0", "0.3", "--model",
                                "nmatpost ~ nmatpre + (1 | class)", "-o", tmp / "sensitivity.csv",
                                *fast],
        }
        for name, args in runs.items():
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
                code = cli([str(a) for a in args] + (["--quiet"] if args[0] in
                                                       ("impute", "pool", "sensitivity",
                                                        "diagnose") else []))
            out[f"cli {name} exit"] = str(code)
            out[f"cli {name} stdout"] = hashlib.sha256(printed.getvalue().encode()).hexdigest()[:16]
            target = tmp / name
            files = sorted(target.rglob("*")) if target.is_dir() else [target]
            for path in files:
                if path.is_file() and not path.name.endswith(".png"):
                    out[f"cli {name}:{path.name}"] = digest(path)
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            cli(["show", str(tmp / "spec.toml")])
        out["cli show"] = hashlib.sha256(shown.getvalue().encode()).hexdigest()[:16]
        # the Python API
        spec = mlimpute.Spec.load(tmp / "spec.toml")
        result = mlimpute.impute(frame, spec)
        mlimpute.write_data(result.stacked("long"), tmp / "api.parquet")
        out["api stacked long"] = digest(tmp / "api.parquet")
        # R's and Stata's entries
        from mlimpute.frontends.r_entry import impute_rds, pool_rds
        mlimpute.write_data(frame, tmp / "r_in.rds")
        answer = impute_rds(str(tmp / "r_in.rds"), str(tmp / "r_out.rds"), cluster="class",
                            exclude=["pupil"], m=3, burnin=40, between=5, seed=2, quiet=True)
        out["r impute_rds error"] = answer["error"]
        out["r impute_rds"] = digest(tmp / "r_out.rds")
        answer = pool_rds(str(tmp / "r_out.rds"), "nmatpost ~ nmatpre + (1 | class)",
                          str(tmp / "r_pool.csv"))
        out["r pool_rds"] = digest(tmp / "r_pool.csv") if not answer["error"] else answer["error"]
        from mlimpute.frontends.stata_entry import run
        mlimpute.write_data(frame, tmp / "st_in.dta")
        with contextlib.redirect_stdout(io.StringIO()):
            code, message, _ = run(f'impute "{tmp / "st_in.dta"}" -o "{tmp / "st_out.dta"}" '
                                   "--cluster class --responses nmatpost nlitpost --m 3 "
                                   "--burnin 40 --between 5 --chains 1 --seed 2 --quiet")
        out["stata entry"] = f"{code} {message}"
        out["stata st_out.dta"] = digest(tmp / "st_out.dta")
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
