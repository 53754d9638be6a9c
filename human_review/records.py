"""A study read back for analysis and export: its systems, comparisons and each
assignment's standing answer (the last vote or skip that no undo voided)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Labels relative to the models, never to the screen: x = the candidate (or a gold item's
# correct side) is better, y = the base (or the gold decoy) is better.
LABELS = ("x", "tie", "y", "both_bad")


def relative_label(choice: str, left_is_x: bool) -> str:
    if choice == "left":
        return "x" if left_is_x else "y"
    if choice == "right":
        return "y" if left_is_x else "x"
    return choice


@dataclass(frozen=True)
class System:
    label: str
    model: str
    run_id: str
    source: str | None
    is_base: bool


@dataclass(frozen=True)
class Comparison:
    id: int
    kind: str  # pair | gold
    item_id: int
    task: str
    item_key: str
    prompt: str
    candidate: str | None  # the label of x's system; None for gold
    x_text: str
    y_text: str
    x_metrics: dict[str, Any]
    y_metrics: dict[str, Any]
    opponent: str | None = None  # the label of y's system; None for gold (and the base in older code)


@dataclass(frozen=True)
class Answer:
    assignment_id: int
    kind: str  # pair | gold | repeat
    comparison_id: int
    rater: str
    left_is_x: bool
    choice: str | None  # None: skipped
    label: str | None  # relative label (LABELS); None: skipped
    scores: dict[str, Any] | None  # {"x": {...}, "y": {...}}
    comment: str | None
    seconds: float | None
    created_at: float
    position: int
    repeat_of: int | None


@dataclass(frozen=True)
class StudyData:
    name: str
    status: str
    settings: dict[str, Any]
    systems: tuple[System, ...]
    comparisons: dict[int, Comparison]
    answers: tuple[Answer, ...]
    raters: tuple[str, ...]
    rows: dict[str, int] = field(default_factory=dict)  # vote rows by action

    def without_raters(self, names) -> StudyData:
        """The study as if these raters had never voted (a rater the flags call careless)."""
        from dataclasses import replace

        drop = set(names)
        return replace(self, answers=tuple(a for a in self.answers if a.rater not in drop),
                       raters=tuple(r for r in self.raters if r not in drop))

    @property
    def base(self) -> System:
        return next(s for s in self.systems if s.is_base)

    @property
    def candidates(self) -> tuple[System, ...]:
        return tuple(s for s in self.systems if not s.is_base)


def load(conn, study) -> StudyData:
    from sqlalchemy import func, select
    from sqlalchemy.orm import aliased

    from human_review import schema as t

    systems = conn.execute(select(t.system).where(t.system.c.study_id == study.id).order_by(t.system.c.id)).all()
    label = {s.id: s.label for s in systems}
    rx, ry = aliased(t.response), aliased(t.response)
    comps = {}
    for r in conn.execute(
        select(t.comparison.c.id, t.comparison.c.kind, t.item.c.id.label("item_id"), t.item.c.task, t.item.c.item_key,
               t.item.c.prompt, rx.c.system_id, ry.c.system_id.label("y_system_id"), rx.c.text.label("x_text"), ry.c.text.label("y_text"),
               rx.c.metrics.label("x_metrics"), ry.c.metrics.label("y_metrics"))
        .select_from(t.comparison.join(t.item, t.comparison.c.item_id == t.item.c.id)
                     .join(rx, t.comparison.c.x_response_id == rx.c.id).join(ry, t.comparison.c.y_response_id == ry.c.id))
        .where(t.comparison.c.study_id == study.id)
    ):
        comps[r.id] = Comparison(r.id, r.kind, r.item_id, r.task, r.item_key, r.prompt, label.get(r.system_id),
                                 r.x_text, r.y_text, r.x_metrics or {}, r.y_metrics or {}, label.get(r.y_system_id))
    A, V = t.assignment, t.vote
    answers = []
    for r in conn.execute(
        select(A.c.id, A.c.kind, A.c.comparison_id, t.rater.c.name, A.c.left_is_x, A.c.position, A.c.repeat_of,
               V.c.choice, V.c.scores, V.c.comment, V.c.seconds, V.c.created_at)
        .select_from(A.join(t.rater, A.c.rater_id == t.rater.c.id).join(V, (V.c.assignment_id == A.c.id) & (V.c.seq == A.c.last_seq)))
        .where(A.c.study_id == study.id, A.c.state.in_(("done", "skipped")))
        .order_by(A.c.id)
    ):
        lab = relative_label(r.choice, r.left_is_x) if r.choice else None
        answers.append(Answer(r.id, r.kind, r.comparison_id, r.name, r.left_is_x, r.choice, lab, _relative_scores(r.scores, r.left_is_x),
                              r.comment, r.seconds, r.created_at, r.position, r.repeat_of))
    raters = tuple(conn.execute(select(t.rater.c.name).where(t.rater.c.study_id == study.id).order_by(t.rater.c.id)).scalars())
    rows = dict(conn.execute(
        select(V.c.action, func.count()).select_from(V.join(A, V.c.assignment_id == A.c.id))
        .where(A.c.study_id == study.id).group_by(V.c.action)
    ).all())
    srow = conn.execute(select(t.study).where(t.study.c.id == study.id)).one()
    return StudyData(srow.name, srow.status, srow.settings, tuple(System(s.label, s.model, s.run_id, s.source, s.is_base) for s in systems),
                     comps, tuple(answers), raters, rows)


def _relative_scores(scores: dict | None, left_is_x: bool) -> dict | None:
    if not scores:
        return None
    left, right = scores.get("left") or {}, scores.get("right") or {}
    return {"x": left, "y": right} if left_is_x else {"x": right, "y": left}
