"""A metric read through one named filter: ``exact_match[strict]``.

The task scores each item once per filter and keeps the observations side by side
(``Observation.variants``); a variant is the same metric pointed at one of them, so the
statistics, direction and range are the metric's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.metrics.base import Metric, Observation


def variant_name(metric: str, filter_name: str) -> str:
    return f"{metric}[{filter_name}]"


def split_variant(name: str) -> tuple[str, str | None]:
    """``exact_match[strict]`` -> (``exact_match``, ``strict``); a plain name -> (name, None)."""
    if name.endswith("]") and "[" in name:
        base, _, rest = name.partition("[")
        return base, rest[:-1]
    return name, None


class Variant(Metric):
    def __init__(self, inner: Metric, filter_name: str):
        self.inner, self.filter_name = inner, filter_name
        self.name = variant_name(inner.name, filter_name)
        self.higher_is_better, self.binary = inner.higher_is_better, inner.binary
        self.value_range, self.scale = inner.value_range, inner.scale

    def item_stats(self, obs: Observation) -> list[float]:
        return self.inner.item_stats(obs.variants[self.filter_name])

    def from_stats(self, summed):
        return self.inner.from_stats(summed)

    def item_score(self, stats):
        return self.inner.item_score(stats)

    def compute(self, observations: Sequence[Observation]) -> float:
        return self.inner.compute([o.variants[self.filter_name] for o in observations])

    def signature(self) -> str:
        return f"{self.inner.signature()}|filter:{self.filter_name}"
