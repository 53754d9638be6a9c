"""The judges a run may call while it scores: a scorer holds the judge's *name* (a task file
names it), and the runner opens a session that turns names into :class:`Judge` objects bound to
the project and its cache. A context variable carries the session, so scorers keep the plain
``score(answer, references, record)`` protocol."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from evalkit.errors import ConfigError

_CURRENT: ContextVar = ContextVar("evalkit_judge_session", default=None)


class Session:
    def __init__(self, project, cache):
        self.project, self.cache = project, cache
        self.judges: dict = {}

    def judge(self, name: str, max_tokens: int):
        from evalkit.judge.client import Judge

        key = (name, max_tokens)
        if key not in self.judges:
            self.judges[key] = Judge(self.project, name, self.cache, max_tokens)
        return self.judges[key]


def open_session(project, cache):
    """Start a session (the runner's; it closes it with :func:`close_session` in a finally)."""
    return _CURRENT.set(Session(project, cache))


def close_session(token) -> None:
    session = _CURRENT.get()
    _CURRENT.reset(token)
    if session is not None and session.judges:  # a closed backend reopens when asked again
        session.project.close_backends({name for name, _ in session.judges})


@contextmanager
def judging(project, cache):
    token = open_session(project, cache)
    try:
        yield _CURRENT.get()
    finally:
        close_session(token)


def current_judge(name: str, max_tokens: int):
    session = _CURRENT.get()
    if session is None:
        raise ConfigError(f"the judge '{name}' can only be asked while evalkit runs a model (evalkit run or compare)")
    return session.judge(name, max_tokens)
