"""kill -9 in the middle of a run, then the same command again: results identical to an
uninterrupted run, and only the missing answers are computed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import TESTS, make_project
from evalkit.runner.cache import ANSWERS

SLOW = (
    "  base: {backend: 'fakes:SlowNgram', order: 6, train: [corpora/general.txt]}\n"
    "  ft: {backend: 'fakes:SlowNgram', order: 6, init: base, train: [corpora/support.txt], weight: 3}\n"
)


def _cmd(project: Path, out: Path):
    return [sys.executable, "-m", "evalkit.cli.main", "run", "ft", "--config", str(project), "--output", str(out)]


def _env():
    return {**os.environ, "PYTHONPATH": str(TESTS), "EVALKIT_TEST_DELAY": "0.02"}


def _cached(project: Path) -> int:
    db = project.parent / ".cache" / "responses.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute(f"SELECT COUNT(*) FROM {ANSWERS}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _comparable(out: Path):
    results = json.loads((out / "results.json").read_text())
    tasks = [{k: v for k, v in t.items() if k not in ("seconds", "cache_hits")} for t in results["tasks"]]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    for s in samples:
        s.pop("latency_s")
    return tasks, samples


def test_kill_9_then_rerun_equals_an_uninterrupted_run(tmp_path):
    interrupted = make_project(tmp_path / "a", SLOW)
    proc = subprocess.Popen(_cmd(interrupted, tmp_path / "out-a"), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while _cached(interrupted) < 64 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _cached(interrupted)
    assert done_before >= 64 and not (tmp_path / "out-a" / "results.json").exists()

    subprocess.run(_cmd(interrupted, tmp_path / "out-a"), env=_env(), check=True, capture_output=True)
    results = json.loads((tmp_path / "out-a" / "results.json").read_text())
    assert sum(t["cache_hits"] for t in results["tasks"]) == done_before  # only the rest was computed

    clean = make_project(tmp_path / "b", SLOW)
    subprocess.run(_cmd(clean, tmp_path / "out-b"), env=_env(), check=True, capture_output=True)
    assert _comparable(tmp_path / "out-a") == _comparable(tmp_path / "out-b")
