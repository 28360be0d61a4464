"""A small smoke run of the benchmark harness (the real one: make bench)."""
from __future__ import annotations

import pytest

from conftest import require_r


@pytest.mark.r
def test_vs_jomo_harness_runs_and_writes_table(tmp_path):
    require_r("jomo")
    from benchmarks import vs_jomo
    assert vs_jomo.main(["--shape", "small", "--iterations", "20", "--repeats", "1",
                         "--out", str(tmp_path)]) == 0
    table = (tmp_path / "vs_jomo.md").read_text()
    assert table.startswith("| shape |") and "| small |" in table
    row = table.splitlines()[2].split("|")
    assert float(row[6]) > 0 and float(row[8]) > 0          # both samplers were timed


def test_scaling_harness_runs(tmp_path):
    from benchmarks import scaling
    assert scaling.main(["--sizes", "2000", "4000", "--iterations", "1", "--full-rows", "1000",
                         "--out", str(tmp_path)]) == 0
    assert (tmp_path / "scaling.png").stat().st_size > 0
    lines = (tmp_path / "scaling.md").read_text().splitlines()
    assert lines[0].startswith("| rows |") and len(lines) == 4
    full = (tmp_path / "full_run.md").read_text().splitlines()
    header = [c.strip() for c in full[0].split("|")]
    row = dict(zip(header, (c.strip() for c in full[2].split("|"))))
    assert row["rows"] == "1000" and row["imputations"] == "20" and row["chains"] == "2"
    assert float(row["wall minutes"]) > 0 and float(row["peak MB (largest worker)"]) > 0


@pytest.mark.r
def test_peers_harness_runs_and_writes_table(tmp_path):
    """jomo(), jomo's MCMCchain and pan on the same shape, ESS/s per block by one estimator."""
    require_r("jomo", "mitml")
    from benchmarks import peers
    assert peers.main(["--shape", "few_clusters", "--iterations", "60", "--no-cli",
                       "--out", str(tmp_path)]) == 0
    rows = {}
    for line in (tmp_path / "peers.md").read_text().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = float(cells[1])
    for tool in ("mlimpute", "jomo()", "jomo chain", "pan"):
        assert rows[f"{tool} ms/it"] > 0
        for block in ("fixed", "omega_u", "omega_e"):
            assert rows[f"{tool} ESS/s {block}"] > 0, (tool, block)
    assert rows["slowest ESS/s vs pan"] > 0 and rows["slowest ESS/s vs jomo()"] > 0


def test_after_sampling_share_is_measured(tmp_path):
    """The end-to-end part: a default command-line run and the timings of the parts."""
    from benchmarks import peers
    shape = peers.few_clusters_shape()
    shape.frame = shape.frame.iloc[:200]
    shape.frame.to_csv(tmp_path / "data.csv", index=False)
    row = peers.end_to_end(shape, tmp_path, burnin=20, between=2, m=3)
    assert row["CLI wall s"] > 0 and row["sampling s"] > 0 and row["after sampling %"] > 0
    assert (tmp_path / "cli.dta").stat().st_size > 0


@pytest.mark.r
def test_jomo_cluster_covariance_replicate_runs():
    """One short replicate of the truth simulation behind the README's statement on jomo's
    meth = "random": both samplers ran and jomo's per-cluster matrices, read as the script
    reads them, follow the generating ones."""
    require_r("jomo")
    from benchmarks import jomo_cluster_covariance as harness
    row = harness.replicate((40, 20, 8.0), seed=31, burnin=100, iterations=300)
    assert 0.3 < row["true cov"] < 0.6
    assert row["jomo cov"] > 0 and row["mlimpute cov"] > 0
    assert row["jomo layout corr"] > 0.4


@pytest.mark.r
def test_smc_harness_runs_and_writes_table(tmp_path):
    """mlimpute against jomo.lmer on one small data set: both timed, both chains read."""
    require_r("jomo", "lme4")
    from benchmarks import smc
    assert smc.main(["--sizes", "20x10", "--iterations", "60", "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "smc.md").read_text().splitlines()
    header = [c.strip() for c in lines[0].split("|")]
    row = dict(zip(header, (c.strip() for c in lines[2].split("|"))))
    assert row["rows"] == "200" and float(row["mlimpute ms/it"]) > 0
    assert float(row["jomo.lmer ms/it"]) > 0 and float(row["jomo.lmer slowest ESS"]) > 0


def test_startup_harness_times_whole_commands(tmp_path):
    """--version, a 100-row imputation and the import floor, as whole processes."""
    from benchmarks import startup
    assert startup.main(["--rounds", "1", "--out", str(tmp_path)]) == 0
    rows = {}
    for line in (tmp_path / "startup.md").read_text().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = (float(cells[1]), float(cells[2]))
    assert set(rows) == {"mlimpute --version", "impute 100-row CSV",
                         "floor: import numpy, pandas, scipy", "empty Python",
                         "impute above the floor (paired per round)"}
    assert all(low > 0 and low <= median for low, median in
               (rows[k] for k in rows if not k.startswith("impute above")))
