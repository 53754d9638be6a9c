"""Base classes for validated config models (kept apart from ``config.py`` so that backend
modules can define their own config class without importing the project loader)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not be silently ignored. ``.inf`` and ``.nan``
    are refused in every number: no setting means anything with them."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
