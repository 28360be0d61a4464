"""Random draws from the normal and inverse-Wishart distributions the Gibbs sampler needs.

Everything here works on plain numpy arrays and takes the random generator as an
argument, so a run is reproducible from its seed alone.  The batched functions act on
stacks of small matrices (one per cluster) in a single call: that is where the
sampler gets its speed, instead of a Python loop over clusters.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import linalg as sla
from scipy.linalg import lapack


def solve_triangular(tri: np.ndarray, b: np.ndarray, lower: bool = True,
                     transpose: bool = False) -> np.ndarray:
    """Solve T x = b (or T' x = b with `transpose`) for triangular T, by LAPACK's
    trtrs directly: scipy.linalg's wrapper costs several times the solve itself on the
    small matrices of each Gibbs step.  Inputs are the sampler's own finite matrices."""
    x, info = lapack.dtrtrs(tri, b, lower=int(lower), trans=int(transpose))
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular matrix (trtrs info {info})")
    return x


def cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of one symmetric positive definite matrix (its lower triangle
    is read), by LAPACK's potrf directly: numpy's wrapper costs about seven times the
    factorisation of a 3 x 3.  Raises LinAlgError when `a` is not positive definite."""
    if a.shape[0] == 0:
        return np.zeros((0, 0))
    chol, info = lapack.dpotrf(a, lower=1)          # clean=1: the upper triangle is zeroed
    if info != 0:
        raise np.linalg.LinAlgError(f"matrix is not positive definite (potrf info {info})")
    return np.ascontiguousarray(chol)      # C order, as numpy's: products then round alike


def inv_pd(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix (Cholesky: potrf + potri)."""
    if a.shape[0] == 0:
        return a.copy()
    chol, info = lapack.dpotrf(a, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"matrix is not positive definite (potrf info {info})")
    inverse, info = lapack.dpotri(chol, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular matrix (potri info {info})")
    # potrf zeroes the upper triangle and potri leaves it alone: mirror the lower one
    full = inverse + inverse.T
    full.flat[::a.shape[0] + 1] *= 0.5
    return full


def symmetrize(a: np.ndarray) -> np.ndarray:
    """Return (a + a') / 2 over the last two axes; removes rounding asymmetry."""
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def draw_normal_from_precision(precision: np.ndarray, linear: np.ndarray,
                               rng: np.random.Generator) -> np.ndarray:
    """Draw x ~ N(P^-1 b, P^-1) for one precision matrix P and vector b.

    This is the form every Gaussian full conditional takes (GLS normal equations):
    the precision and the linear term are sums of data and prior contributions.
    """
    chol = cholesky(precision)
    half = solve_triangular(chol, linear)
    z = rng.standard_normal(linear.shape)
    return solve_triangular(chol, half + z, transpose=True)


def draw_normal_from_precision_batched(precision: np.ndarray, linear: np.ndarray,
                                       rng: np.random.Generator) -> np.ndarray:
    """Batched form of :func:`draw_normal_from_precision`.

    precision has shape (J, d, d) and linear (J, d); returns (J, d), row j drawn from
    N(P_j^-1 b_j, P_j^-1).  With L_j L_j' = P_j, x = L_j'^-1 (L_j^-1 b_j + z_j).
    """
    chol = np.linalg.cholesky(precision)
    half = np.linalg.solve(chol, linear[..., None])
    z = rng.standard_normal(half.shape)
    return np.linalg.solve(np.swapaxes(chol, -1, -2), half + z)[..., 0]


def inv_pd_batched(a: np.ndarray) -> np.ndarray:
    """Inverses of a stack (J, d, d) of symmetric positive definite matrices.  For d <= 2
    in closed form (1 / a; the adjugate over the determinant): numpy's batched inverse
    makes one LAPACK call per matrix, several times the arithmetic of a 2 x 2."""
    d = a.shape[-1]
    if d == 1:
        return 1.0 / a
    if d == 2:
        p, q, r = a[..., 0, 0], a[..., 1, 0], a[..., 1, 1]
        det = p * r - q * q
        out = np.empty_like(a)
        out[..., 0, 0] = r / det
        out[..., 1, 1] = p / det
        out[..., 0, 1] = out[..., 1, 0] = -q / det
        return out
    return symmetrize(np.linalg.inv(a))


def cholesky_batched(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack (J, d, d) of symmetric positive definite
    matrices (their lower triangles are read); closed form for d <= 2, as
    :func:`inv_pd_batched`."""
    d = a.shape[-1]
    if d == 1:
        return np.sqrt(a)
    if d == 2:
        out = np.zeros_like(a)
        out[..., 0, 0] = first = np.sqrt(a[..., 0, 0])
        out[..., 1, 0] = below = a[..., 1, 0] / first
        out[..., 1, 1] = np.sqrt(a[..., 1, 1] - below * below)
        return out
    return np.linalg.cholesky(a)


# the last diagonalisation's inputs and result: the joint draw of B1 and the draw of u
# in the same iteration diagonalise the same pair (T^-1, Omega_e^-1)
_last_diagonalisation: tuple = ()


def simultaneous_diagonalisation(prior_precision: np.ndarray, data_precision: np.ndarray):
    """W and l with W' A W = I and W' B W = diag(l) (A the prior, B the data precision),
    so that (A + s B)^-1 = W diag(1 / (1 + s l)) W' for every scalar s.  The same
    (equal) pair as the previous call returns that call's result (read-only arrays):
    the comparison costs a fraction of the eigendecomposition."""
    global _last_diagonalisation
    last = _last_diagonalisation
    if (last and last[0].shape == prior_precision.shape and last[1].shape == data_precision.shape
            and np.array_equal(last[0], prior_precision) and np.array_equal(last[1], data_precision)):
        return last[2], last[3]
    chol = cholesky(prior_precision)
    half = solve_triangular(chol, data_precision)                         # C^-1 B
    inner = solve_triangular(chol, np.ascontiguousarray(half.T))          # C^-1 B C^-T
    eigval, eigvec = np.linalg.eigh(symmetrize(inner))
    basis = solve_triangular(chol, eigvec, transpose=True)                # W = C^-T V
    basis.flags.writeable = eigval.flags.writeable = False
    # one assignment (atomic): a chain in another thread sees the old entry or this one
    _last_diagonalisation = (prior_precision.copy(), data_precision.copy(), basis, eigval)
    return basis, eigval


def draw_normal_two_precisions(prior_precision: np.ndarray, data_precision: np.ndarray,
                               scales: np.ndarray, linear: np.ndarray,
                               rng: np.random.Generator) -> np.ndarray:
    """Batched draw x_j ~ N(P_j^-1 b_j, P_j^-1) when P_j = A + s_j B for all j.

    This is the random-intercept case (A the prior precision, B = Omega_e^-1, s_j the
    cluster size).  One simultaneous diagonalisation W' A W = I, W' B W = diag(l) gives
    P_j^-1 = W diag(1 / (1 + s_j l)) W' for every cluster at once: O(J d^2) work
    instead of J Cholesky factorisations.
    """
    w, eigval = simultaneous_diagonalisation(prior_precision, data_precision)
    inv_diag = 1.0 / (1.0 + scales[:, None] * eigval[None, :])             # (J, d)
    coords = (linear @ w) * inv_diag + rng.standard_normal(linear.shape) * np.sqrt(inv_diag)
    return coords @ w.T


def draw_inverse_wishart(scale: np.ndarray, df: float, rng: np.random.Generator) -> np.ndarray:
    """Draw Sigma ~ inverse-Wishart(df, scale), i.e. Sigma^-1 ~ Wishart(df, scale^-1).

    Parameterisation as in Gelman et al. (and R's MCMCpack::riwish, jomo's C code):
    E[Sigma] = scale / (df - d - 1).  Uses the Bartlett decomposition of the
    Wishart draw: with scale = C C' and A lower triangular (sqrt chi2(df - i) on the
    diagonal, N(0, 1) below), Sigma = (C A'^-1)(C A'^-1)'.
    """
    d = scale.shape[0]
    if d == 0:
        return np.zeros((0, 0))
    if df <= d - 1:
        raise ValueError(f"inverse-Wishart degrees of freedom {df} must exceed dimension - 1 = {d - 1}")
    if d == 1:      # scale / chi2(df) without the Bartlett matrices: the same random draw
        # and the same operations as below (factor = sqrt(scale) / sqrt(chi2)), so the
        # same bits
        factor = np.sqrt(scale) / np.sqrt(rng.chisquare(df))
        return factor * factor
    chol = cholesky(symmetrize(scale))
    bartlett = _bartlett_factors(np.asarray(df), d, rng)
    # factor' = A^-1 C'  (A lower triangular)  =>  Sigma = factor' factor
    factor = solve_triangular(bartlett, np.ascontiguousarray(chol.T))
    return symmetrize(factor.T @ factor)


@functools.lru_cache(maxsize=64)
def _triangle(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a d x d matrix: (0..d-1, the diagonal's and the strict lower triangle's
    positions in the flattened matrix), built once per size (np.tril_indices costs more
    than a small Wishart draw)."""
    idx = np.arange(d)
    rows, cols = np.tril_indices(d, -1)
    return idx, idx * (d + 1), rows * d + cols


def _bartlett_factors(df: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
    """(J, d, d) lower-triangular Bartlett factors A: sqrt(chi2(df_j - i)) on the
    diagonal, N(0, 1) below, so that L A A' L' ~ Wishart(df_j, L L')."""
    df = np.asarray(df, dtype=float)
    if (df <= d - 1).any():
        raise ValueError(f"Wishart degrees of freedom must exceed dimension - 1 = {d - 1}")
    out = np.zeros(df.shape + (d, d))
    idx, diagonal, lower = _triangle(d)
    flat = out.reshape(df.shape + (d * d,))             # a view: one index per entry
    flat[..., diagonal] = np.sqrt(rng.chisquare(df[..., None] - idx))
    flat[..., lower] = rng.standard_normal(df.shape + (len(lower),))
    return out


def draw_wishart(scale: np.ndarray, df: float, rng: np.random.Generator) -> np.ndarray:
    """Draw W ~ Wishart(df, scale), E[W] = df * scale (Bartlett decomposition)."""
    chol = cholesky(symmetrize(scale))
    factor = chol @ _bartlett_factors(np.asarray(df), scale.shape[0], rng)
    return symmetrize(factor @ factor.T)


def draw_inverse_wishart_batched(scale: np.ndarray, df: np.ndarray,
                                 rng: np.random.Generator) -> np.ndarray:
    """Batched :func:`draw_inverse_wishart`: scale (J, d, d), df (J,); Sigma_j ~ IW(df_j, scale_j).

    Sigma_j = C_j A_j'^-1 A_j^-1 C_j' with C_j C_j' = scale_j, because its inverse
    C_j'^-1 A_j A_j' C_j^-1 is Wishart(df_j, scale_j^-1) (any square root of the scale works).
    """
    d = scale.shape[-1]
    chol = np.linalg.cholesky(symmetrize(scale))
    bartlett = _bartlett_factors(df, d, rng)
    factor = np.linalg.solve(bartlett, np.swapaxes(chol, -1, -2))       # A^-1 C'
    return symmetrize(np.swapaxes(factor, -1, -2) @ factor)


def conditional_normal(cov: np.ndarray, missing: np.ndarray):
    """Regression coefficients and residual covariance of the `missing` components
    of a N(mu, cov) vector given the others.

    Returns (coef, resid_cov) with E[x_m | x_o] = mu_m + (x_o - mu_o) @ coef and
    Var[x_m | x_o] = resid_cov, where coef = cov_oo^-1 cov_om.
    """
    observed = ~missing
    cov_oo = cov[np.ix_(observed, observed)]
    cov_om = cov[np.ix_(observed, missing)]
    cov_mm = cov[np.ix_(missing, missing)]
    if cov_oo.shape[0] == 0:
        return np.zeros((0, int(missing.sum()))), cov_mm
    coef = sla.solve(cov_oo, cov_om, assume_a="pos")
    return coef, symmetrize(cov_mm - cov_om.T @ coef)
