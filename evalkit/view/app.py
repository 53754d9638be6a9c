"""``evalkit view``: the Streamlit app (the only module of evalkit.view that imports streamlit).

Started by ``evalkit view [FOLDER]``, which passes the folder in the environment and binds the
server to loopback. Everything that comes from a user or a model (names, prompts, answers,
references) reaches the page as text: tables through st.dataframe, single values through
st.text, and the cards through st.html with every piece escaped, so no markup or Markdown in
a model's answer is ever interpreted (st.markdown would render an image link and fetch it).
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

import streamlit as st

from evalkit.view.compare import gate_rows, load_compare, side_by_side, task_rows
from evalkit.view.flips import Filters, apply, diff_html, explorer_order, groups
from evalkit.view.index import find_compares, index_rows, same_base
from evalkit.view.server import ENV_ROOT

PAGE_SIZE = 20
log = logging.getLogger("evalkit.view")
CSS = """<style>
.ek-card{border:1px solid #ddd;border-radius:6px;padding:8px 10px;margin:8px 0;background:#fff}
.ek-card.decisive{border-left:4px solid #b71c1c} .ek-head{font-size:13px;color:#444;margin-bottom:6px}
.ek-cols{display:grid;grid-template-columns:1fr 1fr 1fr;gap:8px} .ek-cols b{font-size:12px;color:#555}
.ek-cols pre,.ek-card pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:12px;background:#f7f7f7;padding:6px;border-radius:4px}
.ek-card del{background:#ffd7d5;text-decoration:line-through} .ek-card ins{background:#ccf3d2;text-decoration:none}
.ek-verdict{padding:10px 14px;border-radius:8px;font-size:18px;font-weight:600;margin:6px 0}
.ek-PASS{background:#e8f5e9;color:#1b5e20} .ek-FAIL{background:#ffebee;color:#b71c1c} .ek-INCONCLUSIVE,.ek-NONE{background:#fff8e1;color:#8d6e00}
.ek-group{font-weight:600;margin:14px 0 0} .ek-tag{background:#ffebee;color:#b71c1c;border-radius:3px;padding:0 5px;font-size:11px}
</style>"""
esc = html.escape


@st.cache_resource(show_spinner=False, max_entries=8)
def _compare(folder: str, candidate: str, stamp: float):
    # Keyed by compare.json's mtime too, so a rerun of the compare is picked up.
    return load_compare(Path(folder), candidate)


def _view(entry):
    return _compare(str(entry.folder), entry.candidate, (entry.folder / "compare.json").stat().st_mtime)


def _verdict(view) -> str:
    from evalkit.report.html_page import banner

    c, gate = view.comparison, view.gate
    verdict = (gate or {}).get("verdict", "NONE")
    return (f"<div class='ek-verdict ek-{esc(verdict)}' data-testid=ek-verdict>{esc(c['candidate'])} vs {esc(c['base'])}: "
            f"{esc(verdict if gate else 'no gates')}</div><div>{esc(banner(c))}</div>")


def _open(i: int) -> None:
    # A callback: it runs before the widgets whose state it sets are drawn again.
    st.session_state.entry, st.session_state.view = i, "Compare"


def index_page(root: Path, entries) -> None:
    st.title("Compares")
    st.text(f"{len(entries)} compare(s) under {root}")
    if not entries:
        st.info("No compare.json under this folder: run `evalkit compare BASE FT` first.")
        return
    st.dataframe(index_rows(entries), hide_index=True, width="stretch")
    for i, e in enumerate(entries):
        a, b = st.columns([1, 6])
        a.button("Open", key=f"open-{i}", on_click=_open, args=(i,))
        b.text(f"{e.verdict:<12} {e.date}  {e.name}: {e.candidate} vs {e.base}")


def _filters(items) -> Filters:
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    tasks = c1.multiselect("Task", sorted({it["task"] for it in items}), key="f_tasks")
    metrics = c2.multiselect("Metric", sorted({it["metric"] for it in items}), key="f_metrics")
    direction = c3.radio("Direction", ["both", "regressions", "improvements"], horizontal=True, key="f_dir")
    size = c4.slider("Smallest change (share of the task's largest)", 0.0, 1.0, 0.0, 0.05, key="f_size")
    query = st.text_input("Search prompts, answers, references and ids", key="f_query")
    return Filters(tuple(tasks), tuple(metrics), direction, size, query)


def _card(it: dict) -> str:
    base, ft = diff_html(it["base"], it["ft"])
    word = "improved" if it["gain"] > 0 else "regressed"
    tag = "<span class=ek-tag>decides a failing gate</span> " if it["decisive"] else ""
    head = (f"{tag}<b>{word}</b> {esc(it['task'])} / {esc(str(it['id']))}" + (f" [{esc(it['cluster'])}]" if it.get("cluster") else "")
            + f" · {esc(it['metric'])} {it['base_score']:.3f} → {it['ft_score']:.3f}")
    return (f"<div class='ek-card{' decisive' if it['decisive'] else ''}' data-testid=ek-item><div class=ek-head>{head}</div>"
            f"<details><summary>prompt as sent</summary><pre>{esc(it['prompt'])}</pre></details>"
            f"<div class=ek-cols><div><b>base</b><pre>{base}</pre></div><div><b>fine-tune</b><pre>{ft}</pre></div>"
            f"<div><b>reference</b><pre>{esc(it['reference'])}</pre></div></div></div>")


def explorer(view) -> None:
    st.header("Flip explorer")
    items = explorer_order(view.items)
    shown = apply(items, _filters(items))
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    if st.session_state.get("f_page", 1) > pages:  # the filters shrank the list: back to its first page
        st.session_state.f_page = 1
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="f_page") - 1
    st.text(f"{len(shown)} of {len(items)} changed items")
    parts = [CSS]
    for title, rows in groups(shown[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]):
        parts.append(f"<div class=ek-group>{esc(title)}</div>" + "".join(_card(it) for it in rows))
    st.html("".join(parts))


def compare_page(entries) -> None:
    names = list(range(len(entries)))
    i = st.sidebar.selectbox("Compare", names, format_func=lambda k: f"{entries[k].name}: {entries[k].candidate}", key="entry")
    view = _view(entries[i])
    st.title("Compare")
    st.html(CSS + _verdict(view))
    st.subheader("Gates")
    st.dataframe(gate_rows(view.gate), hide_index=True, width="stretch")
    if view.forest_svg:
        st.subheader("Deltas with 95% intervals")
        st.image(view.forest_svg)  # an <img> of a data: URI: the SVG can run nothing and fetch nothing
    with st.expander("Per task and metric"):
        st.dataframe(task_rows(view.comparison), hide_index=True, width="stretch")
    review_links(entries[i], view)
    explorer(view)


def review_links(entry, view) -> None:
    """The human-review studies built from this compare's runs, and how to open them."""
    from evalkit.view.studies import studies_for

    root = Path(os.environ.get(ENV_ROOT) or ".").resolve()
    links = studies_for(entry.folder, view.comparison, [root, Path.cwd()])
    st.subheader("Review studies of these items")
    if not links:
        st.caption("No review study was built from these runs. To have people judge them blind: "
                   "evalkit review create STUDY --from <base run> --from <fine-tune run> (the runs are in this compare's runs/ folder).")
    for link in links:
        st.text(f"{link.name} ({link.status}, {link.items} items) in {link.database}")
        st.code("\n".join(link.commands()), language="bash")


def two_page(entries) -> None:
    st.title("Two compares of the same base")
    i = st.sidebar.selectbox("Compare", list(range(len(entries))), format_func=lambda k: f"{entries[k].name}: {entries[k].candidate}", key="entry")
    others = [entries.index(e) for e in same_base(entries, entries[i])]
    if not others:
        st.info("No other compare under this folder has the same base model (same fingerprint).")
        return
    j = st.selectbox("Compare with", others, format_func=lambda k: f"{entries[k].name}: {entries[k].candidate}", key="other")
    a, b = _view(entries[i]), _view(entries[j])
    left, right = st.columns(2)
    for col, v in ((left, a), (right, b)):
        with col:
            st.html(CSS + _verdict(v))
            st.dataframe(gate_rows(v.gate), hide_index=True, width="stretch")
    rows = side_by_side(a, b)
    if st.checkbox("Only where the verdicts differ", key="differ"):
        rows = [r for r in rows if r["differ"]]
    st.dataframe(rows, hide_index=True, width="stretch")


def main() -> None:
    st.set_page_config(page_title="evalkit view", layout="wide")
    root = Path(os.environ.get(ENV_ROOT) or ".").resolve()
    try:
        entries = find_compares(root)
        choice = st.sidebar.radio("View", ["Index", "Compare", "Two compares"], key="view")
        if choice == "Index" or not entries:
            index_page(root, entries)
        elif choice == "Compare":
            compare_page(entries)
        else:
            two_page(entries)
    except Exception:  # the browser gets no details: they could quote data
        log.exception("evalkit view error")
        st.error("Something went wrong; the details are in the terminal that runs `evalkit view`.")


main()
