"""Few-shot examples: which items are shown before each prompt, chosen from the task's own
data or another source by a named sampler. The shots are rendered by the task type itself
(same prompt template, their own targets), so a shot looks exactly like the question after it."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, field_validator, model_validator

from evalkit.config_base import StrictModel
from evalkit.errors import ConfigError, DataError
from evalkit.suites import sources


class FewshotSpec(StrictModel):
    from_: sources.DataSource | None = Field(None, alias="from", description="default: the task's own data")
    n: int | None = Field(None, ge=1, description="shots per prompt (default with sampler ids: all ids)")
    sampler: Literal["first_n", "random", "ids"] = "first_n"
    ids: list[str] | None = None
    seed: int | None = Field(None, description="random: default the project's seed")
    delimiter: str = Field("\n\n", description="between shots, and between the last shot and the prompt")
    target_delimiter: str | None = Field(None, description="between a shot's prompt and its answer; default choice_prefix")
    as_multiturn: bool = Field(False, description="chat backends: each shot is a user turn and an assistant turn")

    @field_validator("from_", mode="before")
    @classmethod
    def _short(cls, v):
        return sources.coerce(v)

    @field_validator("ids", mode="before")
    @classmethod
    def _ids_text(cls, v):
        return [str(x) for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _consistent(self):
        if self.sampler == "ids":
            if not self.ids:
                raise ValueError("sampler: ids needs ids: [the ids of the shots, in order]")
            if self.n is not None and self.n > len(self.ids):
                raise ValueError(f"n is {self.n} but only {len(self.ids)} ids are given")
        else:
            if self.ids is not None:
                raise ValueError("ids: is for sampler: ids")
            if self.n is None:
                raise ValueError(f"sampler: {self.sampler} needs n: (how many shots)")
        return self


def _item_seed(seed: int, item_id: str) -> list[int]:
    """A seed per item from the run's seed and the item's id: an item's shots do not depend on
    which other items are in the run or in what order they are scored."""
    return [seed, int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "little")]


class ShotPool:
    """The items shots are drawn from, and the choice for each evaluated item."""

    def __init__(self, spec, items: list, seed: int | None):
        self.fs = spec.fewshot
        self.spec = spec
        self.items = items
        self.seed = self.fs.seed if self.fs.seed is not None else (seed or 0)
        self._by_id = {it.id: it for it in items}
        if self.fs.n is not None and self.fs.sampler != "ids" and len(items) < self.fs.n:
            raise DataError(f"fewshot.n is {self.fs.n} but the shot data has {len(items)} items (task {spec.source})",
                            path=sources.location(self._src, spec.source))
        if self.fs.sampler == "ids":
            unknown = [i for i in self.fs.ids if i not in self._by_id]
            if unknown:
                raise ConfigError(
                    f"fewshot.ids: no item with id {unknown[0]!r} in the shot data ({sources.location(self._src, spec.source)})",
                    path=spec.source,
                )

    @property
    def _src(self):
        return self.fs.from_ or self.spec.data

    def choose(self, item) -> list:
        """The shots for ``item``; an item is never its own shot (matched by id)."""
        fs = self.fs
        if fs.sampler == "ids":
            return [self._by_id[i] for i in fs.ids if i != item.id][: fs.n or len(fs.ids)]
        others = [it for it in self.items if it.id != item.id]
        if len(others) < fs.n:
            raise DataError(
                f"fewshot.n is {fs.n} but only {len(others)} other items can be shots for item {item.id!r} (task {self.spec.source})",
                path=sources.location(self._src, self.spec.source),
            )
        if fs.sampler == "first_n":
            return others[: fs.n]
        import numpy as np

        rng = np.random.default_rng(_item_seed(self.seed, item.id))
        return [others[i] for i in rng.choice(len(others), size=fs.n, replace=False)]


def load_pool(spec, seed: int | None, items: list | None = None) -> ShotPool | None:
    """The task's shot pool, or None without ``fewshot:``. With no ``from:`` the pool is the
    task's own data after ``where:`` (before ``sample:``); ``from:`` data is used whole."""
    if spec.fewshot is None:
        return None
    from evalkit.suites.items import load_items

    if spec.fewshot.from_ is None:
        pool_spec = spec.model_copy(update={"sample": None, "fewshot": None})
    else:
        pool_spec = spec.model_copy(update={"data": spec.fewshot.from_, "where": None, "sample": None, "fewshot": None})
    return ShotPool(spec, load_items(pool_spec), seed)


def pool_fingerprint(spec) -> str | None:
    """The content hash of a separate shot source (None when shots come from the task's data)."""
    if spec.fewshot is None or spec.fewshot.from_ is None:
        return None
    return sources.fingerprint(spec.fewshot.from_, spec.source)


def with_shots(fmt, tt, item, method, pool: ShotPool | None):
    """``fmt`` (the model's PromptFormat) carrying ``item``'s shots, rendered by the task type
    for the way it will be asked (a lettered multiple-choice prompt gets lettered shots)."""
    if pool is None:
        return fmt
    import dataclasses

    fs = pool.fs
    shots = tuple(tt.shot(s, method) for s in pool.choose(item))
    sep = fs.target_delimiter if fs.target_delimiter is not None else tt.spec.choice_prefix
    return dataclasses.replace(fmt, shots=shots, shot_delimiter=fs.delimiter, target_delimiter=sep, multiturn=fs.as_multiturn)
