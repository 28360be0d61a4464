"""Property-based fuzzing of every reader: whatever the bytes, a reader returns a data
frame or raises mlimpute's documented error type with a one-line message naming the file;
never another exception, never a crash.

Two kinds of input per format: arbitrary bytes, and a real file of that format with bytes
flipped, cut or inserted (most random bytes fail at the first magic number; mutations
reach deeper).  The runs are bounded (``max_examples``, no deadline) so CI stays short;
``MLIMPUTE_FUZZ_EXAMPLES`` raises the count for a longer local run.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlimpute.errors import MlimputeError
from mlimpute.io import read_data, write_data
from mlimpute.io.realcom import read_realcom, write_realcom
from mlimpute.model.spec import Spec
from mlimpute.model.simulate import simulate

EXAMPLES = int(os.environ.get("MLIMPUTE_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
SUFFIXES = [".csv", ".parquet", ".dta", ".rds", ".RData"]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    """Real files of every format, to mutate."""
    folder = tmp_path_factory.mktemp("seeds")
    frame, _ = simulate(n_clusters=4, cluster_size=4, n_level1=2, n_level2=1, seed=1)
    frame["g"] = pd.Categorical(np.where(frame["x"] > 0, "hi", "lo"))
    out = {}
    for suffix in SUFFIXES:
        write_data(frame, folder / f"s{suffix}")
        out[suffix] = (folder / f"s{suffix}").read_bytes()
    write_realcom(frame, folder / "r.txt", [("y1", "continuous"), ("y2", "continuous")],
                  "cluster", ["x"])
    out["realcom"] = (folder / "r.txt").read_bytes()
    spec = Spec.from_dict({"cluster": "cluster", "responses": [{"name": "y1"}], "covariates": ["x"]})
    out[".toml"] = spec.to_toml().encode()
    out[".json"] = spec.to_json().encode()
    return out


def mutate(data: bytes, edits) -> bytes:
    """Apply (kind, position, byte) edits: flip, cut at, or insert at a position."""
    buffer = bytearray(data)
    for kind, position, value in edits:
        if not buffer:
            break
        at = position % len(buffer)
        if kind == 0:
            buffer[at] = value
        elif kind == 1:
            del buffer[at:]
        else:
            buffer.insert(at, value)
    return bytes(buffer)


EDITS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2 ** 20), st.integers(0, 255)),
                 min_size=1, max_size=6)


def check_reader(read, path: Path) -> None:
    before = path.read_bytes()
    try:
        result = read(path)
    except MlimputeError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        assert path.name in message, message
    else:
        frame = result[0] if isinstance(result, tuple) else result
        assert isinstance(frame, (pd.DataFrame, Spec))
    assert path.read_bytes() == before


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(data=st.binary(max_size=600))
def test_any_bytes(tmp_path, suffix, data):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    check_reader(read_data, path)


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(edits=EDITS)
def test_mutated_real_files(tmp_path, seeds, suffix, edits):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(mutate(seeds[suffix], edits))
    check_reader(read_data, path)


@FUZZ
@given(edits=EDITS)
def test_mutated_realcom_files(tmp_path, seeds, edits):
    path = tmp_path / "m.txt"
    path.write_bytes(mutate(seeds["realcom"], edits))
    check_reader(read_realcom, path)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
@FUZZ
@given(edits=EDITS)
def test_mutated_spec_files(tmp_path, seeds, suffix, edits):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(mutate(seeds[suffix], edits))
    check_reader(Spec.load, path)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("ab01.,\n\"- NAe+\t;x")), max_size=300))
def test_csv_text(tmp_path, text):
    """Text close to CSV: quotes, separators, markers, numbers, ragged rows."""
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    check_reader(read_data, path)
