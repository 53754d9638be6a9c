"""The small commands, driven as a user types them."""

from __future__ import annotations

import pytest

from evalkit.cli.main import COMMANDS


@pytest.mark.parametrize("args", [[], *[[c] for c in COMMANDS], ["cache", "info"], ["cache", "clear"]])
def test_every_command_has_help(cli, args):
    code, out, _ = cli(*args, "--help")
    assert code == 0 and "Usage:" in out


def test_ls_lists_models_suites_and_tasks(cli, project):
    code, out, _ = cli("ls", "--config", project)
    assert code == 0
    for word in ("base", "ft", "support", "forgetting", "qa", "multiple_choice"):
        assert word in out


def test_cache_info_and_clear(cli, project):
    cli("run", "ft", "--config", project, "--suite", "support", "--output", project.parent / "r")
    code, out, _ = cli("cache", "info", "--config", project)
    assert code == 0 and "34 answers" in out  # 30 qa + 2 distinct messages x 2 labels (identical requests share one entry)
    code, out, _ = cli("cache", "clear", "--yes", "--config", project)
    assert code == 0 and "deleted" in out
    _, out, _ = cli("cache", "info", "--config", project)
    assert "0 answers" in out


def test_run_prints_per_task_scores(cli, project, tmp_path):
    code, out, _ = cli("run", "ft", "--config", project, "--limit", "5", "--output", tmp_path / "r")
    assert code == 0 and "qa" in out and "exact_match=" in out and (tmp_path / "r" / "results.json").exists()
