"""The task file schema. A task is YAML next to its JSONL data; ``fields`` maps evalkit's
names to the data's own field names, so a user points a task at their JSONL unchanged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from evalkit.config_base import StrictModel
from evalkit.scorers.spec import MetricEntry, ScorerSpec
from evalkit.suites import sources
from evalkit.suites.choices import ChoicesFromText
from evalkit.suites.fewshot import FewshotSpec
from evalkit.suites.select import Sample, Where
from evalkit.suites.template import check_any

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


def _check_derived(template: str, style: str, key: str) -> None:
    # A template without a field gives every item the same value: almost surely a field
    # name written where a template belongs.
    if "{" not in template:
        raise ValueError(f"expected a template: write {{{{ {template} }}}} for the field '{template}', or use fields.{key}")
    check_any(template, style)


class TaskSpec(StrictModel):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]+$")
    type: Literal["generate", "classification", "multiple_choice", "perplexity"]
    description: str = ""
    data: sources.DataSource = Field(..., description="a file path, {path, format, records} or {hf: {...}}")
    where: Where | None = Field(None, description="keep only the records that pass every condition")
    sample: Sample | None = Field(None, description="N items drawn with the seed (default: the project's)")
    fewshot: FewshotSpec | None = None
    fields: FieldMap = FieldMap()
    template_style: Literal["auto", "jinja", "format"] = Field(
        "auto", description="auto: Jinja when a template uses {{ }} or {% %}, else {field}"
    )
    prompt: str | None = Field(None, description="a {field} or Jinja template over the item's fields")
    target: str | None = Field(None, description="template for the reference (instead of fields.target)")
    choices: ChoicesFromText | str | list[str] | None = Field(
        None, description="template(s) for the choices, or {from_text, pattern} (instead of fields.choices)"
    )
    choice_prefix: str = Field(" ", description="put between the prompt and each choice or label")
    labels: list[str] | None = Field(None, description="classification: the fixed label set")
    generation: GenerationParams = GenerationParams()
    extract: str | None = Field(None, description="regex; the answer is group 1 (or the match)")
    normalize: list[Literal["strip", "lower", "punctuation", "articles", "numbers", "whitespace"]] = ["strip"]
    # scorer before metrics: the metrics check reads it (fields validate in this order)
    scorer: str | ScorerSpec | None = Field(None, description="built-in scorer, module:function or file.py:function")
    metrics: list[str | MetricEntry] | None = None
    judge: str | None = Field(None, description="the model entry (of models:) that judges, for scorer pairwise or rubric")
    filters: dict[str, list[str | dict[str, Any]]] | None = Field(None, description="named filter chains over the answer")
    target_filter: list[str | dict[str, Any]] | None = Field(None, description="filter chain applied to each reference")
    source: Path | None = Field(None, exclude=True, description="the YAML file (set by the loader)")

    @field_validator("prompt")
    @classmethod
    def _template_compiles(cls, v, info):
        if v is not None:
            check_any(v, info.data.get("template_style", "auto"))
        return v

    @field_validator("target")
    @classmethod
    def _target_template(cls, v, info):
        if v is not None:
            if info.data.get("type") == "perplexity":
                raise ValueError("a perplexity task has no target; remove this key")
            _check_derived(v, info.data.get("template_style", "auto"), "target")
        return v

    @field_validator("choices", mode="before")
    @classmethod
    def _choices_mapping(cls, v):
        # Validated here so that a mistake reads "choices: ..." rather than one error per
        # member of the union.
        if isinstance(v, dict):
            from pydantic import ValidationError

            try:
                return ChoicesFromText.model_validate(v)
            except ValidationError as exc:
                err = exc.errors()[0]
                key = ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    raise ValueError(f"unknown key '{key}' (allowed: from_text, pattern)") from None
                raise ValueError(f"{key}: {err['msg'].removeprefix('Value error, ')}") from None
        return v

    @field_validator("choices")
    @classmethod
    def _choice_templates(cls, v, info):
        style = info.data.get("template_style", "auto")
        kind = info.data.get("type")
        if v is not None and kind not in ("multiple_choice", "classification", None):
            raise ValueError(f"only multiple_choice and classification tasks have choices, not {kind}")
        if isinstance(v, str):
            _check_derived(v, style, "choices")
        elif isinstance(v, list):
            if len(v) < 2:
                raise ValueError("a list of choice templates needs at least two")
            for t in v:
                check_any(t, style)
        return v

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v, info):
        # Checked here, not when the task runs, so the error names this file and line.
        from evalkit.scorers.plan import check_metric_names

        check_metric_names(v or [], info.data.get("type"), info.data.get("scorer"))
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

    @field_validator("filters")
    @classmethod
    def _filters_parse(cls, v):
        from evalkit.tasks.filters import parse_chain

        for name, chain in (v or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
                raise ValueError(f"filter name '{name}' may hold only letters, digits, _ and - (it becomes metric[{name}])")
            try:
                parse_chain(chain)
            except ValueError as exc:
                raise ValueError(f"filter '{name}': {exc}") from None
        if v is not None and not v:
            raise ValueError("filters is empty; name at least one chain or leave the key out")
        return v

    @field_validator("target_filter")
    @classmethod
    def _target_filter_parses(cls, v):
        from evalkit.tasks.filters import parse_chain

        if v is not None:
            parse_chain(v)
        return v

    @model_validator(mode="after")
    def _scoring_needs_generate(self):
        if self.type != "generate":
            used = [k for k in ("scorer", "filters", "target_filter") if getattr(self, k) is not None]
            if used:
                raise ValueError(f"{', '.join(used)} apply to generate tasks only (this is a {self.type} task)")
        judged = self.scorer_spec is not None and self.scorer_spec.name in ("pairwise", "rubric")
        if judged and self.judge is None:
            raise ValueError(f"scorer {self.scorer_spec.name} needs judge: MODEL, a model entry of the config's models:")
        if self.judge is not None and not judged:
            raise ValueError("judge: applies to scorer: pairwise or scorer: rubric only")
        if judged and self.scorer_spec.name == "pairwise":  # its args are read at compare time: check them now
            from evalkit.errors import ConfigError
            from evalkit.judge.hook import pairwise_spec

            try:
                pairwise_spec(self)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        if self.filters is not None and self.extract is not None:
            raise ValueError("give extract or filters, not both (extract: P is the filter [{regex: P}])")
        return self

    @property
    def scorer_spec(self) -> ScorerSpec | None:
        return ScorerSpec(name=self.scorer) if isinstance(self.scorer, str) else self.scorer

    @model_validator(mode="after")
    def _type_needs(self):
        target = self.target or self.fields.target
        needs = {
            "generate": [("prompt", self.prompt), ("fields.target", target)],
            "classification": [("prompt", self.prompt), ("labels", self.labels), ("fields.target", target)],
            "multiple_choice": [("prompt", self.prompt), ("fields.choices", self.choices or self.fields.choices), ("fields.target", target)],
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
