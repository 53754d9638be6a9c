"""From run directories to a study plan: align the models' responses item by item, sample
the items, and make the gold items. Pure data in, pure data out; ``store`` writes the plan."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.errors import EvalkitError
from human_review.records import System


@dataclass(frozen=True)
class StudyOptions:
    items: int | None = None  # None: every common item
    per_task: bool = False  # `items` per task rather than in all
    overlap: int = 2  # raters per item
    gold: int = 0  # gold items shown to every rater
    repeats: int = 0  # hidden repeats per rater, sides swapped
    seed: int = 0
    tasks: tuple[str, ...] = ()  # empty: every task with text responses
    min_seconds: float = 1.0  # a vote sooner than this after the item was shown is refused (a double tap)
    claim_timeout: float = 1800.0  # seconds before an untouched claim goes back to the pool
    pairs: str = "base"  # "base": each candidate against the base; "all": every two systems
    study: dict | None = None  # the organiser's study file (study_file.StudySettings), as plain data


@dataclass(frozen=True)
class PlannedItem:
    task: str
    key: str
    prompt: str
    reference: str | None
    responses: tuple[tuple[str, dict[str, Any]], ...]  # (text, per-item metrics), one per system


@dataclass(frozen=True)
class PlannedGold:
    task: str
    key: str
    prompt: str
    good: str  # the item's own reference, known to be right
    bad: str  # another item's reference: clearly wrong here


@dataclass(frozen=True)
class StudyPlan:
    systems: tuple[System, ...]  # the base first
    items: tuple[PlannedItem, ...]  # in presentation order
    gold: tuple[PlannedGold, ...]
    options: StudyOptions
    higher_is_better: dict[str, dict[str, bool]]
    dropped: int  # aligned items left out because a response was missing, empty or an error


def run_id(run) -> str:
    """A short stable id of a run (model, identity, start time), for reports after unblinding."""
    blob = json.dumps([run.model, run.identity, run.started, run.config_sha256], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def task_prompt(prompt: str, model_config: dict[str, Any]) -> str:
    """The task's own prompt: the rendered prompt without the model's system prompt and template."""
    system = model_config.get("system_prompt")
    if system and prompt.startswith(system + "\n\n"):
        prompt = prompt[len(system) + 2:]
    pre, _, post = (model_config.get("template") or "{prompt}").partition("{prompt}")
    if prompt.startswith(pre) and prompt.endswith(post) and len(prompt) >= len(pre) + len(post):
        prompt = prompt[len(pre): len(prompt) - len(post)]
    return prompt


def _usable(sample: dict[str, Any]) -> bool:
    r = sample.get("response")
    return sample.get("status") == "ok" and isinstance(r, str) and bool(r.strip())


def _order_runs(runs: Sequence, base: str | None) -> list:
    names = [r.model for r in runs]
    if len(runs) < 2:
        raise EvalkitError("a study needs at least two runs (--from RUN_DIR --from RUN_DIR)")
    if len(set(names)) != len(names):
        raise EvalkitError(f"two runs are of the same model: {', '.join(names)}")
    if base is None:
        return list(runs)
    if base not in names:
        raise EvalkitError(f"--base {base!r} is none of the runs' models ({', '.join(names)})")
    return [r for r in runs if r.model == base] + [r for r in runs if r.model != base]


def _sample(rng, keys: list, n: int | None) -> list:
    if n is None or n >= len(keys):
        return list(keys)
    picked = rng.choice(len(keys), size=n, replace=False)
    return [keys[i] for i in sorted(picked)]


def plan_study(runs: Sequence, options: StudyOptions, base: str | None = None) -> StudyPlan:
    import numpy as np

    runs = _order_runs(runs, base)
    rng = np.random.default_rng(options.seed)
    by_run = [{(s["task"], str(s["id"])): s for s in r.samples} for r in runs]
    all_tasks = {k[0] for k in by_run[0]}
    unknown = sorted(set(options.tasks) - all_tasks)
    if unknown:
        raise EvalkitError(f"unknown task(s) {', '.join(unknown)}; the runs have {', '.join(sorted(all_tasks))}")
    wanted = set(options.tasks) or all_tasks
    common = sorted(k for k in by_run[0] if k[0] in wanted and all(k in m for m in by_run[1:]))
    keys = [k for k in common if all(_usable(m[k]) for m in by_run)]
    if not keys:
        raise EvalkitError("the runs share no item with a text response from every model")
    if options.per_task:
        chosen = [k for t in sorted({k[0] for k in keys}) for k in _sample(rng, [k for k in keys if k[0] == t], options.items)]
    else:
        chosen = _sample(rng, keys, options.items)
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    items = tuple(_item(runs, by_run, k) for k in chosen)
    gold = _gold(runs[0], by_run[0], set(chosen), wanted, options.gold, rng)
    systems = tuple(
        System("base" if i == 0 else f"candidate {i}", r.model, run_id(r), r.source, i == 0) for i, r in enumerate(runs)
    )
    hib = {t.task: {m: v.higher_is_better for m, v in t.metrics.items()} for t in runs[0].tasks}
    return StudyPlan(systems, items, gold, options, hib, dropped=len(common) - len(keys))


def _item(runs, by_run, key) -> PlannedItem:
    samples = [m[key] for m in by_run]
    prompts = {task_prompt(s["prompt"] or "", r.model_config) for r, s in zip(runs, samples)}
    # Models with different prompt formats whose task prompt cannot be recovered: show the base's.
    prompt = prompts.pop() if len(prompts) == 1 else samples[0]["prompt"]
    ref = samples[0].get("reference")
    return PlannedItem(
        key[0], key[1], prompt, ref if isinstance(ref, str) else None,
        tuple((s["response"], {k: v for k, v in (s.get("metrics") or {}).items()}) for s in samples),
    )


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _gold(base_run, samples, chosen, tasks, n: int, rng) -> tuple[PlannedGold, ...]:
    if n <= 0:
        return ()
    refs = [(k, s) for k, s in sorted(samples.items()) if k[0] in tasks and isinstance(s.get("reference"), str) and s["reference"].strip()]
    # Items not under review first, so that a rater rarely meets a gold prompt twice.
    fresh, used = [p for p in refs if p[0] not in chosen], [p for p in refs if p[0] in chosen]
    pool = [fresh[i] for i in rng.permutation(len(fresh))] + [used[i] for i in rng.permutation(len(used))]
    out = []
    for k, s in pool:
        decoys = [d for (dk, d) in refs if dk[0] == k[0] and _norm(d["reference"]) != _norm(s["reference"])]
        if not decoys:
            continue
        bad = decoys[int(rng.integers(len(decoys)))]["reference"]
        out.append(PlannedGold(k[0], k[1], task_prompt(s["prompt"] or "", base_run.model_config), s["reference"], bad))
        if len(out) == n:
            return tuple(out)
    raise EvalkitError(
        f"--gold {n}: only {len(out)} gold item(s) can be made; a gold item needs a reference and another "
        "item of the same task with a different reference"
    )
