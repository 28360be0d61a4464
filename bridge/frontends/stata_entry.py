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


def stata_tokens(argline: str) -> list[str]:
    """Split an argument line as Stata's ``gettoken`` does: at blanks outside quotes, a
    token in double quotes or compound quotes (`"..."') taken without them, and no
    escape characters (a backslash is a character: ``\\\\server\\share``, ``"C:\\data\\"``)."""
    tokens, k, n = [], 0, len(argline)
    while k < n:
        if argline[k].isspace():
            k += 1
            continue
        if argline.startswith('`"', k):
            end = argline.find('"\'', k + 2)
            end = n if end < 0 else end
            tokens.append(argline[k + 2:end])
            k = end + 2
        elif argline[k] == '"':
            end = argline.find('"', k + 1)
            end = n if end < 0 else end
            tokens.append(argline[k + 1:end])
            k = end + 1
        else:
            end = k
            while end < n and not argline[end].isspace():
                end += 1
            tokens.append(argline[k:end])
            k = end
    return tokens


def run(argline: str | list[str]) -> tuple[int, str, list[str]]:
    """Run the mlimpute command line, given as the ado's argument line (split as Stata
    splits it) or as its arguments: (exit code, error line, notes)."""
    use_python_for_workers()
    errors = io.StringIO()
    args = stata_tokens(argline) if isinstance(argline, str) else list(argline)
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


def arguments_from_stata() -> list[str]:
    """The arguments the ado put in its locals ``mlimpute_arg1`` ... (``mlimpute_argc`` of
    them), one by one, exactly as Stata holds them."""
    from sfi import Macro  # available only inside Stata
    count = int(Macro.getLocal("mlimpute_argc") or 0)
    return [Macro.getLocal(f"mlimpute_arg{k}") for k in range(1, count + 1)]


def run_from_stata(argline: str | None = None) -> None:
    """Called by the ado inside ``python:``: runs its arguments (from its locals, or an
    argument line from an older ado) and sets the ado's result locals through sfi."""
    code, message, notes = run(arguments_from_stata() if argline is None else argline)
    from sfi import Macro  # available only inside Stata
    Macro.setLocal("mlimpute_rc", str(code))
    Macro.setLocal("mlimpute_error", message)
    Macro.setLocal("mlimpute_notes", stata_quoted(notes))
