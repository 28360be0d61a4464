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
def test_ess_harness_runs_and_writes_table(tmp_path):
    require_r("jomo")
    from benchmarks import ess
    assert ess.main(["--shape", "small", "--iterations", "100", "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "ess.md").read_text().splitlines()
    assert lines[0].startswith("| shape | iterations | mlimpute ESS/s (min)") and "| small | 100 |" in lines[2]
    values = [float(v) for v in lines[2].split("|")[3:-1]]
    assert all(v > 0 for v in values)                         # both chains gave draws and times


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
