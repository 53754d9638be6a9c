"""``evalkit compare BASE FT [FT2 ...]``: each argument is a model name or a stored run directory."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from evalkit.cli.common import (
    RichProgress,
    config_option,
    console,
    describe_models,
    limit_option,
    no_cache_option,
    stamp,
    suite_option,
    warn_limit,
)


def _load_or_run(project, arg: str, options, out: Path):
    from evalkit.results import RunResult, is_run_dir
    from evalkit.runner.run import run_models

    if is_run_dir(arg):
        return RunResult.load(Path(arg))
    project.model(arg)
    result = run_models(project, [arg], options, RichProgress(arg))[0]
    result.write(out / "runs" / arg)
    result.source = str(out / "runs" / arg)
    return result


@click.command()
@click.argument("base")
@click.argument("candidates", nargs=-1, required=True)
@config_option
@suite_option
@limit_option
@no_cache_option
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Folder for compare.json, compare.md and the runs.")
@click.option("--resamples", type=click.IntRange(min=100), default=None, help="Bootstrap resamples (default: config, 10,000).")
@click.option("--seed", type=int, default=None, help="Seed for resampling (default: config).")
@click.option(
    "--gate", is_flag=True,
    help="Evaluate the config's gates; write gate.md, junit.xml, gate.json; exit 1 when a gate fails.",
)
def compare(base, candidates, config_path, suites, limit, no_cache, output, resamples, seed, gate):
    """Compare BASE with each candidate on identical items.

    BASE and each candidate are model names from the config or run directories written
    earlier (a stored baseline is not run again).
    """
    from evalkit.compare.compare import cached_compare
    from evalkit.config import load_project
    from evalkit.errors import ConfigError
    from evalkit.runner.run import RunOptions, open_cache

    project = load_project(config_path)
    if gate and not project.gates:
        raise ConfigError("--gate: the config has no gates: section", path=project.path)
    out = output or Path("evalkit-runs") / f"{stamp()}-{base}-vs-{'-'.join(Path(c).name for c in candidates)}"
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(suites=tuple(suites), limit=limit, use_cache=not no_cache)
    warn_limit(limit)
    base_run = _load_or_run(project, base, options, out)
    runs = [_load_or_run(project, c, options, out) for c in candidates]
    seed = project.file.seed if seed is None else seed
    n_resamples = resamples or project.file.bootstrap_resamples
    cache = open_cache(project, options.use_cache)
    try:
        comparisons = [
            cached_compare(cache, base_run, r, seed=seed, n_resamples=n_resamples, confidence=project.file.confidence)
            for r in runs
        ]
        return _finish(project, base_run, runs, comparisons, out, seed, n_resamples, gate, cache)
    finally:
        cache.close()


def _finish(project, base_run, runs, comparisons, out: Path, seed, n_resamples, gate: bool, cache) -> int:
    """Print, evaluate gates, write compare.json / compare.md / report.html; the exit code."""
    from evalkit.compare.ranking import best_statement, pairwise_claims, rank
    from evalkit.report.console import print_comparison, print_ranking
    from evalkit.report.html import write_report
    from evalkit.report.markdown import render

    con = console()
    for c in comparisons:
        print_comparison(con, c)
    for line in describe_models([base_run, *runs]):
        con.print(line)
    for message in pair_warnings(project, base_run, runs):
        con.print(f"[yellow]warning: {message}[/yellow]")
    reports = run_gates(con, project, base_run, runs, comparisons, out, seed, n_resamples) if gate else {}
    ranking = rank(comparisons, reports if gate else None) if len(comparisons) > 1 else []
    claims = pairwise_claims(runs, comparisons, 1 - project.file.confidence) if ranking else []
    best = best_statement(ranking, claims)
    if ranking:
        print_ranking(con, ranking)
        con.print(best)
    payload = {
        "format": "evalkit.compare/1",
        "comparisons": [c.to_json() for c in comparisons],
        "ranking": [asdict(r) for r in ranking],
        "best": {"statement": best, "pairwise": [asdict(c) for c in claims]} if ranking else None,
        "provenance": provenance(project, base_run),
    }
    (out / "compare.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "compare.md").write_text(render(comparisons, ranking, best))
    report = write_report(out, cache, {r.model: r for r in [base_run, *runs]})
    con.print(f"wrote {out}/compare.json, compare.md and {report.name}")
    gate_code = max((r.exit_code for r in reports.values()), default=0)
    incomplete = [r.model for r in [base_run, *runs] if not r.complete]
    if incomplete:
        con.print(f"[red]incomplete: backend errors in {', '.join(incomplete)}; run the same command to retry them[/red]")
        return 3  # never 0 (nor a gate verdict) on a run with errors
    return gate_code


def pair_warnings(project, base_run, runs) -> list[str]:
    """Warnings about each base / candidate pair: a fine-tune identical to its base, or
    backends that differ in ways that make the comparison suspect (tokenizers...)."""
    from evalkit.compare.sanity import identical_warning

    out = []
    for run in runs:
        out.append(identical_warning(base_run, run))
        if base_run.model in project.models and run.model in project.models:
            out += project.backend(run.model).compare_warnings(project.backend(base_run.model))
    return [m for m in out if m]


def provenance(project, base_run) -> dict:
    """What it takes to reproduce this comparison: config, data, code and package versions."""
    import subprocess

    from evalkit.runner.run import package_versions

    try:
        commit = subprocess.run(
            ["git", "-C", str(project.root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "config_path": str(project.path), "config_sha256": base_run.config_sha256,
        "config_text": project.path.read_text(encoding="utf-8"), "git_commit": commit,
        "data_hashes": base_run.data_hashes, "versions": package_versions(),
    }


def run_gates(con, project, base_run, runs, comparisons, out: Path, seed: int, n_resamples: int) -> dict:
    """Evaluate the gates for each candidate and write their reports; {candidate: report}."""
    from rich.markdown import Markdown

    from evalkit.compare.gates import evaluate_gates_many
    from evalkit.report.gate import render_gate_md, write_gate_outputs

    ran = {t.task for t in base_run.tasks} | {t.suite for t in base_run.tasks}
    gates = [g for g in project.gates if g.target in ran]
    for g in project.gates:
        if g.target not in ran:
            con.print(f"[yellow]gate '{g.label}' not evaluated: '{g.target}' was not run (--suite)[/yellow]")
    reports = {}
    # One call for all candidates: each gate is one Holm family across them.
    for run, report in zip(runs, evaluate_gates_many(gates, base_run, runs, comparisons, seed=seed, n_resamples=n_resamples)):
        where = out if len(runs) == 1 else out / "gates" / run.model
        write_gate_outputs(report, where)
        con.print(Markdown(render_gate_md(report)))
        con.print(f"wrote {where}/gate.md, junit.xml and gate.json")
        reports[run.model] = report
    return reports
