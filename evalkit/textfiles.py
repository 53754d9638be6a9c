"""Where a text file stops being UTF-8.

A text-mode read reports a byte offset inside its read buffer, not a line, so after a
UnicodeDecodeError the file is read again as bytes, line by line, to name the line.
"""

from __future__ import annotations

from pathlib import Path


def undecodable_line(path: Path) -> tuple[int | None, str]:
    """(1-based line, reason) of the first line that is not UTF-8; (None, ...) if none is."""
    with Path(path).open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return n, f"{exc.reason} (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    return None, "cannot decode"
