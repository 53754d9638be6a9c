"""``evalkit run MODEL``."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import (
    RichProgress,
    config_option,
    console,
    limit_option,
    link_latest,
    no_cache_option,
    suite_option,
    trust_code_option,
    warn_limit,
)


@click.command()
@click.argument("model")
@config_option
@suite_option
@limit_option
@no_cache_option
@trust_code_option
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Run directory to write (default: runs/MODEL, then runs/latest links to it).")
def run(model, config_path, suites, limit, no_cache, trust_code, output):
    """Run MODEL on the suites; write results.json and samples.jsonl."""
    from rich.markup import escape

    from evalkit.cli.output import check_output_dir
    from evalkit.config import load_project
    from evalkit.runner.run import RunOptions, failure_reasons, run_models

    from evalkit.preflight import check_data, check_models

    project = load_project(config_path, trust_code=trust_code)
    check_models(project, [model])
    check_data(project, suites)
    # runs/MODEL, where the README's `evalkit compare runs/base ft` finds it; a run of the same
    # model replaces it (the answers stay in the cache)
    out = check_output_dir(output or Path("runs") / model)
    options = RunOptions(suites=tuple(suites), limit=limit, use_cache=not no_cache)
    warn_limit(limit)
    result = run_models(project, [model], options, RichProgress(model))[0]
    result.write(out)
    con = console()
    for t in result.tasks:
        if t.status == "skipped":
            con.print(f"{t.task:<16} skipped: {t.reason}")
            continue
        vals = ", ".join(f"{k}={v.value:.4f}" if v.value is not None else f"{k}=-" for k, v in t.metrics.items())
        if t.n and t.n_errors == t.n:
            vals = "no items scored (every item failed)"
        err = f"  [yellow]{t.n_errors} errors[/yellow]" if t.n_errors else ""
        con.print(f"{escape(t.task):<16} n={t.n:<5} {escape(vals)}{err}")  # exact_match[strict] is not a style
    if output is None:
        link_latest(out)
    con.print(f"wrote {out}  (compare a candidate with it: evalkit compare {out} CANDIDATE)", markup=False)
    if not result.complete:
        con.print("[red]incomplete: backend errors; run the same command to retry them. Most frequent:[/red]")
        for line in failure_reasons([result]):
            con.print(f"  {line}", markup=False)
    return 0 if result.complete else 3
