"""The entry point the Stata ado (stata_ado/mlimpute.ado) calls through Stata's Python.

The ado builds the same argument string it would pass to ``shell mlimpute``; this
function runs it in-process and reports the outcome back to Stata as locals
``mlimpute_rc`` (0 on success), ``mlimpute_error`` (the one-line message) and
``mlimpute_notes`` (the warnings and notes the run printed, in Stata's compound quotes,
one per line of output, for the ado to display).  Progress is printed as plain lines on
stdout, which Stata's Results window shows as they come.

Inside Stata, ``sys.executable`` is Stata itself, so worker processes for ``chains()`` > 1
would start Stata; :func:`use_python_for_workers` points multiprocessing at the Python
interpreter Stata runs (the one ``python set exec`` names) instead.
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import shlex
import sys

from .cli import main


def python_interpreter() -> str:
    """The Python interpreter of this process (not the program embedding it)."""
    name = os.path.basename(sys.executable).lower()
    if name.startswith("python"):
        return sys.executable
    folder = sys.exec_prefix
    candidates = [os.path.join(folder, "python.exe"), os.path.join(folder, "bin", "python3"),
                  os.path.join(folder, "bin", "python")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    return sys.executable


def use_python_for_workers() -> None:
    """Make multiprocessing start worker processes with the Python interpreter."""
    interpreter = python_interpreter()
    if interpreter != sys.executable:
        multiprocessing.set_executable(interpreter)


def run(argline: str) -> tuple[int, str, list[str]]:
    """Run the mlimpute command line given as one string: (exit code, error line, notes)."""
    use_python_for_workers()
    errors = io.StringIO()
    args = shlex.split(argline)
    if args[:1] == ["impute"] and "--quiet" not in args:
        args.append("--progress=lines")        # Stata's Results window shows lines, not a bar
    with contextlib.redirect_stderr(errors):
        try:
            code = main(args)
        except SystemExit as exc:          # argparse usage errors
            code = int(exc.code or 0)
    lines = [l for l in errors.getvalue().splitlines() if l.startswith("mlimpute:")]
    failures = [l for l in lines if l.startswith("mlimpute: error:")]
    notes = [l for l in lines if l not in failures]
    return code, (failures[-1] if code and failures else ""), notes


def stata_quoted(lines: list[str]) -> str:
    """Lines as a list of Stata compound-quoted strings (`"..."'), for ``foreach of local``."""
    return " ".join(f'`"{line}"\'' for line in lines)


def run_from_stata(argline: str) -> None:
    """Called by the ado inside ``python:``; sets the ado's locals through sfi."""
    code, message, notes = run(argline)
    from sfi import Macro  # available only inside Stata
    Macro.setLocal("mlimpute_rc", str(code))
    Macro.setLocal("mlimpute_error", message)
    Macro.setLocal("mlimpute_notes", stata_quoted(notes))
