"""``evalkit view [FOLDER]``: a local web app over every compare under FOLDER (loopback only)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("folder", required=False, default=".", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--port", type=click.IntRange(1, 65535), default=8502, show_default=True, help="The port on 127.0.0.1.")
def view(folder, port):
    """Browse the compares under FOLDER: verdicts, gates, forest plots and the items that flipped.

    The app listens on 127.0.0.1 only; open the address it prints. Ctrl-C stops it."""
    import importlib.util
    import subprocess

    from evalkit.errors import MissingExtra
    from evalkit.view.server import view_command

    if importlib.util.find_spec("streamlit") is None:
        raise MissingExtra("streamlit", "view")
    argv, env = view_command(folder, port)
    click.echo(f"evalkit view: http://127.0.0.1:{port} (compares under {folder.resolve()}); Ctrl-C stops it", err=True)
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:  # Ctrl-C reaches streamlit too (same process group): a normal stop
        return 0
