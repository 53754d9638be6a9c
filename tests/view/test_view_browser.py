"""`evalkit view` in a real browser: Debian's chromium, headless, driven by Playwright, against
the app started on a free loopback port over two demo compares and one whose fine-tune answers
with the report tests' XSS payloads.

Set EVALKIT_VIEW_SCREENSHOT=folder to keep a screenshot of each page."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from view_helpers import PAYLOAD, build_root, demo_broke

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sync_playwright = None

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="browser test needs the playwright package: pip install playwright"),
    pytest.mark.skipif(CHROMIUM is None, reason="browser test needs chromium on PATH: apt-get install -y chromium"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    from evalkit.view.server import running_viewer

    root = build_root(tmp_path_factory.mktemp("compares"))
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        with running_viewer(root, log=root / "streamlit.log") as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS, env={**os.environ, "HOME": str(home)})
            yield root, url, browser
            browser.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("EVALKIT_VIEW_SCREENSHOT")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _open(page, url: str, name: str) -> None:
    """The index, then the Open button on the row of compare ``name``."""
    page.goto(url)
    rows = page.get_by_test_id("stText").filter(has_text=re.compile(r"\d\d:\d\d  "))
    expect(rows).to_have_count(3, timeout=30_000)
    texts = rows.all_inner_texts()
    k = next(i for i, t in enumerate(texts) if f"  {name}: " in t)
    page.get_by_role("button", name="Open").nth(k).click()
    expect(page.get_by_test_id("ek-item").first).to_be_visible(timeout=30_000)


def test_index_lists_every_compare_with_its_verdict(viewer):
    root, url, browser = viewer
    page = browser.new_page()
    page.goto(url)
    expect(page.get_by_text("3 compare(s) under")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Open")).to_have_count(3)
    texts = " ".join(page.get_by_test_id("stText").all_inner_texts())
    for name in ("demo-monday", "demo-tuesday", "xss"):
        assert f"  {name}: ft vs base" in texts
    assert texts.count("FAIL") >= 2
    _shot(page, "index")
    page.close()


def test_the_demo_failing_gate_regressions_are_shown_first_and_filters_work(viewer):
    root, url, browser = viewer
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, url, "demo-monday")
    expect(page.get_by_test_id("ek-verdict")).to_contain_text("FAIL")
    broke = demo_broke(root / "demo-monday")
    cards = page.get_by_test_id("ek-item")
    heads = cards.all_inner_texts()
    assert broke >= 5 and len(heads) > broke
    assert all("decides a failing gate" in h and "regressed" in h for h in heads[:broke])
    assert not any("decides a failing gate" in h for h in heads[broke:])
    _shot(page, "compare")

    page.get_by_text("improvements", exact=True).click()
    expect(cards.first).to_contain_text("improved", timeout=15_000)
    assert all("regressed" not in h for h in cards.all_inner_texts())
    page.get_by_label("Search prompts, answers, references and ids").fill("syncing")
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"^\d+ of \d+ changed items$"))).to_be_visible()
    expect(cards.first).to_contain_text("syncing", timeout=15_000)
    page.close()


def test_two_compares_of_the_same_base_side_by_side(viewer):
    root, url, browser = viewer
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, url, "demo-tuesday")
    page.get_by_text("Two compares", exact=True).click()
    expect(page.get_by_test_id("ek-verdict")).to_have_count(2, timeout=30_000)
    _shot(page, "two")
    page.close()


def test_model_text_is_shown_as_text_and_never_runs(viewer):
    root, url, browser = viewer
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open(page, url, "xss")
    page.get_by_label("Search prompts, answers, references and ids").fill("pwned")
    page.keyboard.press("Enter")
    cards = page.get_by_test_id("ek-item")
    expect(cards.first).to_contain_text("<script>window.__pwned='script'</script>", timeout=15_000)
    assert PAYLOAD.split(" ![x]")[0] in cards.first.inner_text()
    for link in cards.locator("a").all():
        link.click()
    assert page.evaluate("window.__pwned") is None
    assert cards.locator("img").count() == 0 and cards.locator("script").count() == 0
    _shot(page, "xss")
    page.close()
    assert dialogs == []
    assert all(u.startswith(url) or u.startswith("data:") for u in requests), [u for u in requests if not u.startswith(url)]
