"""``evalkit audit`` as a user runs it, and the config section it reads."""

from __future__ import annotations

import json

from conftest import make_project


def _with_contamination(root, section: str):
    cfg = make_project(root)
    cfg.write_text(cfg.read_text() + section)
    return cfg


def test_audit_writes_table_and_json(tmp_path, cli):
    # corpora/support.txt holds "Question: How do I fix error E1xx?\nAnswer: patchN fixes it."
    # whole: the qa prompts (9 tokens) occur in it; min_tokens 5 lets them count.
    cfg = _with_contamination(tmp_path / "p", "contamination: {training: [corpora/support.txt], min_tokens: 5}\n")
    code, out, err = cli("audit", "--config", cfg, "--output", tmp_path / "out")
    assert code == 0, err
    assert "qa" in out and "30" in out and "100.0%" in out
    data = json.loads((tmp_path / "out" / "contamination.json").read_text())
    by_task = {t["task"]: t for t in data["tasks"]}
    assert by_task["qa"]["contaminated"] == 30 and by_task["mc"]["contaminated"] == 0
    ids = {f["id"] for f in data["contaminated"] if f["task"] == "qa"}
    assert ids == {f"q{i}" for i in range(30)}
    assert all(f["longest_span"].startswith("question how do i fix error") for f in data["contaminated"] if f["task"] == "qa")
    # again: served from the cache's memo, the same findings
    code, _, err = cli("audit", "--config", cfg, "--output", tmp_path / "again")
    again = json.loads((tmp_path / "again" / "contamination.json").read_text())
    assert code == 0 and again["contaminated"] == data["contaminated"] and again["tasks"] == data["tasks"]


def test_unknown_contamination_key_is_one_line_error(tmp_path, cli):
    cfg = _with_contamination(tmp_path / "p", "contamination: {training: [corpora/support.txt], ngrams: 13}\n")
    code, out, err = cli("audit", "--config", cfg)
    assert code == 2 and "unknown key 'ngrams'" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_missing_training_file_is_one_line_error(tmp_path, cli):
    cfg = _with_contamination(tmp_path / "p", "contamination: {training: [nope.jsonl]}\n")
    code, out, err = cli("audit", "--config", cfg, "--output", tmp_path / "o")
    assert code == 2 and "nope.jsonl" in err and "Traceback" not in err


def test_audit_without_section_says_what_to_add(tmp_path, cli):
    cfg = make_project(tmp_path / "p")
    code, out, err = cli("audit", "--config", cfg)
    assert code == 2 and "contamination:" in err


def test_training_from_a_hugging_face_dataset_folder(tmp_path, cli, monkeypatch):
    """A local dataset folder read by datasets (offline, in a cache of the test's own); its
    default split is train, and chat records are read as in a JSONL file."""
    datasets_config = __import__("pytest").importorskip("datasets.config")
    monkeypatch.setattr(datasets_config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    folder = tmp_path / "ft_data"
    folder.mkdir()
    rows = [{"messages": [{"role": "user", "content": f"Question: How do I fix error E{100 + i}?\nAnswer:"},
                          {"role": "assistant", "content": f"patch{i} fixes it."}]} for i in range(5)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = _with_contamination(tmp_path / "p", f"contamination: {{training: [{{hf: {{path: {folder}}}}}], min_tokens: 5}}\n")
    code, out, err = cli("audit", "--config", cfg, "--output", tmp_path / "out")
    assert code == 0, err
    data = json.loads((tmp_path / "out" / "contamination.json").read_text())
    assert sorted(f["id"] for f in data["contaminated"] if f["task"] == "qa") == [f"q{i}" for i in range(5)]
    assert data["training"][0]["path"].startswith("hf:")
