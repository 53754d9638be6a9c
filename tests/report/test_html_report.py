"""report.html: self-contained, shows the verdict, forest plot and changed items, rebuilds from
a stored compare, and never runs model text (checked in a real browser)."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from conftest import make_project

PAYLOAD = (
    "<script>window.__pwned='script'</script><img src=x onerror=\"window.__pwned='img'\">"
    "<a href=\"javascript:window.__pwned='link'\">click</a> ![x](http://198.51.100.7/x.png)"
)
MODELS = (
    "  base: {backend: 'fakes:GenerateOnly', answer: 'patch3 fixes it.'}\n"
    f"  ft: {{backend: 'fakes:GenerateOnly', answer: {json.dumps(PAYLOAD)}}}\n"
)


@pytest.fixture
def report_dir(cli, tmp_path):
    project = make_project(tmp_path / "p", MODELS)
    project.write_text(project.read_text() + "gates:\n  - {type: must_not_regress, task: qa, metric: exact_match, margin: 0.05}\n")
    code, _, err = cli("compare", "base", "ft", "--suite", "support", "--gate", "--config", project, "--output", tmp_path / "o")
    assert code == 1, err  # ft answers nothing right: the gate fails
    return tmp_path / "o"


def test_report_holds_verdict_forest_items_and_provenance(report_dir):
    html = (report_dir / "report.html").read_text()
    assert "FAIL" in html and "<svg" in html and "Items that changed" in html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)  # nothing to fetch (xmlns is no fetch)
    assert "<script>window" not in html and "onerror=\"window" not in html  # model text never raw
    data = json.loads(html.split("id='items-0'>")[1].split("</script>")[0])
    assert any(it["ft"] == PAYLOAD for it in data)  # the text survives, as data
    assert "config sha256" in html and "evalkit.yaml" in html


def test_report_leads_with_the_decision_and_names_the_models(report_dir):
    html = (report_dir / "report.html").read_text()
    order = [html.index(s) for s in ("class='verdict", "<h2>Gates</h2>", "Regressions that decide the failing gate",
                                     "<nav class=toc>", "<h2 id=forest-0>", "<h2 id=changed-0>", "<h2 id=provenance>")]
    assert order == sorted(order)
    data = json.loads(html.split("id='items-0'>")[1].split("</script>")[0])
    assert data and all(it["decisive"] for it in data if it["task"] == "qa" and it["gain"] < 0)
    assert "fingerprints" in html and "as of 20" in html  # model identity and the dated price table


def test_report_is_rebuilt_from_the_stored_compare(cli, report_dir):
    first = (report_dir / "report.html").read_text()
    (report_dir / "report.html").unlink()
    code, out, _ = cli("report", report_dir)
    assert code == 0 and (report_dir / "report.html").read_text() == first


def test_plot_metric_chooses_the_forest_plot_metric_or_says_what_exists(cli, report_dir):
    code, _, err = cli("report", report_dir, "--plot-metric", "qa=nope")
    assert code == 2 and "exact_match, f1, chrf" in err and "Traceback" not in err
    code, _, err = cli("report", report_dir, "--plot-metric", "qa")
    assert code == 2 and "TASK=METRIC" in err
    code, _, err = cli("report", report_dir, "--plot-metric", "qa=chrf")
    assert code == 0, err


def test_report_of_a_missing_folder_is_a_one_line_error(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("report", tmp_path / "empty")
    assert code == 2 and "compare.json" in err and "Traceback" not in err


def _browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return sync_api, exe


def test_model_text_never_runs_in_a_real_browser(report_dir, tmp_path, monkeypatch):
    sync_api, exe = _browser()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.makedirs(tmp_path / "home", exist_ok=True)
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    requests, dialogs = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=args, headless=True)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((report_dir / "report.html").as_uri())
        page.wait_for_selector(".item")
        assert "<script>window.__pwned" in page.inner_text("[data-mode=decisive] .list")  # ft broke qa: decisive
        page.click("[data-mode=all] button[data-kind=down]")
        page.fill("[data-mode=all] input[type=search]", "pwned")
        shown = page.inner_text("[data-mode=all] .list")
        assert "<script>window.__pwned='script'</script>" in shown  # shown as text
        for link in page.query_selector_all(".list a"):
            link.click()
        assert page.evaluate("window.__pwned") is None
        assert page.query_selector(".list img") is None and page.query_selector(".list script") is None
        counts = page.inner_text("[data-mode=all] .count")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert dialogs == []
    assert all(u.startswith("file://") for u in requests), requests
    assert "changed items" in counts
