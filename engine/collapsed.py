"""(B1, u, missing level-1 cells) drawn jointly, given the observed level-1 cells alone.

Data augmentation has an autocorrelation of its own.  Drawn given the completed data
(the observed cells and the missing cells drawn in the sweep before), the level-1 fixed
effects B1 and the first classification's random effects u can move only as far as the
imputed cells let them, and those were drawn given the previous B1 and u: with a third of
a response missing, the lag-1 autocorrelation of its coefficients is about a third
whatever else the sampler does.  This block draws B1 from its conditional given the
observed cells only (u and the missing cells integrated out), then u given B1 (missing
cells integrated out), then the missing cells given both: one draw of the three from
their joint conditional, a valid Gibbs block (a "partially collapsed" sampler whose
marginalised missing cells are drawn right after, before any block uses them).

Given Omega_e and the other classifications' random parts, the observed cells o of row
i (pattern p) are N((B1'x_i + U_j z_i)_o, Omega_e[o, o]).  With Lambda_p the inverse of
Omega_e[o, o] embedded in (w, w) (zero in pattern p's masked rows and columns), the
likelihood of (vec B1, u_j) has precision and linear terms that are sums over rows of
products with Lambda_p(i); the rows' covariates enter only through per-(unit, pattern)
sums fixed at the start (z z', z x' and, per pattern, X'X), the data through
L_i = Lambda_p(i) r_i (r the kept residuals; Lambda_p zeroes the missing cells, so what
they hold does not matter).  In the layout of :mod:`.steps` (B1 index r k + a, u_j
index r q + a):

    A   = sum_p Lambda_p ⊗ X_p'X_p                         (B1, B1)
    M_j = sum_p Lambda_p ⊗ (Z'X)_jp'                       (B1, u_j)
    C_j = T^-1 + sum_p Lambda_p ⊗ (Z'Z)_jp                 (u_j, u_j)
    h_B = vec(X'L) + A vec B1 + sum_j M_j u_j
    h_j = T^-1 m_j + vec(sum_i L_i z_i') + M_j' vec B1 + (C_j - T^-1) u_j

(T and m_j the prior of u_j given the unit's level-2 residuals).  B1 | observed is normal
with precision A - sum_j M_j C_j^-1 M_j' and linear term h_B - sum_j M_j C_j^-1 h_j;
u_j | B1, observed is N(C_j^-1 (h_j - M_j' vec B1), C_j^-1).

Unweighted, a common level-1 covariance, no model of interest (the sampler checks).
"""
from __future__ import annotations

import numpy as np

from .classification import GroupSums
from .imputer import rows_of_patterns
from .linalg import cholesky_batched, inv_pd_batched, symmetrize
from .steps import Step, draw_coefficients_from_system, update_latents


#: lag-1 autocorrelation of Omega_e that the rounds of :func:`covariance_rounds` aim at
ROUNDS_TARGET = 0.2
MAX_ROUNDS = 3


def covariance_rounds(mask: np.ndarray) -> int:
    """How many times an iteration draws (the missing level-1 cells, Omega_e) in turn once
    :class:`ObservedDataFixedRandom1` has freed B1 and u from the missing cells.

    Omega_e then mixes slowest: the data augmentation gives it a lag-1 autocorrelation of
    about the largest fraction f of a column's cells that are missing (0.37-0.49 measured
    at f = 0.37, 30 clusters of 20), and r rounds make it about f^r.  A round costs one
    draw of the missing cells and one of Omega_e, a fraction of an iteration, so rounds
    are added until f^r <= ROUNDS_TARGET, at most MAX_ROUNDS: one for f <= 0.2, two up to
    0.45, three beyond.  Each round is a Gibbs draw, so the posterior is unchanged."""
    f = float(mask.mean(axis=0).max()) if mask.size else 0.0
    if f <= ROUNDS_TARGET:
        return 1
    return int(min(MAX_ROUNDS, np.ceil(np.log(ROUNDS_TARGET) / np.log(f))))


class ObservedDataFixedRandom1(Step):
    """B1, the first classification's u and the missing level-1 cells, jointly given the
    observed level-1 working values (module docstring)."""

    label = ("the level-1 fixed effects, the random effects of {classification} and the "
             "missing level-1 values")
    index = 0

    def outputs(self, s) -> list[np.ndarray]:
        return [s.beta1, s.classes[0].u, s.resid1]

    def __init__(self, s):
        c = s.classes[0]
        # the imputer's patterns, the complete rows' first (if any), so that its
        # precisions of the observed cells serve here too
        imputer = s.imputer1
        patterns, pattern_of_row = imputer.all_patterns, imputer.pattern_of_row
        n_patterns = len(patterns)
        self._complete = not patterns[0].any()
        self.rows = rows_of_patterns(pattern_of_row, range(n_patterns))
        x, z = s.level1.x, c.z
        k, q = x.shape[1], c.q
        per_pattern = GroupSums(pattern_of_row, n_patterns)
        self._xx = per_pattern(x[:, :, None] * x[:, None, :])           # (P, k, k)
        self._unit_pattern = unit_pattern = GroupSums(c.codes * n_patterns + pattern_of_row,
                                                      c.n_units * n_patterns)
        # per (unit, pattern) Z'Z and Z'X, kept as (J q q, P) and (J q k, P) matrices
        zz = unit_pattern(z[:, :, None] * z[:, None, :]).reshape(c.n_units, n_patterns, q * q)
        zx = unit_pattern(z[:, :, None] * x[:, None, :]).reshape(c.n_units, n_patterns, q * k)
        self._zz = np.ascontiguousarray(zz.transpose(0, 2, 1)).reshape(-1, n_patterns)
        self._zx = np.ascontiguousarray(zx.transpose(0, 2, 1)).reshape(-1, n_patterns)

    def _lambdas(self, omega_e: np.ndarray, operators) -> np.ndarray:
        """(P, w, w): per pattern, Omega_e[o, o]^-1 embedded in full width (zeros in the
        masked rows and columns), from the imputer's `operators` of Omega_e."""
        lam = operators[2]
        if self._complete:
            lam = np.concatenate([np.linalg.inv(omega_e)[None], lam])
        return lam

    def system(self, s) -> dict[str, np.ndarray]:
        """The module docstring's terms at the current state: ``precision`` (w k, w k) and
        ``linear`` (w k,) of B1 | observed cells, and per unit ``prec_u`` C_j (J, w q,
        w q), ``h_u`` (J, w q) and ``cross`` M_j (J, w k, w q); B1 indexed r k + a."""
        c = s.classes[0]
        w, q, j = s.w1, c.q, c.n_units
        k = s.level1.x.shape[1]
        operators = s.imputer1.operators(s.omega_e)
        lam = self._lambdas(s.omega_e, operators)                       # (P, w, w)
        n_patterns = len(lam)
        prior_prec, prior_mean = c.effects_given_residuals()            # T^-1, m_j

        # the data: sum_i L_i z_i' per unit and X'L, with L_i = Lambda_p(i) r_i, from the
        # residuals' sums per (unit, pattern) and X_p'R_p per pattern (one pass over the
        # rows each), Lambda_p applied to the sums
        resid = s.resid1
        if c.z_is_ones:
            by_unit = self._unit_pattern(resid).reshape(j, n_patterns, w, 1)
        else:
            by_unit = self._unit_pattern(resid[:, :, None] * c.z[:, None, :]).reshape(
                j, n_patterns, w, q)
        # sum_p Lambda_p applied to the sums: P matrix products of (J q, w) by (w, w)
        data_u = (by_unit.transpose(1, 0, 3, 2).reshape(n_patterns, j * q, w) @ lam).sum(axis=0)
        data_u = data_u.reshape(j, q, w).transpose(0, 2, 1).reshape(j, w * q)
        x = s.level1.x
        xr = np.stack([x[rows].T @ resid[rows] for rows in self.rows])  # (P, k, w)
        data_b = np.einsum("par,prs->sa", xr, lam).reshape(w * k)        # vec(X'L), r k + a

        lam_flat = lam.reshape(n_patterns, w * w)
        # A[(r,a),(s,b)] = sum_p Lambda_p[r,s] XX_p[a,b]
        a_bb = (self._xx.reshape(n_patterns, k * k).T @ lam_flat).reshape(k, k, w, w)
        a_bb = a_bb.transpose(2, 0, 3, 1).reshape(w * k, w * k)
        # M_j[(r,a),(s,b)] = sum_p Lambda_p[r,s] ZX_jp[b,a]
        m = (self._zx @ lam_flat).reshape(j, q, k, w, w)
        m = m.transpose(0, 3, 2, 4, 1).reshape(j, w * k, w * q)
        # C_j[(r,a),(s,b)] = T^-1 + sum_p Lambda_p[r,s] ZZ_jp[a,b]
        data_c = (self._zz @ lam_flat).reshape(j, q, q, w, w)
        data_c = data_c.transpose(0, 3, 1, 4, 2).reshape(j, w * q, w * q)

        beta = s.beta1.T.reshape(w * k)                                  # r k + a
        u = c.u[:, :c.d_units]
        # sums over units as one matrix product: (w k, J w q) stacks of the M_j
        m_stacked = m.transpose(1, 0, 2).reshape(w * k, j * w * q)
        h_b = data_b + a_bb @ beta + m_stacked @ u.reshape(-1)
        h_u = data_u + beta @ m + (data_c @ u[:, :, None])[:, :, 0]
        if prior_mean is not None:
            h_u += prior_mean @ prior_prec
        prec_u = prior_prec + data_c
        cov_u = inv_pd_batched(prec_u)                                   # C_j^-1
        cm = cov_u @ np.swapaxes(m, 1, 2)                                # C_j^-1 M_j'
        return {"precision": symmetrize(a_bb - m_stacked @ cm.reshape(j * w * q, w * k)),
                "linear": h_b - h_u.reshape(-1) @ cm.reshape(j * w * q, w * k),
                "prec_u": prec_u, "cov_u": cov_u, "h_u": h_u, "cross": m, "cm": cm,
                "operators": operators}

    def step(self, s, adapt: bool) -> None:
        c = s.classes[0]
        w, k = s.w1, s.level1.x.shape[1]
        terms = self.system(s)
        beta1 = draw_coefficients_from_system(terms["precision"], terms["linear"].reshape(w, k).T,
                                              s.level1.coef_mask, s.rng)
        cov_u = terms["cov_u"]
        noise = s.rng.standard_normal(terms["h_u"].shape)
        new_u = ((cov_u @ terms["h_u"][:, :, None])[:, :, 0] - terms["cm"] @ beta1.T.reshape(w * k)
                 + (cholesky_batched(cov_u) @ noise[:, :, None])[:, :, 0])

        s.resid1 -= np.matmul(s.level1.x, beta1 - s.beta1, out=s.scratch1)
        s.beta1 = beta1
        u = c.u.copy()
        u[:, :c.d_units] = new_u
        s.resid1 -= c.random_part(u - c.u, s.scratch1)
        c.u = u
        # the missing cells given B1, u and the observed cells
        s.imputer1.draw(s.resid1, s.omega_e, s.rng, operators=terms["operators"])


class UpdateLatents1(Step):
    """Latents behind observed level-1 categories | the rest of their rows: the part of
    :class:`~.steps.ImputeLevel1` that comes before :class:`ObservedDataFixedRandom1`
    (which draws the missing cells itself)."""

    label = "the latents of the observed level-1 categories"

    def outputs(self, s) -> list[np.ndarray]:
        return [s.resid1]

    def step(self, s, adapt: bool) -> None:
        if s.w1:
            update_latents(s, s.level1, s.level1.working, s.resid1, s.omega_e, 0, adapt)
