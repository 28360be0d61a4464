"""Stopping a run: SIGTERM and Ctrl-C end it with the conventional status, stop every
worker process and leave no temporary file; a SIGKILL's leftovers are cleaned up by the
next run to the same place.  Output files appear whole, with ordinary permissions, and
the same seed gives the same bytes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mlimpute.io import read_data
from mlimpute.io.atomic import atomic_path, atomic_write_text

from conftest import simulated_csv

LONG = ["--m", "4", "--burnin", "200000", "--between", "10", "--seed", "1", "--quiet"]


@pytest.fixture
def data(tmp_path):
    return simulated_csv(tmp_path, n_clusters=30, cluster_size=20, n_level1=3, n_level2=1, seed=2)


def start(*args, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mlimpute.frontends.cli", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def wait_for(condition, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                         (signal.SIGHUP, 129)])
def test_signal_stops_workers_and_exits_with_conventional_status(tmp_path, data, sig, status):
    proc = start("impute", data, "-o", "out.dta", "--cluster", "cluster", "--chains", "2",
                 "--workers", "2", *LONG, cwd=tmp_path)
    assert wait_for(lambda: len(children(proc.pid)) >= 2), "workers did not start"
    workers = children(proc.pid)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "stopped" in err and "Traceback" not in err
    assert wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), 10)
    assert not (tmp_path / "out.dta").exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_workers_die_with_a_killed_parent(tmp_path, data):
    proc = start("impute", data, "-o", "out.csv", "--cluster", "cluster", "--chains", "2",
                 "--workers", "2", *LONG, cwd=tmp_path)
    assert wait_for(lambda: len(children(proc.pid)) >= 2)
    workers = children(proc.pid)
    proc.kill()
    proc.wait()
    assert wait_for(lambda: not any(Path(f"/proc/{w}").exists() and
                                    "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1][:3]
                                    for w in workers), 10)


def test_sigterm_while_writing_leaves_no_temp_file(tmp_path, data):
    """Stopped at many moments of a long write: never a temp file, never a partial output."""
    args = ["impute", data, "-o", "big.csv", "--cluster", "cluster", "--m", "300",
            "--burnin", "0", "--between", "1", "--seed", "1", "--quiet"]
    stopped_while_writing = 0
    for delay in (0.0, 0.05, 0.1, 0.2, 0.4):
        proc = start(*args, cwd=tmp_path)
        wait_for(lambda: any(".big.csv." in n for n in os.listdir(tmp_path)) or proc.poll() is not None)
        time.sleep(delay)
        writing = any(".big.csv." in n for n in os.listdir(tmp_path))
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        if proc.returncode == 143:
            stopped_while_writing += writing
            assert not (tmp_path / "big.csv").exists()
        else:                               # finished before the signal: a whole file
            assert proc.returncode == 0
            assert len(read_data(tmp_path / "big.csv")[0]) == 301 * len(pd.read_csv(data))
            (tmp_path / "big.csv").unlink()
        assert leftovers(tmp_path) == []
    assert stopped_while_writing >= 1


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    target = tmp_path / "out.csv"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".out.csv.mlimpute-{dead}-abc.tmp.csv"
    stale.write_text("half")
    stale_dir = tmp_path / f".out.csv.mlimpute-{dead}-xyz.tmp"
    stale_dir.mkdir()
    live = tmp_path / f".out.csv.mlimpute-{os.getppid()}-def.tmp.csv"   # a running process's
    live.write_text("busy")
    other = tmp_path / ".other.csv.mlimpute-1-ghi.tmp.csv"
    other.write_text("not ours to judge")
    atomic_write_text(target, "a,b\n1,2\n")
    assert not stale.exists() and not stale_dir.exists()
    assert live.exists() and other.exists() and target.read_text() == "a,b\n1,2\n"


def test_outputs_have_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        os.umask(0o027)
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o640


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "keep.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new, half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old" and leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["114", "118"])
def test_same_seed_same_dta_bytes(tmp_path, data, fmt):
    outs = []
    for k in range(2):
        out = tmp_path / f"o{k}.dta"
        run = subprocess.run([sys.executable, "-m", "mlimpute.frontends.cli", "impute", str(data), "-o",
                              str(out), "--cluster", "cluster", "--m", "2", "--burnin", "5",
                              "--between", "2", "--seed", "3", "--quiet", "--dta-format", fmt],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]          # _mi_update was the clock's milliseconds before


def test_dta_time_stamp_follows_the_input_or_source_date_epoch(tmp_path, data, monkeypatch):
    import pyreadstat

    from mlimpute.io import Metadata, write_data
    from mlimpute.io.stata import STATA_ORIGIN, output_time
    assert output_time(Metadata()) == STATA_ORIGIN
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")          # 2023-11-14 22:13:20 UTC
    write_data(pd.DataFrame({"a": [1.0]}), tmp_path / "e.dta")
    _, meta = pyreadstat.read_dta(str(tmp_path / "e.dta"))
    assert meta.modification_time.strftime("%Y-%m-%d %H:%M") == "2023-11-14 22:13"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    # a .dta input's own stamp is carried to the output, with _mi_update to match
    frame, meta_in = read_data(tmp_path / "e.dta")
    assert output_time(meta_in).strftime("%Y-%m-%d %H:%M") == "2023-11-14 22:13"
