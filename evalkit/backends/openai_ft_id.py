"""OpenAI fine-tuned model ids (``ft:BASE:ORG:SUFFIX:ID[:ckpt-step-N]``).

Its own module because both the backend (``openai_api``, which checks the id) and the price
table (``pricing``, which bills a fine-tune at its base model's fine-tuned rate) read it, and
the backend depends on the price table, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FineTuneId:
    base_model: str
    org: str
    suffix: str
    id: str
    checkpoint: str | None = None


def parse_ft_id(model: str) -> FineTuneId | None:
    """``ft:BASE:ORG:SUFFIX:ID[:ckpt-step-N]`` -> its parts; None when ``model`` is no such id."""
    parts = model.split(":")
    if parts[0] != "ft" or len(parts) not in (5, 6) or not parts[1] or not parts[4]:
        return None
    return FineTuneId(parts[1], parts[2], parts[3], parts[4], parts[5] if len(parts) == 6 else None)
