"""Load on the review database: R raters vote V times each with no pause, each in its own
thread, as the app's server does on a click (record the vote, then render the next page:
claim or read the next item, the undo target and the progress). Prints the vote round-trip
percentiles, the errors, and checks that no vote was lost or duplicated.

    python benchmarks/review_load.py                       # SQLite in a temporary folder
    python benchmarks/review_load.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python benchmarks/review_load.py --raters 20 --votes 200
    python benchmarks/review_load.py --results             # `review results` on 1,000 votes, fresh process
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

from human_review.build import PlannedItem, StudyOptions, StudyPlan
from human_review.records import System
from human_review.store import open_store


def _plan(n_items: int, overlap: int) -> StudyPlan:
    systems = (System("base", "bench-base", "b" * 12, None, True), System("candidate 1", "bench-ft", "f" * 12, None, False))
    items = tuple(PlannedItem("qa", f"q{i}", f"Question {i}?", None, ((f"base answer {i}", {}), (f"ft answer {i}", {})))
                  for i in range(n_items))
    return StudyPlan(systems, items, (), StudyOptions(overlap=overlap, min_seconds=0.0), {}, 0)


def run(url: str, raters: int, votes: int) -> dict:
    store = open_store(url)
    name = f"load-{uuid.uuid4().hex[:8]}"
    store.create_study(name, _plan(raters * votes // 2 + 50, overlap=2))
    study = store.study(name)
    people = [store.sign_in(study, store.invite(study, f"rater{i:02d}")) for i in range(raters)]
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(raters)

    def work(rater):
        mine = []
        try:
            gate.wait()
            view = store.next_assignment(study, rater.id)
            for k in range(votes):
                t0 = time.perf_counter()
                ok = store.record(study, rater.id, view.public_id, view.seq, ("left", "right", "tie")[k % 3])
                view = store.next_assignment(study, rater.id)
                store.undo_target(study, rater.id)
                store.rater_progress(study, rater.id)
                mine.append(time.perf_counter() - t0)
                if not ok:
                    errors.append("a vote was refused")
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}")
        with lock:
            times.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(r,)) for r in people]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - start
    data = store.data(study)
    per = Counter(a.rater for a in data.answers)
    lost = sum(max(0, votes - per[r.name]) for r in people)
    dup = sum(max(0, per[r.name] - votes) for r in people) + (data.rows.get("vote", 0) - len(data.answers))
    store.dispose()
    t = np.array(times) * 1000
    return {"backend": store.engine.dialect.name, "raters": raters, "votes": votes, "wall_s": wall, "errors": len(errors),
            "first_error": errors[0] if errors else None, "lost": lost, "duplicated": dup,
            "p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99)), "max_ms": float(t.max()),
            "votes_per_s": len(times) / wall}


def results_wall(folder: Path, raters: int = 10, votes: int = 100, repeats: int = 3) -> list[float]:
    """Wall time of `evalkit review results` in a fresh Python process (imports included, as a
    user sees it) on a SQLite study with raters x votes votes."""
    name = "speed"
    url = f"sqlite:///{folder / (name + '.sqlite')}"
    store = open_store(url)
    store.create_study(name, _plan(raters * votes // 2 + 50, overlap=2))
    study = store.study(name)
    for i in range(raters):
        rater = store.sign_in(study, store.invite(study, f"rater{i:02d}"))
        for k in range(votes):
            view = store.next_assignment(study, rater.id)
            store.record(study, rater.id, view.public_id, view.seq, ("left", "right", "tie")[(k * 7 + i) % 3])
    store.dispose()
    cmd = [sys.executable, "-m", "evalkit.cli.main", "review", "results", name, "--db", url, "--output", str(folder)]
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=folder)
        walls.append(time.perf_counter() - t0)
    return walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="SQLAlchemy URL (default: a new SQLite file in a temporary folder)")
    ap.add_argument("--raters", type=int, default=20)
    ap.add_argument("--votes", type=int, default=200)
    ap.add_argument("--results", action="store_true", help="time `review results` on 10 raters x 100 votes instead")
    args = ap.parse_args()
    if args.results:
        with tempfile.TemporaryDirectory() as tmp:
            walls = results_wall(Path(tmp))
        print(f"review results, 1,000 votes, fresh process: best {min(walls):.2f} s, runs {', '.join(f'{w:.2f}' for w in walls)} s")
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'load.sqlite'}"
        r = run(url, args.raters, args.votes)
    print(f"{r['backend']}: {r['raters']} raters x {r['votes']} votes, no pause: {r['wall_s']:.1f} s, {r['votes_per_s']:.0f} votes/s")
    print(f"  vote round trip (record + next page's reads/claim): p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
    print(f"  errors {r['errors']}{' (' + r['first_error'] + ')' if r['errors'] else ''}, lost {r['lost']}, duplicated {r['duplicated']}")


if __name__ == "__main__":
    main()
