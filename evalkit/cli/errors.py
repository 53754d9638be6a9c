"""Turning what the environment throws (OS, decoding, SQLite, memory) into one line.

Input and config mistakes are raised as EvalkitError where they are found, with the file and
line. What is left reaches here: the file system refusing (permissions, a full disk, a
symlink loop, a folder where a file should be), bytes that are not UTF-8, a damaged
database, exhaustion. A traceback would make CI read them as a crash of evalkit (exit 1, the
code of a failed gate); they are problems of the input or the machine, so they get the
input-error exit code and a line that says what to do.
"""

from __future__ import annotations

import errno
import sqlite3

ENVIRONMENT_ERRORS = (OSError, UnicodeDecodeError, sqlite3.Error, MemoryError, RecursionError)

RESUME = "answers already received are in the cache: the same command resumes"

# errno -> (what is wrong, what to do)
_OS_ADVICE = {
    errno.ENOENT: ("not found", "check the path"),
    errno.EACCES: ("permission denied", "make it readable (and writable, for outputs) by this user"),
    errno.EPERM: ("operation not permitted", "check its owner and permissions"),
    errno.EISDIR: ("is a folder, expected a file", "point at the file inside it"),
    errno.ENOTDIR: ("a part of this path is a file, not a folder", "choose a path under a folder"),
    errno.EEXIST: ("already exists", "choose another path or remove it"),
    errno.ENOSPC: ("no space left on the device", f"free some space or write elsewhere; {RESUME}"),
    errno.EDQUOT: ("disk quota exceeded", f"free some space or write elsewhere; {RESUME}"),
    errno.EROFS: ("read-only file system", "write somewhere writable (--output, cache_dir)"),
    errno.ELOOP: ("too many levels of symbolic links (a symlink loop)", "fix or remove the link"),
    errno.ENAMETOOLONG: ("file name too long", "use a shorter path"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n)"),
    errno.EPIPE: ("the output pipe was closed (by head or the like)", "read the whole output or redirect it to a file"),
}


def describe(exc: BaseException) -> str:
    """``PATH: what is wrong; what to do`` (the part after ``evalkit: error: ``)."""
    if isinstance(exc, UnicodeDecodeError):
        # Raised from deep inside a read: no file name travels with it.
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        if "full" in text:
            return f"the response cache: no space left on the device; free some space; {RESUME}"
        if "readonly" in text or "read-only" in text:
            return "the response cache is read-only; make cache_dir writable or point cache_dir elsewhere"
        return (f"the response cache database failed: {exc}; "
                "if it is damaged, `evalkit cache clear` removes it (answers are asked again)")
    if isinstance(exc, MemoryError):
        return "out of memory; use smaller inputs, fewer tasks (--suite) or a smaller batch_size"
    if isinstance(exc, RecursionError):
        return ("nesting too deep (a cycle, such as models that name each other in init:, or "
                "deeply nested data); break the cycle or flatten the data")
    return _describe_os(exc)


def _describe_os(exc: OSError) -> str:
    what, todo = _OS_ADVICE.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__, "check the path and the disk"))
    names = [n for n in (exc.filename, getattr(exc, "filename2", None)) if n]
    where = " -> ".join(str(n) for n in names)
    return f"{where}: {what}; {todo}" if where else f"{what}; {todo}"
