"""The mlimpute command end to end: outputs, progress, one-line errors with exit code 2."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mlimpute
from mlimpute.frontends.cli import main

from conftest import require_r, run_r, simulated_csv

FAST = ["--m", "2", "--burnin", "10", "--between", "3", "--seed", "1"]


@pytest.fixture
def csv(tmp_path):
    return simulated_csv(tmp_path, n_clusters=12, cluster_size=6, n_level1=2, n_level2=1, seed=4)


def run_cli(*args):
    """Run the installed console script in a subprocess (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", *map(str, args)],
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".dta"])
def test_impute_writes_stacked_output_in_format_of_extension(tmp_path, csv, suffix):
    out = tmp_path / f"out{suffix}"
    code, _, err = run_cli("impute", csv, "-o", out, "--cluster", "cluster", *FAST)
    assert code == 0, err
    stacked, _ = mlimpute.read_data(out)
    assert sorted(stacked["_mi_m"].astype(int).unique()) == [0, 1, 2]
    assert "imputing" in err and "imputations 2/2" in err      # progress bar on stderr


def test_dta_input_and_chain_output(tmp_path, csv):
    frame = pd.read_csv(csv)
    dta = tmp_path / "in.dta"
    mlimpute.write_data(frame, dta)
    chain = tmp_path / "chain.csv"
    assert main(["impute", str(dta), "-o", str(tmp_path / "o.dta"), "--cluster", "cluster",
                 "--chain", str(chain), "--quiet", *FAST]) == 0
    draws = pd.read_csv(chain)
    assert draws["iteration"].tolist() == list(range(1, 10 + 2 * 3 + 1))
    assert "omega_e[y2,y1]" in draws.columns and "beta2[cons,g1]" in draws.columns


def test_cluster_covariance_option(tmp_path, csv):
    chain = tmp_path / "chain.csv"
    spec = tmp_path / "used.toml"
    assert main(["impute", str(csv), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster",
                 "--cluster-covariance", "--chain", str(chain), "--save-spec", str(spec),
                 "--quiet", *FAST]) == 0
    assert mlimpute.Spec.load(spec).level1_covariance == "cluster"
    draws = pd.read_csv(chain)
    assert (draws["cluster_df"] > 1).all() and draws["cluster_df"].nunique() > 1


def test_quiet_prints_nothing(tmp_path, csv):
    code, out, err = run_cli("impute", csv, "-o", tmp_path / "o.csv", "--cluster", "cluster",
                             "--quiet", *FAST)
    assert code == 0 and out == "" and err == ""


def test_same_seed_same_file(tmp_path, csv):
    for name in ("a.csv", "b.csv"):
        assert main(["impute", str(csv), "-o", str(tmp_path / name), "--cluster", "cluster",
                     "--quiet", *FAST]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_input_file_is_not_modified(tmp_path, csv):
    before = csv.read_bytes()
    main(["impute", str(csv), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster", "--quiet", *FAST])
    assert csv.read_bytes() == before


def test_r_long_style(tmp_path, csv):
    out = tmp_path / "long.csv"
    assert main(["impute", str(csv), "-o", str(out), "--cluster", "cluster", "--style", "long",
                 "--quiet", *FAST]) == 0
    assert list(pd.read_csv(out).columns[:2]) == [".imp", ".id"]


def test_propose_then_show_then_impute_with_spec(tmp_path, csv):
    spec_path = tmp_path / "spec.toml"
    assert main(["propose", str(csv), "--cluster", "cluster", "-o", str(spec_path)]) == 0
    spec = mlimpute.Spec.load(spec_path)
    assert spec.response_names == ["y1", "y2", "g1"]
    code, out, _ = run_cli("show", spec_path)
    assert code == 0
    assert "y1_ij = b1.0 cons + b1.1 x_ij + b1.2 w_ij + u1.0_j + e1_ij" in out
    assert "g1_j = b3.0 cons + b3.1 w_j + v3_j" in out
    assert "~ N(0, Omega_u)" in out and "~ N(0, Omega_e)" in out
    used = tmp_path / "used.json"
    out_file = tmp_path / "o.parquet"
    assert main(["impute", str(csv), "-o", str(out_file), "--spec", str(spec_path), "--quiet",
                 "--save-spec", str(used), *FAST]) == 0
    saved = mlimpute.Spec.load(used)
    assert saved.mcmc.m == 2 and saved.mcmc.seed == 1


def test_random_seed_is_recorded(tmp_path, csv):
    used = tmp_path / "used.toml"
    assert main(["impute", str(csv), "-o", str(tmp_path / "o.csv"), "--cluster", "cluster",
                 "--quiet", "--m", "1", "--burnin", "2", "--between", "1", "--save-spec", str(used)]) == 0
    assert mlimpute.Spec.load(used).mcmc.seed is not None


@pytest.mark.parametrize("make_args, message", [
    (lambda d, c: ["impute", d / "nope.csv", "-o", d / "o.csv", "--cluster", "cluster"], "nope.csv': not found"),
    (lambda d, c: ["impute", c, "-o", d / "o.xlsx", "--cluster", "cluster"], "unknown file type '.xlsx'"),
    (lambda d, c: ["impute", c, "-o", d / "o.csv", "--cluster", "school"], "in.csv': column 'school'"),
    (lambda d, c: ["impute", c, "-o", d / "o.csv", "--cluster", "cluster", "--covariates", "y1"],
     "column 'y1': covariates must be fully observed"),
    (lambda d, c: ["impute", c, "-o", d / "o.csv", "--cluster", "cluster", "--m", "0"], "--m: must be at least 1"),
    (lambda d, c: ["impute", c, "-o", d / "o.csv"], "--cluster is required"),
    (lambda d, c: ["impute", c, "-o", d / "o.csv", "--spec", d / "no.toml"], "no.toml"),
    (lambda d, c: ["impute", c, "-o", c, "--cluster", "cluster"], "overwrite the input"),
    (lambda d, c: ["impute", c], "required: -o"),
    (lambda d, c: ["show", d / "no.toml"], "cannot read spec"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, csv, make_args, message):
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli(*make_args(tmp_path, csv))
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_corrupt_input_file(tmp_path):
    bad = tmp_path / "bad.dta"
    bad.write_bytes(b"this is not a stata file")
    code, _, err = run_cli("impute", bad, "-o", tmp_path / "o.csv", "--cluster", "c")
    assert code == 2 and "bad.dta': cannot read as Stata .dta" in err


def test_console_script_is_installed():
    import shutil
    exe = shutil.which("mlimpute") or str(__import__("pathlib").Path(sys.executable).parent / "mlimpute")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("mlimpute ")
    # python -m mlimpute is the same command (a venv that is not activated)
    proc = subprocess.run([sys.executable, "-m", "mlimpute", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("mlimpute ")
    proc = subprocess.run([sys.executable, "-m", "mlimpute", "impute"], capture_output=True, text=True)
    assert proc.returncode == 2 and "required" in proc.stderr


@pytest.mark.parametrize("style", ["flong", "long"])
def test_pool_command_on_stacked_output(tmp_path, csv, style):
    out = tmp_path / "mi.csv"
    assert main(["impute", str(csv), "-o", str(out), "--cluster", "cluster", "--style", style,
                 "--quiet", *FAST]) == 0
    table = tmp_path / "pooled.csv"
    code, stdout, err = run_cli("pool", out, "--model", "y1 ~ x + (1 | cluster)", "-o", table,
                                "--null-model", "y1 ~ 1 + (1 | cluster)")
    assert code == 0, err
    assert "D3 likelihood-ratio test" in stdout
    pooled = pd.read_csv(table).set_index("term")
    assert {"Intercept", "x", "var(cluster)", "var(residual)"} <= set(pooled.index)
    assert "cc_estimate" in pooled.columns
    # the numbers: mitml::testEstimates on R's lm fits of the same stacked file (lme4-based
    # pooling of the mixed model is checked in test_pool.py / test_r_package.py)
    require_r("mice", "mitml")
    code, stdout, err = run_cli("pool", out, "--model", "y1 ~ x", "-o", table)
    assert code == 0, err
    ours = pd.read_csv(table).set_index("term")
    stacked = mlimpute.read_data(out)[0].rename(columns={"_mi_m": ".imp", "_mi_id": ".id"})
    long_csv = tmp_path / "long_for_r.csv"
    stacked.drop(columns=["_mi_miss"], errors="ignore").to_csv(long_csv, index=False)
    run_r("open_long.R", long_csv, tmp_path / "r.csv", "y1 ~ x")
    ref = pd.read_csv(tmp_path / "r.csv").set_index("term")
    np.testing.assert_allclose(ours.loc[ref.index, "estimate"], ref["mitml_estimate"], rtol=1e-8)
    np.testing.assert_allclose(ours.loc[ref.index, "std_error"], ref["mitml_se"], rtol=1e-8)


def test_pool_command_errors(tmp_path, csv):
    code, _, err = run_cli("pool", csv, "--model", "y1 ~ x")
    assert code == 2 and "not a stacked imputation file" in err
    out = tmp_path / "mi.csv"
    main(["impute", str(csv), "-o", str(out), "--cluster", "cluster", "--quiet", *FAST])
    code, _, err = run_cli("pool", out, "--model", "y1 ~ nope + (1 | cluster)")
    assert code == 2 and "formula 'y1 ~ nope + (1 | cluster)': column 'nope' is not in the data" in err


def test_version_and_help_load_no_numerical_library():
    """Start-up of an R or Stata user's call: --version and --help import neither pandas,
    scipy, statsmodels nor matplotlib (what they import is checked, not how long it
    takes).  numpy is allowed: the parser's type options come from the engine's registry
    of response types, whose classes are numpy code (measured: --version 0.19 s)."""
    script = ("import sys\nfrom mlimpute.frontends.cli import main\n"
              "for args in (['--version'], ['impute', '--help']):\n"
              "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
              "heavy = [m for m in ('pandas', 'scipy', 'statsmodels', 'matplotlib', 'pyarrow')"
              " if m in sys.modules]\nprint('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout[-300:]
    import mlimpute as package
    assert callable(package.propose) and callable(package.impute)
