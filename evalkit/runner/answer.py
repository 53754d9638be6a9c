"""Answers through the cache: look requests up, send the misses to the backend, store what
comes back in small batches, and store what was received when a run stops early."""

from __future__ import annotations

import logging
from typing import Any

from evalkit.backends.base import Backend, Request
from evalkit.errors import BackendError
from evalkit.runner.cache import request_key

log = logging.getLogger("evalkit.runner")

FLUSH_EVERY = 64  # answers per cache commit: what a kill -9 can lose at most


def answer(backend: Backend, identity, cache, reqs: list[Request], chunk: int, bar):
    """Responses (or BackendErrors) for ``reqs`` by key; only cache misses reach the backend.
    Public because lm-eval's LM adapter (``suites/lm_eval_run``) answers through it: the runner
    calls that adapter, so the adapter must not reach back into ``runner.run``."""
    keys, found, todo = _lookup(identity, cache, reqs)
    hits = len(found)
    _fetch(backend, cache, todo, chunk, bar, found)
    return keys, found, hits, len(todo)


def _lookup(identity, cache, reqs: list[Request]):
    """(key of every request, the cached answers by key, the misses by key, each once)."""
    keys = [request_key(identity, r) for r in reqs]
    found: dict[str, Any] = cache.get_many(list(dict.fromkeys(keys)))
    todo: dict[str, Request] = {}
    for k, r in zip(keys, reqs):
        if k not in found and k not in todo:
            todo[k] = r
    return keys, found, todo


class _Sink:
    """Answers on their way to the cache, committed every FLUSH_EVERY so that a killed run
    keeps nearly everything it was told; when a run stops early (Ctrl-C, a fatal backend
    error, a failed write) what it holds is committed too: those answers were paid for."""

    def __init__(self, cache, found: dict, bar):
        self.cache, self.found, self.bar = cache, found, bar
        self.fresh: list = []

    def take(self, key: str, req: Request, out) -> None:
        self.found[key] = out
        if not isinstance(out, BackendError):
            self.fresh.append((key, req, out))
            if len(self.fresh) >= FLUSH_EVERY:
                self.flush()
        self.bar.advance(1)

    def flush(self) -> None:
        self.cache.put_many(self.fresh)
        self.fresh = []

    def flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - the error that stopped the run is the one to report
            log.warning("could not store %d answers in the cache: %s", len(self.fresh), exc)


def _fetch(backend: Backend, cache, todo: dict[str, Request], chunk: int, bar, found: dict) -> None:
    """Answer the misses into ``found``. The backend gets them in chunks of its preferred size
    (an API backend wants all of them in flight at once)."""
    pending = list(todo.items())
    chunk = getattr(backend, "preferred_chunk_size", None) or chunk
    sink = _Sink(cache, found, bar)
    try:
        for start in range(0, len(pending), chunk):
            batch = pending[start : start + chunk]
            _drive(backend.submit([r for _, r in batch]), lambda i, out, b=batch: sink.take(*b[i], out))
    except BaseException:
        sink.flush_quietly()
        raise
    sink.flush()


def _drive(answers, take) -> None:
    """Pass every (index, outcome) of a backend's ``submit`` to ``take``. A Ctrl-C that lands in
    ``take`` is thrown into the backend's generator, so that a backend holding answers already
    received (the HTTP engine) yields them before the interrupt goes on."""
    answers = iter(answers)
    interrupt: KeyboardInterrupt | None = None
    while True:
        try:
            if interrupt is None:
                i, out = next(answers)
            elif hasattr(answers, "throw"):
                i, out = answers.throw(interrupt)
            else:
                raise interrupt
        except StopIteration:
            return
        interrupt = None
        try:
            take(i, out)
        except KeyboardInterrupt as exc:
            interrupt = exc
