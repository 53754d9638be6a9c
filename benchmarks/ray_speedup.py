"""Time a run of the demo's fine-tune in one process and with ``executor: {kind: ray}`` on a
local Ray cluster (needs ``pip install 'evalkit[ray]'``).

Each mode gets its own copy of the demo project and cache folder; a one-item run first
trains and stores the n-gram models (and starts the Ray workers), so the timed run measures
answering requests, not training. The answers are checked to be identical.

    python benchmarks/ray_speedup.py [--workers 2] [--model ft]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parent / "demo"


def _project(root: Path, executor: str | None) -> Path:
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("__pycache__"))
    config = root / "evalkit.yaml"
    text = config.read_text(encoding="utf-8") + "cache_dir: cache\n"
    if executor:
        text += f"executor: {executor}\n"
    config.write_text(text, encoding="utf-8")
    return config


def _timed(config: Path, model: str) -> tuple[float, float, list]:
    from evalkit.config import load_project
    from evalkit.runner.run import RunOptions, run_models

    project = load_project(config)
    run_models(project, [model], RunOptions(limit=1))  # trains the models; starts the workers
    project = load_project(config)
    wall, cpu = time.perf_counter(), time.process_time()
    run = run_models(project, [model], RunOptions())[0]
    answers = [(s["task"], s["id"], s.get("response"), s.get("stats")) for s in run.samples]
    return time.perf_counter() - wall, time.process_time() - cpu, answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="ft")
    args = ap.parse_args()
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        one = _timed(_project(Path(tmp) / "one", None), args.model)
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        try:
            sharded = _timed(_project(Path(tmp) / "ray", f"{{kind: ray, workers: {args.workers}}}"), args.model)
        finally:
            ray.shutdown()
    assert one[2] == sharded[2], "the Ray run's answers differ from one process's"
    print(f"demo '{args.model}', {len(one[2])} items, seconds wall (driver CPU):")
    print(f"  one process             {one[0]:8.2f} ({one[1]:.2f})")
    print(f"  ray, {args.workers} workers         {sharded[0]:8.2f} ({sharded[1]:.2f})")
    print(f"  speed-up                {one[0] / sharded[0]:8.2f}x; answers identical")


if __name__ == "__main__":
    main()
