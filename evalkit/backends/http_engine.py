"""A lean async HTTP engine for OpenAI-style JSON APIs: an asyncio loop on a daemon thread,
bounded and adaptive (AIMD) concurrency, retries with full-jitter back-off that honour
Retry-After, optional requests- and tokens-per-minute buckets, and a retry budget per run.

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


class _Aimd:
    """Additive-increase, multiplicative-decrease limit on requests in flight: a burst of 429s
    halves it (once per round of requests, as TCP does), every `limit` successes add one."""

    def __init__(self, maximum: int):
        import asyncio

        self.limit = self.maximum = maximum
        self.epoch = 0  # bumped at each decrease; a 429 from an older round does not count again
        self._credit = 0.0
        self._grown = asyncio.Event()

    async def admit(self, slot: int) -> None:
        while slot >= self.limit:
            self._grown.clear()
            await self._grown.wait()

    def success(self) -> None:
        if self.limit < self.maximum:
            self._credit += 1.0 / self.limit
            if self._credit >= 1.0:
                self._credit, self.limit = 0.0, self.limit + 1
                self._grown.set()

    def throttled(self, epoch: int) -> None:
        if epoch == self.epoch:
            self.epoch += 1
            self.limit, self._credit = max(1, self.limit // 2), 0.0


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
        self.queue: asyncio.Queue = asyncio.Queue()
        self.aimd = _Aimd(cfg.concurrency)
        self.rpm = _Bucket(cfg.rpm) if cfg.rpm else None
        self.tpm = _Bucket(cfg.tpm) if cfg.tpm else None
        self.workers = [asyncio.ensure_future(self._worker(slot)) for slot in range(cfg.concurrency)]

    def scrub(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, Any]]:
        """Yield (index, outcome) as answers arrive; raise FatalBackendError on the first fatal one."""
        batch = _Batch()
        self.loop.call_soon_threadsafe(self._enqueue, batch, jobs)
        try:
            for _ in range(len(jobs)):
                i, out = batch.out.get()
                if isinstance(out, _Fatal):
                    raise FatalBackendError(str(out))
                yield i, out
        finally:
            batch.cancelled = True  # an abandoned or failed batch sends nothing more

    def _enqueue(self, batch: _Batch, jobs: list[Job]) -> None:
        for i, job in enumerate(jobs):
            self.queue.put_nowait((batch, i, job))

    async def _worker(self, slot: int) -> None:
        while True:
            await self.aimd.admit(slot)
            batch, i, job = await self.queue.get()
            if batch.cancelled:
                continue
            try:
                out = await self._call(job)
            except Exception as exc:  # noqa: BLE001 - a bug must cost one item, not hang the run
                out = BackendError(self.scrub(f"internal error: {type(exc).__name__}: {exc}"))
            batch.out.put((i, out))

    async def _call(self, job: Job) -> Any:
        import asyncio

        cfg, attempt = self.cfg, 0
        while True:
            if self.fatal is not None:
                return _Fatal(self.fatal)
            if self.rpm is not None:
                await self.rpm.take(1)
            if self.tpm is not None:
                await self.tpm.take(job.tokens)
            epoch = self.aimd.epoch
            out = await self._attempt(job)
            if not isinstance(out, _Retry):
                self.aimd.success()
                return out
            if out.throttled:
                self.aimd.throttled(epoch)
            if attempt >= cfg.max_retries:
                return BackendError(self.scrub(f"gave up after {attempt + 1} attempts: {out.reason}"))
            if self.retries_left <= 0:
                return BackendError(self.scrub(f"retry budget of the run ({cfg.total_retry_budget}) spent: {out.reason}"))
            self.retries_left -= 1
            attempt += 1
            # Full jitter (AWS's "exponential backoff and jitter"), unless the server said when.
            bound = min(30.0, cfg.retry_base_delay * 2 ** (attempt - 1))
            wait = out.wait * (1 + 0.1 * self._rng.random()) if out.wait is not None else self._rng.uniform(0, bound)
            log.debug("retry %d in %.2f s: %s", attempt, wait, out.reason)
            await asyncio.sleep(wait)

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
            return _Retry(f"connection failed ({type(exc).__name__})")
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
