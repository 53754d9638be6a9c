"""``evalkit validate``: load the config, every task and every data file, as a run would."""

from __future__ import annotations

import click

from evalkit.cli.common import config_option, console


@click.command()
@config_option
def validate(config_path):
    """Check the config, the task files and all their data; exit 2 at the first problem."""
    from evalkit.config import load_project
    from evalkit.metrics.registry import metrics_for
    from evalkit.suites.items import load_items

    project = load_project(config_path)
    con = console()
    for name in project.models:
        project.backend(name).identity()  # resolves files the model needs (training text, weights)
    for name, spec in project.tasks.items():
        metrics_for(spec)
        items = load_items(spec)
        con.print(f"ok  {name:<16} {len(items):>6} items  {spec.data_path}")
    con.print(f"ok  {len(project.models)} models, {len(project.file.suites)} suites, {len(project.tasks)} tasks: {project.path}")
    return 0
