"""SQLite and file-system failures of the response cache, as one-line user errors.

A cache that cannot be opened or written is an environment problem, not a failed gate: each
failure becomes an :class:`EvalkitError` (exit 2) naming the cache file and what to do. A
damaged database names ``evalkit cache clear``, which can always remove it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from evalkit.errors import EvalkitError

ELSEWHERE = "point cache_dir (or EVALKIT_CACHE_DIR) at another folder, or pass --no-cache"
CLEAR = "run `evalkit cache clear` to start the cache afresh"


class CacheDamaged(EvalkitError):
    """The database file itself is unreadable: only ``evalkit cache clear`` helps."""


def _name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""  # Python >= 3.11


def is_busy(exc: sqlite3.Error) -> bool:
    return _name(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc)


def is_damaged(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return _name(exc).startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text or "malformed" in text


def cache_error(path: Path, exc: sqlite3.Error) -> Exception:
    """The user-facing error for a failed SQLite call (programming errors stay what they are)."""
    if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        return exc
    name, text = _name(exc), str(exc)
    if is_damaged(exc):
        return CacheDamaged(f"the response cache is damaged ({text}); {CLEAR}", path=path)
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        message = f"the disk is full ({text}); free some space, or {ELSEWHERE}"
    elif is_busy(exc):
        message = f"the response cache stayed locked by another process ({text}); let it finish, or {ELSEWHERE}"
    elif name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")) or "readonly" in text or "unable to open" in text:
        message = f"cannot open or write the response cache ({text}); make its folder writable, or {ELSEWHERE}"
    else:
        message = f"the response cache failed ({text}); `evalkit cache verify` checks it, or {CLEAR}"
    return EvalkitError(message, path=path)


def check_location(path: Path) -> None:
    """Create the cache's folder, or say in one line why it cannot be."""
    try:
        if path.is_dir():
            raise EvalkitError("is a folder, not the response cache database; move it away, or " + ELSEWHERE, path=path)
        for parent in path.parents:
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    under = "" if parent == path.parent else f", so the cache folder {path.parent} cannot be made under it"
                    raise EvalkitError(f"is a file, not a folder{under}; {ELSEWHERE}", path=parent)
                break
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvalkitError(f"cannot create the cache folder ({exc.strerror or exc}); {ELSEWHERE}", path=path.parent) from None
