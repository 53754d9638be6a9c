"""Any Hugging Face ``evaluate`` metric as a per-item scorer (``metrics: [evaluate:NAME]``).

The metric runs on one item at a time and its value is the mean over items, so a paired
bootstrap can resample it; a corpus-level metric (BLEU) therefore reports the mean of its
sentence-level values, which is not its corpus value: use evalkit's own ``bleu`` for that.
``evaluate`` is imported only when such a task runs. A hub name needs the Hub once (the
metric's script is downloaded and cached); offline, name a local copy instead
(``evaluate:path/to/metric.py`` or its folder, relative to the task file).
"""

from __future__ import annotations

import sys
from numbers import Real
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.scorers.base import Scorer, ScorerMetric

PREFIX = "evaluate:"


def is_local(ref: str, base_dir: Path) -> bool:
    return ref.endswith(".py") or "/" in ref or (base_dir / ref).exists()


def metric_name(ref: str) -> str:
    """The default name a metric is reported under: the hub name or the file's stem."""
    return Path(ref.rstrip("/")).stem if "/" in ref or ref.endswith(".py") else ref


def load_module(ref: str, base_dir: Path):
    try:
        import evaluate
    except ImportError:
        raise ConfigError(f"metric evaluate:{ref} needs the Hugging Face evaluate package: pip install evaluate") from None
    if is_local(ref, base_dir):
        path = base_dir / ref
        if not path.exists():
            raise ConfigError(f"metric evaluate:{ref}: no such file or folder: {path}")
        target = str(path.resolve())
    else:
        target = ref
    try:
        return evaluate.load(target)
    except Exception as exc:  # noqa: BLE001 - the hub, a network error or the module itself
        if is_local(ref, base_dir):
            raise ConfigError(f"metric evaluate:{ref} failed to load: {type(exc).__name__}: {exc}") from None
        raise ConfigError(
            f"metric evaluate:{ref} could not be loaded ({type(exc).__name__}); evaluate fetches '{ref}' from the "
            f"Hugging Face Hub, which is not reachable: run once online, or download the metric's script and name "
            f"the local copy: evaluate:path/to/{ref}.py"
        ) from None


class EvaluateScorer(Scorer):
    def __init__(self, ref: str, module, metric: ScorerMetric, key: str | None, args: dict):
        self.ref, self.module, self.metric, self.key, self.args = ref, module, metric, key, dict(args)

    def metrics(self):
        return [self.metric]

    def code_files(self):
        module = sys.modules.get(type(self.module).__module__)
        return [module.__file__] if module is not None and getattr(module, "__file__", None) else []

    def score(self, answer, references, record):
        result = self.module.compute(predictions=[answer or ""], references=[references[0]], **self.args)
        return {self.metric.name: (self._value(result), 1.0)}

    def _value(self, result) -> float:
        if isinstance(result, Real):
            return float(result)
        if not isinstance(result, dict):
            raise TypeError(f"evaluate:{self.ref} returned {type(result).__name__}, not a dict of values")
        if self.key is not None:
            if self.key not in result:
                raise TypeError(f"evaluate:{self.ref} has no result '{self.key}' (it has: {', '.join(result)})")
            return float(result[self.key])
        numbers = {k: v for k, v in result.items() if isinstance(v, Real) and not isinstance(v, bool)}
        if len(numbers) != 1:
            raise TypeError(f"evaluate:{self.ref} returns {', '.join(result)}; say which with key: in the metric entry")
        return float(next(iter(numbers.values())))
