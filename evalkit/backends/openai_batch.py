"""``mode: batch`` for the openai backend: OpenAI's Batch API, at half the list price.

The requests go into a JSONL file (one ``{"custom_id", "method", "url", "body"}`` line each,
``custom_id`` = the request's cache key), which is uploaded (POST /files, purpose ``batch``);
a batch is created on it (POST /batches) and polled (GET /batches/{id}) until it is final; its
output and error files are downloaded and every line is handed back by custom_id.

A batch takes minutes to hours, so a killed process must not pay twice: the batch id is
written next to the cache (``<cache>/openai-batches/<model>/<batch id>.json``, with the
custom_ids it holds) before the first poll, and a later run whose misses include all of a
pending batch's custom_ids polls that batch instead of creating another. The file is removed
once the batch's answers are handed over (the runner then stores them in the cache).

What a batch does not answer (a failed line, an expired or failed batch) comes back as an
error string; the backend retries those lines one by one through the online API.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import FatalBackendError

log = logging.getLogger("evalkit.openai")
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class PendingBatch:
    batch_id: str
    endpoint: str
    custom_ids: list[str]
    created: float


class BatchClient:
    """Creates, resumes and collects batches for one model (``state_dir`` is its own folder)."""

    def __init__(self, config, key: str | None, state_dir: Path | None, sleep=time.sleep):
        self.cfg = config
        self.key = key
        self.state_dir = state_dir  # None (--no-cache): a killed run cannot resume its batch
        self._sleep = sleep
        self._client = None

    def client(self):
        if self._client is None:
            try:
                import openai
            except ImportError:
                from evalkit.errors import MissingExtra

                raise MissingExtra("openai", "openai") from None
            self._client = openai.OpenAI(
                api_key=self.key or "none", base_url=self.cfg.base_url, max_retries=self.cfg.max_retries, timeout=self.cfg.timeout,
            )
        return self._client

    # --- the whole cycle -------------------------------------------------------------------

    def answer(self, lines: dict[str, tuple[str, dict]]) -> Iterator[tuple[str, Any]]:
        """``lines``: custom_id -> (endpoint path such as "/chat/completions", body). Yields
        (custom_id, response body dict) for each line answered with HTTP 200, and
        (custom_id, reason str) for each line the batch did not answer."""
        remaining = dict(lines)
        for pending in self._pending():
            if pending.custom_ids and all(c in remaining for c in pending.custom_ids):
                log.info("resuming batch %s (%d requests)", pending.batch_id, len(pending.custom_ids))
                yield from self._collect(pending)
                for c in pending.custom_ids:
                    remaining.pop(c, None)
        by_endpoint: dict[str, list[str]] = {}
        for cid, (path, _) in remaining.items():
            by_endpoint.setdefault(path, []).append(cid)
        for path, ids in by_endpoint.items():
            step = self.cfg.batch_max_requests
            for start in range(0, len(ids), step):
                chunk = ids[start : start + step]
                yield from self._collect(self._create("/v1" + path, {c: remaining[c][1] for c in chunk}))

    # --- create ----------------------------------------------------------------------------

    def _create(self, endpoint: str, bodies: dict[str, dict]) -> PendingBatch:
        data = "".join(
            json.dumps({"custom_id": cid, "method": "POST", "url": endpoint, "body": body}, ensure_ascii=False) + "\n"
            for cid, body in bodies.items()
        ).encode("utf-8", "surrogatepass")
        client = self.client()
        try:
            upload = client.files.create(file=("evalkit-batch.jsonl", data), purpose="batch")
            batch = client.batches.create(
                input_file_id=upload.id, endpoint=endpoint, completion_window=self.cfg.batch_completion_window,
                metadata={"created_by": "evalkit"},
            )
        except Exception as exc:  # noqa: BLE001 - see _fatal_or_raise
            _fatal_or_raise(exc, self.cfg.base_url)
            raise
        pending = PendingBatch(batch.id, endpoint, list(bodies), time.time())
        self._save(pending)
        log.info("created batch %s with %d requests", batch.id, len(bodies))
        return pending

    # --- poll and download -----------------------------------------------------------------

    def _collect(self, pending: PendingBatch) -> Iterator[tuple[str, Any]]:
        batch = self._poll(pending)
        seen: set[str] = set()
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = self.client().files.content(file_id).text
            for row in _rows(text):
                cid = row.get("custom_id")
                if cid not in pending.custom_ids or cid in seen:
                    continue
                seen.add(cid)
                resp = row.get("response") or {}
                if resp.get("status_code") == 200 and isinstance(resp.get("body"), dict):
                    yield cid, resp["body"]
                else:
                    yield cid, _reason(row)
        for cid in pending.custom_ids:
            if cid not in seen:
                yield cid, f"batch {pending.batch_id} ended '{batch.status}' without this request"
        self._forget(pending)

    def _poll(self, pending: PendingBatch):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        columns = (TextColumn("batch {task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(pending.batch_id, total=len(pending.custom_ids), status="")
            while True:
                try:
                    batch = self.client().batches.retrieve(pending.batch_id)
                except Exception as exc:  # noqa: BLE001 - see _fatal_or_raise
                    _fatal_or_raise(exc, self.cfg.base_url)
                    raise
                counts = batch.request_counts
                done = (counts.completed + counts.failed) if counts else 0
                bar.update(task, completed=done, status=batch.status)
                log.info("batch %s: %s, %d of %d done", pending.batch_id, batch.status, done, len(pending.custom_ids))
                if batch.status in FINAL:
                    return batch
                self._sleep(self.cfg.batch_poll_interval)

    # --- the state next to the cache -------------------------------------------------------

    def _pending(self) -> list[PendingBatch]:
        if self.state_dir is None or not self.state_dir.is_dir():
            return []
        out = []
        for path in sorted(self.state_dir.glob("*.json")):
            try:
                out.append(PendingBatch(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("ignoring unreadable batch state %s: %s", path, exc)
        return sorted(out, key=lambda p: p.created)

    def _save(self, pending: PendingBatch) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / f"{_safe(pending.batch_id)}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(pending)), encoding="utf-8")
        os.replace(tmp, path)  # a kill mid-write leaves the old state or the new, never half

    def _forget(self, pending: PendingBatch) -> None:
        if self.state_dir is not None:
            (self.state_dir / f"{_safe(pending.batch_id)}.json").unlink(missing_ok=True)


def _rows(text: str) -> Iterator[dict]:
    for line in text.splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a broken line: its request counts as unanswered and is retried
            if isinstance(row, dict):
                yield row


def _reason(row: dict) -> str:
    err = row.get("error") or ((row.get("response") or {}).get("body") or {}).get("error") or {}
    status = (row.get("response") or {}).get("status_code")
    msg = err.get("message") if isinstance(err, dict) else str(err)
    code = err.get("code") if isinstance(err, dict) else None
    return f"batch line failed (HTTP {status}, {code}): {msg}" if status else f"batch line failed ({code}): {msg}"


def _safe(batch_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in batch_id)


def _fatal_or_raise(exc: Exception, base_url: str) -> None:
    """A rejected key or a missing endpoint cannot be fixed by a retry: stop the run."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        raise FatalBackendError(f"{base_url} rejected the API key (HTTP {status})") from None
    if status == 404:
        raise FatalBackendError(f"{base_url} has no Batch API (HTTP 404 on files or batches); use mode: online") from None


# --- the backend's side: jobs in, answers (or online retries) out ---------------------------


def submit_batch(backend, requests) -> Iterator[tuple[int, Any]]:
    """``OpenAIBackend.submit`` in batch mode: every request through one batch per endpoint,
    priced at the batch rate; lines the batch did not answer, or answered with something that
    does not parse, are sent again one by one online (at the list rate)."""
    from dataclasses import replace

    from evalkit.backends.base import BackendError
    from evalkit.backends.openai_api import _Malformed
    from evalkit.backends.pricing import BATCH_DISCOUNT
    from evalkit.runner.cache import digest, request_key

    identity = backend.identity()
    jobs = [backend._job(r) for r in requests]
    by_id: dict[str, list[int]] = {}
    for i, r in enumerate(requests):
        by_id.setdefault(request_key(identity, r), []).append(i)
    lines = {cid: (jobs[idx[0]].path, jobs[idx[0]].body) for cid, idx in by_id.items()}
    state = backend._batch_dir / digest(identity)[:16] if backend._batch_dir is not None else None
    client = BatchClient(backend.config, backend._api_key(), state)
    retry: list[int] = []
    done: set[str] = set()
    try:
        for cid, got in client.answer(lines):
            done.add(cid)
            for i in by_id[cid]:
                if isinstance(got, str):
                    log.info("retrying online: %s", got)
                    retry.append(i)
                    continue
                try:
                    out = backend._finish(requests[i], jobs[i].parse(got, 0.0))
                except (_Malformed, KeyError, IndexError, TypeError, ValueError) as exc:
                    log.info("retrying online: a batch answer did not parse (%s)", exc)
                    retry.append(i)
                    continue
                extra = dict(out.extra, batch=True)
                if extra.get("cost_usd") is not None:
                    extra["cost_usd"] = extra["cost_usd"] * BATCH_DISCOUNT
                yield i, replace(out, extra=extra)
    except FatalBackendError:
        raise
    except Exception as exc:  # noqa: BLE001 - the batch API failed: the run is incomplete, a rerun resumes
        reason = f"batch API: {type(exc).__name__}: {exc}; run the same command again to resume the batch"
        for cid, idx in by_id.items():
            if cid not in done:
                for i in idx:
                    yield i, BackendError(reason)
        return
    if retry:
        engine = backend._start()
        yield from ((retry[j], out) for j, out in engine.run([jobs[i] for i in retry], lambda j, out: backend._finish(requests[retry[j]], out)))
