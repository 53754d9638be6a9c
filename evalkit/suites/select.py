"""Which records become items: ``where:`` (a small, declarative filter: no expression is ever
evaluated) and a seeded ``sample:``."""

from __future__ import annotations

import math
import operator
from typing import Any, Union

from pydantic import Field, model_validator

from evalkit.config_base import StrictModel
from evalkit.errors import DataError

Scalar = Union[bool, int, float, str, None]
_NUMERIC = ("gt", "ge", "lt", "le")


class Condition(StrictModel):
    """One field's test; every operator given must hold."""

    eq: Scalar = None
    ne: Scalar = None
    in_: list[Scalar] | None = Field(None, alias="in")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @model_validator(mode="after")
    def _some(self):
        if not self.model_fields_set:
            raise ValueError("give an operator: eq, ne, in, not_in, gt, ge, lt or le")
        return self


class Sample(StrictModel):
    n: int = Field(..., ge=1, description="how many items to keep")
    seed: int | None = Field(None, description="default: the project's seed")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v):
        return {"n": v} if isinstance(v, int) and not isinstance(v, bool) else v


Where = dict[str, Union[Condition, Scalar]]


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            x = float(v.strip().replace(",", ""))  # "1,200" from a spreadsheet is a number
        except ValueError:
            return None
        return x if math.isfinite(x) else None
    return None


def same(value: Any, want: Any) -> bool:
    """Equality across the ways data spells a value: CSV gives "3" and "true" where YAML
    gives 3 and true."""
    if isinstance(value, bool) or isinstance(want, bool):
        if isinstance(value, bool) and isinstance(want, bool):
            return value == want
        text = value if isinstance(value, str) else want if isinstance(want, str) else None
        flag = want if isinstance(want, bool) else value
        return text is not None and text.strip().lower() == str(flag).lower()
    if value is None or want is None:
        return value is want
    if isinstance(value, str) != isinstance(want, str):
        a, b = _number(value), _number(want)
        return a is not None and a == b
    return value == want


def _holds(value: Any, cond: Condition, field: str, where_at) -> bool:
    set_ = cond.model_fields_set
    if "eq" in set_ and not same(value, cond.eq):
        return False
    if "ne" in set_ and same(value, cond.ne):
        return False
    if "in_" in set_ and not any(same(value, w) for w in cond.in_ or []):
        return False
    if "not_in" in set_ and any(same(value, w) for w in cond.not_in or []):
        return False
    ops = [op for op in _NUMERIC if getattr(cond, op) is not None]
    if ops:
        x = _number(value)
        if x is None:
            raise where_at(f"where: {field} compares numbers but the value is {value!r}")
        if not all(getattr(operator, op)(x, getattr(cond, op)) for op in ops):
            return False
    return True


def matches(rec: dict, where: Where, err) -> bool:
    """Whether a record passes every condition; ``err(msg)`` builds the error for this record."""
    for field, test in where.items():
        if field not in rec:
            raise err(f"where: names field '{field}' but the item has none (its fields: {', '.join(sorted(rec)) or 'none'})")
        value = rec[field]
        if isinstance(test, Condition):
            if not _holds(value, test, field, err):
                return False
        elif not same(value, test):
            return False
    return True


def filter_records(records, where: Where | None, path):
    for line, rec in records:
        if where is None or matches(rec, where, lambda msg: DataError(msg, path=path, line=line)):
            yield line, rec


def sample(items: list, spec: Sample | None, project_seed: int | None) -> list:
    """``spec.n`` items drawn without replacement, kept in the data's order; the same data,
    n and seed give the same items on every machine (numpy's PCG64)."""
    if spec is None or spec.n >= len(items):
        return items
    import numpy as np

    seed = spec.seed if spec.seed is not None else project_seed
    rng = np.random.default_rng(0 if seed is None else seed)
    keep = np.sort(rng.choice(len(items), size=spec.n, replace=False))
    return [items[i] for i in keep]


def selection(spec, project_seed: int | None) -> dict[str, Any] | None:
    """How the task's items and shots were chosen, with the seeds actually used (results.json)."""
    out: dict[str, Any] = {}
    if spec.where:
        out["where"] = {k: v.model_dump(by_alias=True, exclude_unset=True) if isinstance(v, Condition) else v
                        for k, v in spec.where.items()}
    if spec.sample:
        out["sample"] = {"n": spec.sample.n, "seed": spec.sample.seed if spec.sample.seed is not None else project_seed}
    fs = spec.fewshot
    if fs:
        out["fewshot"] = {"n": fs.n, "sampler": fs.sampler, "ids": fs.ids, "as_multiturn": fs.as_multiturn,
                          "seed": (fs.seed if fs.seed is not None else project_seed) if fs.sampler == "random" else None}
    return out or None
