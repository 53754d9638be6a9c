"""A task's own scorer function: ``module:function`` or ``file.py:function`` (next to the task).

The function is called as ``fn(answer, references, item)``: the filtered answer (None when a
filter found nothing), the list of references (after ``target_filter``) and the item's record
(a dict of its data fields). It returns, for one metric, a number, a bool or a pair
``(numerator, denominator)``; for several metrics, a dict of those by metric name. The
metrics it fills are the task's ``metrics:`` entries that are not built in (default: one
metric named after the function), each with its own ``higher_is_better``, ``binary`` and
``value_range``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.scorers.base import Scorer, ScorerMetric, as_stats


def is_file_ref(ref: str) -> bool:
    return ref.rpartition(":")[0].endswith(".py")


def load_function(ref: str, base_dir: Path):
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(f"scorer '{ref}' is not built in and not module:function or file.py:function")
    try:
        if target.endswith(".py"):
            path = (base_dir / target).resolve()
            if not path.is_file():
                raise ConfigError(f"scorer file not found: {path}")
            # A name per file, so two tasks' scorers.py do not replace each other.
            name = "evalkit_scorer_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # so the function's module can be found again
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed on import: one line
        raise ConfigError(f"scorer '{ref}': importing '{target}' failed: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"scorer '{ref}': '{target}' has no function '{attr}'")
    return fn


class FunctionScorer(Scorer):
    def __init__(self, ref: str, fn, metrics: list[ScorerMetric]):
        self.ref, self.fn, self._metrics = ref, fn, metrics

    def metrics(self):
        return list(self._metrics)

    def code_files(self):
        module = sys.modules.get(getattr(self.fn, "__module__", ""), None)
        path = getattr(module, "__file__", None) or getattr(getattr(self.fn, "__code__", None), "co_filename", None)
        return [path] if path else []

    def score(self, answer, references, record):
        out = self.fn(answer, list(references), dict(record))
        names = [m.name for m in self._metrics]
        if not isinstance(out, dict):
            if len(names) != 1:
                raise TypeError(f"scorer {self.ref} returned one value but the task declares metrics {', '.join(names)}; return a dict by name")
            out = {names[0]: out}
        missing = [n for n in names if n not in out]
        if missing:
            raise TypeError(f"scorer {self.ref} returned no value for {', '.join(missing)}")
        return {n: as_stats(out[n], f"scorer {self.ref} for '{n}'") for n in names}
