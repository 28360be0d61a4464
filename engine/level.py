"""The working columns of one level of the model: response blocks, covariates, patterns.

A response's type (:mod:`.responses`) decides how many working (latent-normal) columns it
has, how they start, which of their covariance entries are fixed and how values are read
back from them; a :class:`Level` lays the responses of one level side by side.
"""
from __future__ import annotations

import numpy as np

from .responses import ResponseType, make_response_type


class Level:
    """Working columns of one level: response blocks, covariates, missingness patterns."""

    def __init__(self, values: np.ndarray, x: np.ndarray, coef_mask: np.ndarray,
                 kinds: list[str], n_categories: list[int | None],
                 shift: np.ndarray | None = None):
        self.values = values                       # (n, p) responses, NaN missing
        self.x = x
        self.blocks: list[tuple[ResponseType, slice, int]] = []
        columns, mask_columns, start = [], [], 0
        for r, kind in enumerate(kinds):
            rtype = make_response_type(kind, n_categories[r])
            width = rtype.n_working()
            columns.append(rtype.initial_working(values[:, r]))
            mask_columns.extend([coef_mask[:, r]] * width)
            self.blocks.append((rtype, slice(start, start + width), r))
            start += width
        n = values.shape[0]
        self.working = np.hstack(columns) if columns else np.zeros((n, 0))
        self.coef_mask = np.column_stack(mask_columns) if mask_columns else np.zeros((x.shape[1], 0), bool)
        self.width = start
        # cells drawn from the joint conditional normal: every working column of a missing response
        self.impute_mask = np.zeros((n, self.width), dtype=bool)
        for rtype, cols, r in self.blocks:
            self.impute_mask[:, cols] = np.isnan(values[:, r])[:, None]
        self._fill_start(self.working, self.impute_mask)
        self.gram = x.T @ x
        self.weights = None
        self.total_weight = float(n)       # the n of the covariance posteriors (sum of weights)
        self.latent_blocks = [b for b in self.blocks if b[0].has_latent]
        self.shift_working = None if shift is None else self._working_shift(shift)

    def _working_shift(self, shift: np.ndarray) -> np.ndarray | None:
        """The MNAR shift of missing cells on the working columns (None when it moves
        nothing); a type with several working columns (categorical) has no one scale to
        shift on and is refused."""
        missing = np.isnan(self.values)
        if not np.any(shift[missing] != 0):
            return None
        out = np.zeros(self.working.shape)
        for rtype, cols, r in self.blocks:
            moved = np.where(missing[:, r], shift[:, r], 0.0)
            if np.any(moved != 0) and cols.stop - cols.start != 1:
                raise ValueError(f"a {rtype.name} response (column {r}) cannot be shifted: "
                                 "it has no single latent scale")
            out[:, cols.start] = moved
        return out

    def weight(self, weights: np.ndarray | None) -> None:
        """Use sampling weights in this level's parameter updates (X'WX and X'WR)."""
        self.weights = weights
        if weights is not None:
            self.gram = self.x.T @ (self.x * weights[:, None])
            self.total_weight = float(weights.sum())

    def weighted(self, rows: np.ndarray) -> np.ndarray:
        """rows (n, k) times the weights (unchanged when unweighted)."""
        return rows if self.weights is None else rows * self.weights[:, None]

    def fixed_covariance(self, offset: int, dim: int) -> np.ndarray:
        """(dim, dim) matrix of fixed covariance entries (NaN = free); this level's working
        columns start at `offset`."""
        fixed = np.full((dim, dim), np.nan)
        for rtype, cols, r in self.blocks:
            block = rtype.fixed_covariance()
            if block is not None:
                idx = np.arange(cols.start, cols.stop) + offset
                fixed[np.ix_(idx, idx)] = block
        return fixed

    def parameters(self) -> dict[str, np.ndarray]:
        out = {}
        for rtype, cols, r in self.blocks:
            for key, value in rtype.parameters().items():
                out[f"{key}[{r}]"] = value
        return out

    @staticmethod
    def _fill_start(working, impute_mask):
        for c in range(working.shape[1]):
            miss = impute_mask[:, c]
            if miss.all():
                raise ValueError(f"working column {c} has no observed value")
            working[miss, c] = working[~miss, c].mean()

    def decode(self, shifted: bool = False, working: np.ndarray | None = None) -> np.ndarray:
        """Response values implied by the working columns (or by `working`, working
        values of some of the rows laid out the same way); ``shifted`` adds the MNAR
        shift to the missing cells first (for a completed data set, not for the chain)."""
        if working is None:
            working = self.working
            if shifted and self.shift_working is not None:
                working = working + self.shift_working
        out = np.empty((working.shape[0], self.values.shape[1]))
        for rtype, cols, r in self.blocks:
            out[:, r] = rtype.decode(working[:, cols])
        return out
