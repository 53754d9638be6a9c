"""``evalkit parity REFERENCE OTHER --items N``: the same model on two backends, item by item,
on a few canary items (evalkit.compare.parity). Exit 0 when they agree on at least
--min-agreement of the items, 1 when they do not."""

from __future__ import annotations

import json

import click

from evalkit.cli.common import config_option, console, no_cache_option, suite_option, trust_code_option


@click.command()
@click.argument("reference")
@click.argument("other")
@config_option
@suite_option
@no_cache_option
@trust_code_option
@click.option("--items", type=click.IntRange(min=1, max=100_000), default=20, show_default=True,
              help="Canary items per task (the first N, as --limit).")
@click.option("--min-agreement", type=click.FloatRange(min=0, max=1, min_open=True), default=0.99, show_default=True,
              help="Share of items whose answers must agree.")
@click.option("--ll-tolerance", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Nats per token two perplexity log-likelihoods may differ by and still agree.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts).")
def parity(reference, other, config_path, suites, no_cache, trust_code, items, min_agreement, ll_tolerance, as_json):
    """Does OTHER answer like REFERENCE (the same weights on another backend, e.g. hf and vllm)?"""
    from evalkit.cli.compare import _check_args
    from evalkit.compare.parity import run_parity
    from evalkit.config import load_project
    from evalkit.errors import ConfigError
    from evalkit.runner.run import RunOptions

    project = load_project(config_path, trust_code=trust_code)
    if reference == other:
        raise ConfigError("parity needs two different models", path=project.path)
    for name in (reference, other):
        project.model(name)
    _check_args(project, [reference, other], suites)
    options = RunOptions(suites=tuple(suites), use_cache=not no_cache)
    report = run_parity(project, reference, other, items=items, ll_tolerance=ll_tolerance,
                        min_agreement=min_agreement, options=options)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        render(report)
    return 0 if report.passed else 1


def _f(x, fmt: str = "{:.4f}") -> str:
    return "-" if x is None else fmt.format(x)


def render(report) -> None:
    from rich.table import Table

    con = console()
    table = Table(title=f"parity: {report.other} vs reference {report.reference} (first {report.items} items per task)")
    for name in ("task", "method", "items", "agree", "failed", "|Δ loglik| mean", "max"):
        table.add_column(name, justify="left" if name in ("task", "method") else "right")
    for t in report.tasks:
        table.add_row(t.task, t.method or "-", str(t.n), _f(t.agreement, "{:.1%}"), str(t.failed),
                      _f(t.ll_abs_diff_mean), _f(t.ll_abs_diff_max))
    con.print(table)
    metrics = Table(title="effect on each metric (other - reference)")
    for name in ("task", "metric", "reference", "other", "difference"):
        metrics.add_column(name, justify="left" if name in ("task", "metric") else "right")
    for t in report.tasks:
        for m, v in t.metrics.items():
            metrics.add_row(t.task, m, _f(v["reference"]), _f(v["other"]), _f(v["difference"], "{:+.4f}"))
    con.print(metrics)
    verdict = "[green]agree[/green]" if report.passed else "[red]DIFFER[/red]"
    con.print(f"{verdict}: {report.other} matches {report.reference} on {_f(report.agreement, '{:.1%}')} of "
              f"{report.n} items (required {report.min_agreement:.1%})")
    for t in report.tasks:
        if t.disagreeing:
            shown = ", ".join(t.disagreeing[:8]) + (" ..." if len(t.disagreeing) > 8 else "")
            con.print(f"  {t.task}: differ on {shown}")
