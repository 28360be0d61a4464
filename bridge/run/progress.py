"""Progress display for long runs: iterations, imputations kept, ETA.

Two styles: a tqdm bar on stderr (a terminal), or plain lines on stdout at every tenth of
the work (hosts that show output but not a redrawn bar, such as Stata's Results window).
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class ProgressBar:
    """A callable for the sampler's ``progress(done, total, imputations)`` hook (and for
    ``progress(done, total)`` of other long work, such as fitting every imputation).

    Use as a context manager; ``enabled=False`` (``--quiet``) turns it into a no-op.
    """

    def __init__(self, total: int, m: int, enabled: bool = True, desc: str = "imputing",
                 style: str = "bar"):
        if style not in ("bar", "lines"):
            raise ValueError(f"unknown progress style {style!r}")
        self.m = m
        self._lines = enabled and style == "lines"
        self._bar = tqdm(total=total, desc=desc, unit="it", file=sys.stderr,
                         disable=not enabled or self._lines, dynamic_ncols=True, mininterval=0.25)
        self._kept = -1
        self._desc, self._start, self._shown = desc, time.monotonic(), 0

    def __call__(self, done: int, total: int, imputations: int | None = None) -> None:
        if total != self._bar.total:      # known only once the work starts (plot pages)
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if imputations is not None and imputations != self._kept:
            self._kept = imputations
            self._bar.set_postfix_str(f"imputations {imputations}/{self.m}", refresh=False)
        if self._lines and total:
            self._line(done, total)

    def _line(self, done: int, total: int) -> None:
        tenth = 10 * done // total
        if tenth <= self._shown:
            return
        self._shown = tenth
        elapsed = time.monotonic() - self._start
        left = elapsed * (total - done) / done if done else 0.0
        kept = f", {self._kept}/{self.m} imputations" if self._kept >= 0 else ""
        print(f"mlimpute: {self._desc} {10 * tenth}% ({done}/{total}{kept}), "
              f"about {_duration(left)} left", file=sys.stdout, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._bar.close()
        return False


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
