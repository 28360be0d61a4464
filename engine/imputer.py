"""Missing cells drawn from their conditional normal, one missingness pattern at a time."""
from __future__ import annotations

import numpy as np

from .linalg import symmetrize


def distinct_rows(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of the boolean (n, w) mask in sorted order, each row's index among
    them): ``np.unique(mask, axis=0, return_inverse=True)``, computed on the rows packed
    into bytes, which is over ten times faster for a million rows."""
    if mask.shape[1] == 0:                      # one (empty) pattern shared by every row
        return mask[:1], np.zeros(len(mask), dtype=np.intp)
    packed = np.ascontiguousarray(np.packbits(mask, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return mask[first], inverse.reshape(-1)


def rows_of_patterns(pattern_of_row: np.ndarray, patterns) -> list:
    """The rows of each listed pattern (indices into the distinct patterns): a slice where
    they are contiguous (the sampler sorts level-1 rows by pattern), so that reading them
    needs no copy, an index array otherwise."""
    out = []
    for g in patterns:
        rows = np.flatnonzero(pattern_of_row == g)
        contiguous = rows[-1] - rows[0] + 1 == len(rows)
        out.append(slice(rows[0], rows[-1] + 1) if contiguous else rows)
    return out


class PatternImputer:
    """Draws the masked cells of every row from their conditional normal given the
    row's unmasked cells.

    For each missingness pattern (a fixed set of masked columns m) the conditional is
    x_m | x_o ~ N(mu_m + G (x_o - mu_o), S).  The regression matrices G and the Cholesky
    factors of S of all patterns come from one batched computation; each pattern's rows
    are one matrix product (and a view, no copy, when the caller has sorted its rows by
    pattern).  It works on the residuals x - mu the caller keeps, so the means are not
    needed: :meth:`draw` writes the masked cells' new residuals through one sorted flat
    index, and :meth:`fill` turns them into values when the caller needs those.
    """

    def __init__(self, mask: np.ndarray):
        self.active = bool(mask.any())
        if not self.active:
            return
        # every distinct pattern (the complete rows' too, if any: then the first) and each
        # row's, for callers that treat the complete rows as a pattern of their own
        self.all_patterns, self.pattern_of_row = distinct_rows(mask)
        keep = np.flatnonzero(self.all_patterns.any(axis=1))
        self.patterns = self.all_patterns[keep]                 # (P, w), True = masked
        self.masked_columns = [np.flatnonzero(p) for p in self.patterns]
        self.rows = rows_of_patterns(self.pattern_of_row, keep)
        # the masked cells, pattern by pattern, each row's cells together: the order in which
        # one pattern's (rows, masked columns) block of draws ravels
        row_ids = [np.arange(len(mask))[rows] for rows in self.rows]
        self.cell_rows = np.concatenate([np.repeat(r, len(c)) for r, c in zip(row_ids, self.masked_columns)])
        self.cell_cols = np.concatenate([np.tile(c, len(r)) for r, c in zip(row_ids, self.masked_columns)])
        self.cell_bounds = np.cumsum([0] + [len(r) * len(c) for r, c in zip(row_ids, self.masked_columns)])
        # writing through a 1-d index is several times faster than numpy's 2-d scatter
        self.flat_cells = self.cell_rows * mask.shape[1] + self.cell_cols
        # every pattern's rows of G and [m, m] block of L, gathered by one index each:
        # (pattern, masked row, column) triples, pattern by pattern
        sizes = [len(c) for c in self.masked_columns]
        self.gain_index = (np.repeat(np.arange(len(sizes)), sizes),
                           np.concatenate(self.masked_columns))
        self.gain_bounds = np.cumsum([0] + sizes)
        self.chol_index = (np.repeat(np.arange(len(sizes)), [m * m for m in sizes]),
                           np.concatenate([np.repeat(c, len(c)) for c in self.masked_columns]),
                           np.concatenate([np.tile(c, len(c)) for c in self.masked_columns]))
        self.chol_bounds = np.cumsum([0] + [m * m for m in sizes])
        # per pattern: (rows, gain rows, cell span, Cholesky entries), as Python ints
        self._blocks = [(rows, int(self.gain_bounds[p]), int(self.gain_bounds[p + 1]),
                         int(self.cell_bounds[p]), int(self.cell_bounds[p + 1]),
                         int(self.chol_bounds[p]), int(self.chol_bounds[p + 1]))
                        for p, rows in enumerate(self.rows)]
        # the masks operators() multiplies by, built once
        mis = self.patterns.astype(float)
        obs = 1.0 - mis
        eye = np.eye(mask.shape[1])
        self._obs_rows, self._obs_cols = obs[:, :, None], obs[:, None, :]
        self._mis_rows = mis[:, :, None]
        self._obs_obs = obs[:, :, None] * obs[:, None, :]
        self._mis_mis = mis[:, :, None] * mis[:, None, :]
        self._eye_mis, self._eye_obs = eye * mis[:, None, :], eye * obs[:, None, :]

    def operators(self, cov: np.ndarray):
        """Per pattern, embedded in full width: G (P, w, w) with G[m, o] = cov_mo cov_oo^-1
        (zero elsewhere), L (P, w, w) whose [m, m] block is chol(cov_mm - G cov_om), and
        the precision of the observed cells, cov_oo^-1 (zero elsewhere).  A caller that
        needs those precisions too passes the triple back to :meth:`draw`."""
        # in permuted order this is block diagonal [cov_oo, I_mm]; its inverse is [cov_oo^-1, I]
        inner = self._obs_rows * cov * self._obs_cols + self._eye_mis
        precision = np.linalg.inv(inner) * self._obs_obs
        gain = (self._mis_rows * cov) @ precision
        cond = (cov - gain @ cov) * self._mis_mis + self._eye_obs
        return gain, np.linalg.cholesky(symmetrize(cond)), precision

    def draw(self, resid: np.ndarray, cov: np.ndarray, rng: np.random.Generator,
             groups: np.ndarray | None = None, operators=None) -> None:
        """Redraw the masked cells of the residuals `resid` (n, w) = x - mean in place,
        rows x being N(mean, cov) (`operators`: :meth:`operators` of cov, if at hand).

        With `groups` (n,) codes 0..G-1, cov is a (G, w, w) stack and row i uses
        cov[groups[i]] (cluster-specific covariance matrices).
        """
        if not self.active:
            return
        if groups is None:
            gain, chol, _ = operators if operators is not None else self.operators(cov)
            new = self._draw_common(resid, gain, chol, rng)
        else:
            gain, chol, _ = self.operators(cov[:, None])
            new = self._draw_by_group(resid, gain, chol, rng, groups)
        if resid.flags.c_contiguous:
            resid.reshape(-1)[self.flat_cells] = new                # a view: writes through
        else:
            resid[self.cell_rows, self.cell_cols] = new

    def _draw_common(self, resid, gain, chol, rng) -> np.ndarray:
        """New residuals of the masked cells (in flat_cells order) under one covariance:
        per pattern, G's masked rows times the rows' residuals (G is zero in the masked
        columns, so their stale residuals drop out) plus L's masked block times normals.
        The normals of all cells are one draw, in cell order: the same numbers as one
        draw per pattern."""
        gains = gain[self.gain_index]                          # (masked cells per row, w)
        chols = chol[self.chol_index]
        z = rng.standard_normal(len(self.flat_cells))
        new = np.empty(len(self.flat_cells))
        for rows, g0, g1, c0, c1, l0, l1 in self._blocks:
            m = g1 - g0
            block = resid[rows] @ gains[g0:g1].T + z[c0:c1].reshape(-1, m) @ chols[l0:l1].reshape(m, m).T
            new[c0:c1] = block.reshape(-1)
        return new

    def _draw_by_group(self, resid, gain, chol, rng, groups) -> np.ndarray:
        """As :meth:`_draw_common` with a covariance per group: gain and chol are
        (G, P, w, w) and row i uses its group's."""
        new = np.empty(len(self.flat_cells))
        for p, (rows, cols) in enumerate(zip(self.rows, self.masked_columns)):
            resid_rows = resid[rows]
            z = rng.standard_normal((len(resid_rows), len(cols)))
            g = groups[rows]
            block = (np.einsum("nij,nj->ni", gain[g, p][:, cols], resid_rows)
                     + np.einsum("nij,nj->ni", chol[g, p][:, cols][:, :, cols], z))
            new[self.cell_bounds[p]:self.cell_bounds[p + 1]] = block.reshape(-1)
        return new

    def fill(self, values: np.ndarray, mean: np.ndarray, resid: np.ndarray) -> None:
        """Masked cells of `values` = mean + resid; the other cells are left alone."""
        if self.active:
            cells = (self.cell_rows, self.cell_cols)
            values[cells] = mean[cells] + resid[cells]
