"""`evalkit compare --format table|markdown|json` and `--quiet`: what stdout holds, for scripts."""

from __future__ import annotations

import json

from conftest import make_project


def test_json_on_stdout_is_compare_json(cli, tmp_path):
    project = make_project(tmp_path / "p")
    code, out, err = cli("compare", "base", "ft", "--config", project, "--output", tmp_path / "o", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == json.loads((tmp_path / "o" / "compare.json").read_text())
    assert "wrote" in err  # the human text went to stderr


def test_markdown_on_stdout_is_compare_md(cli, tmp_path):
    project = make_project(tmp_path / "p")
    code, out, err = cli("compare", "base", "ft", "--config", project, "--output", tmp_path / "o", "--format", "markdown")
    assert code == 0, err
    assert out == (tmp_path / "o" / "compare.md").read_text()


def test_quiet_prints_the_verdict_line_and_paths_only(cli, tmp_path):
    project = make_project(tmp_path / "p")
    code, out, err = cli("compare", "base", "ft", "--config", project, "--output", tmp_path / "o", "--quiet")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("ft vs base: target tasks: better on ") and lines[1].startswith("wrote "), out
    rows = [m for t in json.loads((tmp_path / "o" / "compare.json").read_text())["comparisons"][0]["tasks"]
            for m in t["metrics"] if m["tested"] and m["family"] == "target"]
    better = sum(m["improved"] is True for m in rows)
    assert f"better on {better}, worse on " in lines[0] and f"of {len(rows)}" in lines[0]
    assert err == ""  # no progress bars either
