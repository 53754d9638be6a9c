"""``evalkit compare BASE FT [FT2 ...]``: each argument is a model name or a stored run directory."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from evalkit.cli.common import (
    RichProgress,
    config_option,
    console,
    describe_models,
    limit_option,
    link_latest,
    no_cache_option,
    stamp,
    suite_option,
    trust_code_option,
    warn_limit,
)
from evalkit.cli.inline import inline_options


def _check_args(project, args, suites=(), stored: bool = True) -> None:
    """Before anything runs: every argument is a stored run or a model that can start, and
    the data of every selected task can be read. ``stored=False``: arguments are only model
    names (config-free: a folder ./base is not the --base model)."""
    from evalkit.errors import ConfigError
    from evalkit.preflight import check_data, check_models
    from evalkit.results import is_run_dir as _is_run_dir

    def is_run_dir(arg):
        return stored and _is_run_dir(arg)

    for arg in args:
        if not is_run_dir(arg) and arg not in project.models:
            known = ", ".join(sorted(project.models)) or "none"
            raise ConfigError(f"'{arg}' is neither a model of this config (known: {known}) nor a run directory", path=project.path)
    to_run = [a for a in dict.fromkeys(args) if not is_run_dir(a)]
    check_models(project, to_run)
    if to_run:
        check_data(project, suites)


def _label(arg: str) -> str:
    """An argument's name in the default folder: runs/latest is named after what it links to."""
    path = Path(arg)
    return path.resolve().name if path.is_symlink() else path.name


def _load_or_run(project, arg: str, options, out: Path, quiet: bool = False, stored: bool = True):
    from evalkit.errors import DataError
    from evalkit.names import unsafe_name
    from evalkit.results import RunResult, is_run_dir
    from evalkit.runner.run import run_models

    if stored and is_run_dir(arg):
        run = RunResult.load(Path(arg))
        if (why := unsafe_name(run.model)) is not None:  # it names folders under --output
            raise DataError(f"the stored model name {why}", path=Path(arg) / "results.json")
        also = f"; the config's model '{arg}' is not run" if arg in project.models else ""
        if not quiet:
            click.echo(f"evalkit: reading '{arg}' as a stored run directory ({Path(arg) / 'results.json'}){also}", err=True)
        return run
    project.model(arg)
    from evalkit.runner.run import SilentProgress

    result = run_models(project, [arg], options, SilentProgress() if quiet else RichProgress(arg))[0]
    result.write(out / "runs" / arg)
    result.source = str(out / "runs" / arg)
    return result


@click.command()
@click.argument("base", required=False)
@click.argument("candidates", nargs=-1)
@inline_options
@config_option
@suite_option
@limit_option
@no_cache_option
@trust_code_option
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Folder for compare.json, compare.md and the runs.")
@click.option("--resamples", type=click.IntRange(min=100, max=10_000_000), default=None, help="Bootstrap resamples (default: config, 10,000).")
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=None, help="Seed for resampling (default: config).")
@click.option(
    "--gate", is_flag=True,
    help="Evaluate the config's gates; write gate.md, junit.xml, gate.json; exit 1 when a gate fails.",
)
@click.option(
    "--sequential", is_flag=True,
    help="With --gate: evaluate items in a seeded random order, a chunk at a time, and stop as soon as "
    "every gate is decided (anytime-valid intervals: looking often keeps the error rate at alpha).",
)
@click.option("--looks", type=click.IntRange(min=2, max=100), default=10, show_default=True,
              help="With --sequential: the number of chunks (looks) the items are split into.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True,
              help="What stdout gets: the table, compare.md's Markdown or compare.json's payload (the rest goes to stderr).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the verdict line of each candidate and the paths written.")
@click.option("--review", "review_db", default=None, metavar="STUDY|URL",
              help="A review study on the same items (STUDY.sqlite here, or a database URL#STUDY): show the judge against its votes.")
def compare(base, candidates, config_path, suites, limit, no_cache, trust_code, output, resamples, seed, gate, sequential,
            looks, fmt, quiet, review_db=None, inline=None):
    """Compare BASE with each candidate on identical items.

    BASE and each candidate are model names from the config or run directories written
    earlier (a stored baseline is not run again). Without a config: --base, --ft and
    --tasks name the models and tasks (see --print-config for the evalkit.yaml they make).
    """
    from evalkit.compare.compare import cached_compare
    from evalkit.config import load_project
    from evalkit.errors import ConfigError
    from evalkit.runner.run import RunOptions, open_cache

    default_output = output is None  # then evalkit-runs/latest links to it
    if inline is not None and inline.given:
        written = inline.write(base, candidates, config_path, output, seed)
        if written is None:  # --print-config
            return 0
        config_path, output, base, candidates = written
        gate = gate or inline.has_gates
    stored = not (inline is not None and inline.given)  # config-free: names are models, never folders
    if stored and (base is None or not candidates):
        raise click.UsageError("name BASE and at least one CANDIDATE, or use --base, --ft and --tasks")
    extra_gates = inline.gate_entries() if stored and inline is not None and inline.gates else []
    gate = gate or bool(extra_gates)
    if sequential and not gate:
        raise click.UsageError("--sequential decides gates: use it with --gate")
    project = load_project(config_path, trust_code=trust_code)
    if extra_gates:  # gate flags on a config's models or on stored (e.g. imported) runs
        from evalkit.inline_config import stored_run_gates

        kept = [] if project.is_demo else project.gates  # the demo's gates are about the demo's tasks
        project.gates = [*kept, *stored_run_gates(project, [base, *candidates], extra_gates)]
    if gate and not project.gates:
        raise ConfigError("--gate: the config has no gates: section", path=project.path)
    if sequential and any(g.metric == "win_rate" for g in project.gates):  # the judge runs after the looks
        raise ConfigError("--sequential does not decide win_rate gates (a judge's metric); run without --sequential", path=project.path)
    if sequential and any(g.clean_only for g in project.gates):  # its looks would use every item
        raise ConfigError("--sequential does not decide clean_only gates yet; run without --sequential", path=project.path)
    _check_args(project, [base, *candidates], suites, stored)
    from evalkit.compare.parity import require_parity  # parity: on a model entry (issue 16)

    require_parity(project, [base, *candidates], RunOptions(suites=tuple(suites), use_cache=not no_cache))
    from evalkit.cli.output import check_output_dir

    default = Path("evalkit-runs") / f"{stamp()}-{_label(base)}-vs-{'-'.join(_label(c) for c in candidates)}"
    out = check_output_dir(output or default)
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(suites=tuple(suites), limit=limit, use_cache=not no_cache)
    warn_limit(limit)
    seed = project.file.seed if seed is None else seed
    reports = None
    if sequential:
        from evalkit.cli.sequential import run_sequential

        load = functools.partial(_load_or_run, quiet=quiet, stored=stored)
        base_run, runs, reports = run_sequential(project, base, candidates, options, out, seed, looks, load,
                                                 con=Output(fmt, quiet).human(), say=Output(fmt, quiet).brief())
    else:
        base_run = _load_or_run(project, base, options, out, quiet, stored)
        runs = [_load_or_run(project, c, options, out, quiet, stored) for c in candidates]
    n_resamples = resamples or project.file.bootstrap_resamples
    cache = open_cache(project, options.use_cache)
    try:
        from evalkit.judge.hook import judge_runs  # pairwise-judged tasks gain win_rate (issue 13)

        judged = judge_runs(project, base_run, runs, cache, seed=seed, confidence=project.file.confidence, out=out,
                            review=review_db)
        comparisons = [
            cached_compare(cache, base_run, r, seed=seed, n_resamples=n_resamples, confidence=project.file.confidence)
            for r in runs
        ]
        code = _finish(project, base_run, runs, comparisons, out, seed, n_resamples, gate, cache, reports,
                       Output(fmt, quiet), judged)
    finally:
        cache.close()
    if default_output:
        link_latest(out)  # evalkit-runs/latest: the newest finished compare
    return code


@dataclass(frozen=True)
class Output:
    """Where the human-readable text goes: stdout for --format table, else stderr so that
    stdout holds only the Markdown or JSON; nowhere with --quiet but the verdict and paths."""

    fmt: str = "table"
    quiet: bool = False

    def human(self):
        if self.quiet:
            import io

            from rich.console import Console

            return Console(file=io.StringIO())
        return console(stderr=self.fmt != "table")

    def brief(self):
        return console(stderr=self.fmt != "table")


def _finish(project, base_run, runs, comparisons, out: Path, seed, n_resamples, gate: bool, cache, reports=None,
            output: Output = Output(), judged=None) -> int:
    """Print, evaluate gates, write compare.json / compare.md / report.html; the exit code."""
    from evalkit.cli.output import write_output
    from evalkit.compare.ranking import best_statement, pairwise_claims, rank
    from evalkit.report.console import print_comparison, print_ranking, verdict_line
    from evalkit.report.html import write_report
    from evalkit.report.markdown import render

    con, say = output.human(), output.brief()
    for c in comparisons:
        if not output.quiet:  # --quiet discards the table: measuring its columns costs more than the rest
            print_comparison(con, c)
    for line in describe_models([base_run, *runs]):
        con.print(line)
    for line in judged.lines() if judged is not None else []:
        con.print(line, markup=False, highlight=False)
    warn = console(stderr=True) if output.quiet else con  # a suspect pair is worth a line even when quiet
    for message in judged.warnings if judged is not None else []:
        warn.print(f"warning: {message}", style="yellow", markup=False, highlight=False)
    for message in pair_warnings(project, base_run, runs):
        warn.print(f"[yellow]warning: {message}[/yellow]")
    from evalkit.compare.contamination import contamination_hook  # clean / contaminated subsets (issue 14)

    contam = contamination_hook(con, project, base_run, runs, comparisons, cache, seed=seed, n_resamples=n_resamples)
    from evalkit.compare.drift import drift_hook  # length, distinct-n, self-BLEU (issue 14)

    drift = drift_hook(con, base_run, runs, confidence=project.file.confidence, seed=seed, n_resamples=n_resamples,
                       cache=cache)
    from evalkit.probes.hooks import probe_hooks  # safety panel and bias probes (issue 14)

    probes = probe_hooks(con, project, base_run, runs, confidence=project.file.confidence)
    if reports is None:  # a sequential compare decided its gates look by look
        reports = run_gates(con, project, base_run, runs, comparisons, out, seed, n_resamples, contam) if gate else {}
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
        **contam.payload, **drift.payload, **probes.payload, **(judged.payload if judged is not None else {}),
    }
    markdown = (render(comparisons, ranking, best) + contam.markdown + drift.markdown + probes.markdown
                + (judged.markdown() if judged else ""))
    write_output(out / "compare.json", json.dumps(payload, indent=2) + "\n")
    write_output(out / "compare.md", markdown)
    report = write_report(out, cache, {r.model: r for r in [base_run, *runs]})
    if output.fmt != "table":
        click.echo(json.dumps(payload, indent=2) if output.fmt == "json" else markdown.rstrip("\n"))
    if output.quiet:
        for c in comparisons:
            verdict = reports[c.candidate].verdict if c.candidate in reports else None
            say.print(verdict_line(c, verdict), markup=False)
    say.print(f"wrote {out}/compare.json, compare.md and {report.name}", markup=False)
    if output.quiet and reports and len(runs) > 1:  # else run_gates said so with the gate tables
        say.print(f"wrote {out}/gates/<candidate>/gate.md, junit.xml and gate.json", markup=False)
    elif output.quiet and reports:
        say.print(f"wrote {out}/gate.md, junit.xml and gate.json", markup=False)
    gate_code = max((r.exit_code for r in reports.values()), default=0)
    incomplete = [r.model for r in [base_run, *runs] if not r.complete]
    if incomplete:
        say.print(f"[red]incomplete: backend errors in {', '.join(incomplete)}; run the same command to retry them[/red]")
        from evalkit.runner.run import failure_reasons

        for line in failure_reasons([base_run, *runs]):
            say.print(f"  {line}", markup=False)
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


def run_gates(con, project, base_run, runs, comparisons, out: Path, seed: int, n_resamples: int, contam=None) -> dict:
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
    clean = contam.clean_inputs if contam is not None else None  # for clean_only gates
    for run, report in zip(runs, evaluate_gates_many(gates, base_run, runs, comparisons, seed=seed, n_resamples=n_resamples,
                                                      clean=clean)):
        where = out if len(runs) == 1 else out / "gates" / run.model
        write_gate_outputs(report, where)
        con.print(Markdown(render_gate_md(report)))
        con.print(f"wrote {where}/gate.md, junit.xml and gate.json")
        reports[run.model] = report
    return reports
