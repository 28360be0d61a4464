"""Atomic output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a failure (an exception, Ctrl-C or SIGTERM,
which the command line turns into an exception) leaves no output behind and does not
destroy an existing file of the same name.

Temporary names say whose they are: ``.<target>.mlimpute-<pid>-<random>.tmp<ext>``.  A run
killed by SIGKILL (which nothing can catch) leaves such a file; the next write to the same
target removes the ones whose process no longer exists, and leaves alone those of a run
still going.  The finished file gets the permissions any program's new file gets
(0666 less the umask; ``mkstemp`` alone would leave it private, 0600).
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

_TAG = "mlimpute-"


def _prefix(target: Path) -> str:
    return f".{target.name}.{_TAG}{os.getpid()}-"


def _stale_pattern(target: Path) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(target.name)}\.{_TAG}(\d+)-.*\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:           # someone else's process
        return True
    return True


def remove_stale(target: str | Path) -> None:
    """Remove temporary files or folders left beside `target` by runs that were killed."""
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    pattern = _stale_pattern(target)
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            match = pattern.match(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success it replaces target.
    The temporary name ends in the target's extension, for writers that go by it."""
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=f".tmp{target.suffix}", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, _default_mode())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def staging_folder(target: str | Path) -> Iterator[Path]:
    """A temporary folder beside `target` (named as :func:`atomic_path` names files, so that
    a killed run's folder is cleaned up the same way); removed on exit whatever happens."""
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".tmp", dir=directory))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
