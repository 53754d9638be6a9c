"""``evalkit compare BASE FT [FT2 ...]``: each argument is a model name or a stored run directory."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evalkit.cli.common import RichProgress, config_option, console, limit_option, no_cache_option, stamp, suite_option


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
def compare(base, candidates, config_path, suites, limit, no_cache, output, resamples, seed):
    """Compare BASE with each candidate on identical items.

    BASE and each candidate are model names from the config or run directories written
    earlier (a stored baseline is not run again).
    """
    from evalkit.compare.compare import cached_compare
    from evalkit.config import load_project
    from evalkit.report.console import print_comparison
    from evalkit.report.markdown import render
    from evalkit.runner.run import RunOptions, open_cache

    project = load_project(config_path)
    out = output or Path("evalkit-runs") / f"{stamp()}-{base}-vs-{'-'.join(Path(c).name for c in candidates)}"
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(suites=tuple(suites), limit=limit, use_cache=not no_cache)
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
    finally:
        cache.close()
    payload = {"format": "evalkit.compare/1", "comparisons": [c.to_json() for c in comparisons]}
    (out / "compare.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "compare.md").write_text(render(comparisons))
    con = console()
    for c in comparisons:
        print_comparison(con, c)
    con.print(f"wrote {out}/compare.json and compare.md")
    incomplete = [r.model for r in [base_run, *runs] if not r.complete]
    if incomplete:
        con.print(f"[red]incomplete: backend errors in {', '.join(incomplete)}; run the same command to retry them[/red]")
        return 3
    return 0
