"""The viewer's logic without a browser: the index of compares, the flip explorer's order and
filters, the escaped word diff, two compares side by side, and the command line."""

from __future__ import annotations

import shutil
import sys

from view_helpers import PAYLOAD, xss_compare

from evalkit.view.compare import load_compare, side_by_side
from evalkit.view.flips import Filters, apply, diff_html, explorer_order, groups
from evalkit.view.index import find_compares, index_rows, same_base


def _it(id_, gain, task="t", cluster="", binary=True, decisive=False, weight=1.0, metric="m", text=""):
    return {"id": id_, "gain": gain, "task": task, "cluster": cluster, "binary": binary, "decisive": decisive,
            "weight": weight, "metric": metric, "prompt": text, "base": "", "ft": "", "reference": ""}


def test_explorer_shows_right_to_wrong_first_grouped_by_task_and_cluster_then_improvements():
    items = [_it("up", 1.0, task="a"), _it("wiggle", -0.1, binary=False, weight=0.1), _it("b2", -1.0, task="b", cluster="y"),
             _it("b1", -1.0, task="b", cluster="x"), _it("a1", -1.0, task="a"), _it("gate", -1.0, task="z", decisive=True)]
    ordered = explorer_order(items)
    assert [it["id"] for it in ordered] == ["gate", "a1", "b1", "b2", "wiggle", "up"]
    assert [title for title, _ in groups(ordered)] == [
        "right → wrong · z", "right → wrong · a", "right → wrong · b · x", "right → wrong · b · y", "worse · t", "wrong → right · a"]


def test_filters_by_task_metric_direction_size_and_search():
    items = [_it("r", -1.0, task="a", text="Refund please"), _it("i", 1.0, task="b", metric="n"),
             _it("small", -0.2, task="a", binary=False, weight=0.2)]
    ids = lambda f: [it["id"] for it in apply(items, f)]  # noqa: E731
    assert ids(Filters()) == ["r", "i", "small"]
    assert ids(Filters(tasks=("a",))) == ["r", "small"]
    assert ids(Filters(metrics=("n",))) == ["i"]
    assert ids(Filters(direction="regressions")) == ["r", "small"]
    assert ids(Filters(direction="improvements")) == ["i"]
    assert ids(Filters(min_change=0.5)) == ["r", "i"]
    assert ids(Filters(query="REFUND")) == ["r"]


def test_diff_marks_changed_words_and_escapes_every_piece():
    left, right = diff_html("Sign out and sign in.", "Sign out <b>now</b> and sign in.")
    assert left == "Sign out and sign in."
    assert right == "Sign out<ins> &lt;b&gt;now&lt;/b&gt;</ins> and sign in."
    left, right = diff_html("fine", PAYLOAD)
    stripped = right.replace("<ins>", "").replace("</ins>", "").replace("<del>", "").replace("</del>", "")
    assert "<" not in stripped and left == "<del>fine</del>"


def test_index_lists_each_compare_with_verdict_models_and_gates(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    xss_compare(tmp_path)
    shutil.copytree(tmp_path / "xss", tmp_path / "later" / "xss-again")
    entries = find_compares(tmp_path)
    rows = index_rows(entries)
    assert {r["compare"] for r in rows} == {"xss", "later/xss-again"}
    assert all(r["verdict"] in ("FAIL", "INCONCLUSIVE") and r["base"] == "base" and r["candidate"] == "ft" for r in rows)
    assert all(r["gates passed"] + r["failed"] + r["inconclusive"] == 1 for r in rows)
    assert [e.name for e in same_base(entries, entries[0])] == [entries[1].name]
    view = load_compare(entries[0].folder, "ft")
    assert view.forest_svg.startswith("<svg") and any(it["ft"] == PAYLOAD for it in view.items)
    rows = side_by_side(view, load_compare(entries[1].folder, "ft"))
    assert rows and not any(r["differ"] for r in rows)


def test_view_command_is_loopback_only_and_importing_the_logic_leaves_streamlit_out(tmp_path):
    from evalkit.view.server import view_command

    argv, env = view_command(tmp_path, 8999)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert env["EVALKIT_VIEW_ROOT"] == str(tmp_path.resolve())
    import subprocess

    code = "import evalkit.view.index, evalkit.view.flips, evalkit.view.compare, sys; print('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_view_of_a_missing_folder_is_a_one_line_error(cli, tmp_path):
    code, _, err = cli("view", tmp_path / "nowhere")
    assert code == 2 and "Traceback" not in err and "nowhere" in err
