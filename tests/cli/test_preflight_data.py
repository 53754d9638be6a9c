"""Data that cannot be read stops a run before any model is built (no weights loaded, no
n-gram trained, no request sent)."""

from __future__ import annotations

from conftest import make_project


def _model_files(root):
    cache = root / ".cache"
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


def test_a_missing_data_file_stops_compare_before_any_model_is_built(tmp_path, cli):
    config = make_project(tmp_path / "p")
    (config.parent / "tasks" / "data" / "ppl.jsonl").unlink()
    code, _, err = cli("compare", "base", "ft", "--config", config, "--output", tmp_path / "o")
    assert code == 2 and "ppl.jsonl" in err and "not found" in err
    assert _model_files(config.parent) == []  # nothing trained, nothing cached


def test_a_folder_in_place_of_data_stops_run_before_the_model_is_built(tmp_path, cli):
    config = make_project(tmp_path / "p")
    data = config.parent / "tasks" / "data" / "qa.jsonl"
    data.unlink()
    data.mkdir()
    code, _, err = cli("run", "base", "--config", config, "--output", tmp_path / "o")
    assert code == 2 and "qa.jsonl" in err and "directory" in err
    assert _model_files(config.parent) == []


def test_only_the_selected_suites_data_is_checked(tmp_path, cli):
    config = make_project(tmp_path / "p")
    (config.parent / "tasks" / "data" / "ppl.jsonl").unlink()  # ppl is in 'forgetting'
    code, out, err = cli("run", "base", "--suite", "support", "--config", config, "--output", tmp_path / "o")
    assert code == 0, err
