"""``compare --gate --sequential``: run growing prefixes of every task's seeded item order until
every gate of every candidate is decided; report the items and the money not spent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path


def _planned(project, options) -> dict[str, int]:
    """Items each native task would run in full (lm-eval entries run in full at every look)."""
    from evalkit.suites.items import load_items
    from evalkit.suites.lm_eval_spec import LmEvalTask

    out = {}
    for _, spec in project.selected_tasks(list(options.suites) or None):
        if not isinstance(spec, LmEvalTask):
            out[spec.name] = len(load_items(spec, options.limit, project.file.seed))
    return out


def _prefix_of(run, seed: int, fraction: float):
    """A stored run cut to the same prefix the runner would evaluate at this look."""
    import math

    from evalkit.suites.items import order_key

    keep = {}
    for t in run.tasks:
        ids = sorted((s["id"] for s in run.samples_for(t.task)), key=lambda i: order_key(seed, t.task, i))
        keep[t.task] = set(ids[: max(2, math.ceil(fraction * len(ids)))])
    return replace(run, samples=[s for s in run.samples if s["id"] in keep.get(s["task"], ())])


def _align_to(base_run, candidate_run):
    """The base cut to the items the candidate ran (a candidate decided early ran fewer)."""
    have = {(s["task"], s["id"]) for s in candidate_run.samples}
    return replace(base_run, samples=[s for s in base_run.samples if (s["task"], s["id"]) in have])


def _get(project, arg: str, options, out: Path, seed: int, fraction: float, load_or_run):
    from evalkit.results import is_run_dir

    stored = getattr(load_or_run, "keywords", {}).get("stored", True)  # config-free: names are never folders
    if stored and is_run_dir(arg):
        return _prefix_of(load_or_run(project, arg, options, out), seed, fraction)
    return load_or_run(project, arg, replace(options, fraction=fraction, order_seed=seed), out)


def _per_item_cost(run) -> float | None:
    costs = [s.get("cost_usd") for s in run.samples if s.get("status") != "error"]
    return sum(costs) / len(costs) if costs and all(c is not None for c in costs) else None


def run_sequential(project, base: str, candidates, options, out: Path, seed: int, looks: int, load_or_run, *,
                   con=None, say=None):
    """(base run, candidate runs, {candidate: GateReport}); prints what stopping early saved.
    ``con`` gets the gate tables and ``say`` the one-line summaries (compare's --format and
    --quiet choose them: stderr, or nowhere, so that stdout stays machine-readable)."""
    from rich.markdown import Markdown

    from evalkit.cli.common import console
    from evalkit.compare.sequential import SequentialGates
    from evalkit.report.gate import render_gate_md, write_gate_outputs

    planned = _planned(project, options)
    suite_of = {spec.name: suite for suite, spec in project.selected_tasks(list(options.suites) or None)}
    ran = set(planned) | set(suite_of.values())
    gates = [g for g in project.gates if g.target in ran]
    states = {c: SequentialGates(gates, planned, suite_of, seed, candidates=len(candidates)) for c in candidates}
    latest: dict[str, object] = {}
    base_run = None
    for k in range(1, looks + 1):
        fraction = k / looks
        open_ = [c for c in candidates if not states[c].done]
        if not open_:
            break
        base_run = _get(project, base, options, out, seed, fraction, load_or_run)
        for c in open_:
            latest[c] = _get(project, c, options, out, seed, fraction, load_or_run)
            states[c].look(_align_to(base_run, latest[c]), latest[c])
    con = con or console()
    say = say or con
    total = sum(planned.values())
    reports = {}
    for c in candidates:
        run = latest[c]
        used = sum(1 for s in run.samples if s["task"] in planned)
        report = states[c].report(base_run.model, run.model)
        where = out if len(candidates) == 1 else out / "gates" / run.model
        write_gate_outputs(report, where)
        con.print(Markdown(render_gate_md(report)))
        reports[run.model] = report
        saved = total - used
        money = [(m.model, _per_item_cost(m)) for m in (base_run, run)]
        cost = ", ".join(f"{name} ~${cpi * saved:.4f}" for name, cpi in money if cpi is not None)
        say.print(f"sequential: {run.model} decided after {states[c].looks} of {looks} looks: {used:,} of {total:,} "
                  f"items per model ({100 * saved / max(total, 1):.0f} % not run){'; saved ' + cost if cost else ''}")
    runs = [latest[c] for c in candidates]
    # The compare table shows the items every candidate ran: the base cut to the shortest.
    shortest = min(runs, key=lambda r: len(r.samples))
    return _align_to(base_run, shortest), [_align_to(r, shortest) for r in runs], reports
