"""Model families from model ids, for the self-preference warning: a judge prefers answers
from its own family (published pair judgments: its own answers win 87 %).

Families are read from the id alone (no network): an OpenAI fine-tune ``ft:BASE:org::id``
resolves to its base, a Hugging Face ``org/name`` to its name, and the name is matched
against known family stems. An id that matches none has no family and gets no warning.
"""

from __future__ import annotations

import re

# Ordered from the most specific stem; the first match names the family.
_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"^(gpt-?\d|gpt-4o|chatgpt|o\d(-|$)|davinci|babbage|text-davinci)", "openai-gpt"),
    (r"^claude", "anthropic-claude"),
    (r"^gemini|^gemma", "google-gemini"),
    (r"^(meta-)?llama|^codellama", "meta-llama"),
    (r"^mistral|^mixtral|^ministral|^codestral", "mistral"),
    (r"^qwen", "qwen"),
    (r"^phi-?\d", "microsoft-phi"),
    (r"^deepseek", "deepseek"),
    (r"^command|^c4ai", "cohere-command"),
    (r"^falcon", "tii-falcon"),
    (r"^olmo", "allenai-olmo"),
    (r"^yi-", "01ai-yi"),
)


def base_id(model_id: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:name:id`` -> ``gpt-4o-mini-2024-07-18``; other ids as given."""
    if model_id.startswith("ft:"):
        return model_id.split(":")[1]
    return model_id


def family(model_id: str | None) -> str | None:
    if not model_id:
        return None
    name = base_id(str(model_id)).rsplit("/", 1)[-1].lower()
    for pattern, fam in _FAMILIES:
        if re.search(pattern, name):
            return fam
    return None


def same_family_warnings(judge: str, judge_id: str, models: dict[str, str]) -> list[str]:
    """One warning per model under test (``models``: name -> model id) that shares the judge's family."""
    fam = family(judge_id)
    if fam is None:
        return []
    return [f"the judge '{judge}' ({judge_id}) and '{name}' ({mid}) are both {fam} models: a judge tends to prefer "
            "its own family's answers; prefer a judge from another family, or check it against human votes"
            for name, mid in models.items() if family(mid) == fam]
