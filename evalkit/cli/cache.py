"""``evalkit cache info|verify|clear``."""

from __future__ import annotations

import click

from evalkit.cli.common import config_option, console

DB_NAME = "responses.sqlite"


@click.group()
def cache():
    """Inspect, verify or clear the response cache."""


def _cache_dir(config_path):
    from evalkit.config import load_project

    return load_project(config_path).cache_dir


@cache.command()
@config_option
def info(config_path):
    """Where the cache is, how many answers it holds, and its size."""
    from evalkit.runner.cache import ResponseCache

    c = ResponseCache(_cache_dir(config_path) / DB_NAME)
    try:
        i = c.info()
    finally:
        c.close()
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(i["by_kind"].items())) or "empty"
    console().print(f"{i['path']}\n{i['entries']} answers ({kinds}), {i['bytes'] / 1e6:.1f} MB")
    return 0


@cache.command()
@config_option
def verify(config_path):
    """Check SQLite's integrity and every stored value's checksum, and load every stored
    n-gram model. Exit 0 when all is sound, 2 when anything is damaged."""
    from evalkit.backends.ngram import check_models
    from evalkit.errors import EvalkitError
    from evalkit.runner.cache import ResponseCache

    cache_dir = _cache_dir(config_path)
    c = ResponseCache(cache_dir / DB_NAME)  # a database that cannot be opened is an error here
    try:
        report = c.verify()
    finally:
        c.close()
    models = check_models(cache_dir)
    integrity = report["integrity"]
    con = console()
    con.print(str(c.path), highlight=False)
    con.print(f"integrity check: {'ok' if not integrity else f'{len(integrity)} problems, first: {integrity[0]}'}", highlight=False)
    con.print(f"answers: {report['answers']['ok']} ok, {report['answers']['bad']} failing their checksum")
    con.print(f"memoised results: {report['memo']['ok']} ok, {report['memo']['bad']} failing their checksum")
    con.print(
        f"n-gram models: {len(models['ok'])} ok, {len(models['damaged'])} damaged"
        + (f", {len(models['ignored'])} old pickle files ignored (never loaded)" if models["ignored"] else "")
    )
    bad_rows = report["answers"]["bad"] + report["memo"]["bad"]
    if integrity or bad_rows or models["damaged"]:
        found = [f"{len(integrity)} integrity problems" if integrity else "",
                 f"{bad_rows} rows failing their checksum" if bad_rows else "",
                 f"{len(models['damaged'])} damaged n-gram models" if models["damaged"] else ""]
        raise EvalkitError(
            f"the cache is damaged ({', '.join(f for f in found if f)}); run `evalkit cache clear` "
            "(bad rows and models are also recomputed when next needed)", path=c.path,
        )
    return 0


@cache.command()
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(config_path, yes):
    """Delete every cached answer, memoised result and stored n-gram model."""
    from evalkit.backends.ngram import remove_models
    from evalkit.runner.cache import ResponseCache, remove_database
    from evalkit.runner.cache_errors import CacheDamaged

    cache_dir = _cache_dir(config_path)
    path = cache_dir / DB_NAME
    if not yes:
        click.confirm(f"Delete all cached answers and models in {cache_dir}?", abort=True)
    try:
        c = ResponseCache(path)
        try:
            message = f"deleted {c.clear()} answers"
        finally:
            c.close()
    except CacheDamaged:  # nothing in it can be trusted or even read: the file goes
        remove_database(path)
        message = f"removed the damaged database {path}"
    n_models = remove_models(cache_dir)
    console().print(message + (f" and {n_models} n-gram model files" if n_models else ""), highlight=False)
    return 0
