"""Task-file keys for scorers and metrics: ``scorer:`` and the mapping form of ``metrics:``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from evalkit.config_base import StrictModel


class ScorerSpec(StrictModel):
    """``scorer: {name: numeric, args: {abs_tol: 0.01}}``; the plain string form is ``name``."""

    name: str = Field(..., min_length=1, description="a built-in scorer, module:function or file.py:function")
    args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the scorer")


class MetricEntry(StrictModel):
    """One entry of ``metrics:`` in its mapping form, e.g.
    ``{name: refusal_rate, higher_is_better: false}``."""

    name: str = Field(..., min_length=1, description="metric name, or evaluate:NAME / evaluate:path/to/metric.py")
    higher_is_better: bool | None = Field(None, description="override the metric's direction for this task")
    binary: bool | None = Field(None, description="scorer metrics: per-item values are 0/1")
    value_range: tuple[float, float] | None = Field(None, description="scorer metrics: [low, high] of a per-item value")
    key: str | None = Field(None, description="evaluate: which key of the metric's result to report")
    args: dict[str, Any] = Field(default_factory=dict, description="evaluate: extra keyword arguments for compute()")
    as_: str | None = Field(None, alias="as", pattern=r"^[A-Za-z0-9_.\-]+$", description="evaluate: report under this name")

    @field_validator("value_range")
    @classmethod
    def _ordered(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError("value_range must be [low, high] with low < high")
        return v


def as_entry(raw: str | MetricEntry) -> MetricEntry:
    return MetricEntry(name=raw) if isinstance(raw, str) else raw
