"""The review app in a real browser: Debian's chromium, headless, driven by Playwright,
against `streamlit run` started here on a free loopback port.

Set EVALKIT_REVIEW_SCREENSHOT=path.png to save a screenshot of the rating page.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from review_helpers import BASE_MODEL, FT_MODEL, make_run, new_study
from sqlalchemy import select

from human_review import schema as t
from human_review.server import running_app

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="browser test needs the playwright package: pip install playwright"),
    pytest.mark.skipif(CHROMIUM is None, reason="browser test needs chromium on PATH: apt-get install -y chromium"),
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

SUPPORT = [  # (prompt, a good answer, a weak answer)
    ("I was charged twice for order 1042. What should I do?",
     ("Sorry about that! Duplicate charges are usually a temporary authorisation hold and drop off within 3 business "
      "days. If both charges are still there after that, reply with your order number and we will refund the duplicate."),
     ("Thank you for reaching out. Billing matters can be complex. There are many possible reasons why a charge may "
      "appear twice. You may wish to contact your bank or card issuer, who can provide further information.")),
    ("How do I export my notes to PDF?",
     ("Open the note, choose File > Export > PDF, and pick a folder. To export a whole notebook, right-click it in the "
      "sidebar and choose Export notebook."),
     "You can export notes in various formats."),
    ("Sync stopped working on my phone.",
     ("Go to Settings > Account > Sign out, then sign in again; this refreshes the sync token. If it still fails, check "
      "that background data is allowed for the app."),
     "Please try again later."),
    ("Can I share a notebook with my team?",
     ("Yes: right-click the notebook, choose Share, and add your team's e-mail addresses. Each person can be given view "
      "or edit rights."),
     "Sharing is a feature of many note applications."),
    ("Where are my deleted notes?", "Deleted notes stay in Trash for 30 days; open Trash in the sidebar and choose Restore.",
     "Deleted notes are deleted."),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)})
            yield b
            b.close()


def support_runs(root: Path, items) -> list[Path]:
    keys = {("support", f"s{i}"): it for i, it in enumerate(items)}
    prompts = {k: it[0] for k, it in keys.items()}
    base = make_run(root / "runs" / "base", BASE_MODEL, {k: it[2] for k, it in keys.items()}, prompts=prompts)
    ft = make_run(root / "runs" / "ft", FT_MODEL, {k: it[1] for k, it in keys.items()}, prompts=prompts)
    return [base, ft]


class Watch:
    """Everything the page receives or asks for: websocket frames, HTTP responses, requests,
    console messages and dialogs."""

    def __init__(self, page):
        self.frames: list[bytes] = []
        self.responses, self.requests, self.console, self.dialogs, self.sockets = [], [], [], [], []
        page.on("websocket", self._socket)
        page.on("response", lambda r: self.responses.append(r))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.console.append(m.text))
        page.on("dialog", self._dialog)

    def _socket(self, ws):
        self.sockets.append(ws.url)
        ws.on("framereceived", lambda payload: self.frames.append(payload if isinstance(payload, bytes) else payload.encode()))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def bodies(self) -> list[bytes]:
        out = []
        for r in self.responses:
            try:
                out.append(r.url.encode() + b"\n" + r.body())
            except Exception:  # noqa: BLE001 - redirects and aborted requests have no body
                out.append(r.url.encode())
        return out


def wait_until(page, predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(50)  # lets Playwright deliver events while waiting
    raise AssertionError(f"timed out waiting for {what}")


def shown(page) -> list[str] | None:
    """[prompt, response A, response B] once the app's script run has finished, else None."""
    if page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state") != "notRunning":
        return None  # mid-run: the buttons on screen may be the previous item's
    if page.locator('[data-testid="stElementContainer"][data-stale="true"]').count():
        return None  # the previous item's elements are still on screen
    texts = page.locator('[data-testid="stCode"]').all_inner_texts()
    return texts if len(texts) == 3 else None


def vote_rows(store):
    with store.engine.connect() as c:
        return c.execute(select(t.vote.c.action, t.vote.c.choice).order_by(t.vote.c.id)).all()


def act(page, store, do, n_rows: int, before: list[str]) -> list[str]:
    """Do something that writes row ``n_rows``, wait for it in the database and for the next item on screen."""
    do()
    wait_until(page, lambda: len(vote_rows(store)) == n_rows, f"vote row {n_rows}")
    return settled(page, lambda: (s := shown(page)) and s != before and s, "the next item")


def settled(page, predicate, what: str):
    """``wait_until``, then the same value again 300 ms later: on a loaded machine a rerun can
    show the next prompt beside the previous answers for a moment between two script runs."""
    value = wait_until(page, predicate, what)
    for _ in range(40):
        page.wait_for_timeout(300)
        again = wait_until(page, predicate, what)
        if again == value:
            return value
        value = again
    raise AssertionError(f"{what} never settled")


def sign_in(page, base: str, token: str) -> list[str]:
    page.goto(f"{base}/?invite={token}")
    page.get_by_role("button", name="Start").click()
    return wait_until(page, lambda: shown(page), "the first item")


def test_rate_three_undo_one_and_nothing_leaks(browser, tmp_path):
    store, study, secret, url = new_study(tmp_path, "browser-study", runs=support_runs(tmp_path, SUPPORT), overlap=1)
    token = store.invite(study, "ann")
    data = store.data(study)
    hidden = [BASE_MODEL, FT_MODEL, str(tmp_path / "runs"), study.secret, secret] + [s.run_id for s in data.systems]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page)
    with running_app(study.name, url, log=tmp_path / "streamlit.log") as base:
        first = sign_in(page, base, token)
        assert first[0] in {p for p, _, _ in SUPPORT}
        if os.environ.get("EVALKIT_REVIEW_SCREENSHOT"):
            page.screenshot(path=os.environ["EVALKIT_REVIEW_SCREENSHOT"], full_page=True)
        # A comment typed with shortcut letters in it is text, not votes.
        page.get_by_text("Scores and comment (optional)").click()
        page.get_by_label("Comment").click()
        page.keyboard.type("a bit better; no typos", delay=10)
        page.wait_for_timeout(300)
        assert vote_rows(store) == []
        second = act(page, store, lambda: page.get_by_role("button", name="A is better").click(), 1, first)
        third = act(page, store, lambda: page.locator("body").press("b"), 2, second)  # keyboard shortcut B
        fourth = act(page, store, lambda: page.get_by_role("button", name="Tie (both good)").click(), 3, third)
        back = act(page, store, lambda: page.get_by_role("button", name="Undo last vote").click(), 4, fourth)
        assert back == third  # the undone item is shown again
        html = page.content()
        page.close()
    assert [tuple(r) for r in vote_rows(store)] == [("vote", "left"), ("vote", "right"), ("vote", "tie"), ("undo", None)]
    with store.engine.connect() as c:
        assert c.execute(select(t.vote.c.comment).order_by(t.vote.c.id)).scalars().first() == "a bit better; no typos"
    assert [a.choice for a in sorted(store.data(study).answers, key=lambda a: a.position)] == ["left", "right"]

    received = watch.frames + watch.bodies() + [html.encode(), page.url.encode()] + [u.encode() for u in watch.requests]
    assert any(SUPPORT[0][1][:40].encode() in f or SUPPORT[1][1][:40].encode() in f for f in watch.frames), "frames not captured"
    assert len(watch.frames) > 10 and len(watch.responses) > 10
    for needle in hidden:
        leaks = [blob[:80] for blob in received if needle.encode() in blob]
        assert not leaks, f"{needle!r} reached the browser: {leaks}"


XSS = [
    "<script>window.__xss = 1; console.log('XSS-MARKER script')</script>",
    "<img src=\"http://127.0.0.2:9/x.png\" onerror=\"window.__xss = 1; console.log('XSS-MARKER img'); alert(1)\">",
    "[click me](javascript:console.log('XSS-MARKER link')) <a href=\"javascript:alert(2)\">link</a>",
    "![tracker](http://127.0.0.3:9/pixel.png) <iframe src=\"http://127.0.0.4:9/\"></iframe>",
    "<svg onload=\"alert(3)\"></svg><style>body { background: url(http://127.0.0.5:9/bg.png) }</style>",
    "<details open ontoggle=\"alert(4)\">x</details> $\\href{javascript:alert(5)}{math}$ :red[colour]",
]


def test_untrusted_output_is_inert(browser, tmp_path):
    items = [(f"Prompt {i}: {XSS[-1 - i]}", XSS[i], XSS[(i + 1) % len(XSS)]) for i in range(len(XSS))]
    store, study, _, url = new_study(tmp_path, "xss-study", runs=support_runs(tmp_path, items), overlap=1)
    token = store.invite(study, "eve")
    page = browser.new_page()
    watch = Watch(page)
    with running_app(study.name, url, log=tmp_path / "streamlit.log") as base:
        current = sign_in(page, base, token)
        seen = []
        for n in range(1, len(items) + 1):
            seen.append(current)
            assert page.locator("main img").count() == 0 and page.locator("main iframe").count() == 0
            assert page.locator('a[href^="javascript:"]').count() == 0
            if n == len(items):
                page.get_by_role("button", name="Both bad").click()
                wait_until(page, lambda: page.get_by_text("All done").count(), "the end")
                break
            current = act(page, store, lambda: page.get_by_role("button", name="Both bad").click(), n, current)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None
        page.close()
    # Every payload was shown, literally, as text.
    shown_text = "\n".join(x for s in seen for x in s)
    for payload in XSS:
        assert payload in shown_text
    assert not watch.dialogs, watch.dialogs
    assert not [m for m in watch.console if "XSS-MARKER" in m]
    origin = base.rstrip("/")
    foreign = [u for u in watch.requests if not u.startswith((origin + "/", "data:", "blob:", "about:"))]
    assert not foreign, foreign
    assert all(u.startswith(origin.replace("http", "ws", 1)) for u in watch.sockets)


def test_double_tap_held_key_reload_back_and_revoke(browser, tmp_path):
    store, study, _, url = new_study(tmp_path, "safety-study", runs=support_runs(tmp_path, SUPPORT), overlap=1, min_seconds=3.0)
    token = store.invite(study, "ann")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # 3 s rather than the default 1 s: on a busy CI machine the server may take a second to
    # handle a click, which would count as reading time.
    with running_app(study.name, url, log=tmp_path / "streamlit.log") as base:
        first = sign_in(page, base, token)
        wait_until(page, lambda: "s=" in page.url, "the session in the address")
        assert "invite" not in page.url
        assert page.get_by_text("A vote counts from 3 s").count() == 1
        page.wait_for_timeout(3200)
        # A double tap 80 ms apart: one vote; the second press never answers the next item.
        page.locator("body").press("b")
        page.wait_for_timeout(80)
        page.locator("body").press("b")
        second = wait_until(page, lambda: (s := shown(page)) and s != first and s, "the next item")
        page.wait_for_timeout(3200)
        assert [tuple(r) for r in vote_rows(store)] == [("vote", "right")]
        # A held key: the first keydown votes, the auto-repeats (event.repeat) do not.
        page.keyboard.down("a")
        third = wait_until(page, lambda: (s := shown(page)) and s != second and s, "the item after a held key")
        page.wait_for_timeout(3200)
        page.keyboard.down("a")  # Playwright sends this one with repeat = true
        page.keyboard.down("a")
        page.keyboard.up("a")
        page.wait_for_timeout(800)
        assert [tuple(r) for r in vote_rows(store)] == [("vote", "right"), ("vote", "left")]
        # A reload keeps the rater signed in and on the same item.
        page.reload()
        assert wait_until(page, lambda: shown(page), "the item after a reload") == third
        assert page.get_by_role("button", name="Start").count() == 0
        # Back never returns to the invite.
        page.go_back()
        page.wait_for_timeout(500)
        assert "invite" not in page.url
        page.go_forward()
        wait_until(page, lambda: shown(page), "the item again")
        # Revoking ends the session at the next click.
        assert store.revoke(study, "ann")
        page.reload()
        wait_until(page, lambda: page.get_by_text("Your session has ended").count(), "the signed-out page")
        assert len(vote_rows(store)) == 2
        page.close()


def test_three_candidates_stay_blind_in_every_frame(browser, tmp_path):
    keys = {("support", f"s{i}"): it for i, it in enumerate(SUPPORT)}
    prompts = {k: it[0] for k, it in keys.items()}
    models = [BASE_MODEL, FT_MODEL, "zz-second-ft-5d1b", "zz-third-ft-a8e0"]
    runs = [make_run(tmp_path / "runs" / f"m{j}", m, {k: f"{it[1 + j % 2]} (variant {j})" for k, it in keys.items()}, prompts=prompts)
            for j, m in enumerate(models)]
    store, study, secret, url = new_study(tmp_path, "three-study", runs=runs, overlap=2, pairs="all")
    token = store.invite(study, "ann")
    data = store.data(study)
    hidden = models + [str(tmp_path / "runs"), study.secret, secret] + [s.run_id for s in data.systems] + ["candidate 1", "candidate 2"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page)
    with running_app(study.name, url, log=tmp_path / "streamlit.log") as base:
        current = sign_in(page, base, token)
        seen_prompts = []
        for n in range(1, len(SUPPORT) + 1):
            seen_prompts.append(current[0])
            page.wait_for_timeout(300)  # let the new item's shortcuts bind
            if os.environ.get("EVALKIT_REVIEW_SCREENSHOT"):
                page.screenshot(path=f"{os.environ['EVALKIT_REVIEW_SCREENSHOT']}.{n}.png", full_page=True)
            if n == len(SUPPORT):
                page.locator("body").press("a")
                wait_until(page, lambda: page.get_by_text("All done").count(), "the end")
                break
            current = act(page, store, lambda: page.locator("body").press("a"), n, current)
        html = page.content()
        page.close()
    assert len(seen_prompts) == len(set(seen_prompts)) == len(SUPPORT)  # each prompt once, whatever the candidates
    received = watch.frames + watch.bodies() + [html.encode()] + [u.encode() for u in watch.requests]
    assert len(watch.frames) > 10
    for needle in hidden:
        leaks = [blob[:80] for blob in received if needle.encode() in blob]
        assert not leaks, f"{needle!r} reached the browser: {leaks}"


LONG_MD = ("# Fix\n\n" + "\n".join(f"{i}. step {i}: see https://docs.example/{i} and ![d](http://127.0.0.9:9/{i}.png)" for i in range(60))
           + "\n\n```python\ndef pay(x):\n    if x:\n        return '<b>'\n```\n\npay\u202eusd <b>bold?</b> [x](javascript:alert(1))")


def test_long_markdown_answers_stay_readable_and_inert(browser, tmp_path):
    items = [("Explain the fix.", LONG_MD, "Short answer.\n\n    indented code line\n")]
    store, study, _, url = new_study(tmp_path, "long-study", runs=support_runs(tmp_path, items), overlap=1)
    token = store.invite(study, "ann")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page)
    with running_app(study.name, url, log=tmp_path / "streamlit.log") as base:
        texts = sign_in(page, base, token)
        assert any("    indented code line" in x for x in texts)  # plain view keeps indentation
        assert any("pay⟦U+202E⟧usd" in x for x in texts)  # the bidi override is spelled out
        box = page.get_by_role("button", name="A is better").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900  # the vote bar is in view
        # In a short window the answers alone are taller than the screen: the bar is pinned
        # (sticky) to the bottom, so the buttons are still on screen without any scrolling.
        page.set_viewport_size({"width": 1280, "height": 480})
        page.wait_for_timeout(300)
        for name in ("A is better", "B is better", "Skip"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 480, (name, box)
        assert page.locator("main button", has_text="Skip").evaluate(
            "e => getComputedStyle(e.closest('[class*=st-key-vote-bar]').parentElement).position") == "sticky"
        page.set_viewport_size({"width": 1280, "height": 900})
        panes = page.evaluate("""[...document.querySelectorAll('main *')].filter(e =>
            ['auto', 'scroll'].includes(getComputedStyle(e).overflowY) && e.clientHeight > 200 && e.clientHeight < 500
            && e.scrollHeight > e.clientHeight + 1 || (e.clientHeight > 300 && e.clientHeight < 500
            && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))).map(e => Math.round(e.getBoundingClientRect().height))""")
        assert len(panes) >= 2 and len(set(panes)) == 1, panes  # scrollable answer panes of one height
        page.get_by_text("Formatted view").click()
        wait_until(page, lambda: page.locator("main h1").count() >= 1, "the formatted answer")
        page.wait_for_timeout(300)
        assert page.locator("main img").count() == 0 and page.locator("main iframe").count() == 0
        hrefs = [a.get_attribute("href") for a in page.locator("main a[href]").all()]
        assert all(h.startswith("#") for h in hrefs), hrefs  # only Streamlit's own heading anchors
        assert "    if x:\n        return '<b>'" in "\n".join(page.locator("main pre").all_inner_texts())
        box = page.get_by_role("button", name="A is better").bounding_box()
        assert box["y"] + box["height"] <= 900
        page.close()
    origin = base.rstrip("/")
    assert not [u for u in watch.requests if not u.startswith((origin + "/", "data:", "blob:", "about:"))]


def test_a_stale_undo_in_a_second_tab_voids_nothing(browser, tmp_path):
    store, study, _, url = new_study(tmp_path, "tabs-study", runs=support_runs(tmp_path, SUPPORT), overlap=1)
    token = store.invite(study, "ann")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    one = context.new_page()
    with running_app(study.name, url, log=tmp_path / "streamlit.log") as base:
        first = sign_in(one, base, token)
        wait_until(one, lambda: "s=" in one.url, "the session in the address")
        second = act(one, store, lambda: one.locator("body").press("a"), 1, first)
        two = context.new_page()  # a second tab on the same session: its Undo names the first vote
        two.goto(one.url)
        assert wait_until(two, lambda: shown(two), "the item in the second tab") == second
        act(one, store, lambda: one.locator("body").press("b"), 2, second)  # tab one votes again
        two.get_by_role("button", name="Undo last vote").click()  # stale: the last vote is not the first any more
        wait_until(two, lambda: two.get_by_text("Nothing to undo").count(), "the refusal")
        assert [tuple(r) for r in vote_rows(store)] == [("vote", "left"), ("vote", "right")]
        context.close()
