"""A fake OpenAI-compatible HTTP server on 127.0.0.1, for the openai backend's tests and the
throughput benchmark.

It speaks the wire protocol evalkit uses (POST /v1/chat/completions, POST /v1/completions with
echo + logprobs, GET /v1/models and /v1/models/{id}, and the Batch API: POST /v1/files,
GET /v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id}), checks the Bearer key, and answers from a
deterministic "model": every answer and every log-probability is a hash of the model id and the
text, so a test can compute what the server will say (:func:`answer_words`,
:func:`token_logprob`, :func:`is_greedy_token`). Faults are injected at configured rates with a
seeded RNG, so a flaky provider can be replayed on demand.

Use it in a thread (``with FakeOpenAIServer(config) as server: server.base_url``) or, where the
client's CPU time must be measured alone, in another process (:func:`spawn`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")
LETTERS = ("A", "B", "C", "D", "E", "F", "G", "H")
_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class Faults:
    """Fractions of POST requests answered with each fault (drawn once per request)."""

    rate_429: float = 0.0  # 429 with Retry-After (seconds) and retry-after-ms
    rate_500: float = 0.0
    rate_503: float = 0.0  # 503 with Retry-After
    rate_reset: float = 0.0  # the connection is dropped after the request is read
    rate_slow: float = 0.0  # answered after slow_seconds (set it above the client timeout)
    rate_malformed: float = 0.0  # 200 whose body is not JSON
    rate_truncated: float = 0.0  # 200 cut off half-way (complete HTTP, or dropped mid-body)

    def pick(self, u: float) -> str | None:
        for name in ("429", "500", "503", "reset", "slow", "malformed", "truncated"):
            u -= getattr(self, f"rate_{name}")
            if u < 0:
                return name
        return None


# Named fault mixes, for the command line and the rate-limit benchmark. "moderate": a provider
# on a bad day (the mix: throttling, server errors, dropped and hanging connections).
FAULT_MIXES = {
    "none": Faults(),
    "429": Faults(rate_429=0.10),
    "moderate": Faults(rate_429=0.05, rate_500=0.02, rate_503=0.02, rate_reset=0.01, rate_slow=0.01,
                       rate_malformed=0.005, rate_truncated=0.005),
}


@dataclass(frozen=True)
class ServerConfig:
    latency: float = 0.0  # seconds added to every POST
    faults: Faults = Faults()
    seed: int = 0
    api_key: str | None = None  # expected Bearer key; None: any non-empty key
    permanent_401: bool = False
    retry_after: float = 0.05  # seconds, sent as retry-after-ms (and Retry-After, rounded up)
    slow_seconds: float = 3.0
    omit_usage: bool = False  # like some compatible servers: no "usage" in the answer
    models: tuple[str, ...] = ("gpt-4o-mini", "davinci-002")
    model_meta: dict = field(default_factory=dict)  # id -> extra fields of GET /v1/models/{id}
    # Batch API: a batch is "in_progress" for this many GET /v1/batches/{id} (the server's
    # ``batch_polls`` attribute, which a test may change while a client polls), then final.
    batch_polls: int = 1
    batch_fail_rate: float = 0.0  # lines answered with HTTP 500 in the error file (by custom_id hash)
    batch_expire: bool = False  # the batch ends "expired": every second line is never run
    # id -> function of the prompt text giving the whole answer, for a model whose answers a
    # test defines (a judge that prefers the longer answer, say); other ids answer by hash.
    responders: dict = field(default_factory=dict)


# --- the deterministic model -------------------------------------------------------------------

def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big")


def tokenize(text: str) -> list[str]:
    """Words with their leading white space (so the tokens concatenate back to the text)."""
    return _TOKEN.findall(text)


def answer_words(model: str, prompt: str) -> list[str]:
    """The words the model answers to ``prompt`` (before max_tokens and stop sequences)."""
    h = _h(model, "answer", prompt)
    return [WORDS[(h >> (4 * i)) % len(WORDS)] for i in range(1 + h % 4)]


def chat_prompt(messages: list[dict]) -> str:
    """The text a chat request is answered from: evalkit's ``GenerateRequest.as_text``."""
    return "\n\n".join(m["content"] for m in messages if m.get("content"))


def token_logprob(model: str, prev: str, tok: str) -> float:
    return -(0.05 + (_h(model, "lp", prev, tok) % 4000) / 1000)


def is_greedy_token(model: str, prev: str, tok: str) -> bool:
    return _h(model, "greedy", prev, tok) % 3 == 0


def _top(model: str, prev: str, tok: str, lp: float) -> dict[str, float]:
    # The top-1 alternative: the token itself when greedy, else a token it loses to.
    return {tok: lp} if is_greedy_token(model, prev, tok) else {" <alt>": lp / 2}


def _generate(model: str, prompt: str, body: dict, responders=None) -> tuple[str, str]:
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or 16
    words = responders[model](prompt).split(" ") if responders and model in responders else answer_words(model, prompt)
    text = " ".join(words[:limit])
    finish = "length" if len(words) > limit else "stop"
    stops = body.get("stop") or []
    for s in [stops] if isinstance(stops, str) else stops:
        if s and s in text:
            text, finish = text[: text.index(s)], "stop"
    return text, finish


def _echo_logprobs(model: str, prompt: str, gen: list[str]) -> dict:
    toks = tokenize(prompt) + gen
    offsets, lps, tops, pos = [], [], [], 0
    for i, tok in enumerate(toks):
        offsets.append(pos)
        pos += len(tok)
        if i == 0:  # like the real API: nothing to condition the first token on
            lps.append(None)
            tops.append(None)
            continue
        lp = token_logprob(model, toks[i - 1], tok)
        lps.append(lp)
        tops.append(_top(model, toks[i - 1], tok, lp))
    return {"tokens": toks, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


def _chat_logprobs(model: str, prompt: str, text: str, k: int) -> dict:
    content = []
    for i, tok in enumerate(tokenize(text)):
        cands = [tok] + [c for c in LETTERS if c != tok]
        top = [{"token": c, "logprob": -0.05 if j == 0 else -(1 + _h(model, "c", prompt, str(i), c) % 5000 / 1000)}
               for j, c in enumerate(cands)]
        top.sort(key=lambda t: -t["logprob"])
        content.append({"token": tok, "logprob": -0.05, "bytes": list(tok.encode()), "top_logprobs": top[:k]})
    return {"content": content}


def _usage(prompt: str, completion: str) -> dict:
    p, c = len(tokenize(prompt)), len(tokenize(completion))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


# --- the HTTP server ---------------------------------------------------------------------------

def _error(status: int, message: str, kind: str, code: str | None = None, headers=None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _drop(request: web.Request):
    """Close the TCP connection with a reset; aiohttp treats the cancellation as a client gone."""
    request.transport.abort()
    raise asyncio.CancelledError


class FakeOpenAIServer:
    def __init__(self, config: ServerConfig = ServerConfig(), port: int = 0, reuse_port: bool = False):
        self.config = config
        self.port = port
        self.reuse_port = reuse_port  # several processes share the port (benchmarks)
        self.stats: Counter = Counter()  # requests, faults by name, models by id
        self._rng = random.Random(config.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.batch_polls = config.batch_polls
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model:.+}", self._model)
        app.router.add_post("/v1/files", self._file_upload)
        app.router.add_get("/v1/files/{id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._batch_create)
        app.router.add_get("/v1/batches/{id}", self._batch_retrieve)
        return app

    def _auth(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if self.config.permanent_401 or not key or (self.config.api_key and key != self.config.api_key):
            self.stats["401"] += 1
            # The real API echoes (part of) the key: the client must scrub it from errors.
            return _error(401, f"Incorrect API key provided: {key}.", "invalid_request_error", "invalid_api_key")
        return None

    async def _fault(self, request: web.Request, payload: dict) -> web.StreamResponse | None:
        """None to answer normally, else the faulty response (or a dropped connection)."""
        cfg = self.config
        fault = cfg.faults.pick(self._rng.random())
        if fault is None:
            return None
        self.stats[fault] += 1
        wait = {"retry-after-ms": str(int(cfg.retry_after * 1000)), "Retry-After": str(math.ceil(cfg.retry_after))}
        if fault == "429":
            return _error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", wait)
        if fault in ("500", "503"):
            return _error(int(fault), "The server had an error", "server_error", None, wait if fault == "503" else None)
        if fault == "reset":
            return _drop(request)
        if fault == "slow":
            await asyncio.sleep(cfg.slow_seconds)
            return None
        if fault == "malformed":
            return web.Response(status=200, text="<html>Bad gateway</html>", content_type="application/json")
        whole = json.dumps(payload).encode()
        if self._rng.random() < 0.5:  # a complete HTTP message whose JSON stops half-way
            return web.Response(status=200, body=whole[: len(whole) // 2], content_type="application/json")
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Content-Length": str(len(whole))})
        await resp.prepare(request)
        await resp.write(whole[: len(whole) // 2])
        return _drop(request)  # fewer bytes than Content-Length promised

    async def _answer(self, request: web.Request, build) -> web.StreamResponse:
        denied = self._auth(request)
        if denied is not None:
            return denied
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        self.stats["requests"] += 1
        self.stats[f"model:{body.get('model')}"] += 1
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        payload = build(body)
        if self.config.omit_usage:
            payload.pop("usage", None)
        faulty = await self._fault(request, payload)
        if faulty is None:
            self.stats["answered"] += 1
        return faulty if faulty is not None else web.json_response(payload)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, self._chat_payload)

    def _chat_payload(self, body: dict) -> dict:
        if True:  # (kept at this depth: the body of the former nested build function)
            model, prompt = body["model"], chat_prompt(body["messages"])
            text, finish = _generate(model, prompt, body, self.config.responders)
            logprobs = _chat_logprobs(model, prompt, text, body.get("top_logprobs") or 0) if body.get("logprobs") else None
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                      "logprobs": logprobs}
            return {"id": f"chatcmpl-{_h(prompt):x}", "object": "chat.completion", "created": 1700000000,
                    "model": model, "choices": [choice], "usage": _usage(prompt, text)}

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, self._completions_payload)

    def _completions_payload(self, body: dict) -> dict:
        if True:  # (kept at this depth: the body of the former nested build function)
            model, prompts = body["model"], body["prompt"]
            choices, usage = [], Counter()
            for i, prompt in enumerate([prompts] if isinstance(prompts, str) else prompts):
                text, finish = _generate(model, prompt, body, self.config.responders)
                gen = tokenize(" " + text) if text else []
                if body.get("max_tokens") == 0:
                    gen, finish = [], "length"
                out = "".join(gen)
                echo = prompt + out if body.get("echo") else out
                lp = _echo_logprobs(model, prompt, gen) if body.get("echo") and body.get("logprobs") is not None else None
                choices.append({"index": i, "text": echo, "logprobs": lp, "finish_reason": finish})
                usage.update(_usage(prompt, out))
            return {"id": "cmpl-fake", "object": "text_completion", "created": 1700000000, "model": model,
                    "choices": choices, "usage": dict(usage)}

    # --- the Batch API: files in memory, a batch answered when it is polled to its end ---------

    async def _file_upload(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        form = await request.post()
        upload, purpose = form.get("file"), form.get("purpose")
        if upload is None or purpose != "batch":
            return _error(400, "a file and purpose=batch are required", "invalid_request_error")
        data = upload.file.read()
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = data
        self.stats["files_uploaded"] += 1
        return web.json_response(self._file_object(fid, upload.filename, "batch"))

    def _file_object(self, fid: str, name: str, purpose: str) -> dict:
        return {"id": fid, "object": "file", "bytes": len(self.files[fid]), "created_at": 1700000000,
                "filename": name, "purpose": purpose, "status": "processed"}

    async def _file_content(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        fid = request.match_info["id"]
        if fid not in self.files:
            return _error(404, f"No such File object: {fid}", "invalid_request_error")
        return web.Response(body=self.files[fid], content_type="application/octet-stream")

    async def _batch_create(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        body = await request.json()
        if body.get("input_file_id") not in self.files or body.get("endpoint") not in ("/v1/chat/completions", "/v1/completions"):
            return _error(400, "bad input_file_id or endpoint", "invalid_request_error")
        bid = f"batch_{len(self.batches) + 1}"
        lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
        self.batches[bid] = {
            "id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
            "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 1700000000,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0}, "metadata": body.get("metadata"),
            "_lines": lines, "_polls": 0,
        }
        self.stats["batches_created"] += 1
        return web.json_response(self._public(self.batches[bid]))

    @staticmethod
    def _public(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    async def _batch_retrieve(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "No such batch", "invalid_request_error")
        self.stats["batch_polls"] += 1
        if batch["status"] in ("validating", "in_progress"):
            batch["_polls"] += 1
            batch["status"] = "in_progress"
            if batch["_polls"] > self.batch_polls:
                self._finish_batch(batch)
        return web.json_response(self._public(batch))

    def _finish_batch(self, batch: dict) -> None:
        build = self._chat_payload if batch["endpoint"] == "/v1/chat/completions" else self._completions_payload
        out, err = [], []
        for i, line in enumerate(batch["_lines"]):
            cid = line["custom_id"]
            if self.config.batch_expire and i % 2 == 1:
                err.append({"id": f"req_{i}", "custom_id": cid, "response": None,
                            "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
            elif _h(cid, "fail") % 1000 < self.config.batch_fail_rate * 1000:
                err.append({"id": f"req_{i}", "custom_id": cid, "error": None, "response": {
                    "status_code": 500, "request_id": f"req_{i}",
                    "body": {"error": {"message": "The server had an error", "type": "server_error"}}}})
            else:
                out.append({"id": f"req_{i}", "custom_id": cid, "error": None,
                            "response": {"status_code": 200, "request_id": f"req_{i}", "body": build(line["body"])}})
                self.stats["batch_answered"] += 1
        for kind, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                fid = f"file-{len(self.files) + 1}"
                self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[kind] = fid
        batch["status"] = "expired" if self.config.batch_expire else "completed"
        batch["request_counts"] = {"total": len(batch["_lines"]), "completed": len(out), "failed": len(err)}

    async def _models(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in self.config.models]
        return web.json_response({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        mid = request.match_info["model"]
        self.stats["get_model"] += 1
        meta = self.config.model_meta.get(mid, {})
        return web.json_response({"id": mid, "object": "model", "created": 1700000000, "owned_by": "fake", **meta})

    # --- lifecycle: a thread with its own event loop ------------------------------------------

    def start(self) -> "FakeOpenAIServer":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def boot():
            self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024, reuse_port=self.reuse_port or None)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]

        def serve():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(boot())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            fut.result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def spawn(latency: float = 0.0, api_key: str | None = None, processes: int = 1, faults: str = "none",
          seed: int = 0, retry_after: float | None = None, slow_seconds: float | None = None,
          ) -> tuple[list[subprocess.Popen], str]:
    """The server in child processes sharing one port, so that a benchmark's client has its CPU
    to itself: (processes, base_url). ``faults`` names a FAULT_MIXES entry. Stop them with
    SIGINT to have each print its counts (``STATS {json}``), or terminate them."""
    procs: list[subprocess.Popen] = []
    port = 0
    for i in range(processes):
        cmd = [sys.executable, __file__, "--latency", str(latency), "--port", str(port), "--faults", faults,
               "--seed", str(seed + i)]
        cmd += (["--api-key", api_key] if api_key else []) + (["--reuse-port"] if processes > 1 else [])
        cmd += ["--retry-after", str(retry_after)] if retry_after is not None else []
        cmd += ["--slow-seconds", str(slow_seconds)] if slow_seconds is not None else []
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        line = proc.stdout.readline()  # "PORT <n>" once listening
        if not line.startswith("PORT "):
            for p in procs:
                p.kill()
            raise RuntimeError(f"the fake server did not start: {line!r}")
        port = int(line.split()[1])
    return procs, f"http://127.0.0.1:{port}/v1"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--api-key", default=None)
    p.add_argument("--reuse-port", action="store_true")
    p.add_argument("--faults", choices=sorted(FAULT_MIXES), default="none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--retry-after", type=float, default=ServerConfig.retry_after)
    p.add_argument("--slow-seconds", type=float, default=ServerConfig.slow_seconds)
    args = p.parse_args(argv)
    config = ServerConfig(latency=args.latency, api_key=args.api_key, faults=FAULT_MIXES[args.faults], seed=args.seed,
                          retry_after=args.retry_after, slow_seconds=args.slow_seconds)
    server = FakeOpenAIServer(config, port=args.port, reuse_port=args.reuse_port).start()
    print(f"PORT {server.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("STATS " + json.dumps(dict(server.stats)), flush=True)
        server.stop()


if __name__ == "__main__":
    main()
