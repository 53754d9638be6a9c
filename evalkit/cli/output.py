"""Checking an output folder before any model runs, so that a bad ``--output`` costs nothing.

A run can take hours; finding at the end that ``--output`` names a file, sits under a file
or on a read-only disk would waste it (the answers are cached, but the user still waits).
"""

from __future__ import annotations

import os
from pathlib import Path

from evalkit.errors import EvalkitError


def check_output_dir(path: Path, option: str = "--output") -> Path:
    """``path`` if it is, or can become, a writable folder; else a one-line EvalkitError.

    Nothing is created: a command that fails later leaves no empty folder behind.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EvalkitError(f"{option} names an existing file, not a folder; choose a folder (it is created)", path=path)
    existing = path
    while not existing.exists():
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            raise EvalkitError(f"{option}: a symbolic link points nowhere; fix or remove it", path=existing)
        existing = existing.parent
    if not existing.is_dir():
        raise EvalkitError(
            f"{option} {path} lies under a file, not a folder; choose a path under a folder", path=existing
        )
    # access() also answers EROFS for a read-only file system, where root's permissions do not help.
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EvalkitError(f"{option}: this folder is not writable; choose another {option} or fix its permissions", path=existing)
    return path


def write_output(path: Path, text: str) -> None:
    """Write a whole file or none of it; an OSError names ``path`` (a failing write() does not)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
