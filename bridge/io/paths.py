"""What a command reads and writes, checked before any work is done.

Every command first lists the files it will read (data, spec, weights file) and the
files and folders it will write (output, chain, spec, report, diagnostics, impvals), then
calls :meth:`FilePlan.check`.  It refuses, in one line naming both files:

* a write that lands on a read: the same path after resolving symbolic links and ``..``,
  or the same file under another name (a hard link: same device and inode);
* two writes that land on the same file;
* a write whose folder does not exist, is not a folder or cannot be written to (a
  read-only mount included), or a file output that is an existing folder.

Folders that a command fills (``--diagnostics DIR``, ``--impvals DIR``) are given with the
names they will receive (glob patterns such as ``*.png``, or compiled regular expressions
that must match the whole name), so that an input file inside such a folder is refused
only when the command would really replace it.

This is the one place that knows how the program's files relate; the writers themselves
(:mod:`.atomic`) only guarantee that a file appears whole or not at all.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FormatError


@dataclass(frozen=True)
class _Identity:
    """Where a path really points: its resolved name, and (device, inode) if it exists."""

    resolved: Path
    inode: tuple[int, int] | None

    @classmethod
    def of(cls, path: Path) -> "_Identity":
        resolved = Path(os.path.realpath(path))
        try:
            st = os.stat(resolved)
            inode = (st.st_dev, st.st_ino)
        except OSError:
            inode = None
        return cls(resolved, inode)

    def same(self, other: "_Identity") -> bool:
        return self.resolved == other.resolved or (
            self.inode is not None and self.inode == other.inode)


@dataclass
class FilePlan:
    """The files one command reads and writes; see the module docstring."""

    reads: list[tuple[str, Path]] = field(default_factory=list)
    writes: list[tuple[str, Path]] = field(default_factory=list)
    folders: list[tuple[str, Path, tuple[str, ...]]] = field(default_factory=list)

    def read(self, label: str, path) -> "FilePlan":
        if path is not None:
            self.reads.append((label, Path(path)))
        return self

    def write(self, label: str, path) -> "FilePlan":
        if path is not None:
            self.writes.append((label, Path(path)))
        return self

    def folder(self, label: str, path, patterns: tuple[str, ...]) -> "FilePlan":
        """A folder the command creates if needed and writes files matching `patterns` into."""
        if path is not None:
            self.folders.append((label, Path(path), tuple(patterns)))
        return self

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Raise :class:`FormatError` (one line) on the first conflict; see the module docstring."""
        reads = [(label, path, _Identity.of(path)) for label, path in self.reads]
        writes = [(label, path, _Identity.of(path)) for label, path in self.writes]
        for label, path, ident in writes:
            _check_writable_file(label, path)
            for r_label, r_path, r_ident in reads:
                if ident.same(r_ident):
                    raise FormatError(f"{label} '{path}' would overwrite the {r_label} "
                                      f"'{r_path}'; choose another name")
        for k, (label, path, ident) in enumerate(writes):
            for o_label, o_path, o_ident in writes[:k]:
                if ident.same(o_ident):
                    raise FormatError(f"{label} '{path}' and {o_label} '{o_path}' are the same "
                                      "file; choose different names")
        files = [(lbl, p, i, "overwrite the") for lbl, p, i in reads] + \
                [(lbl, p, i, "collide with") for lbl, p, i in writes]
        for label, folder, patterns in self.folders:
            _check_writable_folder(label, folder)
            for o_label, o_path, what in self._inside(folder, patterns, files):
                shown = ", ".join(p if isinstance(p, str) else p.pattern for p in patterns)
                raise FormatError(f"{label} '{folder}' would {what} {o_label} '{o_path}' "
                                  f"(it writes {shown} there); choose another folder")
        for k, (label, folder, _) in enumerate(self.folders):
            for o_label, o_folder, _ in self.folders[:k]:
                if _Identity.of(folder).same(_Identity.of(o_folder)):
                    raise FormatError(f"{label} '{folder}' and {o_label} '{o_folder}' are the "
                                      "same folder; choose different names")

    @staticmethod
    def _inside(folder: Path, patterns, files) -> list[tuple[str, Path, str]]:
        """The files that writing `patterns` into `folder` would replace: by name, or
        under another name (a hard or symbolic link inside the folder)."""
        def matches(name: str) -> bool:
            return any(fnmatch.fnmatchcase(name, pat) if isinstance(pat, str) else
                       pat.fullmatch(name) is not None for pat in patterns)
        where = Path(os.path.realpath(folder))
        hits = [(lbl, p, what) for lbl, p, i, what in files
                if i.resolved.parent == where and matches(i.resolved.name)]
        if folder.is_dir():
            for entry in folder.iterdir():
                if matches(entry.name):
                    ident = _Identity.of(entry)
                    hits += [(lbl, p, what) for lbl, p, i, what in files if ident.same(i)]
        return hits


def _check_writable_file(label: str, path: Path) -> None:
    if path.is_dir():
        raise FormatError(f"{label} '{path}' is a folder, not a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise FormatError(f"{label} '{path}': folder '{parent}' does not exist")
    if not parent.is_dir():
        raise FormatError(f"{label} '{path}': '{parent}' is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FormatError(f"{label} '{path}': folder '{parent}' is not writable")


def _check_writable_folder(label: str, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise FormatError(f"{label} '{folder}' exists and is not a folder")
    existing = folder
    while not existing.exists():          # the nearest ancestor that exists must be writable
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise FormatError(f"{label} '{folder}': '{existing}' is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FormatError(f"{label} '{folder}': folder '{existing}' is not writable")
