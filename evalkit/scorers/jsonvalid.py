"""JSON validity and JSON-schema conformance of the answer.

The answer is read as JSON after stripping whitespace and one surrounding Markdown code
fence (```json ... ```), which chat models add on their own. ``json_schema`` validates
with the ``jsonschema`` package, imported only when such a task runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.scorers.base import BinaryScorerMetric, Scorer

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n\s*```$", re.DOTALL)


def parse_json(answer: str | None) -> tuple[bool, Any]:
    if answer is None:
        return False, None
    text = answer.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    try:
        return True, json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False, None


class JsonValid(BinaryScorerMetric):
    name = "json_valid"
    source = "json:stdlib"


class JsonSchemaMetric(BinaryScorerMetric):
    name = "json_schema"
    source = "json:jsonschema"


class JsonValidScorer(Scorer):
    def metrics(self):
        return [JsonValid()]

    def score(self, answer, references, record):
        return {"json_valid": (float(parse_json(answer)[0]), 1.0)}


class JsonSchemaScorer(Scorer):
    """``schema`` inline, or ``schema_file`` (JSON, relative to the task file)."""

    def __init__(self, schema: dict | None = None, schema_file: str | None = None, base_dir: Path | None = None):
        try:
            import jsonschema
        except ImportError:
            raise ConfigError("scorer json_schema needs the jsonschema package; install it: pip install jsonschema") from None
        if (schema is None) == (schema_file is None):
            raise ConfigError("scorer json_schema needs exactly one of args.schema or args.schema_file")
        if schema_file is not None:
            path = (base_dir or Path.cwd()) / schema_file
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"cannot read the JSON schema: {exc}", path=path) from None
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"scorer json_schema: the schema is not valid: {exc.message}") from None
        self.validator = cls(schema)

    def metrics(self):
        return [JsonValid(), JsonSchemaMetric()]

    def score(self, answer, references, record):
        ok, value = parse_json(answer)
        conforms = ok and self.validator.is_valid(value)
        return {"json_valid": (float(ok), 1.0), "json_schema": (float(conforms), 1.0)}
