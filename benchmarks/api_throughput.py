"""Throughput of the openai backend, end to end through evalkit's runner, against lm-eval's
``local-chat-completions`` on the same local server.

The fake OpenAI server (tests/fake_openai_server.py) runs in separate processes with a fixed
latency, so this process's CPU time is the client's alone. For each concurrency, evalkit runs a
generated task of N generate items through ``run_model`` (prompt rendering, requests, scoring
and cache writes, with a fresh cache each time); lm-eval answers the same N chat requests through
``LocalChatCompletion.generate_until`` (its model class alone: no task machinery, which favours
it). Library imports happen before the clock starts, for both, except the openai SDK, which
evalkit's first run imports on a side thread to read the model's metadata (about 0.4 s of CPU).

    python benchmarks/api_throughput.py [--requests 2000] [--latency 0.05] [--concurrency 8 32 128]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

KEY_ENV = "EVALKIT_BENCH_KEY"
MODEL = "gpt-4o-mini"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return r.ru_utime + r.ru_stime


def write_project(root: Path, base_url: str, n: int, concurrency: int) -> Path:
    data = root / "tasks" / "data"
    data.mkdir(parents=True)
    rows = (json.dumps({"id": f"q{i}", "question": f"What is item {i}?", "answer": "alpha"}) for i in range(n))
    (data / "qa.jsonl").write_text("\n".join(rows) + "\n")
    (root / "tasks" / "qa.yaml").write_text(
        'name: qa\ntype: generate\ndata: data/qa.jsonl\nfields: {target: answer}\n'
        'prompt: "Question: {question}\\nAnswer:"\ngeneration: {max_tokens: 8}\nmetrics: [exact_match, f1]\n'
    )
    model = {"backend": "openai", "model": MODEL, "base_url": base_url, "api_key_env": KEY_ENV,
             "concurrency": concurrency, "timeout": 30}
    cfg = {"cache_dir": "cache", "tasks": ["tasks/*.yaml"], "models": {"m": model}}
    (root / "evalkit.yaml").write_text(json.dumps(cfg))
    return root / "evalkit.yaml"


def bench_evalkit(base_url: str, n: int, concurrency: int, chunk_size: int | None) -> tuple[float, float]:
    from evalkit.config import load_project
    from evalkit.runner.run import RunOptions, run_models

    with tempfile.TemporaryDirectory() as tmp:
        project = load_project(write_project(Path(tmp), base_url, n, concurrency))
        chunk = chunk_size or getattr(project.backend("m"), "preferred_chunk_size", 64)
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = run_models(project, ["m"], RunOptions(chunk_size=chunk))[0]  # closes the backend
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    task = result.tasks[0]
    if task.n != n or task.n_errors or task.requests != n:
        raise SystemExit(f"evalkit run incomplete: n={task.n} errors={task.n_errors} requests={task.requests}")
    return n / wall, cpu / n * 1000


def bench_lm_eval(base_url: str, n: int, concurrency: int) -> tuple[float, float] | None:
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.api_models import JsonChatStr
        from lm_eval.models.openai_completions import LocalChatCompletion
    except ImportError as exc:
        print(f"lm-eval not available ({exc}): pip install torch==2.13.0 'lm-eval[api]'", file=sys.stderr)
        return None
    lm = LocalChatCompletion(model=MODEL, base_url=base_url + "/chat/completions", num_concurrent=concurrency,
                             max_retries=3, tokenized_requests=False, tokenizer_backend=None, timeout=30)
    gen = {"until": [], "max_gen_toks": 8, "temperature": 0}
    chats = [[{"role": "user", "content": f"Question: What is item {i}?\nAnswer:"}] for i in range(n)]
    reqs = [Instance("generate_until", {}, (JsonChatStr(json.dumps(c)), dict(gen)), i) for i, c in enumerate(chats)]
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = lm.generate_until(reqs, disable_tqdm=True)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if len(out) != n or not all(out):
        raise SystemExit("lm-eval run incomplete")
    return n / wall, cpu / n * 1000


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="openai backend throughput vs lm-eval local-chat-completions")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--chunk-size", type=int, default=None, help="runner chunk (default: the backend's preferred)")
    p.add_argument("--server-processes", type=int, default=max(1, min(4, (os.cpu_count() or 2) // 4)))
    p.add_argument("--skip-lm-eval", action="store_true")
    args = p.parse_args(argv)

    from fake_openai_server import spawn

    os.environ[KEY_ENV] = "sk-bench-not-a-secret"
    os.environ.setdefault("TQDM_DISABLE", "1")  # lm-eval's async path shows a bar whatever it is told
    import evalkit.backends.openai_api  # noqa: F401 - imports before the clock starts

    procs, base_url = spawn(latency=args.latency, api_key=os.environ[KEY_ENV], processes=args.server_processes)
    rows = []
    try:
        os.environ["OPENAI_API_KEY"] = os.environ[KEY_ENV]  # lm-eval reads this one
        for c in args.concurrency:
            ek = bench_evalkit(base_url, args.requests, c, args.chunk_size)
            lm = None if args.skip_lm_eval else bench_lm_eval(base_url, args.requests, c)
            rows.append((c, ek, lm))
            print(f"  done: concurrency {c}", file=sys.stderr)
    finally:
        for proc in procs:
            proc.terminate()
    print(f"\n{args.requests} generate requests, server latency {args.latency * 1000:g} ms, "
          f"{args.server_processes} server process(es); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    print("| concurrency | evalkit req/s | % of ideal | evalkit client CPU ms/req | lm-eval req/s | lm-eval CPU ms/req | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c, (rps, cpu), lm in rows:
        ideal = c / args.latency
        lm_cols = f"{lm[0]:,.0f} | {lm[1]:.2f} | {rps / lm[0]:.2f}x" if lm else "- | - | -"
        print(f"| {c} | {rps:,.0f} | {100 * rps / ideal:.0f} % | {cpu:.2f} | {lm_cols} |")
    print("\nideal = concurrency / latency; ratio = evalkit req/s / lm-eval req/s; CPU = this process, all threads.")


if __name__ == "__main__":
    main()
