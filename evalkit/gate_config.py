"""The ``gates:`` section of evalkit.yaml: one validated model per gate type, and the parser
that turns the raw list into them (every mistake a ConfigError naming the gate and its line).

Kept apart from ``compare.gates``, which decides the gates, so that the config loader can
validate them without importing the comparison and statistics code, and ``compare.gates``
never reaches back into ``config``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Literal, Union

from pydantic import Field, ValidationError, model_validator

from evalkit.config_base import StrictModel, describe_validation_error
from evalkit.errors import ConfigError
from evalkit.metrics.registry import make_metric


class _GateBase(StrictModel):
    name: str | None = Field(None, description="shown in reports; default: type, target, metric")
    metric: str
    alpha: float = Field(0.05, gt=0, lt=0.5, description="level of each gate's test")
    inconclusive: Literal["fail", "pass"] = Field("fail", description="what an INCONCLUSIVE verdict counts as")
    clean_only: bool = Field(False, description="decide on the items the contamination audit found clean only")

    @property
    def target(self) -> str:
        return self.task

    @property
    def label(self) -> str:
        return self.name or f"{self.type} {self.target} {self.metric}" + (" (clean items)" if self.clean_only else "")


class MustImprove(_GateBase):
    """Superiority: the fine-tune's gain is significant (after Holm) and at least ``min_effect``."""

    type: Literal["must_improve"]
    task: str
    min_effect: float = Field(0.0, ge=0, description="smallest gain worth claiming, in metric units")


class MustNotRegress(_GateBase):
    """Non-inferiority: the one-sided lower bound of the gain is above ``-margin``."""

    type: Literal["must_not_regress"]
    task: str | None = None
    suite: str | None = None
    margin: float = Field(..., ge=0, description="largest loss tolerated, in metric units")

    @model_validator(mode="after")
    def _one_target(self):
        if (self.task is None) == (self.suite is None):
            raise ValueError("give exactly one of 'task' and 'suite'")
        return self

    @property
    def target(self) -> str:
        return self.task or self.suite


class MinScore(_GateBase):
    """Absolute floor: the fine-tune's own score is at least ``min`` (at most, if lower is better)."""

    type: Literal["min_score"]
    task: str
    min: float


Gate = Annotated[Union[MustImprove, MustNotRegress, MinScore], Field(discriminator="type")]
GATE_TYPES: dict[str, type[_GateBase]] = {"must_improve": MustImprove, "must_not_regress": MustNotRegress, "min_score": MinScore}


def parse_gates(raw_list, *, known_tasks: Collection[str], known_suites: Collection[str], path=None, line_of=None,
                known_metrics: Collection[str] = ()) -> list[Gate]:
    """Validate the ``gates:`` list of evalkit.yaml; every mistake is a ConfigError naming the
    gate (and its line, when ``line_of(index)`` can tell it)."""
    gates: list[Gate] = []
    for i, raw in enumerate(raw_list or []):
        where = f"gates[{i}]"
        line = line_of(i) if line_of else None
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in GATE_TYPES:
            raise ConfigError(f"{where}: 'type' must be one of {', '.join(GATE_TYPES)} (got {kind!r})", path=path, line=line)
        try:
            gate = GATE_TYPES[kind].model_validate(raw)
        except ValidationError as exc:
            msg = describe_validation_error(exc, GATE_TYPES[kind])[1]
            raise ConfigError(f"{where} ({kind}): {msg}", path=path, line=line) from None
        try:
            _check_names(gate, f"{where} '{gate.label}'", known_tasks, known_suites, path, known_metrics)
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix(f"{path}: "), path=path, line=line) from None
        gates.append(gate)
    labels = [g.label for g in gates]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"gates: duplicate gate name(s) {', '.join(dupes)}; give each a distinct 'name'", path=path)
    return gates


def _check_names(gate, where: str, known_tasks, known_suites, path, known_metrics=()) -> None:
    task, suite = getattr(gate, "task", None), getattr(gate, "suite", None)
    if task is not None and task not in known_tasks:
        raise ConfigError(f"{where}: unknown task '{task}' (known: {', '.join(sorted(known_tasks)) or 'none'})", path=path)
    if suite is not None and suite not in known_suites:
        raise ConfigError(f"{where}: unknown suite '{suite}' (known: {', '.join(sorted(known_suites)) or 'none'})", path=path)
    if gate.metric in known_metrics:  # a task's own scorer metric, declared in its metrics:
        return
    try:
        make_metric(gate.metric)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}", path=path) from None
