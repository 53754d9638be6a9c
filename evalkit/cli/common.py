"""Options and helpers shared by the commands."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

config_option = click.option(
    # readable=False: an unreadable config is reported in evalkit's one line, not click's usage text
    "--config", "config_path", type=click.Path(path_type=Path, readable=False), default=None,
    help="Project config (default: ./evalkit.yaml, else the built-in demo).",
)
suite_option = click.option("--suite", "suites", multiple=True, help="Suite to run (repeatable; default: all).")
limit_option = click.option(
    "--limit", type=click.IntRange(min=1), default=None,
    help="SMOKE TESTS ONLY: the first N items of each task. Too few items for trustworthy statistics.",
)
no_cache_option = click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
trust_code_option = click.option(
    "--trust-code", is_flag=True,
    help="Allow the project's module:Class backends and lm-eval !function files to run (they are Python code).",
)


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def console(stderr: bool = False):
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else log_width())


def log_width() -> int:
    """The width of output that is not a terminal (logs, CI): $COLUMNS when set, else 120,
    not rich's 80, which would stack the comparison table where a log page has room."""
    import os

    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return 120
    return width if width >= 20 else 120


class RichProgress:
    """A progress bar per submission, on stderr (stdout stays clean for tables): items done
    with their rate and the time left, requests as a detail (an item can need several)."""

    def __init__(self, model: str):
        self.model = model

    def task(self, label, total, done, items=None):
        from contextlib import contextmanager

        from rich.progress import Progress

        @contextmanager
        def bar():
            con = console(stderr=True)
            with Progress(*_columns(f"{self.model:>8} {label:<16}", con.width), console=con, transient=False) as p:
                advance = _Advance(p, total, done, items)
                advance.tid = p.add_task(label, total=total, completed=done, **advance.fields())
                yield advance

        return bar()


def _columns(label: str, width: int) -> list:
    """The bar's columns for a terminal ``width`` wide: rich cuts text with "…" where a line
    is too long, so a narrow terminal drops the request count and the elapsed time instead."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    wide, medium = width >= 120, width >= 100
    columns = [TextColumn(label), BarColumn(bar_width=30 if wide else 15 if medium else 8), TextColumn("{task.fields[counts]}")]
    if medium:
        columns.append(TextColumn("{task.fields[requests]}", style="dim"))
    columns.append(TextColumn("{task.fields[rate]}"))
    if wide:
        columns.append(TimeElapsedColumn())
    return columns + [TextColumn("eta"), TimeRemainingColumn()]


class _Advance:
    """Counts requests as the runner reports them; an item is done once the requests it
    needs are (``items``: per item, the request count at which it is complete, sorted)."""

    def __init__(self, progress, total: int, done: int, items):
        import time

        self.progress, self.total, self.requests, self.items = progress, total, done, items
        self.started, self.items_before = time.monotonic(), self._items_done()
        self.tid = None

    def _items_done(self) -> int:
        from bisect import bisect_right

        return bisect_right(self.items, self.requests) if self.items is not None else 0

    def fields(self) -> dict:
        import time

        if self.items is None:
            return {"counts": f"{self.requests}/{self.total} requests", "requests": "", "rate": ""}
        done, elapsed = self._items_done(), time.monotonic() - self.started
        counts = {"counts": f"{done}/{len(self.items)} items", "requests": f"({self.requests}/{self.total} requests)"}
        if self.requests >= self.total and done == self.items_before:
            return {**counts, "rate": "cached"}
        # cached items arrive at once: the rate is of the items answered in this run
        rate = (done - self.items_before) / elapsed if elapsed > 0 else 0.0
        return {**counts, "rate": f"{rate:.1f} items/s"}

    def advance(self, n: int) -> None:
        self.requests += n
        self.progress.update(self.tid, advance=n, **self.fields())


def warn_limit(limit: int | None) -> None:
    if limit is not None:
        console(stderr=True).print(
            f"[yellow]--limit {limit}: a smoke test. {limit} items per task are too few for the statistics to mean much.[/yellow]"
        )


def describe_models(runs) -> list[str]:
    """One line per fine-tuned API model: which base model its id says it was tuned from."""
    lines = []
    for run in runs:
        base = run.identity.get("base_model")
        if base and base != run.identity.get("model"):
            lines.append(f"{run.model}: {run.identity.get('model')} is a fine-tune of {base}")
    return lines


def link_latest(folder: Path) -> Path | None:
    """``latest`` next to ``folder``, a relative link to it, so that the newest run or compare
    has a name that does not change. Replaces only an older link (never a file or folder of
    the user's) in one rename; skipped, without an error, where links are not allowed
    (Windows without the privilege, some network file systems). The link, or None."""
    import os

    folder = Path(folder)
    link = folder.parent / "latest"
    if folder.name == "latest" or (os.path.lexists(link) and not link.is_symlink()):
        return None
    tmp = folder.parent / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(folder.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except (OSError, NotImplementedError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return None
    return link
