"""Task types: how a task turns items into backend requests, and responses into observations.

A new task type is a new module plus a line in ``TASK_TYPES`` below.
"""

from __future__ import annotations

import importlib

TASK_TYPES = {
    "generate": "evalkit.tasks.generate:GenerateTask",
    "classification": "evalkit.tasks.classification:ClassificationTask",
    "multiple_choice": "evalkit.tasks.multiple_choice:MultipleChoiceTask",
    "perplexity": "evalkit.tasks.perplexity:PerplexityTask",
}


def task_type(spec):
    module, _, attr = TASK_TYPES[spec.type].partition(":")
    return getattr(importlib.import_module(module), attr)(spec)
