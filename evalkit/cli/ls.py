"""``evalkit ls``."""

from __future__ import annotations

import click

from evalkit.cli.common import config_option, console


@click.command()
@config_option
def ls(config_path):
    """List models, suites and tasks of the project."""
    from evalkit.config import load_project

    project = load_project(config_path, import_code=False)  # listing never runs project code
    con = console()
    con.print(f"project: {project.path}{'  (built-in demo)' if project.is_demo else ''}")
    con.print("models:")
    for name, cfg in project.models.items():
        con.print(f"  {name:<12} backend={cfg.backend}  model={cfg.model}")
    con.print("suites:")
    for name, s in project.file.suites.items():
        con.print(f"  {name:<12} ({s.role}) {', '.join(s.tasks)}")
    con.print("tasks:")
    for name, t in project.tasks.items():
        con.print(f"  {name:<16} {t.type:<16} {t.description}")
    return 0
