"""Two `evalkit compare base ft` on the demo, started at once on one cache folder: before,
both wrote the same temp file for a trained model and one of them crashed; now both finish
with the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _numbers(path: Path):
    """compare.json's comparisons without latencies (each process may have timed its own answers)
    and the run folders' paths (each process wrote its own)."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not k.startswith("latency") and not k.endswith("_source")}
        return [strip(v) for v in x] if isinstance(x, list) else x

    return strip(json.loads(path.read_text())["comparisons"])


def test_two_compares_on_one_cache_at_once_finish_identically(tmp_path):
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVALKIT_CACHE_DIR": str(cache)}
    procs = {}
    for name in ("a", "b"):
        work = tmp_path / name
        work.mkdir()
        # --limit keeps the test short; the race is in training, storing and caching, at any size.
        cmd = [sys.executable, "-m", "evalkit.cli.main", "compare", "base", "ft", "--limit", "40", "--output", "out"]
        procs[name] = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0 and "Traceback" not in err, (name, err)
    a, b = (_numbers(tmp_path / n / "out" / "compare.json") for n in ("a", "b"))
    assert a == b and len(a[0]["tasks"]) == 8  # the demo's 7 tasks and support_judged
    # base, ft and the judge of support_judged; no temp file left behind
    assert sorted(p.suffix for p in (cache / "ngram").iterdir()) == [".npz", ".npz", ".npz"]
