"""The viewer finds the review studies built from a compare's runs (issue 17, item 1: links
into a review study for the same items), and only those."""

from __future__ import annotations

import json
import sqlite3

import pytest

from evalkit.cli import main as cli_main
from evalkit.view.studies import studies_for


@pytest.fixture
def review_cli(cli, monkeypatch):
    pytest.importorskip("sqlalchemy", reason="the review extra is not installed: pip install -e '.[review]'")
    monkeypatch.setitem(cli_main.COMMANDS, "review", ("evalkit.cli.review:review", "Blind side-by-side human review of responses."))
    return cli


def test_a_compare_links_to_the_studies_built_from_its_runs(review_cli, project, tmp_path):
    code, _, err = review_cli("compare", "base", "ft", "--config", project, "--output", tmp_path / "cmp")
    assert code == 0, err
    cmp, runs, work = tmp_path / "cmp", tmp_path / "cmp" / "runs", tmp_path / "work"
    work.mkdir()
    code, out, err = review_cli("review", "create", "pilot", "--from", runs / "base", "--from", runs / "ft",
                                "--task", "qa", "--items", "7", cwd=work)
    assert code == 0, err
    # The same runs with the roles swapped: its base is the compare's fine-tune, so not this compare's study.
    code, _, err = review_cli("review", "create", "swapped", "--from", runs / "ft", "--from", runs / "base",
                              "--task", "qa", "--items", "5", cwd=work)
    assert code == 0, err
    sqlite3.connect(work / "other-tool.sqlite").execute("CREATE TABLE t (x)").connection.commit()  # not a study: skipped
    comparison = json.loads((cmp / "compare.json").read_text())["comparisons"][0]

    links = studies_for(cmp, comparison, [work, tmp_path])
    assert [(s.name, s.status, s.items) for s in links] == [("pilot", "open", 7)]
    serve, results = links[0].commands()
    assert serve == f"evalkit review serve pilot --db sqlite:///{(work / 'pilot.sqlite').resolve()}"
    assert results.startswith("evalkit review results pilot --db sqlite:///")
    assert studies_for(cmp, comparison, [tmp_path]) == []  # the studies' folder is not searched
    # The command it prints opens the study.
    code, out, err = review_cli(*results.split()[1:], "--output", tmp_path / "res", cwd=tmp_path)
    assert code == 0, err
