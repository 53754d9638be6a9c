"""A lean async HTTP engine for OpenAI-style JSON APIs: an asyncio loop on a daemon thread,
bounded and adaptive concurrency, retries with full-jitter back-off that honour Retry-After,
optional requests- and tokens-per-minute buckets, and a retry budget per run.

A request waiting out Retry-After or a back-off holds no concurrency slot: it is put back on
the queue when its wait is over, so one throttled request never idles a worker (with 10 % of
answers a 429 with Retry-After 1 s, sleeping inside the slot cost 7x the fault-free time).

Kept apart from ``openai_api.py`` (which knows the endpoints and their payloads) because none
of this is specific to one provider; see that module's docstring for why the hot path does
not go through the openai SDK.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


from evalkit.errors import BackendError, FatalBackendError

log = logging.getLogger("evalkit.openai")


UNREACHABLE_AFTER = 4  # refused connections, with no answer ever, that make a backend fatal


class _Malformed(ValueError):
    """A 200 whose JSON is valid but not the expected shape: retrying will not change it."""


# --- the engine: an asyncio loop on a daemon thread with bounded, adaptive concurrency ----------

@dataclass(frozen=True)
class Job:
    path: str  # under base_url
    body: dict
    parse: Any  # (json, latency_s) -> response; raises _Malformed
    tokens: int  # estimated prompt + completion tokens, for the tpm bucket


@dataclass(frozen=True)
class _Retry:
    reason: str
    wait: float | None = None  # the server's Retry-After, in seconds
    throttled: bool = False


class _Fatal(str):
    pass


class _Batch:
    """One submit() call's jobs: its results queue, and a flag to drop what is left."""

    def __init__(self):
        import queue

        self.out = queue.SimpleQueue()
        self.cancelled = False


def retry_after_seconds(headers) -> float | None:
    """The server's requested wait: retry-after-ms, else Retry-After in seconds or as an HTTP date."""
    from email.utils import parsedate_to_datetime

    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, min(float(value) / scale, 120.0))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            continue
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        return max(0.0, min((when - datetime.now(timezone.utc)).total_seconds(), 120.0))
    return None


class _Concurrency:
    """The limit on requests in flight. Throttling answers (429, 503) cut it by a quarter only
    when they are frequent (at least CUT_RATE of the answers of the last window, and at least
    MIN_SEEN answers seen), at most once per window, never below a floor of an eighth of the
    maximum: a provider sending isolated 429s is not served slower for them. The window is the
    server's latest Retry-After (at least 1 s), the time a cut needs to show its effect.
    Successes regrow it by one slot per limit / 4 of them (4x TCP's additive increase) once
    throttling is rare again, so a burst of throttling costs seconds, not minutes."""

    CUT_RATE = 0.25
    MIN_SEEN = 8
    GROWTH = 4.0

    def __init__(self, maximum: int, clock=None):
        import asyncio
        import time
        from collections import deque

        self.limit = self.maximum = maximum
        self.floor = max(1, maximum // 8)
        self.window = 1.0
        self._clock = clock or time.monotonic
        self._seen: deque = deque()  # (time, throttled) of the answers within the window
        self._throttled = 0
        self._last_cut = float("-inf")
        self._credit = 0.0
        self._grown = asyncio.Event()

    async def admit(self, slot: int) -> None:
        while slot >= self.limit:
            self._grown.clear()
            await self._grown.wait()

    def record(self, throttled: bool, wait: float | None = None) -> None:
        now = self._clock()
        if wait is not None:
            self.window = min(30.0, max(1.0, wait))
        self._seen.append((now, throttled))
        self._throttled += throttled
        while self._seen and self._seen[0][0] < now - self.window:
            self._throttled -= self._seen.popleft()[1]
        if throttled:
            frequent = len(self._seen) >= self.MIN_SEEN and self._throttled >= self.CUT_RATE * len(self._seen)
            if frequent and now - self._last_cut >= self.window and self.limit > self.floor:
                self.limit, self._credit, self._last_cut = max(self.floor, self.limit * 3 // 4), 0.0, now
        elif self.limit < self.maximum and self._throttled < self.CUT_RATE / 2 * len(self._seen):
            self._credit += self.GROWTH / self.limit
            if self._credit >= 1.0:
                self._credit, self.limit = 0.0, self.limit + 1
                self._grown.set()


class _Bucket:
    """A token bucket refilled at per_minute / 60 per second, holding at most 1 s worth."""

    def __init__(self, per_minute: int):
        import time

        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level, self._t = self.capacity, time.monotonic()

    async def take(self, n: float) -> None:
        import asyncio
        import time

        while True:
            now = time.monotonic()
            self.level, self._t = min(self.capacity, self.level + (now - self._t) * self.rate), now
            need = min(n, self.capacity)  # a request larger than the bucket waits for a full one
            if self.level >= need:
                self.level -= n  # may go negative: later requests repay it
                return
            await asyncio.sleep((need - self.level) / self.rate)


def _error_text(raw: bytes) -> tuple[str, str | None]:
    """(one-line message, error code) of an error body, JSON or not."""
    import json

    try:
        err = json.loads(raw).get("error") or {}
        text, code = (err.get("message"), err.get("code")) if isinstance(err, dict) else (str(err), None)
    except (ValueError, AttributeError):
        text, code = None, None
    return " ".join((text or raw[:200].decode("utf-8", "replace")).split())[:300], code


class Engine:
    def __init__(self, config, key: str | None):  # config: openai_api.OpenAIConfig
        import asyncio
        import random
        from importlib.metadata import PackageNotFoundError, version

        import aiohttp  # noqa: F401 - fail here, as a MissingExtra, rather than on the loop

        self.cfg, self._key = config, key
        self.url = config.base_url.rstrip("/")
        self.retries_left = config.total_retry_budget
        self.fatal: str | None = None
        self.reached = False  # any HTTP answer at all, even an error: the server exists
        self.unreachable = 0  # connections that failed before the server ever answered
        self._rng = random.Random()  # back-off jitter only: no answer depends on it
        try:
            agent = f"AsyncOpenAI/Python {version('openai')} evalkit/{version('evalkit')}"
        except PackageNotFoundError:
            agent = "evalkit"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": agent}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        for env, header in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
            if os.environ.get(env) and "api.openai.com" in self.url:
                self.headers[header] = os.environ[env]
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="evalkit-openai", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._setup(), self.loop).result()

    async def _setup(self) -> None:
        import asyncio

        import aiohttp

        cfg = self.cfg
        self.session = aiohttp.ClientSession(
            headers=self.headers, connector=aiohttp.TCPConnector(limit=cfg.concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=cfg.timeout),
        )
        self.queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self._seq = 0  # ties in the queue keep their order (and never compare batches)
        self.gate = _Concurrency(cfg.concurrency)
        self.rpm = _Bucket(cfg.rpm) if cfg.rpm else None
        self.tpm = _Bucket(cfg.tpm) if cfg.tpm else None
        self.workers = [asyncio.ensure_future(self._worker(slot)) for slot in range(cfg.concurrency)]

    def scrub(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def run(self, jobs: list[Job], finish=None) -> Iterator[tuple[int, Any]]:
        """Yield (index, finish(index, outcome)) as answers arrive; raise FatalBackendError on the
        first fatal one.

        On Ctrl-C (while waiting here, or thrown in at a yield by the runner) the answers
        already received are yielded before the interrupt goes on, so that the runner can
        store every answer it paid for."""
        finish = finish or (lambda i, out: out)
        batch = _Batch()
        self.loop.call_soon_threadsafe(self._enqueue, batch, jobs)
        try:
            for _ in range(len(jobs)):
                try:
                    i, out = batch.out.get()
                    if isinstance(out, _Fatal):
                        raise FatalBackendError(str(out))
                    yield i, finish(i, out)
                except KeyboardInterrupt:
                    batch.cancelled = True
                    for i, out in self._drain(batch):
                        yield i, finish(i, out)
                    raise
        finally:
            batch.cancelled = True  # an abandoned or failed batch sends nothing more

    @staticmethod
    def _drain(batch: _Batch) -> Iterator[tuple[int, Any]]:
        import queue

        while True:
            try:
                i, out = batch.out.get_nowait()
            except queue.Empty:
                return
            if not isinstance(out, _Fatal):
                yield i, out

    def _enqueue(self, batch: _Batch, jobs: list[Job]) -> None:
        for i, job in enumerate(jobs):
            self._put(1, batch, i, job, 0)

    def _put(self, priority: int, batch: _Batch, i: int, job: Job, attempt: int) -> None:
        # Retries (priority 0) go before fresh requests: a retried request is the run's straggler.
        if not batch.cancelled:
            self._seq += 1
            self.queue.put_nowait((priority, self._seq, batch, i, job, attempt))

    async def _worker(self, slot: int) -> None:
        while True:
            await self.gate.admit(slot)
            _, _, batch, i, job, attempt = await self.queue.get()
            if batch.cancelled:
                continue
            try:
                out = await self._call(job, attempt)
            except Exception as exc:  # noqa: BLE001 - a bug must cost one item, not hang the run
                out = BackendError(self.scrub(f"internal error: {type(exc).__name__}: {exc}"))
            if isinstance(out, _Retry):  # the slot is free again while the request waits
                self.loop.call_later(out.wait, self._put, 0, batch, i, job, attempt + 1)
            else:
                batch.out.put((i, out))

    async def _call(self, job: Job, attempt: int) -> Any:
        """One attempt: the outcome, or a _Retry whose ``wait`` says when to try again."""
        cfg = self.cfg
        if self.fatal is not None:
            return _Fatal(self.fatal)
        if self.rpm is not None:
            await self.rpm.take(1)
        if self.tpm is not None:
            await self.tpm.take(job.tokens)
        out = await self._attempt(job)
        if not isinstance(out, _Retry):
            self.gate.record(False)
            return out
        if out.throttled:
            self.gate.record(True, out.wait)
        if self.fatal is not None:
            return _Fatal(self.fatal)
        if attempt >= cfg.max_retries:
            return BackendError(self.scrub(f"gave up after {attempt + 1} attempts: {out.reason}"))
        if self.retries_left <= 0:
            return BackendError(self.scrub(f"retry budget of the run ({cfg.total_retry_budget}) spent: {out.reason}"))
        self.retries_left -= 1
        # Full jitter (AWS's "exponential backoff and jitter"), unless the server said when.
        bound = min(30.0, cfg.retry_base_delay * 2**attempt)
        wait = out.wait * (1 + 0.1 * self._rng.random()) if out.wait is not None else self._rng.uniform(0, bound)
        log.debug("retry %d in %.2f s: %s", attempt + 1, wait, out.reason)
        return _Retry(out.reason, wait)

    async def _attempt(self, job: Job) -> Any:
        import asyncio
        import json
        import time

        import aiohttp

        start = time.perf_counter()
        try:
            async with self.session.post(self.url + job.path, data=json.dumps(job.body)) as resp:
                status, headers, raw = resp.status, resp.headers, await resp.read()
        except (TimeoutError, asyncio.TimeoutError):  # distinct types before Python 3.11
            return _Retry(f"no answer within {self.cfg.timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return self._connection_failed(exc)
        self.reached = True
        if status != 200:
            return self._http_error(status, headers, raw)
        try:
            data = json.loads(raw)
        except ValueError:  # cut off or not JSON: a broken transfer, worth another try
            return _Retry("malformed or truncated JSON in the answer")
        try:
            out = job.parse(data, time.perf_counter() - start)
        except _Malformed as exc:
            return BackendError(str(exc))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            return BackendError(f"unexpected answer from the server ({type(exc).__name__}: {exc})")
        if self.tpm is not None and getattr(out, "completion_tokens", -1) >= 0 and out.prompt_tokens >= 0:
            self.tpm.level -= out.prompt_tokens + out.completion_tokens - job.tokens
        return out

    def _connection_failed(self, exc: BaseException) -> _Retry:
        """A connection that failed. While the server has never answered, a host name that does
        not resolve, or UNREACHABLE_AFTER refused connections, make the backend fatal: retrying
        for minutes cannot reach a server that is not there, and the user must hear why."""
        import socket

        import aiohttp

        cause = getattr(exc, "os_error", None) or exc
        if isinstance(cause, socket.gaierror):
            why = "host name not found (DNS)"
        elif isinstance(cause, ConnectionRefusedError):
            why = "connection refused"
        else:
            why = f"connection failed ({type(exc).__name__})"
        if not self.reached and isinstance(exc, aiohttp.ClientConnectorError):
            self.unreachable += 1
            if isinstance(cause, socket.gaierror) or self.unreachable >= UNREACHABLE_AFTER:
                self.fatal = (f"cannot reach {self.url}: {why} on the first {self.unreachable} attempt(s); "
                              "check base_url and that the server is running")
        return _Retry(why)

    def _http_error(self, status: int, headers, raw: bytes) -> Any:
        text, code = _error_text(raw)
        text = self.scrub(text)
        if status in (401, 403) or code == "insufficient_quota":  # a 429 that waiting never ends
            env = self.cfg.api_key_env
            who = f"the API key in ${env}" if env else "the request (no API key sent: set api_key_env)"
            self.fatal = f"{self.url} rejected {who} (HTTP {status}: {text})"
            return _Fatal(self.fatal)
        if status == 404:
            self.fatal = f"{self.url}: model '{self.cfg.model}' or endpoint not found (HTTP 404: {text})"
            return _Fatal(self.fatal)
        should = headers.get("x-should-retry")  # the openai SDK obeys this header: so do we
        if should == "true" or (should != "false" and (status in (408, 409, 429) or status >= 500)):
            return _Retry(f"HTTP {status}: {text}", retry_after_seconds(headers), throttled=status in (429, 503))
        return BackendError(f"HTTP {status}: {text}")

    def close(self) -> None:
        import asyncio

        async def shutdown():
            for w in self.workers:
                w.cancel()
            await asyncio.gather(*self.workers, return_exceptions=True)
            await self.session.close()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
