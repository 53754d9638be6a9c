"""The organiser's study file: instructions, criteria (each with its own scale) and which
tie options raters get. YAML, validated with pydantic (unknown keys rejected), stored in
the study's settings at ``create`` so the app and the analysis read the same thing.

    instructions: |
      Which reply would you rather send to the customer? ...
    criteria:
      - {name: correctness, scale: [1, 5]}
      - {name: tone, label: Tone and politeness, scale: [1, 3]}
    ties: [tie]            # which of "tie" and "both_bad" are offered (default both)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_CRITERIA = ({"name": "correctness", "scale": [1, 5]}, {"name": "helpfulness", "scale": [1, 5]},
                    {"name": "tone", "scale": [1, 5]})


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="key in the data: lower case, digits, _")
    label: str | None = Field(None, max_length=80, description="what raters read (default: the name)")
    scale: tuple[int, int] = Field((1, 5), description="lowest and highest score")

    @field_validator("scale")
    @classmethod
    def _scale(cls, v):
        lo, hi = v
        if not (hi > lo and hi - lo <= 10):
            raise ValueError("scale must be [low, high] with low < high and at most 11 points")
        return v

    @property
    def shown(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class StudySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instructions: str | None = Field(None, max_length=20000, description="Markdown shown before the first item")
    criteria: tuple[Criterion, ...] = Field(tuple(Criterion(**c) for c in DEFAULT_CRITERIA), max_length=10)
    ties: tuple[Literal["tie", "both_bad"], ...] = ("tie", "both_bad")

    @model_validator(mode="after")
    def _unique(self):
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criteria: two criteria have the same name")
        if len(set(self.ties)) != len(self.ties):
            raise ValueError("ties: listed twice")
        return self


def load(path: Path) -> StudySettings:
    from evalkit.config import validate_located
    from evalkit.yamlio import load_yaml

    located = load_yaml(path)
    return validate_located(StudySettings, located.data, located, path)


def from_settings(settings: dict[str, Any]) -> StudySettings:
    """The study's settings as stored (defaults for a study made without a file)."""
    return StudySettings.model_validate(settings.get("study") or {})
