"""Stopping cleanly on SIGTERM and Ctrl-C.

The command line turns SIGTERM (and SIGHUP) into an :class:`Interrupted` exception in
the main thread, as Python already does for SIGINT (``KeyboardInterrupt``).  The exception
unwinds through the same code as any failure: the atomic writers remove their temporary
files, the chain runner terminates its worker processes, and :func:`exit_status` gives
the conventional status (128 + signal number: 130 for Ctrl-C, 143 for SIGTERM).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

_CAUGHT = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                if s is not None)


class Interrupted(KeyboardInterrupt):
    """A termination signal arrived; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Interrupted`.  Outside the main
    thread (Python embedded in a host such as Stata may call us from another) signals
    cannot be handled and the host's own handling stays in place."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in _CAUGHT}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def exit_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal number (SIGINT for a plain KeyboardInterrupt)."""
    return 128 + getattr(exc, "signum", signal.SIGINT)
