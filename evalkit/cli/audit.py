"""``evalkit audit``: which eval items are in the fine-tuning text (contamination)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evalkit.cli.common import config_option, console, no_cache_option, stamp, suite_option, trust_code_option


@click.command()
@config_option
@suite_option
@no_cache_option
@trust_code_option
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Folder for contamination.json.")
def audit(config_path, suites, no_cache, trust_code, output):
    """Mark every eval item whose prompt or reference shares a long n-gram with the
    fine-tuning files (contamination.training in evalkit.yaml), or is a near duplicate of a
    training document; write contamination.json with each item's longest overlapping span."""
    from evalkit.audit.project import audit_project, project_items
    from evalkit.cli.output import check_output_dir, write_output
    from evalkit.config import load_project
    from evalkit.errors import ConfigError
    from evalkit.runner.run import open_cache

    project = load_project(config_path, trust_code=trust_code)
    if project.file.contamination is None:
        raise ConfigError("no contamination: section; add contamination: {training: [your fine-tuning file]}", path=project.path)
    out = check_output_dir(output or Path("evalkit-runs") / f"{stamp()}-audit")
    cache = open_cache(project, not no_cache)
    try:
        result = audit_project(project, list(suites) or None, cache)
    finally:
        cache.close()
    con = console()
    print_audit(con, result)
    for name in project_items(project, list(suites) or None)[1]:
        con.print(f"[yellow]{name}: not audited (an lm-eval task: its items are in lm-eval's datasets)[/yellow]")
    out.mkdir(parents=True, exist_ok=True)
    write_output(out / "contamination.json", json.dumps(result.to_json(), indent=2) + "\n")
    con.print(f"wrote {out}/contamination.json")
    return 0


def print_audit(con, result) -> None:
    from rich.table import Table

    s = result.settings
    near = f", near duplicate at Jaccard >= {s.near_duplicate}" if s.near_duplicate is not None else ""
    mb = sum(t["bytes"] or 0 for t in result.training) / 1e6  # a Hugging Face dataset has no file size
    table = Table(title=f"Contamination: {s.ngram}-gram overlap{near}; {mb:.1f} MB of training text in {result.seconds:.1f} s")
    for col, just in (("task", "left"), ("items", "right"), ("contaminated", "right"), ("share", "right")):
        table.add_column(col, justify=just)
    for t in result.tasks:
        style = "yellow" if t.contaminated else None
        table.add_row(t.task, str(t.items), str(t.contaminated), f"{t.share:.1%}", style=style)
    con.print(table)
