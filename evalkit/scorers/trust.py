"""Scorer code from the project folder runs only when the project is trusted.

A task's ``scorer: module:function`` / ``file.py:function`` and a local ``evaluate:`` metric
module are Python code that evalkit would import and run; as with ``module:Class`` backends,
that needs ``--trust-code`` (or ``trust_code: true`` in evalkit.yaml). Built-in scorers and
metrics need nothing. Checked when the project loads, before anything runs.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.preflight import TRUST_HINT
from evalkit.scorers import BUILTIN, COMPARE_TIME
from evalkit.scorers.spec import as_entry



def code_refs(spec) -> list[str]:
    """The references to Python code a task names (besides evalkit's own)."""
    from evalkit.scorers.evaluate_metric import PREFIX, is_local

    refs = []
    sspec = spec.scorer_spec
    if sspec is not None and sspec.name not in BUILTIN and sspec.name not in COMPARE_TIME:
        refs.append(sspec.name)
    base_dir = spec.source.parent if spec.source else Path.cwd()
    for e in map(as_entry, spec.metrics or []):
        if e.name.startswith(PREFIX) and is_local(e.name[len(PREFIX):], base_dir):
            refs.append(e.name)
    return refs


def _line_of(path: Path | None, needle: str) -> int | None:
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((i for i, ln in enumerate(lines, start=1) if needle in ln), None)


def check_task_code(tasks, trusted: bool) -> None:
    if trusted:
        return
    for spec in tasks.values():
        refs = code_refs(spec)
        if refs:
            raise ConfigError(
                f"task '{spec.name}': {refs[0]} imports and runs Python code; {TRUST_HINT}",
                path=spec.source, line=_line_of(spec.source, refs[0]),
            )
