"""``evalkit cache info|clear``."""

from __future__ import annotations

import click

from evalkit.cli.common import config_option, console


@click.group()
def cache():
    """Inspect or clear the response cache."""


def _cache(config_path):
    from evalkit.config import load_project
    from evalkit.runner.cache import ResponseCache

    project = load_project(config_path)
    return ResponseCache(project.cache_dir / "responses.sqlite")


@cache.command()
@config_option
def info(config_path):
    """Where the cache is, how many answers it holds, and its size."""
    c = _cache(config_path)
    i = c.info()
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(i["by_kind"].items())) or "empty"
    console().print(f"{i['path']}\n{i['entries']} answers ({kinds}), {i['bytes'] / 1e6:.1f} MB")
    return 0


@cache.command()
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(config_path, yes):
    """Delete every cached answer."""
    c = _cache(config_path)
    if not yes:
        click.confirm(f"Delete all cached answers in {c.path}?", abort=True)
    n = c.clear()
    console().print(f"deleted {n} answers")
    return 0
