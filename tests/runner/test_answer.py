"""The answer pipeline (evalkit.runner.answer): what a run has received is in the cache when it
stops early, whatever stops it."""

from __future__ import annotations

import pytest

from evalkit.backends.base import Backend, GenerateRequest, Generation, Message
from evalkit.errors import FatalBackendError
from evalkit.runner.answer import FLUSH_EVERY, answer
from evalkit.runner.cache import ResponseCache

N = 100  # past one commit batch, so that both a commit and the flush at the stop matter
STOP_AT = FLUSH_EVERY + 10


class _Bar:
    def advance(self, n):
        pass


def requests(n=N):
    return [GenerateRequest((Message("user", f"q{i}"),)) for i in range(n)]


class Stopping(Backend):
    """Answers STOP_AT requests, then fails the way ``stop`` says."""

    name = "stopping"

    def __init__(self, stop):
        self.stop = stop

    def identity(self):
        return {"backend": self.name}

    def submit(self, reqs):
        for i, req in enumerate(reqs):
            if i == STOP_AT:
                raise self.stop
            yield i, Generation(req.messages[0].content.upper())


class Holding(Backend):
    """Like the HTTP engine: holds answers already received; a Ctrl-C thrown in makes it hand
    them over before the interrupt goes on."""

    name = "holding"

    def identity(self):
        return {"backend": self.name}

    def submit(self, reqs):
        held = [(i, Generation(r.messages[0].content.upper())) for i, r in enumerate(reqs)]
        try:
            for pair in held[:STOP_AT]:
                yield pair
        except KeyboardInterrupt:
            yield from held[STOP_AT:]
            raise


def stored(path) -> int:
    cache = ResponseCache(path)
    try:
        return cache.info()["entries"]
    finally:
        cache.close()


@pytest.mark.parametrize("stop", [FatalBackendError("the key was revoked"), KeyboardInterrupt()])
def test_answers_received_before_a_stop_are_stored(tmp_path, stop):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(type(stop)):
        answer(Stopping(stop), {"m": 1}, cache, requests(), 1000, _Bar())
    cache.close()
    assert stored(tmp_path / "c.sqlite") == STOP_AT  # not only the FLUSH_EVERY committed


def test_ctrl_c_in_the_runner_is_thrown_into_the_backend_which_hands_over_what_it_holds(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    seen = []

    class InterruptingBar(_Bar):
        def advance(self, n):
            seen.append(n)
            if len(seen) == STOP_AT:  # the interrupt lands in the runner's own code
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        answer(Holding(), {"m": 1}, cache, requests(), 1000, InterruptingBar())
    cache.close()
    assert stored(tmp_path / "c.sqlite") == N


def test_a_failed_cache_write_is_tried_again_when_the_run_stops(tmp_path):
    class Flaky(ResponseCache):
        failures = 1

        def put_many(self, entries):
            if self.failures:
                self.failures -= 1
                raise OSError("database or disk is full")
            super().put_many(entries)

    cache = Flaky(tmp_path / "c.sqlite")
    with pytest.raises(OSError):
        answer(Stopping(FatalBackendError("x")), {"m": 1}, cache, requests(), 1000, _Bar())
    cache.close()
    assert stored(tmp_path / "c.sqlite") == FLUSH_EVERY  # the batch whose commit failed
