"""Compare with a contamination audit: the clean-subset delta is a compare on the clean
items alone, the warning, ``clean_only`` gates, and the built-in demo."""

from __future__ import annotations

import json

import pytest

from conftest import make_project

LEAKED = range(10)  # qa items q0..q9 are in the "fine-tuning file"; q10..q29 are clean


def _leak_project(root, gate: str = "", contamination: bool = True):
    cfg = make_project(root)
    leak = "\n\n".join(f"Question: How do I fix error E{100 + i}?\nAnswer: patch{i} fixes it." for i in LEAKED)
    (root / "corpora" / "leak.txt").write_text(leak + "\n")
    text = cfg.read_text()
    if contamination:
        text += "contamination: {training: [corpora/leak.txt], near_duplicate: null}\n"
    if gate:
        text += "gates:\n  - " + gate + "\n"
    cfg.write_text(text)
    return cfg


def _qa_row(out_dir):
    data = json.loads((out_dir / "compare.json").read_text())
    return next(r for r in data["contamination"]["by_candidate"]["ft"] if r["task"] == "qa"), data


def test_clean_delta_equals_a_compare_on_the_clean_items_alone(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    cfg = _leak_project(tmp_path / "p")
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "full")
    assert code == 0, err
    row, data = _qa_row(tmp_path / "full")
    assert (row["items"], row["contaminated"], row["clean"]["n"], row["dirty"]["n"]) == (30, 10, 20, 10)
    assert "contamination ft qa: 10 of 30 items in the fine-tuning text" in " ".join(out.split())
    full_qa = next(t for t in data["comparisons"][0]["tasks"] if t["task"] == "qa")["metrics"][0]
    assert row["full"]["delta"] == full_qa["delta"] and row["metric"] == full_qa["metric"] == "exact_match"

    # An independent compare: the same project with the leaked items removed from the task's data.
    clean_root = tmp_path / "clean"
    make_project(clean_root)
    qa = clean_root / "tasks" / "data" / "qa.jsonl"
    qa.write_text("".join(line + "\n" for line in qa.read_text().splitlines() if json.loads(line)["id"] not in {f"q{i}" for i in LEAKED}))
    code, _, err = cli("compare", "base", "ft", "--config", clean_root / "evalkit.yaml", "--output", tmp_path / "alone")
    assert code == 0, err
    alone = next(t for t in json.loads((tmp_path / "alone" / "compare.json").read_text())["comparisons"][0]["tasks"]
                 if t["task"] == "qa")["metrics"][0]
    assert alone["n"] == 20
    assert (row["clean"]["delta"], row["clean"]["ci_low"], row["clean"]["ci_high"]) == pytest.approx(
        (alone["delta"], alone["ci_low"], alone["ci_high"]), abs=1e-12)
    # For a mean over items the two subsets' gains add up to the full gain, item-weighted.
    assert row["full"]["delta"] == pytest.approx((20 * row["clean"]["delta"] + 10 * row["dirty"]["delta"]) / 30)
    md = (tmp_path / "full" / "compare.md").read_text()
    assert "## Contamination" in md and "| ft | qa | exact_match | 10 / 30 |" in md


def test_warning_when_most_of_a_target_gain_is_contaminated(tmp_path, cli, monkeypatch):
    """Leak every qa item the fine-tune gets right that the base gets wrong: the whole gain is
    contaminated, and compare says so."""
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    cfg = make_project(tmp_path / "p")
    cfg.write_text(cfg.read_text() + "contamination: {training: [corpora/support.txt], near_duplicate: null}\n")
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "o")
    assert code == 0, err
    row, _ = _qa_row(tmp_path / "o")
    assert row["contaminated"] == 30 and row["clean"]["n"] == 0
    flat = " ".join(out.split())
    assert "warning: ft: qa: 100% of the exact_match gain comes from the 30 of 30 items" in flat
    assert "no clean item" in flat
    html = (tmp_path / "o" / "report.html").read_text()
    assert "<h2>Contamination</h2>" in html and "100% of the exact_match gain" in html and "<h2>Generation drift</h2>" in html


def test_clean_only_gate_decides_on_clean_items(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    gate = "{type: must_improve, task: qa, metric: exact_match, clean_only: true}"
    cfg = _leak_project(tmp_path / "p", gate)
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "o", "--gate")
    assert code in (0, 1), err
    result = json.loads((tmp_path / "o" / "gate.json").read_text())
    text = json.dumps(result)
    assert "(clean items)" in text
    row, _ = _qa_row(tmp_path / "o")
    gate_row = next(iter(result.get("results", result.get("gates", []))))
    assert gate_row["n"] == row["clean"]["n"] == 20
    assert gate_row["estimate"] == pytest.approx(row["clean"]["delta"])


def test_clean_only_gate_without_contamination_section_is_an_error(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    cfg = _leak_project(tmp_path / "p", "{type: must_improve, task: qa, metric: exact_match, clean_only: true}", contamination=False)
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "o", "--gate")
    assert code == 2 and "clean_only" in err and "Traceback" not in err


def test_demo_flags_support_qa(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    code, out, err = cli("compare", "base", "ft", "--output", "o", cwd=work)
    assert code == 0, err
    rows = {r["task"]: r for r in json.loads((work / "o" / "compare.json").read_text())["contamination"]["by_candidate"]["ft"]}
    assert rows["support_qa"]["contaminated"] == rows["support_qa"]["items"] == 205  # every answer is in support.txt
    assert rows["translate_es"]["contaminated"] == 0 and rows["arithmetic"]["contaminated"] == 0
    assert 0 < rows["intent"]["contaminated"] < rows["intent"]["items"]  # a clean subset with its own delta
    assert rows["intent"]["clean"]["delta"] is not None and rows["intent"]["clean"]["ci_low"] is not None
    flat = " ".join(out.split())
    assert "warning: ft: support_qa: 100% of the exact_match gain comes from" in flat
    assert "contamination ft intent:" in flat and "clean items" in flat
