"""``evalkit probe``'s project: the user's models (or the demo's) with one probe preset as the
only suite, and that preset's gates as the only gates."""

from __future__ import annotations

import dataclasses

PROBES = {"safety": "safety-drift", "bias": "bias-probes"}


def probe_project(project, kind: str, margins: dict[str, float]):
    import importlib

    from pydantic import ValidationError

    from evalkit.config import SuiteConfig, _expand_presets
    from evalkit.errors import ConfigError
    from evalkit.suites.lm_eval_spec import BUILTIN_TASKS, PRESETS

    preset = PROBES[kind]
    try:
        suite = SuiteConfig(preset=preset, margins=margins)
    except ValidationError as exc:
        raise ConfigError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    pf = _expand_presets(project.file.model_copy(update={"suites": {kind: suite}, "gates": [], "default_suites": None}))
    tasks = dict(project.tasks)
    for name in PRESETS[preset]["tasks"]:
        module, _, attr = BUILTIN_TASKS[name].partition(":")
        tasks[name] = getattr(importlib.import_module(module), attr)(project.cache_dir)
    gates = []
    if pf.gates:
        from evalkit.compare.gates import parse_gates

        gates = parse_gates(pf.gates, known_tasks=set(tasks), known_suites=pf.suites, path=project.path,
                            line_of=lambda i: None, known_metrics={"refusal_rate", "compliance_rate"})
    return dataclasses.replace(project, file=pf, tasks=tasks, gates=gates, _backends={})
