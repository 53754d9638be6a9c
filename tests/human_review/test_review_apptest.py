"""The whole rater and admin flow through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import pytest
from review_helpers import BASE_MODEL, FT_MODEL, new_study
from sqlalchemy import select

from human_review import schema as t
from human_review.server import APP, ENV_DB, ENV_STUDY

pytest.importorskip("streamlit", reason="the review extra is not installed: pip install -e '.[review]'")


def tree_text(at) -> str:
    """Every element's protobuf as text: what the browser would be sent, keys and ids included."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


@pytest.fixture
def app(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    store, study, secret, url = new_study(tmp_path, "apptest-study", n=6, overlap=1, gold=1, repeats=1)
    monkeypatch.setenv(ENV_STUDY, "apptest-study")
    monkeypatch.setenv(ENV_DB, url)

    def new():
        return AppTest.from_file(str(APP), default_timeout=60)

    return new, store, study, secret


def secrets_of(store, study) -> list[str]:
    data = store.data(study)
    return [BASE_MODEL, FT_MODEL, "runs/base", "runs/ft"] + [s.run_id for s in data.systems]


def button(at, label):
    (b,) = [b for b in at.button if b.label == label]
    return b


def test_rater_flow(app):
    new, store, study, _ = app
    token = store.invite(study, "ann")
    at = new()
    at.query_params["invite"] = token
    at.run()
    assert not at.exception
    # The browser's address is rewritten in place (no new history entry) to the signed session.
    assert "history.replaceState" in tree_text(at) and "?s=" in tree_text(at) and token not in tree_text(at)
    assert "You will see a prompt" in at.markdown[0].value
    at.button(key="start").click().run()
    prompt, left, right = (c.value for c in at.code)
    assert prompt.startswith("Question") and {left.split()[0], right.split()[0]} <= {"fine-tune", "base", "answer"}
    for secret in secrets_of(store, study):
        assert secret not in tree_text(at)

    # Scores and a comment, then "A is better".
    for seg in at.segmented_control:
        if seg.label == "Correctness of A":
            seg.set_value(4)
    at.text_area[0].input("clear and right")
    at.run()
    button(at, "A is better").click().run()
    assert [x.value for x in at.toast] == ["Vote saved."]
    button(at, "Skip").click().run()
    button(at, "B is better").click().run()
    button(at, "Undo last vote").click().run()
    assert [x.value for x in at.toast] == ["Your last vote was taken back."]
    button(at, "Tie (both good)").click().run()
    assert not at.exception
    with store.engine.connect() as c:
        rows = c.execute(select(t.vote).order_by(t.vote.c.id)).all()
    assert [(r.action, r.choice) for r in rows] == [("vote", "left"), ("skip", None), ("vote", "right"), ("undo", None), ("vote", "tie")]
    assert rows[0].scores == {"left": {"correctness": 4}} and rows[0].comment == "clear and right"
    assert rows[0].seconds is not None and rows[0].seconds >= 0
    for secret in secrets_of(store, study):
        assert secret not in tree_text(at)

    while at.code:  # rate the rest
        button(at, "Both bad").click().run()
    assert "All done" in at.success[0].value


def test_bad_token_and_closed_study(app):
    new, store, study, _ = app
    at = new()
    at.run()
    at.text_input(key="signin-token").input("not-a-token")
    at.button(key="signin").click().run()
    assert at.error[0].value == "Unknown token."
    store.set_status(study, "closed")
    at = new()
    at.run()
    assert "closed" in at.info[0].value


def test_admin_flow_blind_until_closed(app):
    new, store, study, secret = app
    rater = store.sign_in(study, store.invite(study, "ann"))
    while (v := store.next_assignment(study, rater.id)) is not None:
        store.record(study, rater.id, v.public_id, v.seq, "left", seconds=3.0, scores={"left": {"tone": 4}, "right": {"tone": 2}})
    at = new()
    at.run()
    at.text_input(key="admin-secret").input("wrong")
    at.button(key="admin-signin").click().run()
    assert at.error[0].value == "Wrong admin secret."
    at.text_input(key="admin-secret").input(secret)
    at.button(key="admin-signin").click().run()
    assert not at.exception
    assert [x.label for x in at.tabs] == ["Progress", "Results", "Raters", "Invite", "Study"]
    assert len(at.get("image")) == 2  # win/tie/loss bars and strengths, as SVG
    text = tree_text(at)
    for s in secrets_of(store, study):
        assert s not in text
    assert "candidate 1 vs base" in text and "Scores per criterion" in text and "Fleiss" in text

    at.text_input(key="invite-name").input("bob")
    at.button(key="invite").click().run()
    link = next(c.value for c in at.code if "?invite=" in c.value)
    assert store.sign_in(study, link.split("?invite=")[1]).name == "bob"

    at.checkbox(key="close-sure").check().run()
    at.button(key="close").click().run()
    assert store.study(study.name).status == "closed"
    assert FT_MODEL in tree_text(at)  # closed: the admin pages name the models


def test_the_study_file_sets_instructions_criteria_and_ties(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    study_cfg = {"instructions": "Pick the reply you would SEND-7731.", "ties": ["tie"],
                 "criteria": [{"name": "accuracy", "label": None, "scale": [1, 3]}]}
    store, study, _, url = new_study(tmp_path, "file-study", n=3, overlap=1, study=study_cfg)
    monkeypatch.setenv(ENV_STUDY, "file-study")
    monkeypatch.setenv(ENV_DB, url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["invite"] = store.invite(study, "ann")
    at.run()
    assert "SEND-7731" in at.markdown[0].value
    at.button(key="start").click().run()
    labels = [b.label for b in at.button]
    assert "Tie (both good)" in labels and "Both bad" not in labels
    (seg_a, seg_b) = at.segmented_control
    assert seg_a.label == "Accuracy of A" and list(seg_a.options) == ["1", "2", "3"]
    seg_a.set_value(3)
    at.run()
    button(at, "Tie (both good)").click().run()
    assert not at.exception
    with store.engine.connect() as c:
        (row,) = c.execute(select(t.vote)).all()
    assert row.choice == "tie" and row.scores == {"left": {"accuracy": 3}}
