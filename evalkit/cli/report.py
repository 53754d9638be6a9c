"""``evalkit report DIR``: rebuild report.html from a stored compare folder."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import console


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
def report(directory):
    """Rebuild DIR/report.html from the compare.json, gate.json and runs in DIR."""
    from evalkit.report.html import write_report

    path = write_report(directory)
    console().print(f"wrote {path}")
    return 0
