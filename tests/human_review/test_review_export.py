"""The votes CSV is safe to open in a spreadsheet: no cell starts a formula."""

from __future__ import annotations

import csv

from review_helpers import new_study

from human_review.export import csv_cell, write_exports

PAYLOADS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", "＝1"]


def test_formula_cells_are_escaped_and_numbers_kept():
    for p in PAYLOADS:
        assert csv_cell(p) == "'" + p
    assert csv_cell("fine = good") == "fine = good" and csv_cell(-1.5) == -1.5 and csv_cell(None) == ""


def test_exported_comments_cannot_run_as_formulas(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=len(PAYLOADS), overlap=1)
    r = store.sign_in(study, store.invite(study, "=cmd|rater"))
    for p in PAYLOADS:
        v = store.next_assignment(study, r.id)
        assert store.record(study, r.id, v.public_id, v.seq, "left", comment=f"{p} tail", seconds=2.0)
    csv_path = write_exports(store.data(study), tmp_path / "out", "s")[0]
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(PAYLOADS)
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r", "＝")) for cell in row.values() if cell)
    assert sorted(row["comment"] for row in rows) == sorted("'" + p.strip() + " tail" if p.strip()[0] in "=+-@＝" else p.strip() + " tail" for p in PAYLOADS)
