"""Helpers shared by the human-review tests: synthetic runs and studies.

Model names and run directories are distinctive strings, so that a test can look for them
anywhere the browser might see them.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from evalkit.results import MetricValue, RunResult, TaskResult

try:
    from sqlalchemy import func, select
except ImportError:  # skips every test module that imports these helpers
    pytest.skip("the review extra is not installed: pip install -e '.[review]'", allow_module_level=True)

BASE_MODEL = "zz-basemodel-7f3a1"
FT_MODEL = "zz-finetune-9c2e4"


def make_run(directory: Path, model: str, responses: dict[tuple[str, str], str], *, references=None, prompts=None,
             metrics=None, system_prompt: str | None = None) -> Path:
    """Write a run directory whose samples are ``responses[(task, id)]``."""
    references = references or {}
    samples = []
    for (task, iid), text in responses.items():
        prompt = (prompts or {}).get((task, iid), f"Question {iid}: what is the answer?")
        if system_prompt:
            prompt = f"{system_prompt}\n\n{prompt}"
        samples.append({
            "task": task, "id": iid, "prompt": prompt, "reference": references.get((task, iid), f"answer {iid}"),
            "response": text, "status": "ok", "metrics": (metrics or {}).get((task, iid), {}),
        })
    tasks = sorted({t for t, _ in responses})
    run = RunResult(
        model=model, backend="fake", identity={"backend": "fake", "model": model},
        model_config={"backend": "fake", "model": model, "system_prompt": system_prompt, "template": "{prompt}"},
        project="test", tasks=[TaskResult(task=t, suite="s", role="target", type="generate", status="ok", n=1,
                                          metrics={"exact_match": MetricValue(None, True, "exact_match"),
                                                   "loss": MetricValue(None, False, "loss")}) for t in tasks],
        samples=samples, started="2026-01-01T00:00:00+00:00",
    )
    return run.write(directory)


def make_pair_runs(root: Path, n: int, *, tasks=("qa",), base_text=None, ft_text=None, metrics=None) -> list[Path]:
    """A base and a fine-tune run over ``n`` items per task."""
    keys = [(t, f"{t}{i}") for t in tasks for i in range(n)]
    base_text = base_text or (lambda k: f"base says {k[1]}")
    ft_text = ft_text or (lambda k: f"fine-tune says {k[1]}")
    base = make_run(root / "runs" / "base", BASE_MODEL, {k: base_text(k) for k in keys},
                    metrics={k: m[0] for k, m in (metrics or {}).items()}, system_prompt="You are a long-winded assistant.")
    ft = make_run(root / "runs" / "ft", FT_MODEL, {k: ft_text(k) for k in keys},
                  metrics={k: m[1] for k, m in (metrics or {}).items()}, system_prompt="Short.")
    return [base, ft]


def new_study(root: Path, name: str = "study", *, n: int = 10, url: str | None = None, runs=None, **options):
    """(store, study, admin secret, url) for a fresh study over ``make_pair_runs``; no minimum
    reading time unless ``min_seconds`` is given (these tests vote as fast as they can)."""
    from human_review.build import StudyOptions, plan_study
    from human_review.store import open_store

    runs = runs or make_pair_runs(root, n)
    url = url or f"sqlite:///{root / (name + '.sqlite')}"
    store = open_store(url)
    options.setdefault("min_seconds", 0.0)
    plan = plan_study([RunResult.load(p) for p in runs], StudyOptions(**options))
    secret = store.create_study(name, plan)
    return store, store.study(name), secret, url


def rate_all(store, study, rater, choose, limit: int | None = None) -> int:
    """Vote until the rater is done (or ``limit`` votes); ``choose(view)`` returns a choice or None (skip)."""
    n = 0
    while limit is None or n < limit:
        view = store.next_assignment(study, rater.id)
        if view is None:
            break
        assert store.record(study, rater.id, view.public_id, view.seq, choose(view), seconds=5.0)
        n += 1
    return n


def hammer(store, study, raters, votes: int) -> dict[str, Counter]:
    """Each rater votes ``votes`` times in its own thread, re-sending every 5th vote (a double
    click) and undoing and re-casting every 10th."""
    tallies = {r.name: Counter() for r in raters}
    errors: list[BaseException] = []
    start = threading.Barrier(len(raters))

    def work(rater):
        tally = tallies[rater.name]
        try:
            start.wait()
            while tally["effective"] < votes:
                view = store.next_assignment(study, rater.id)
                assert view is not None, "ran out of items"
                choice = ("left", "right", "tie", "both_bad")[tally["sent"] % 4]
                tally["sent"] += 1
                assert store.record(study, rater.id, view.public_id, view.seq, choice)
                tally["vote"] += 1
                if tally["sent"] % 5 == 0:
                    assert not store.record(study, rater.id, view.public_id, view.seq, choice)
                if tally["sent"] % 10 == 0:
                    assert store.undo(study, rater.id, store.undo_target(study, rater.id))
                    tally["undo"] += 1
                    continue  # the undone item comes back on the next claim
                tally["effective"] += 1
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in raters]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    return tallies


def check_counts(store, study, tallies, votes: int, overlap: int) -> None:
    from human_review import schema as t

    A, V = t.assignment, t.vote
    mine = A.c.study_id == study.id
    with store.engine.connect() as c:
        actions = dict(c.execute(select(V.c.action, func.count()).select_from(V.join(A)).where(mine).group_by(V.c.action)).all())
        assignments = c.execute(select(A).where(mine, A.c.rater_id.is_not(None))).all()
        seqs = c.execute(select(V.c.assignment_id, V.c.seq).select_from(V.join(A)).where(mine)).all()
    assert actions.get("vote", 0) == sum(x["vote"] for x in tallies.values())
    assert actions.get("undo", 0) == sum(x["undo"] for x in tallies.values())
    data = store.data(study)
    per_rater = Counter(a.rater for a in data.answers)
    assert per_rater == Counter({name: votes for name in tallies})
    assert len(data.answers) == votes * len(tallies)
    # No rater saw an item twice; no item got more than k raters; rows are numbered 1..n per assignment.
    assert len({(a.rater_id, a.comparison_id) for a in assignments}) == len(assignments)
    assert max(Counter(a.comparison_id for a in assignments).values()) <= overlap
    by_assignment: dict[int, list[int]] = {}
    for aid, seq in seqs:
        by_assignment.setdefault(aid, []).append(seq)
    assert all(sorted(s) == list(range(1, len(s) + 1)) for s in by_assignment.values())
