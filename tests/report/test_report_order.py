"""report.html is led by the decision: on the demo the failing gate's regressions come first,
changed items are ordered by how much they matter, the forest plot shows the gated metric and
keeps small regressions visible, and a report of 100,000 items keeps one page of cards in the DOM."""

from __future__ import annotations

import html
import json
import shutil

import pytest

from evalkit.report.html import _by_scale, _forest_rows, _safe_json
from evalkit.report.html_page import banner, page
from evalkit.report.items import order


def _it(task, gain, metric="m", binary=False, decisive=False, id_="x"):
    return {"task": task, "metric": metric, "gain": gain, "binary": binary, "decisive": decisive, "id": id_}


def test_order_puts_decisive_then_flips_then_large_continuous_changes():
    items = [
        _it("mt", 0.3, "bleu", id_="wiggle"), _it("mt", -40.0, "bleu", id_="big-bleu-drop"),
        _it("qa", 1.0, binary=True, id_="fixed"), _it("qa", -1.0, binary=True, id_="broke"),
        _it("mc", -1.0, binary=True, decisive=True, id_="decides"),
    ]
    assert [it["id"] for it in order(items)] == ["decides", "broke", "fixed", "big-bleu-drop", "wiggle"]


def test_forest_splits_a_unit_by_scale_so_a_small_regression_gets_its_own_panel():
    rows = [{"unit": "bits per byte", "gain": 2.0, "low": 1.9, "high": 2.1, "margin": None, "min_effect": None, "label": "a"},
            {"unit": "bits per byte", "gain": -0.02, "low": -0.03, "high": -0.01, "margin": 0.05, "min_effect": None, "label": "b"},
            {"unit": "bits per byte", "gain": 1.0, "low": 0.8, "high": 1.2, "margin": None, "min_effect": None, "label": "c"}]
    panels = {r["label"]: r["unit"] for r in _by_scale(rows)}
    assert panels["a"] == panels["c"] != panels["b"]


def _comparison():
    def metric(name, tested, delta, low, high, improved):
        return {"metric": name, "higher_is_better": True, "delta": delta, "ci_low": low, "ci_high": high,
                "tested": tested, "improved": improved, "base": 0.0, "ft": delta, "n": 10}
    return {"base": "b", "candidate": "f", "tasks": [
        {"task": "mt", "role": "target", "status": "ok",
         "metrics": [metric("bleu", True, 0.5, -0.1, 1.1, None), metric("chrf", False, 9.0, 5.0, 13.0, None)]},
        {"task": "mc", "role": "forgetting", "status": "ok", "metrics": [metric("accuracy", True, -0.1, -0.2, -0.05, False)]},
    ]}


def test_forest_shows_the_gated_metric_or_the_chosen_one():
    c = _comparison()
    gate = {"gates": [{"target": "mt", "metric": "chrf", "type": "must_improve", "threshold": 5.0, "verdict": "PASS"}]}
    assert [r["label"] for r in _forest_rows(c, gate)] == ["mt · chrf", "mc · accuracy"]
    assert [r["label"] for r in _forest_rows(c, None)] == ["mt · bleu", "mc · accuracy"]
    assert [r["label"] for r in _forest_rows(c, None, {"mt": "chrf"})][0] == "mt · chrf"


def test_banner_counts_every_metric_not_only_the_first():
    # Was "better on 0 of 1" while chrF's interval was clear of zero.
    text = banner(_comparison())
    assert "better on 1 of 2 metrics" in text and "worse on 1" in text


def test_report_on_the_demo_shows_the_failing_gates_regressions_first(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = cli("compare", "base", "ft", "--gate", "--output", "o", cwd=tmp_path)
    assert code == 1, err
    gates = json.loads((tmp_path / "o" / "gate.json").read_text())["gates"]
    failing = {(g["target"], g["metric"]) for g in gates if g["verdict"] == "FAIL"}
    text = (tmp_path / "o" / "report.html").read_text()
    items = json.loads(text.split("id='items-0'>")[1].split("</script>")[0])
    broke = sum(next(m["broke"] for t in json.loads((tmp_path / "o" / "compare.json").read_text())["comparisons"][0]["tasks"]
                     if t["task"] == task for m in t["metrics"] if m["metric"] == metric) for task, metric in failing)
    assert broke >= 5  # the demo's forgetting regression (11 items at the time of writing)
    first = items[:broke]
    assert all((it["task"], it["metric"]) in failing and it["gain"] < 0 for it in first)
    assert all(not it["decisive"] for it in items[broke:])
    assert text.index("Regressions that decide the failing gate") < text.index("<nav class=toc>") < text.index("<svg")


def test_a_report_of_100000_items_keeps_one_page_of_cards_in_the_dom(tmp_path, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    exe = shutil.which("chromium") or pytest.skip("Debian's chromium is not installed")
    items = [{"task": "t", "id": f"i{i}", "cluster": "", "metric": "m", "gain": -1.0 if i % 3 else 1.0, "base_score": 1.0,
              "ft_score": 0.0, "binary": True, "decisive": i < 7, "prompt": f"prompt {i}", "base": "a", "ft": "b", "reference": "a"}
             for i in range(100_000)]
    c = _comparison()
    gate = {"verdict": "FAIL", "gates": [{"name": "g", "verdict": "FAIL", "target": "t", "metric": "m", "message": "",
                                          "type": "must_not_regress", "threshold": 0.1}]}
    section = {"comparison": c, "gate": gate, "forest": "", "items": items, "totals": []}
    path = tmp_path / "big.html"
    path.write_text(page({"comparisons": [c], "provenance": {}}, [section], _safe_json, html.escape))
    monkeypatch.setenv("HOME", str(tmp_path))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"], headless=True)
        pg = browser.new_page()
        pg.goto(path.as_uri())
        pg.wait_for_selector("[data-mode=all] .item")
        assert pg.locator(".item").count() == 7 + 50
        assert "page 1 of 2000" in pg.inner_text("[data-mode=all] .count")
        pg.fill("[data-mode=all] input[type=search]", "prompt 99999")
        assert pg.inner_text("[data-mode=all] .count").startswith("1 of 100000")
        browser.close()
