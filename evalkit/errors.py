"""User-facing error types.

Every error a user can cause by their input is an :class:`EvalkitError`; the CLI prints its
one-line message and exits with its ``exit_code`` (2), with no traceback.
"""

from __future__ import annotations

from pathlib import Path


class EvalkitError(Exception):
    """A mistake in the user's input: config, data, arguments. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        super().__init__(where + message)


class ConfigError(EvalkitError):
    """The project config (evalkit.yaml) or a task file is malformed or inconsistent."""


class DataError(EvalkitError):
    """A dataset (JSONL) or corpus is missing, malformed or empty."""


class MissingExtra(EvalkitError):
    """An optional dependency needed for the chosen backend is not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"this needs the '{package}' package: pip install 'evalkit[{extra}]'"
        )


class BackendError(Exception):
    """A request failed inside a backend (network, server, model).

    It is recorded against the item as an error, never scored as a wrong answer.
    ``fatal`` errors (bad credentials, unknown model) stop the run at once.
    """

    def __init__(self, message: str, *, fatal: bool = False):
        self.fatal = fatal
        super().__init__(message)


class FatalBackendError(EvalkitError):
    """A backend failure that no retry can fix (a rejected API key, a server that cannot be
    reached). Exit code 2, like bad input: running the same command again cannot help, so it
    must not read as 3 ("incomplete: run again")."""
