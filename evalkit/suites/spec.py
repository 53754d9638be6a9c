"""The task file schema. A task is YAML next to its JSONL data; ``fields`` maps evalkit's
names to the data's own field names, so a user points a task at their JSONL unchanged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from evalkit.config_base import StrictModel
from evalkit.suites.template import check_template
from evalkit.suites import sources
from evalkit.suites.fewshot import FewshotSpec
from evalkit.suites.select import Sample, Where

TASK_TYPES = ("generate", "classification", "multiple_choice", "perplexity")
NORMALIZERS = ("strip", "lower", "punctuation", "articles", "numbers", "whitespace")


class FieldMap(StrictModel):
    id: str | None = Field("id", description="unique item id; null = use the line number")
    target: str | None = Field("target", description="reference answer, label or correct choice")
    choices: str | None = Field("choices", description="multiple_choice: list of choices")
    text: str | None = Field("text", description="perplexity: the document")
    group: str | None = Field(None, description="cluster id: items that share it are not independent")


class GenerationParams(StrictModel):
    max_tokens: int = Field(64, ge=1, le=1_000_000)
    stop: list[str] = Field(default_factory=list, max_length=64)
    temperature: float = Field(0.0, ge=0, le=100)


class TaskSpec(StrictModel):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]+$")
    type: Literal["generate", "classification", "multiple_choice", "perplexity"]
    description: str = ""
    data: sources.DataSource = Field(..., description="a file path, {path, format, records} or {hf: {...}}")
    where: Where | None = Field(None, description="keep only the records that pass every condition")
    sample: Sample | None = Field(None, description="N items drawn with the seed (default: the project's)")
    fewshot: FewshotSpec | None = None
    fields: FieldMap = FieldMap()
    prompt: str | None = Field(None, description="Python format string over the item's fields")
    choice_prefix: str = Field(" ", description="put between the prompt and each choice or label")
    labels: list[str] | None = Field(None, description="classification: the fixed label set")
    generation: GenerationParams = GenerationParams()
    extract: str | None = Field(None, description="regex; the answer is group 1 (or the match)")
    normalize: list[Literal["strip", "lower", "punctuation", "articles", "numbers", "whitespace"]] = ["strip"]
    metrics: list[str] | None = None
    source: Path | None = Field(None, exclude=True, description="the YAML file (set by the loader)")

    @field_validator("prompt")
    @classmethod
    def _plain_fields(cls, v):
        if v is not None:
            check_template(v)
        return v

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v, info):
        # Checked here, not when the task runs, so the error names this file and line.
        from evalkit.metrics.registry import ALLOWED, METRICS

        kind = info.data.get("type")
        for name in v or []:
            if name not in METRICS:
                raise ValueError(f"unknown metric '{name}' (known: {', '.join(sorted(METRICS))})")
            if kind in ALLOWED and name not in ALLOWED[kind]:
                raise ValueError(f"metric '{name}' does not apply to a {kind} task (use: {', '.join(ALLOWED[kind])})")
        return v
    @field_validator("data", mode="before")
    @classmethod
    def _data_short_form(cls, v):
        return sources.coerce(v)

    @field_validator("labels")
    @classmethod
    def _labels_unique(cls, v):
        if v is not None and (len(v) < 2 or len(set(v)) != len(v)):
            raise ValueError("labels must be at least two distinct strings")
        return v

    @field_validator("extract")
    @classmethod
    def _regex_compiles(cls, v):
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"extract is not a valid regex: {exc}") from None
        return v

    @model_validator(mode="after")
    def _type_needs(self):
        needs = {
            "generate": [("prompt", self.prompt), ("fields.target", self.fields.target)],
            "classification": [("prompt", self.prompt), ("labels", self.labels), ("fields.target", self.fields.target)],
            "multiple_choice": [("prompt", self.prompt), ("fields.choices", self.fields.choices), ("fields.target", self.fields.target)],
            "perplexity": [("fields.text", self.fields.text)],
        }[self.type]
        missing = [k for k, v in needs if v is None]
        if missing:
            raise ValueError(f"a {self.type} task needs {', '.join(missing)}")
        if self.fewshot is not None and self.type == "perplexity":
            raise ValueError("fewshot: a perplexity task has no prompt to put examples before")
        return self

    @property
    def data_path(self) -> Path:
        """The data file errors name (``hf:ID/SPLIT`` for a Hugging Face dataset)."""
        return sources.location(self.data, self.source)
