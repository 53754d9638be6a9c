"""The compare folder's plot memo (used by ``evalkit report DIR``): one plot kept, a damaged
file redrawn, a folder it cannot write still gets its report."""

from __future__ import annotations

from evalkit.report.plot_memo import FOLDER, FolderMemo


def test_keeps_one_plot_by_key_and_ignores_damaged_files(tmp_path):
    memo = FolderMemo(tmp_path)
    assert memo.memo_get("a") is None
    memo.memo_put("a", "forest", "<svg>a</svg>")
    memo.memo_put("b", "forest", "<svg>b</svg>")
    assert memo.memo_get("a") is None and memo.memo_get("b") == "<svg>b</svg>"
    assert [p.name for p in (tmp_path / FOLDER).iterdir()] == ["forest-b.svg"]
    (tmp_path / FOLDER / "forest-b.svg").write_text("<sv")  # truncated
    assert memo.memo_get("b") is None


def test_an_unwritable_folder_is_not_an_error(tmp_path):
    (tmp_path / FOLDER).write_text("a file where the folder would go")
    memo = FolderMemo(tmp_path)
    memo.memo_put("a", "forest", "<svg/>")
    assert memo.memo_get("a") is None
