"""What one optional section of compare (generation drift, the probes) adds to its outputs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """compare.json keys (``payload``) and compare.md text; empty when the section has nothing to say."""

    payload: dict
    markdown: str = ""
