"""Progress in items (with requests as a detail): the runner tells a display, per item, at which
request count the item is complete; the rich display counts items from that."""

from __future__ import annotations

from contextlib import contextmanager

from conftest import make_project

from evalkit.cli.common import _Advance
from evalkit.config import load_project
from evalkit.runner.run import RunOptions, run_model


class Recorder:
    def __init__(self):
        self.bars = []

    def task(self, label, total, done, items=None):
        bar = {"label": label, "total": total, "done": done, "items": items, "advanced": 0}
        self.bars.append(bar)

        class Bar:
            def advance(self, n):
                bar["advanced"] += n

        @contextmanager
        def cm():
            yield Bar()

        return cm()


def test_the_runner_reports_when_each_item_is_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    project = make_project(tmp_path / "p")
    rec = Recorder()
    run = run_model(load_project(project), "ft", RunOptions(), rec)
    [bar] = rec.bars  # one submission for every task of the model
    n_items = sum(t.n for t in run.tasks)
    requests = sum(t.requests for t in run.tasks)
    assert bar["total"] == requests  # distinct requests: identical ones are asked once
    assert bar["done"] + bar["advanced"] == bar["total"]
    assert len(bar["items"]) == n_items and bar["items"] == sorted(bar["items"]) and bar["items"][-1] == bar["total"]

    again = Recorder()  # every task memoised: each reports all its items complete at once
    run = run_model(load_project(project), "ft", RunOptions(), again)
    assert [(b["done"], len(b["items"]), set(b["items"])) for b in again.bars] == [
        (t.requests, t.n, {t.requests}) for t in run.tasks if t.status == "ok"
    ]


class FakeRich:
    def __init__(self):
        self.fields = {}

    def update(self, tid, advance=0, **fields):
        self.fields = fields


def test_the_display_counts_items_and_requests():
    rich = FakeRich()
    bar = _Advance(rich, total=5, done=1, items=[1, 1, 3, 5])  # two items were cached
    assert (bar.fields()["counts"], bar.fields()["requests"]) == ("2/4 items", "(1/5 requests)")
    seen = []
    for _ in range(4):
        bar.advance(1)
        seen.append(rich.fields["counts"].split()[0])
    assert seen == ["2/4", "3/4", "3/4", "4/4"]
    assert rich.fields["rate"].endswith("items/s")
    cached = _Advance(rich, total=3, done=3, items=[3, 3])
    assert cached.fields() == {"counts": "2/2 items", "requests": "(3/3 requests)", "rate": "cached"}
    plain = _Advance(rich, total=7, done=0, items=None)  # lm-eval's requests: no items known
    assert plain.fields()["counts"] == "0/7 requests"


def test_the_bar_fits_the_terminal(monkeypatch):
    import io

    from rich.console import Console

    from evalkit.cli import common

    for width in (80, 100, 120):
        buf = io.StringIO()
        monkeypatch.setattr(common, "console", lambda stderr=False: Console(file=buf, width=width, force_terminal=True))
        with common.RichProgress("base").task("7 tasks", total=3249, done=100, items=[2 * i for i in range(1419)]) as bar:
            bar.advance(1500)
        last = buf.getvalue().split("\r")[-1]
        assert "…" not in last and "801/1419 items" in last, (width, last)
        assert ("(1600/3249 requests)" in last) == (width >= 100)
