"""The flip explorer's logic: which changed items to show, in which order, and the word-level
differences between the two answers. Plain functions; the app only draws what they return."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    tasks: tuple[str, ...] = ()  # empty: every task
    metrics: tuple[str, ...] = ()
    direction: str = "both"  # "regressions", "improvements" or "both"
    min_change: float = 0.0  # the change relative to the largest on its task and metric, 0..1
    query: str = ""


def explorer_order(items: list[dict]) -> list[dict]:
    """Right -> wrong first (the failing gate's regressions before the rest), grouped by task
    and by cluster, then continuous regressions, then improvements in the same grouping."""
    def rank(it: dict):
        return (not it["decisive"], it["gain"] > 0, not it["binary"], it["task"], it.get("cluster", ""), -it["weight"], str(it["id"]))

    return sorted(items, key=rank)


def apply(items: list[dict], f: Filters) -> list[dict]:
    q = f.query.strip().lower()
    out = []
    for it in items:
        if f.tasks and it["task"] not in f.tasks or f.metrics and it["metric"] not in f.metrics:
            continue
        if f.direction == "regressions" and it["gain"] > 0 or f.direction == "improvements" and it["gain"] < 0:
            continue
        if it["weight"] < f.min_change:
            continue
        if q and q not in "\n".join(str(it.get(k, "")) for k in ("id", "cluster", "prompt", "base", "ft", "reference")).lower():
            continue
        out.append(it)
    return out


def groups(items: list[dict]) -> list[tuple[str, list[dict]]]:
    """Consecutive runs of the same (direction, task, cluster): the headings of the explorer."""
    out: list[tuple[str, list[dict]]] = []
    for it in items:
        kind = "right → wrong" if it["binary"] and it["gain"] < 0 else "worse" if it["gain"] < 0 else \
            "wrong → right" if it["binary"] else "better"
        title = f"{kind} · {it['task']}" + (f" · {it['cluster']}" if it.get("cluster") else "")
        if out and out[-1][0] == title:
            out[-1][1].append(it)
        else:
            out.append((title, [it]))
    return out


_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def diff_html(old: str, new: str) -> tuple[str, str]:
    """Both texts as HTML with the words that differ marked: deletions in ``old``, insertions
    in ``new``. Every piece of text is escaped; the only tags are the marks added here."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        x, y = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(x)
            right.append(y)
            continue
        if x:
            left.append(f"<del>{x}</del>")
        if y:
            right.append(f"<ins>{y}</ins>")
    return "".join(left), "".join(right)
