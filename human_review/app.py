"""Blind side-by-side review: the Streamlit app (the only module that imports streamlit).

Started by ``evalkit review serve STUDY``, which passes the study and the database URL in
the environment. What reaches the browser is the prompt, the two responses (as plain
text), counts, and opaque assignment ids; model names, run ids and the side mapping stay
in the database until the study is closed.

Keyboard shortcuts (Streamlit's button shortcuts; they do not fire while typing in a
text box): A = A is better, B = B is better, T = tie (both good), N = both bad (neither),
S = skip, U = undo the last vote.
"""

from __future__ import annotations

import logging
import os
import time

import streamlit as st

from human_review.server import ENV_DB, ENV_STUDY
from human_review.claims import MIN_SECONDS, ItemGone, TooSoon
from human_review.store import StudyClosed, open_store
from human_review.study_file import from_settings

CHOICE_BUTTONS = (("left", "A is better", "A"), ("right", "B is better", "B"),
                  ("tie", "Tie (both good)", "T"), ("both_bad", "Both bad", "N"))
SKIP_SHORTCUT, UNDO_SHORTCUT = "S", "U"
SESSION_PARAM = "s"
INSTRUCTIONS = """
You will see a prompt and two responses, **A** and **B**, side by side. Which answers
the prompt better? Judge correctness first, then helpfulness, then tone.

- **A is better** / **B is better**: one response is clearly better.
- **Tie (both good)**: both are good and you cannot prefer one.
- **Both bad**: neither is acceptable.
- **Skip** if you cannot judge an item (for example, it needs expertise you lack).

Scores per criterion (1 = poor, 5 = excellent) and a comment are optional. **Undo**
takes back your last vote. The responses are shown exactly as the models wrote them;
links and markup in them are not followed or rendered.

Keyboard: **A**, **B**, **T** (tie), **N** (both bad), **S** (skip), **U** (undo).
"""
log = logging.getLogger("evalkit.review")
# A held key repeats its keydown: without this, holding "A" would vote on every item that
# follows. Registered once, on the window in the capture phase, so it runs before
# Streamlit's own shortcut listener. The server also refuses a vote within the study's
# minimum reading time, which catches a quick double tap (two separate keydowns).
KEY_REPEAT_GUARD = """<script>
if (!window.__evalkitKeyGuard) {
  window.__evalkitKeyGuard = true;
  window.addEventListener("keydown", (e) => { if (e.repeat) { e.stopImmediatePropagation(); e.preventDefault(); } }, true);
}
</script>"""


@st.cache_resource(show_spinner=False)
def _store(url: str):
    return open_store(url)


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - with no secrets.toml Streamlit raises rather than answer False
        return False


def _set_address(query: str) -> None:
    """Rewrite the current history entry's address in the browser. Setting st.query_params
    would push a new entry and leave the invite one step Back; replacing the entry leaves no
    trace of it. (Streamlit's own copy of the query string is not told; the app ignores an
    invite once the tab is signed in, and a reload reads the address afresh.)"""
    import json

    st.html(f"<script>history.replaceState(history.state, '', location.pathname + {json.dumps(query)})</script>",
            unsafe_allow_javascript=True)


def _signed_in(rater, session: str) -> None:
    """Keep the rater for this tab and put the signed session, not the invite, in the address:
    a reload signs back in from it."""
    from urllib.parse import urlencode

    st.session_state.rater, st.session_state.session = rater, session
    _set_address("?" + urlencode({SESSION_PARAM: session}))


def restore_session(store, study) -> None:
    """Sign the tab in from ``?s=`` (a reload), or out when that session was revoked or expired
    (checked on every run, so that a revocation ends the session at the next click)."""
    session = st.query_params.get(SESSION_PARAM) or st.session_state.get("session")
    if session is None:
        return
    rater = store.session_rater(study, session)
    if rater is None:
        for k in ("rater", "session", "started"):
            st.session_state.pop(k, None)
        st.query_params.clear()
        st.session_state.flash = "Your session has ended. Open your sign-in link again, or ask the organiser for a new one."
    elif st.session_state.get("rater") != rater:
        st.session_state.rater, st.session_state.started, st.session_state.session = rater, True, session


def sign_in_page(store, study) -> bool:
    """The sign-in page; True once this tab is signed in (the caller then shows the rater page)."""
    flash = st.session_state.pop("flash", None)
    token = st.query_params.get("invite")
    if token:
        found = store.exchange(study, token)
        if found:
            _signed_in(*found)  # no rerun: it could cut the address rewrite short
            return True
        _set_address("")  # keep a bad token out of the address bar and history too
        st.title("Side-by-side review")
        st.error("This sign-in link is not valid (used, expired or replaced). Ask the study's organiser for a new one.")
    else:
        st.title("Side-by-side review")
    if flash:
        st.warning(flash)
    if _oidc_configured():
        if st.user.is_logged_in:
            rater = store.rater_by_name(study, str(st.user.get("email", "")))
            if rater:
                st.session_state.rater = rater
                st.rerun()
            st.error("Your account is not invited to this study.")
        else:
            st.button("Sign in with your account", key="oidc", on_click=st.login)
    st.text_input("Invite token", type="password", key="signin-token")
    if st.button("Sign in", key="signin", type="primary"):
        found = store.exchange(study, st.session_state.get("signin-token") or "")
        if found:
            _signed_in(*found)
            return True
        st.error("Unknown token.")
    with st.expander("Study administration"):
        st.text_input("Admin secret", type="password", key="admin-secret")
        if st.button("Open admin pages", key="admin-signin"):
            if store.is_admin(study, st.session_state.get("admin-secret") or ""):
                st.session_state.admin = True
                st.rerun()
            st.error("Wrong admin secret.")
    return False


def _cast(store, study, rater_id: int, view_key: str, public_id: str, seq: int, choice: str | None) -> None:
    state = st.session_state
    scores = {}
    criteria = [c.name for c in from_settings(study.settings).criteria]
    for side, screen in (("A", "left"), ("B", "right")):
        given = {c: state.get(f"{view_key}.s.{side}.{c}") for c in criteria}
        given = {c: int(v) for c, v in given.items() if v is not None}
        if given:
            scores[screen] = given
    shown = state.get("shown_at", {}).get(view_key)
    seconds = round(time.time() - shown, 2) if shown else None
    try:
        recorded = store.record(study, rater_id, public_id, seq, choice, scores=scores or None,
                                comment=state.get(f"{view_key}.c") or None, seconds=seconds)
    except StudyClosed:
        return  # the page says so on the rerun
    except TooSoon:
        state.flash = "Not recorded: take a moment to read both answers first."
        return
    except ItemGone:
        state.flash = "This item was open too long and went back to the pool; here is another."
        return
    except Exception:  # callbacks run outside main()'s guard: keep details out of the browser
        log.exception("review app: recording a vote failed")
        state.flash = "Your vote could not be saved; please try again."
        return
    state.flash = ("Skipped." if choice is None else "Vote saved.") if recorded else "Already recorded."


def _undo(store, study, rater_id: int, target) -> None:
    try:
        undone = store.undo(study, rater_id, target)
    except StudyClosed:
        return
    except Exception:
        log.exception("review app: undo failed")
        undone = False
    st.session_state.flash = "Your last vote was taken back." if undone else "Nothing to undo."


def _long(text: str) -> bool:
    return text.count("\n") > 14 or len(text) > 1200


def show_answers(view) -> None:
    """The prompt and the two answers: plain text by default, or sanitised Markdown; long ones
    in scrollable panes of one height, so that the vote bar stays in view."""
    from human_review.render import reveal_invisible, safe_markdown

    formatted = st.toggle("Formatted view (Markdown; no HTML, images or links)", key="formatted")
    texts = [reveal_invisible(t) for t in (view.prompt, view.left, view.right)]
    hidden = sum(n for _, n in texts)
    if hidden:
        st.warning(f"{hidden} invisible or direction-changing character(s) are shown as ⟦U+…⟧.")
    st.caption("Prompt")
    with st.container(height=200 if _long(texts[0][0]) else "content", border=False):
        st.code(texts[0][0], language=None, wrap_lines=True)
    long = _long(texts[1][0]) or _long(texts[2][0])
    for col, side, (text, _) in zip(st.columns(2), ("A", "B"), texts[1:]):
        with col:
            st.subheader(f"Response {side}")
            with st.container(height=360 if long else "content", border=long):
                if formatted:
                    st.markdown(safe_markdown(text))
                else:
                    st.code(text, language=None, wrap_lines=True)


VOTE_BAR = "vote-bar"  # the container's key; Streamlit gives it the CSS class st-key-vote-bar


def _pin_vote_bar() -> None:
    """Keep the vote buttons on screen however long the answers or short the window:
    sticky at the bottom of the viewport while the item is on the page. The bar needs an
    opaque background so the answers scrolling under it stay unreadable through it;
    Streamlit exposes no theme colour to CSS, so its default page colours are used."""
    dark = getattr(getattr(st.context, "theme", None), "type", None) == "dark"
    # The rule goes on the container's wrapper: Streamlit wraps each element in a div of the
    # element's own height, inside which a sticky element has no room to move.
    st.html(f"<style>div:has(> .st-key-{VOTE_BAR}) {{ position: sticky; bottom: 0; z-index: 10; "
            f"padding: 0.5rem 0; background-color: {'#0e1117' if dark else '#ffffff'}; }}</style>")


def rater_page(store, study, rater) -> None:
    with st.sidebar:
        st.text(f"Signed in as {rater.name}")
        if st.button("Sign out", key="signout"):
            st.session_state.clear()
            st.query_params.clear()
            _set_address("")
            st.rerun()
        st.caption("Keyboard: A, B, T (tie), N (both bad), S (skip), U (undo)")
    if not st.session_state.get("started"):
        st.title("Side-by-side review")
        st.markdown(from_settings(study.settings).instructions or INSTRUCTIONS)
        if st.button("Start", key="start", type="primary", shortcut="Enter"):
            st.session_state.started = True
            st.rerun()
        return
    st.html(KEY_REPEAT_GUARD, unsafe_allow_javascript=True)
    flash = st.session_state.pop("flash", None)
    if flash:
        st.toast(flash)
    view = store.next_assignment(study, rater.id)
    undo_target = store.undo_target(study, rater.id)
    if view is None:
        st.success("All done: there is nothing left for you to rate. Thank you!")
        st.button("Undo last vote", key="undo-final", shortcut=UNDO_SHORTCUT, disabled=undo_target is None,
                  on_click=_undo, args=(store, study, rater.id, undo_target))
        return
    key = f"{view.public_id}.{view.seq}"
    cfg = from_settings(study.settings)
    st.session_state.setdefault("shown_at", {}).setdefault(key, time.time())
    done, remaining = store.rater_progress(study, rater.id)
    st.progress(done / (done + 1 + remaining), text=f"{done} rated, about {remaining + 1} to go")
    show_answers(view)
    buttons = [b for b in CHOICE_BUTTONS if b[0] in ("left", "right") or b[0] in cfg.ties]
    _pin_vote_bar()
    with st.container(key=VOTE_BAR):
        for col, (choice, label, shortcut) in zip(st.columns(len(buttons)), buttons):
            col.button(label, key=f"{key}.{choice}", shortcut=shortcut, type="primary", width="stretch",
                       on_click=_cast, args=(store, study, rater.id, key, view.public_id, view.seq, choice))
        skip, undo, _ = st.columns([1, 1, 2])
        skip.button("Skip", key=f"{key}.skip", shortcut=SKIP_SHORTCUT, width="stretch",
                    on_click=_cast, args=(store, study, rater.id, key, view.public_id, view.seq, None))
        undo.button("Undo last vote", key=f"{key}.undo", shortcut=UNDO_SHORTCUT, width="stretch", disabled=undo_target is None,
                    on_click=_undo, args=(store, study, rater.id, undo_target))
    min_s = float(study.settings.get("min_seconds", MIN_SECONDS))
    if min_s > 0:
        st.caption(f"A vote counts from {min_s:g} s after the item appears, so that a double tap cannot answer the next one.")
    # Below the vote bar, so that the buttons sit right under the answers.
    with st.expander("Scores and comment (optional)"):
        for col, side in zip(st.columns(2), ("A", "B")):
            with col:
                for crit in cfg.criteria:
                    lo, hi = crit.scale
                    st.segmented_control(f"{crit.shown} of {side}", list(range(lo, hi + 1)), key=f"{key}.s.{side}.{crit.name}")
        st.text_area("Comment", key=f"{key}.c", max_chars=2000)


@st.cache_data(ttl=60, show_spinner="Computing results…")
def _results(url: str, study_name: str, status: str, n_rows: int) -> dict:
    # Keyed on the number of vote rows and the status: recomputed only when something changed.
    from human_review import admin

    store = _store(url)
    return admin.results(store, store.study(study_name))


def admin_page(store, study, url: str) -> None:
    import json

    from human_review import admin

    with st.sidebar:
        if st.button("Sign out", key="admin-signout"):
            st.session_state.clear()
            st.rerun()
    st.title("Study administration")
    if study.is_open:
        st.caption("The study is open: systems are named by label only. Closing it reveals the models.")
    progress = store.progress(study)
    result = _results(url, study.name, study.status, progress["vote_rows"])
    tabs = st.tabs(["Progress", "Results", "Raters", "Invite", "Study"])
    with tabs[0]:
        slots = progress["slots"]
        c = st.columns(3)
        c[0].metric("Pair slots rated", f"{slots['done']} / {sum(slots.values()) - slots['skipped']}")
        c[1].metric("Raters", len(progress["raters"]))
        c[2].metric("Skips", slots["skipped"])
        st.dataframe(admin.progress_table(progress), hide_index=True)
    with tabs[1]:
        figs = admin.charts(result)
        st.subheader("Win, tie and loss rates (items, 95% Wilson intervals)")
        if "win_rates" in figs:
            st.image(figs["win_rates"])
        st.dataframe(admin.win_table(result), hide_index=True)
        st.subheader("Bradley-Terry strengths (base = 0, bootstrap over items)")
        if "strengths" in figs:
            st.image(figs["strengths"])
        ag, pb = result["agreement"], result["position_bias"]["overall"]
        alpha, fk = ag["krippendorff_alpha"], (ag.get("fleiss_kappa") or {}).get("kappa")
        st.write(f"Krippendorff's alpha (nominal): {'n/a' if alpha is None else f'{alpha:.2f}'}; "
                 f"Fleiss' kappa: {'n/a' if fk is None else f'{fk:.2f}'}; "
                 f"left side chosen in {pb['left']} of {pb['n']} decisive votes.")
        if ag["cohen_kappa"]:
            st.dataframe([{"raters": " / ".join(k["raters"]), "items": k["n"], "kappa": k["kappa"]} for k in ag["cohen_kappa"]],
                         hide_index=True)
        if result.get("criteria"):
            st.subheader("Scores per criterion (x - y, t interval over items)")
            st.dataframe(admin.criteria_table(result), hide_index=True)
        st.subheader("Automated metrics against the people")
        st.dataframe(admin.metric_table(result), hide_index=True)
        st.download_button("Download results (JSON)", json.dumps(result, indent=2), file_name="review-results.json",
                           key="download-results")
    with tabs[2]:
        st.dataframe(admin.rater_table(result), hide_index=True)
    with tabs[3]:
        name = st.text_input("Rater name (or e-mail, for sign-in with an identity provider)", key="invite-name")
        if st.button("Create sign-in link", key="invite") and name.strip():
            token = store.invite(study, name.strip())
            st.code(f"{str(st.context.url or '').split('?')[0]}?invite={token}", language=None)
            st.caption("Shown once. Inviting the same name again replaces the rater's token.")
    with tabs[4]:
        if study.is_open:
            sure = st.checkbox("Raters can no longer vote once the study is closed", key="close-sure")
            if st.button("Close the study and reveal the models", key="close", disabled=not sure):
                store.set_status(study, "closed")
                st.rerun()
        else:
            st.write("The study is closed.")


def main() -> None:
    st.set_page_config(page_title="Side-by-side review", layout="wide")
    study_name, url = os.environ.get(ENV_STUDY), os.environ.get(ENV_DB)
    if not study_name or not url:
        st.error("Start this app with `evalkit review serve STUDY`.")
        return
    try:
        store = _store(url)
        study = store.study(study_name)
        if st.session_state.get("admin"):
            admin_page(store, study, url)
        elif not study.is_open:
            st.info("This study is closed. Thank you for taking part!")
        elif restore_session(store, study) or st.session_state.get("rater"):
            rater_page(store, study, st.session_state.rater)
        elif sign_in_page(store, study):
            rater_page(store, study, st.session_state.rater)
    except StudyClosed:
        st.info("This study is closed. Thank you for taking part!")
    except Exception:  # the browser gets no details: they could quote study data
        log.exception("review app error")
        st.error("Something went wrong; the details are in the server's log. Reload the page to go on.")


main()
