"""The entry point the Stata ado (stata_ado/mlimpute.ado) calls through Stata's Python.

The ado builds the same argument string it would pass to ``shell mlimpute``; this
function runs it in-process and reports the outcome back to Stata as locals
``mlimpute_rc`` (0 on success) and ``mlimpute_error`` (the one-line message).
"""
from __future__ import annotations

import contextlib
import io
import shlex

from .cli import main


def run(argline: str) -> tuple[int, str]:
    """Run the mlimpute command line given as one string; (exit code, error line)."""
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        try:
            code = main(shlex.split(argline))
        except SystemExit as exc:          # argparse usage errors
            code = int(exc.code or 0)
    lines = [l for l in errors.getvalue().splitlines() if l.startswith("mlimpute:")]
    return code, (lines[-1] if code and lines else "")


def run_from_stata(argline: str) -> None:
    """Called by the ado inside ``python:``; sets the ado's locals through sfi."""
    code, message = run(argline)
    from sfi import Macro  # available only inside Stata
    Macro.setLocal("mlimpute_rc", str(code))
    Macro.setLocal("mlimpute_error", message)
