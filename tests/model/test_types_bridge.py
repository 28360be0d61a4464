"""Response types from the data and the command line; imputed categories keep the
variable's categories, dtype and labels through every writer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import mlimpute
from mlimpute.frontends.cli import main
from mlimpute.model.propose import infer_type
from mlimpute.model.simulate import simulate_mixed

FAST = ["--m", "2", "--burnin", "20", "--between", "5", "--seed", "3", "--quiet"]


@pytest.fixture(scope="module")
def mixed():
    frame, _ = simulate_mixed(level1=("continuous", "binary", ("categorical", 3), ("ordinal", 3)),
                              level2=(("categorical", 3),), n_clusters=25, cluster_size=8, seed=5)
    return frame


def test_infer_type_rules():
    assert infer_type(pd.Series([0.0, 1.0, np.nan])) == "binary"
    assert infer_type(pd.Series([1.0, 2.0, 3.0, np.nan])) == "continuous"
    assert infer_type(pd.Series([1.0, 2.0, 3.0, np.nan]), labelled=True) == "categorical"
    assert infer_type(pd.Series(["a", "b", None])) == "binary"
    assert infer_type(pd.Series(["a", "b", "c", None])) == "categorical"
    assert infer_type(pd.Series(pd.Categorical(["a", "b", "c"], ordered=True))) == "ordinal"


def test_imputed_categories_keep_dtype_and_categories(mixed):
    spec = mlimpute.propose(mixed, "cluster")
    spec.mcmc = mlimpute.MCMC(burnin=20, between=5, m=2, seed=1)
    result = mlimpute.impute(mixed, spec)
    for completed in result.completed_all():
        for name in ["y2", "y3", "y4", "g1"]:
            col = completed[name]
            assert col.dtype == mixed[name].dtype
            assert col.notna().all()
            observed = mixed[name].notna()
            assert (col[observed] == mixed[name][observed]).all()
        assert completed["y4"].cat.ordered


def test_numeric_codes_come_back_as_the_same_codes(mixed):
    frame = mixed.copy()
    frame["y3"] = frame["y3"].cat.codes.replace(-1, np.nan).astype(float) * 10 + 10   # 10/20/30
    spec = mlimpute.propose(frame, "cluster", types={"y3": "categorical"})
    spec.mcmc = mlimpute.MCMC(burnin=10, between=5, m=1, seed=1)
    completed = mlimpute.impute(frame, spec).completed(1)
    assert set(completed["y3"].unique()) <= {10.0, 20.0, 30.0}
    assert completed["y3"].dtype == np.float64


@pytest.mark.parametrize("column, message", [
    (pd.Categorical(["a", "b", None] * 40, categories=["a", "b", "z"]), "category 'z' has no observations"),
    (pd.Series([1.0, 2.5, np.nan] * 40), "non-integer code 2.5"),
    (pd.Series(np.r_[np.arange(60.0), [np.nan] * 60]), "60 categories"),
])
def test_bad_categorical_columns(mixed, column, message):
    frame = mixed.iloc[:120].copy()
    frame["bad"] = column if not isinstance(column, pd.Series) else column.to_numpy()
    spec = mlimpute.Spec("cluster", [mlimpute.Response("y1"), mlimpute.Response("bad", type="categorical")],
                         covariates=["x"])
    with pytest.raises(mlimpute.DataError, match=message):
        mlimpute.compile_model(spec, frame)


def test_cli_type_options_and_stata_value_labels(tmp_path, mixed):
    frame = mixed.copy()
    for name in ["y2", "y3", "y4", "g1"]:
        frame[name] = frame[name].cat.codes.replace(-1, np.nan).astype(float) + 1
    labels = {"y3": {1.0: "red", 2.0: "green", 3.0: "blue"}}
    dta = tmp_path / "in.dta"
    pyreadstat.write_dta(frame, str(dta), variable_value_labels=labels)
    spec_path = tmp_path / "spec.toml"
    assert main(["propose", str(dta), "--cluster", "cluster", "-o", str(spec_path),
                 "--ordinal", "y4", "--categorical", "g1"]) == 0
    types = {r.name: r.type for r in mlimpute.Spec.load(spec_path).responses}
    # y2 (codes 1/2, unlabelled) stays continuous unless declared; y3 is labelled
    assert types == {"y1": "continuous", "y2": "continuous", "y3": "categorical",
                     "y4": "ordinal", "g1": "categorical"}
    out = tmp_path / "out.dta"
    assert main(["impute", str(dta), "-o", str(out), "--spec", str(spec_path), "--binary", "y2",
                 *FAST]) == 0
    back, meta = pyreadstat.read_dta(str(out))
    assert meta.variable_value_labels["y3"] == labels["y3"]
    imputed = back[back["_mi_m"] > 0]
    assert set(imputed["y3"].unique()) <= {1.0, 2.0, 3.0}
    assert set(imputed["y2"].unique()) <= {1.0, 2.0}
    assert set(imputed["y4"].unique()) <= {1.0, 2.0, 3.0}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".dta"])
def test_categorical_output_in_every_format(tmp_path, mixed, suffix):
    out = tmp_path / f"o{suffix}"
    src = tmp_path / "in.parquet"
    mixed.to_parquet(src)
    assert main(["impute", str(src), "-o", str(out), "--cluster", "cluster", *FAST]) == 0
    back, meta = mlimpute.read_data(out)
    imputed = back[back["_mi_m"] > 0]
    if suffix == ".dta":     # text categories become labelled codes 1..K
        assert meta.value_labels["y3"] == {1.0: "c0", 2.0: "c1", 3.0: "c2"}
        assert set(imputed["y3"].unique()) <= {1.0, 2.0, 3.0}
    else:
        assert set(imputed["y3"].astype(str).unique()) <= {"c0", "c1", "c2"}
    assert imputed["y3"].notna().all()


def test_conflicting_type_declarations(tmp_path, mixed):
    src = tmp_path / "in.parquet"
    mixed.to_parquet(src)
    code = main(["propose", str(src), "--cluster", "cluster", "-o", str(tmp_path / "s.toml"),
                 "--binary", "y2", "--categorical", "y2"])
    assert code == 2
