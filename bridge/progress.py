"""Progress display for long runs: iterations, imputations kept, ETA (tqdm on stderr)."""
from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """A callable for the sampler's ``progress(done, total, imputations)`` hook (and for
    ``progress(done, total)`` of other long work, such as fitting every imputation).

    Use as a context manager; ``enabled=False`` (``--quiet``) turns it into a no-op.
    """

    def __init__(self, total: int, m: int, enabled: bool = True, desc: str = "imputing"):
        self.m = m
        self._bar = tqdm(total=total, desc=desc, unit="it", file=sys.stderr, disable=not enabled,
                         dynamic_ncols=True, mininterval=0.25)
        self._kept = -1

    def __call__(self, done: int, total: int, imputations: int | None = None) -> None:
        if total != self._bar.total:      # known only once the work starts (plot pages)
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if imputations is not None and imputations != self._kept:
            self._kept = imputations
            self._bar.set_postfix_str(f"imputations {imputations}/{self.m}", refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._bar.close()
        return False
