"""``evalkit report DIR``: rebuild report.html from a stored compare folder."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import console


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--plot-metric", "plot_metric", multiple=True, metavar="TASK=METRIC",
              help="The metric the forest plot shows for TASK (default: the gated metrics, else the primary one). Repeatable.")
def report(directory, plot_metric):
    """Rebuild DIR/report.html from the compare.json, gate.json and runs in DIR."""
    from evalkit.errors import ConfigError, DataError
    from evalkit.report.html import write_report
    from evalkit.report.plot_memo import FolderMemo

    chosen = {}
    for pair in plot_metric:
        task, sep, metric = pair.partition("=")
        if not sep or not task or not metric:
            raise ConfigError(f"--plot-metric {pair}: expected TASK=METRIC, e.g. translate_es=chrf")
        chosen[task] = metric
    try:
        path = write_report(directory, FolderMemo(directory), plot_metric=chosen or None)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # The report reads compare.json, gate.json and the runs' samples as evalkit wrote
        # them; a hand-edited or truncated one lacks a key or has a value of another type.
        raise DataError(
            f"compare.json, gate.json or a run's samples.jsonl is not what `evalkit compare` writes "
            f"({type(exc).__name__}: {exc}); run the comparison again", path=directory,
        ) from None
    console().print(f"wrote {path}")
    return 0
