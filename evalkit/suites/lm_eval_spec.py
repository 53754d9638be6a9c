"""Suite entries that are not task files: ``lm-eval:TASK`` entries, built-in probes, presets.

Parsing only: nothing here imports lm-eval (running them is ``lm_eval_run``).

An lm-eval entry is ``lm-eval:TASK`` with optional query parameters::

    lm-eval:arc_easy
    lm-eval:arc_easy?limit=100&seed=1      # 100 documents drawn at random with seed 1
    lm-eval:mmlu?limit=5                   # the first 5 documents of each of its subtasks
    lm-eval:hellaswag?num_fewshot=10

``limit`` alone takes the first documents (as lm-eval's ``--limit``); with ``seed`` it draws
that many at random, reproducibly. The task is reported as ``lm-eval:TASK`` (parameters left
out), so gates name it that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from pydantic import Field

from evalkit.config_base import StrictModel
from evalkit.errors import ConfigError

PREFIX = "lm-eval:"
_TASK_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_PARAMS = {"limit", "seed", "num_fewshot"}

# Built-in suites a config can name with `preset:`. Offline probes come last, so a machine
# without the lm-eval datasets still measures something.
PRESETS: dict[str, dict] = {
    "forgetting-standard": {
        "role": "forgetting",
        "description": "general abilities (lm-eval hellaswag, arc_challenge, winogrande, mmlu) and an offline MMLU probe",
        "tasks": ["lm-eval:hellaswag", "lm-eval:arc_challenge", "lm-eval:winogrande", "lm-eval:mmlu", "mmlu-dev-probe"],
    },
}

# Built-in evalkit tasks a suite can name without a task file: name -> "module:function"
# returning a TaskSpec (the function may write the task's data under the cache folder).
BUILTIN_TASKS: dict[str, str] = {
    "mmlu-dev-probe": "evalkit.suites.mmlu_probe:build_spec",
}


class LmEvalSettings(StrictModel):
    """The ``lm_eval:`` section of evalkit.yaml."""

    include_path: list[str] = Field(default_factory=list, description="folders of your own lm-eval task YAMLs (relative to the config)")
    include_defaults: bool = Field(True, description="also index lm-eval's own tasks (takes a few seconds)")
    download: bool = Field(True, description="fetch datasets missing from the local Hugging Face cache")
    fetch_timeout: float = Field(300.0, gt=0, le=86_400, description="seconds one task may spend fetching its dataset")
    fewshot_seed: int = Field(1234, ge=0, lt=2**32, description="seed of few-shot example sampling (lm-eval's default)")


@dataclass(frozen=True)
class LmEvalTask:
    """One ``lm-eval:`` suite entry."""

    entry: str  # as written in the config
    task: str  # lm-eval's task or group name
    limit: int | None = None
    seed: int | None = None
    num_fewshot: int | None = None

    @property
    def name(self) -> str:
        return PREFIX + self.task


def is_lm_eval(entry: str) -> bool:
    return entry.startswith(PREFIX)


def parse_entry(entry: str) -> LmEvalTask:
    """``lm-eval:TASK[?limit=N&seed=S&num_fewshot=K]`` -> LmEvalTask; ConfigError otherwise."""
    body = entry[len(PREFIX) :]
    task, _, query = body.partition("?")
    if not _TASK_NAME.match(task):
        raise ConfigError(f"'{entry}': expected lm-eval:TASK[?limit=N&seed=S&num_fewshot=K]")
    values: dict[str, int] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=False) if query else []:
        if key not in _PARAMS:
            raise ConfigError(f"'{entry}': unknown parameter '{key}' (known: {', '.join(sorted(_PARAMS))})")
        if key in values:
            raise ConfigError(f"'{entry}': '{key}' is given twice")
        try:
            values[key] = int(raw)
        except ValueError:
            raise ConfigError(f"'{entry}': {key} must be an integer, got {raw!r}") from None
    if query and not values:
        raise ConfigError(f"'{entry}': cannot read the parameters after '?'")
    if values.get("limit") is not None and values["limit"] < 1:
        raise ConfigError(f"'{entry}': limit must be at least 1")
    if values.get("num_fewshot") is not None and values["num_fewshot"] < 0:
        raise ConfigError(f"'{entry}': num_fewshot must be 0 or more")
    if "seed" in values and "limit" not in values:
        raise ConfigError(f"'{entry}': seed draws a random subset and needs limit")
    return LmEvalTask(entry, task, values.get("limit"), values.get("seed"), values.get("num_fewshot"))
