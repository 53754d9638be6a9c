"""Throughput under rate limits: evalkit against a bare aiohttp loop, side by side, on the same
fault-injecting server.

The demo's tasks run over ``backend: openai`` (chat: the generate, classification and multiple
choice tasks, about 1,000 requests) against tests/fake_openai_server.py, started as a separate
process on 127.0.0.1 with a fixed latency and a seeded fault mix. evalkit runs through
``run_models`` with a fresh cache (planning, requests, scoring, cache writes). The bare loop sends
the same request bodies with the same concurrency, timeout and retry rules, and frees its slot
while it waits out Retry-After or a back-off: the floor a client can reach against that server.

Scenarios: fault-free; 10 % HTTP 429 with Retry-After 1 s; the server's "moderate" mix (429,
500, 503, dropped connections, hanging requests, broken JSON). Every run's answers must equal
the fault-free run's, evalkit's and the loop's alike.

    python benchmarks/rate_limits.py [--latency 0.3] [--concurrency 32] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

KEY_ENV = "EVALKIT_BENCH_KEY"
MODEL = "gpt-4o-mini"
SCENARIOS = (("fault-free", "none"), ("10 % 429, Retry-After 1 s", "429"), ("moderate mix", "moderate"))
TIMEOUT = 2.0  # per attempt, both clients: a hanging request (5 s) times out and is retried
RETRY_BASE = 0.5  # first back-off bound, doubling: evalkit's default
MAX_RETRIES = 6


def write_project(root: Path, base_url: str, concurrency: int) -> Path:
    tasks = sorted(str(p) for p in (HERE / "demo" / "tasks").glob("*.yaml"))
    model = {"backend": "openai", "model": MODEL, "base_url": base_url, "api_key_env": KEY_ENV,
             "concurrency": concurrency, "timeout": TIMEOUT, "retry_base_delay": RETRY_BASE,
             "max_retries": MAX_RETRIES, "total_retry_budget": 10_000}
    (root / "evalkit.yaml").write_text(json.dumps({"cache_dir": "cache", "tasks": tasks, "models": {"m": model}}))
    return root / "evalkit.yaml"


def planned_requests(project, limit):
    """Every request evalkit sends for model m (each once): {its cache key: (a key that does not
    depend on the server's port, the request)}."""
    from evalkit.runner.cache import request_key
    from evalkit.suites.items import load_items
    from evalkit.tasks import task_type
    from evalkit.tasks.base import PromptFormat, Unsupported

    backend, cfg = project.backend("m"), project.model("m")
    fmt, identity, reqs = PromptFormat(cfg.system_prompt, cfg.template), backend.identity(), {}
    for _, spec in project.selected_tasks(None):
        tt = task_type(spec)
        try:
            method = tt.method(backend.supports)
        except Unsupported:
            continue  # perplexity over chat: skipped by evalkit too
        for item in load_items(spec, limit):
            for r in tt.requests(item, fmt, method):
                reqs.setdefault(request_key(identity, r), (request_key({"model": MODEL}, r), r))
    return backend, reqs


def run_evalkit(project, limit) -> tuple[float, dict]:
    from evalkit.runner.run import RunOptions, run_models
    from evalkit.runner.cache import ResponseCache

    start = time.perf_counter()
    run = run_models(project, ["m"], RunOptions(limit=limit))[0]
    seconds = time.perf_counter() - start
    errors = [s["error"] for s in run.samples if s["status"] == "error"]
    if errors:
        raise SystemExit(f"evalkit: {len(errors)} failed items, e.g. {errors[0]}")
    _, reqs = planned_requests(project, limit)
    cache = ResponseCache(project.cache_dir / "responses.sqlite")
    try:
        answers = {reqs[k][0]: out.text for k, out in cache.get_many(list(reqs)).items()}
    finally:
        cache.close()
    scored = {(s["task"], s["id"]): (s["response"], s["metrics"]) for s in run.samples}
    return seconds, {"answers": answers, "scored": scored}


async def _bare(base_url: str, jobs: dict, concurrency: int, key: str) -> dict:
    """The bare loop: one coroutine per request, a semaphore held only while a request is on
    the wire; Retry-After honoured, else full-jitter back-off; the same retry rules."""
    import aiohttp

    rng, sem, out = random.Random(0), asyncio.Semaphore(concurrency), {}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)

    async def one(session, k, job):
        for attempt in range(MAX_RETRIES + 1):
            wait = None
            async with sem:
                try:
                    async with session.post(base_url + job.path, data=json.dumps(job.body)) as resp:
                        status, raw, h = resp.status, await resp.read(), resp.headers
                    if status == 200:
                        out[k] = job.parse(json.loads(raw), 0.0).text
                        return
                    if status not in (408, 409, 429) and status < 500:
                        raise SystemExit(f"bare loop: HTTP {status}")
                    if h.get("retry-after-ms"):
                        wait = float(h["retry-after-ms"]) / 1000
                    elif h.get("retry-after"):
                        wait = float(h["retry-after"])
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
                    pass
            await asyncio.sleep(wait if wait is not None else rng.uniform(0, min(30.0, RETRY_BASE * 2**attempt)))
        raise SystemExit(f"bare loop: gave up on a request after {MAX_RETRIES + 1} attempts")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one(session, k, job) for k, job in jobs.items()))
    return out


def run_bare(project, limit, base_url: str, concurrency: int) -> tuple[float, dict]:
    backend, reqs = planned_requests(project, limit)
    jobs = {stable: backend._job(r) for stable, r in reqs.values()}
    start = time.perf_counter()
    answers = asyncio.run(_bare(base_url, jobs, concurrency, os.environ[KEY_ENV]))
    return time.perf_counter() - start, {"answers": answers}


def one_scenario(which: str, mix: str, args) -> tuple[float, dict, dict]:
    """Run ``which`` (evalkit or bare) against a fresh server: (seconds, results, server counts)."""
    from fake_openai_server import spawn

    from evalkit.config import load_project

    procs, base_url = spawn(latency=args.latency, api_key=os.environ[KEY_ENV], faults=mix, seed=args.seed,
                            retry_after=1.0, slow_seconds=5.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = load_project(write_project(Path(tmp), base_url, args.concurrency))
            if which == "evalkit":
                seconds, results = run_evalkit(project, args.limit)
            else:
                seconds, results = run_bare(project, args.limit, base_url, args.concurrency)
    finally:
        stats = {}
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            for line in proc.communicate(timeout=30)[0].splitlines():
                if line.startswith("STATS "):
                    stats = json.loads(line[6:])
    return seconds, results, stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="evalkit vs a bare aiohttp loop under injected rate limits")
    p.add_argument("--latency", type=float, default=0.3, help="seconds the server takes per answer")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="items per task (default: all)")
    p.add_argument("--seed", type=int, default=7, help="the server's fault RNG")
    args = p.parse_args(argv)
    os.environ[KEY_ENV] = "sk-bench-not-a-secret"
    import evalkit.backends.openai_api  # noqa: F401 - imports before the clock starts

    one_scenario("evalkit", "none", argparse.Namespace(**{**vars(args), "limit": 2}))  # warm-up: imports, caches
    rows, reference = [], None
    for label, mix in SCENARIOS:
        row = {"label": label}
        for which in ("evalkit", "bare"):
            seconds, results, stats = one_scenario(which, mix, args)
            row[which], row[f"{which}_stats"] = seconds, stats
            if reference is None:
                reference = results  # the fault-free evalkit run
            if results["answers"] != reference["answers"]:
                raise SystemExit(f"{which}, {label}: answers differ from the fault-free run")
            if "scored" in results and results["scored"] != reference["scored"]:
                raise SystemExit(f"{which}, {label}: scored items differ from the fault-free run")
            print(f"  {label}: {which} {seconds:.1f} s", file=sys.stderr)
        rows.append(row)

    n = len(reference["answers"])
    print(f"\n{n} chat requests (the demo's tasks), server latency {args.latency * 1000:g} ms, concurrency "
          f"{args.concurrency}, timeout {TIMEOUT:g} s; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}\n")
    print("| faults | injected (evalkit run) | evalkit s | bare loop s | evalkit / bare | evalkit / own fault-free | bare / own fault-free |")
    print("|---|---|---:|---:|---:|---:|---:|")
    clean = rows[0]
    ok = True
    for row in rows:
        faults = {k: v for k, v in row["evalkit_stats"].items() if k not in ("requests", "answered") and not k.startswith(("model:", "get_"))}
        injected = ", ".join(f"{v} x {k}" for k, v in sorted(faults.items())) or "-"
        vs_bare, vs_clean = row["evalkit"] / row["bare"], row["evalkit"] / clean["evalkit"]
        print(f"| {row['label']} | {injected} | {row['evalkit']:.1f} | {row['bare']:.1f} | {vs_bare:.2f}x | "
              f"{vs_clean:.2f}x | {row['bare'] / clean['bare']:.2f}x |")
        ok &= row["label"] != SCENARIOS[1][0] or (vs_bare <= 1.3 and vs_clean <= 1.5)
    print("\nanswers and scored items identical in every run. Targets (10 % 429): evalkit within 1.3x of the "
          "bare loop and 1.5x of its own fault-free time: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
