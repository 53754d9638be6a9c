"""Base classes for validated config models, and the one-line wording of their validation
errors (kept apart from ``config.py`` so that backend modules and the gate models can define
and validate their own config classes without importing the project loader)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not be silently ignored. ``.inf`` and ``.nan``
    are refused in every number: no setting means anything with them."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParityRequirement(StrictModel):
    """``parity:`` on a model entry: ``compare`` first checks, on a few canary items, that it
    answers like ``reference`` (the same model on another backend); evalkit.compare.parity."""

    reference: str = Field(..., description="the model entry (same weights, another backend) to agree with")
    min_agreement: float = Field(0.99, gt=0, le=1, description="share of canary items that must agree")
    items: int = Field(20, ge=1, le=100_000, description="canary items per task")
    ll_tolerance: float = Field(0.05, ge=0, le=100, description="nats per token two log-likelihoods may differ by")


class ModelConfigBase(StrictModel):
    """What every model entry under ``models:`` has, whatever its backend."""

    backend: str
    model: str | None = Field(None, description="model id or path; defaults to the entry's name")
    system_prompt: str | None = Field(None, description="system prompt sent before every task prompt")
    template: str = Field(
        "{prompt}",
        description="wraps each task prompt; must contain {prompt}. Lets base carry a long "
        "instruction and the fine-tune a short one",
    )
    parity: ParityRequirement | None = Field(None, description="compare first checks this model against a reference backend")


def describe_validation_error(exc: ValidationError, model_cls) -> tuple[tuple, str]:
    """(location, one-line message) for the first error, in words a user understands."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model_cls.model_fields)) if len(loc) == 1 else ""
        tail = f" (allowed: {allowed})" if allowed else ""
        return loc, f"unknown key '{loc[-1]}'{tail}"
    if kind == "missing":
        return loc, f"missing required key '{loc[-1]}'"
    where = ".".join(str(p) for p in loc)
    msg = err["msg"].removeprefix("Value error, ")
    return loc, f"{where}: {msg}" if where else msg
