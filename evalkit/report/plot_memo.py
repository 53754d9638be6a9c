"""A memo for the report's plot kept in the compare folder itself.

``evalkit report DIR`` has no project, hence no response cache, yet drawing the forest plot
(importing matplotlib) costs more than the rest of the rebuild. The plot is keyed by its
rows and evalkit's code (see :func:`evalkit.report.html.forest_svg`), so a file named by that
key is reused as long as the data and the code are the same, and redrawn otherwise.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = ".evalkit-memo"
PREFIX = "forest-"


class FolderMemo:
    """The ``memo_get``/``memo_put`` pair of the response cache, for SVG text in one folder."""

    def __init__(self, directory: Path):
        self.directory = Path(directory) / FOLDER

    def _path(self, key: str) -> Path:
        return self.directory / f"{PREFIX}{key}.svg"

    def memo_get(self, key: str) -> str | None:
        try:
            text = self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return text if text.startswith("<svg") else None  # a truncated or foreign file: redraw

    def memo_put(self, key: str, kind: str, value: str) -> None:
        try:
            self.directory.mkdir(exist_ok=True)
            for old in self.directory.glob(f"{PREFIX}*.svg"):  # one plot per folder: drop stale ones
                old.unlink(missing_ok=True)
            tmp = self.directory / f".{PREFIX}{key}.tmp"
            tmp.write_text(value, encoding="utf-8")
            tmp.replace(self._path(key))
        except OSError:  # a read-only compare folder: the report is still written, only not memoised
            pass
