"""Simulated multilevel data with known parameters and MAR missingness.

Used by the tests (recovering the truth), the benchmarks and the fixtures.  The
generating model is the imputation model itself; for two levels (:func:`simulate`,
:func:`simulate_mixed`; :func:`simulate_multilevel` for three levels and crossed
classifications)::

    y_ij = b0 + b1 x_ij + b2 w_j + u_j + e_ij       (level-1 responses y1..yp)
    g_j  = c0 + c1 w_j + v_j                         (level-2 responses g1..gq)
    (u_j, v_j) ~ N(0, Omega_u),  e_ij ~ N(0, Omega_e)

x (level 1) and w (level 2) are fully observed; a response is missing with a
probability that depends on x (level 1) or w (level 2) only: missing at random.

Correlated normals are drawn through the Cholesky factor of their covariance, which is
unique: the same seed gives the same data on every machine up to rounding.  (numpy's
default, an SVD, may flip the signs of singular vectors from one LAPACK build to the
next, and so simulate other data on another CPU.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Truth:
    """Generating parameters, laid out like the engine's (rows: covariates)."""

    beta1: np.ndarray      # (3, p): cons, x, w
    beta2: np.ndarray      # (2, q): cons, w
    omega_u: np.ndarray    # (p + q, p + q)
    omega_e: np.ndarray    # (p, p)


def _exchangeable(dim: int, variance: float, correlation: float) -> np.ndarray:
    return variance * ((1 - correlation) * np.eye(dim) + correlation * np.ones((dim, dim)))


def default_truth(n_level1: int, n_level2: int) -> Truth:
    """A fixed, moderately correlated parameter set for p level-1 and q level-2 responses."""
    p, q = n_level1, n_level2
    beta1 = np.vstack([np.linspace(0.5, -0.5, p), np.linspace(0.4, 0.8, p), np.full(p, 0.3)])
    beta2 = np.vstack([np.linspace(1.0, 2.0, q), np.full(q, -0.5)])
    omega_u = _exchangeable(p + q, 0.4, 0.4)
    omega_u[np.arange(p + q), np.arange(p + q)] = np.linspace(0.3, 0.6, p + q)
    omega_e = _exchangeable(p, 1.0, 0.5) if p else np.zeros((0, 0))
    return Truth(beta1, beta2, omega_u, omega_e)


def simulate(n_clusters: int = 60, cluster_size: int = 20, n_level1: int = 2, n_level2: int = 1,
             missing: float = 0.3, seed: int = 0, truth: Truth | None = None,
             vary_size: bool = True) -> tuple[pd.DataFrame, Truth]:
    """Simulate one data set; returns (frame, truth).

    Columns: ``cluster``, ``x`` (level 1), ``w`` (level 2), ``y1..yp``, ``g1..gq``.
    About a fraction `missing` of each response is missing, MAR on x or w.
    """
    rng = np.random.default_rng(seed)
    truth = truth or default_truth(n_level1, n_level2)
    p, q = n_level1, n_level2
    if vary_size:
        sizes = rng.integers(max(2, cluster_size // 2), cluster_size * 3 // 2 + 1, n_clusters)
    else:
        sizes = np.full(n_clusters, cluster_size)
    cluster = np.repeat(np.arange(n_clusters), sizes)
    n = len(cluster)
    w = rng.normal(size=n_clusters)
    x = rng.normal(size=n) + 0.5 * w[cluster]
    uv = rng.multivariate_normal(np.zeros(p + q), truth.omega_u, size=n_clusters, method="cholesky")
    design1 = np.column_stack([np.ones(n), x, w[cluster]])
    y = design1 @ truth.beta1 + uv[cluster, :p]
    if p:
        y += rng.multivariate_normal(np.zeros(p), truth.omega_e, size=n, method="cholesky")
    g = np.column_stack([np.ones(n_clusters), w]) @ truth.beta2 + uv[:, p:]

    def mar(driver, size):
        if missing <= 0:
            return np.zeros(size, dtype=bool)
        logit = np.log(missing / (1 - missing)) + 1.0 * driver
        return rng.random(size) < 1 / (1 + np.exp(-logit))

    for r in range(p):
        y[mar(x * (1 if r % 2 == 0 else -1), n), r] = np.nan
    for r in range(q):
        g[mar(w, n_clusters), r] = np.nan
    frame = pd.DataFrame({"cluster": cluster + 1, "x": x, "w": w[cluster]})
    for r in range(p):
        frame[f"y{r + 1}"] = y[:, r]
    for r in range(q):
        frame[f"g{r + 1}"] = g[cluster, r]
    return frame, truth


def simulate_mixed(level1=("continuous", "binary", ("categorical", 3)), level2=("continuous",),
                   n_clusters: int = 60, cluster_size: int = 20, missing: float = 0.25,
                   seed: int = 0, thresholds=(0.0, 0.8, 1.6, 2.4)) -> tuple[pd.DataFrame, Truth]:
    """Simulate mixed response types through the latent-normal model.

    Each entry of `level1`/`level2` is a type name or (type, K).  Working (latent) columns
    are generated from the two-level normal model with the constraints the model imposes
    (unit variance for latents, 0.5 within a categorical block), then turned into
    categories: binary z > 0; ordinal with `thresholds`; categorical by the maximum
    indicant.  Columns are named y1.. (level 1) and g1.. (level 2); categorical types come
    back as pandas Categoricals (ordered for ordinal) with labels "c0", "c1", ...
    Returns the frame and the truth on the working scale.
    """
    from mlimpute.engine.responses import make_response_type

    def expand(spec):
        out = []
        for entry in spec:
            kind, k = (entry, None) if isinstance(entry, str) else entry
            k = 2 if kind == "binary" else k
            rtype = make_response_type(kind, k if kind != "continuous" else None)
            if kind == "ordinal":
                rtype.cut[1:-1] = thresholds[: k - 1]
            out.append((kind, k, rtype))
        return out

    types1, types2 = expand(level1), expand(level2)
    w1 = sum(t.n_working() for _, _, t in types1)
    w2 = sum(t.n_working() for _, _, t in types2)
    truth = default_truth(w1, w2)
    # level-2 latents: unit variance (0.5 within a categorical block), still positive definite
    # latents: intercepts near zero so that every category is common
    for types, beta in ((types1, truth.beta1), (types2, truth.beta2)):
        col = 0
        for kind, k, rtype in types:
            if kind != "continuous":
                beta[0, col: col + rtype.n_working()] = 0.1
            col += rtype.n_working()
    offset = w1
    for kind, k, rtype in types2:
        fixed = rtype.fixed_covariance()
        if fixed is not None:
            idx = np.arange(offset, offset + rtype.n_working())
            truth.omega_u[np.ix_(idx, idx)] = fixed
        offset += rtype.n_working()
    frame, _ = simulate(n_clusters, cluster_size, w1, w2, missing=0.0, seed=seed, truth=truth)
    rng = np.random.default_rng(seed + 1)
    out = frame[["cluster", "x", "w"]].copy()
    n = len(frame)

    def emit(types, prefix, source, driver, size, level):
        col = 0
        for r, (kind, k, rtype) in enumerate(types, start=1):
            width = rtype.n_working()
            names = [f"{prefix}{c}" for c in range(col + 1, col + width + 1)]
            working = source[names].to_numpy() if level == 1 else \
                source.groupby("cluster")[names].first().to_numpy()
            values = rtype.decode(working)
            if missing > 0:
                logit = np.log(missing / (1 - missing)) + driver
                drop = rng.random(size) < 1 / (1 + np.exp(-logit))
            else:
                drop = np.zeros(size, bool)
            values = np.where(drop, np.nan, values)
            if level == 2:
                values = values[pd.factorize(source["cluster"], sort=True)[0]]
            name = f"{prefix}{r}"
            if kind == "continuous":
                out[name] = values
            else:
                labels = [f"c{c}" for c in range(k)]
                codes = np.where(np.isnan(values), -1, values).astype(int)
                out[name] = pd.Categorical.from_codes(codes, categories=labels,
                                                      ordered=kind == "ordinal")
            col += width

    emit(types1, "y", frame, frame["x"].to_numpy(), n, 1)
    w_cluster = frame.groupby("cluster")["w"].first().to_numpy()
    emit(types2, "g", frame, w_cluster, n_clusters, 2)
    return out, truth


def simulate_heteroscedastic(n_clusters: int, cluster_size: int, a: float, seed: int):
    """Two level-1 responses with Omega_j ~ IW(a, B) per cluster, random intercepts,
    a covariate x and 20% of values missing completely at random.  Returns the frame
    and the (J, 2, 2) generating Omega_j."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    d = 2
    cluster = np.repeat(np.arange(1, n_clusters + 1), cluster_size)
    x = rng.normal(size=cluster.size)
    scale = np.array([[1.0, 0.4], [0.4, 1.5]]) * (a - d - 1)          # E Omega_j = [[1,.4],[.4,1.5]]
    omegas = stats.invwishart.rvs(a, scale, size=n_clusters, random_state=rng)
    chol = np.linalg.cholesky(omegas)[cluster - 1]
    e = np.einsum("nij,nj->ni", chol, rng.standard_normal((cluster.size, d)))
    u = 0.6 * rng.standard_normal((n_clusters, d))[cluster - 1]
    y = np.column_stack([1 + 0.5 * x, 2 - 0.3 * x]) + u + e
    y[rng.random(y.shape) < 0.2] = np.nan
    frame = pd.DataFrame({"cluster": cluster, "x": x, "y1": y[:, 0], "y2": y[:, 1]})
    return frame, omegas


def simulate_multilevel(n_schools: int = 40, classes: int = 4, pupils: int = 20,
                        crossed: bool = False, missing: float = 0.25, seed: int = 0
                        ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Three-level nested (pupils in classes in schools) or cross-classified (pupils in
    schools and in neighbourhoods) data from the joint model, with responses at every
    level and MAR missingness.  Returns the frame and the generating values named as in
    :meth:`ImputationResult.parameter_draws` for the spec
    ``clusters = ["class", "school"]`` (nested) or ``["area", "school"]`` with
    ``crossed = true``.

    Columns: ``school``, ``class`` (nested: ids unique across schools) or ``area``
    (crossed: ``n_schools`` areas, pupils assigned at random), ``x`` (pupils), ``w``
    (schools), the pupil responses ``y`` (continuous) and ``k`` (categorical, 3
    categories "a", "b", "c" by the maximum indicant), ``c`` (continuous, constant within
    class or area) and ``s`` (continuous, constant within school).  Each response is
    missing with a probability that rises with x (pupils) or w (the others).
    """
    rng = np.random.default_rng(seed)
    n = n_schools * classes * pupils
    school = np.repeat(np.arange(n_schools), classes * pupils)
    if crossed:
        inner, n_inner = rng.integers(0, n_schools, n), n_schools         # neighbourhoods
        inner_name = "area"
    else:
        inner, n_inner = np.repeat(np.arange(n_schools * classes), pupils), n_schools * classes
        inner_name = "class"
    w = rng.normal(size=n_schools)
    x = rng.normal(size=n) + 0.5 * w[school]
    wk = ["y", "k.1", "k.2"]                                   # pupil working columns
    beta1 = np.array([[0.5, 0.2, -0.1], [0.6, 0.4, -0.3], [0.3, 0.0, 0.2]])    # cons, x, w
    omega_e = np.array([[1.0, 0.3, 0.2], [0.3, 1.0, 0.5], [0.2, 0.5, 1.0]])
    # inner classification: pupil random intercepts (3) and its response c
    omega_in = _exchangeable(4, 0.3, 0.3)
    omega_in[3, 3] = 0.8
    # school: pupil random intercepts (3), (nested) c's random intercept, s
    dim_out = 5 if not crossed else 4
    omega_out = _exchangeable(dim_out, 0.4, 0.3)
    omega_out[-1, -1] = 0.6
    u_in = rng.multivariate_normal(np.zeros(4), omega_in, n_inner, method="cholesky")
    u_out = rng.multivariate_normal(np.zeros(dim_out), omega_out, n_schools, method="cholesky")
    design = np.column_stack([np.ones(n), x, w[school]])
    latent = design @ beta1 + u_in[inner, :3] + u_out[school, :3] \
        + rng.multivariate_normal(np.zeros(3), omega_e, n, method="cholesky")
    inner_school = school if crossed else np.repeat(np.arange(n_schools), classes)
    beta_c, beta_s = np.array([1.0, -0.4]), np.array([2.0, 0.5])          # cons, w
    if crossed:
        c_value = beta_c[0] + u_in[:, 3]                       # areas have no w
    else:
        c_value = beta_c[0] + beta_c[1] * w[inner_school] + u_in[:, 3] + u_out[inner_school, 3]
    s_value = beta_s[0] + beta_s[1] * w + u_out[:, -1]

    def mar(driver, size):
        logit = np.log(missing / (1 - missing)) + driver
        return rng.random(size) < 1 / (1 + np.exp(-logit))

    y = np.where(mar(x, n), np.nan, latent[:, 0])
    k_code = np.where(latent[:, 1:].max(axis=1) < 0, 0, 1 + latent[:, 1:].argmax(axis=1))
    k = pd.Categorical.from_codes(np.where(mar(-x, n), -1, k_code), categories=["a", "b", "c"])
    inner_driver = np.zeros(n_inner) if crossed else w[inner_school]
    c_value = np.where(mar(inner_driver, n_inner), np.nan, c_value)
    s_value = np.where(mar(w, n_schools), np.nan, s_value)
    frame = pd.DataFrame({"school": school + 1, inner_name: inner + 1, "x": x, "w": w[school],
                          "y": y, "k": k, "c": c_value[inner], "s": s_value[school]})

    truth: dict[str, float] = {}
    for a, cov in enumerate(["cons", "x", "w"]):
        for r, resp in enumerate(wk):
            truth[f"beta1[{cov},{resp}]"] = beta1[a, r]
    c_level = 2
    truth["beta2[cons,c]"] = beta_c[0]
    if not crossed:
        truth["beta2[w,c]"] = beta_c[1]
    truth["beta3[cons,s]"], truth["beta3[w,s]"] = beta_s
    labels_in = [f"{r}:cons" for r in wk] + ["c"]
    labels_out = [f"{r}:cons" for r in wk] + ([] if crossed else ["c"]) + ["s"]
    for name, matrix, labels in (("omega_e", omega_e, wk), (f"omega_u{c_level}", omega_in, labels_in),
                                 ("omega_u3", omega_out, labels_out)):
        for a in range(len(labels)):
            for b in range(a + 1):
                truth[f"{name}[{labels[a]},{labels[b]}]"] = matrix[a, b]
    return frame, truth


#: the models of interest :func:`simulate_compatible` draws from
COMPATIBLE_MODELS = {
    "slope": "y ~ x + z + (1 + x | school)",
    "interaction": "y ~ x * z + I(x^2) + (1 | school)",
    "probit": "y ~ x + z + (1 | school)",
    "ordinal": "y ~ x * z + (1 | school)",
}


def simulate_compatible(kind: str = "slope", n_clusters: int = 50, cluster_size: int = 20,
                        missing: float = 0.4, seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Data from a model of interest the joint model cannot represent, with x MAR-missing
    (its probability rises with the fully observed outcome y, or with z for the probit
    model, whose outcome then is binary); returns (frame, truth) with the generating
    values of the fixed effects (by patsy's column names) and of the random part.

    * ``"slope"``: y = 1 + 0.5 x + 0.3 z + b0_j + b1_j x + e, var(b0) = 0.5,
      var(b1) = 0.3 (uncorrelated), var(e) = 1;
    * ``"interaction"``: y = 1 + 0.5 x + 0.3 z + 0.4 x z + 0.25 x^2 + b0_j + e;
    * ``"probit"``: y = 1(0.2 + 0.7 x + 0.3 z + b0_j + e > 0), var(b0) = 0.4, e ~ N(0, 1);
    * ``"ordinal"``: x is the latent below cut at -0.8, 0.2 and 1.0 into the categories
      1..4 (model it as ordinal), y = 1 + 0.5 x + 0.3 z + 0.3 x z + b0_j + e,
      var(b0) = 0.5.

    x = 0.4 z + a_j + d (var(a) = 0.3, var(d) = 1) and z ~ N(0, 1) at level 1.  Columns:
    school, y, x, z.  The missing share of x is about `missing`.
    """
    if kind not in COMPATIBLE_MODELS:
        raise ValueError(f"kind must be one of {sorted(COMPATIBLE_MODELS)}")
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_clusters), cluster_size)
    n = len(school)
    z = rng.standard_normal(n)
    x = 0.4 * z + np.sqrt(0.3) * rng.standard_normal(n_clusters)[school] + rng.standard_normal(n)
    b0 = rng.standard_normal(n_clusters)[school]
    truth: dict[str, float] = {}
    if kind == "ordinal":
        x = np.digitize(x, [-0.8, 0.2, 1.0]) + 1.0
    if kind == "slope":
        b1 = np.sqrt(0.3) * rng.standard_normal(n_clusters)[school]
        y = 1 + 0.5 * x + 0.3 * z + np.sqrt(0.5) * b0 + b1 * x + rng.standard_normal(n)
        truth = {"Intercept": 1.0, "x": 0.5, "z": 0.3, "var(school)": 0.5, "var(school:x)": 0.3,
                 "var(residual)": 1.0}
        driver = y
    elif kind == "interaction":
        y = (1 + 0.5 * x + 0.3 * z + 0.4 * x * z + 0.25 * x ** 2 + np.sqrt(0.5) * b0
             + rng.standard_normal(n))
        truth = {"Intercept": 1.0, "x": 0.5, "z": 0.3, "x:z": 0.4, "I(x ** 2)": 0.25,
                 "var(school)": 0.5, "var(residual)": 1.0}
        driver = y
    elif kind == "ordinal":
        y = 1 + 0.5 * x + 0.3 * z + 0.3 * x * z + np.sqrt(0.5) * b0 + rng.standard_normal(n)
        truth = {"Intercept": 1.0, "x": 0.5, "z": 0.3, "x:z": 0.3, "var(school)": 0.5,
                 "var(residual)": 1.0}
        driver = y
    else:
        latent = 0.2 + 0.7 * x + 0.3 * z + np.sqrt(0.4) * b0 + rng.standard_normal(n)
        y = (latent > 0).astype(float)
        truth = {"Intercept": 0.2, "x": 0.7, "z": 0.3, "var(school)": 0.4}
        driver = y + 0.5 * z
    # MAR: the chance that x is missing grows with the (observed) driver
    scaled = (driver - driver.mean()) / driver.std()
    logit = np.log(missing / (1 - missing)) + 1.2 * scaled
    x_observed = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), np.nan, x)
    frame = pd.DataFrame({"school": school, "y": y, "x": x_observed, "z": z})
    return frame, truth
