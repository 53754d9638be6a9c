"""A project config built from command-line strings instead of an evalkit.yaml.

``evalkit compare --base hf:gpt2 --ft hf:gpt2+adapter=./lora --tasks lm-eval:arc_easy,./tasks/qa.yaml``
builds the same mapping a user would write in evalkit.yaml, so that everything after it
(validation, runs, compare, gates) is the YAML path unchanged; ``--print-config`` writes it out.

A model string is ``BACKEND:MODEL[+KEY=VALUE...]``: ``hf:gpt2+adapter=./lora``,
``openai:ft:gpt-4o-mini:org:suffix:id`` (everything after the first colon is the model id),
``ngram:demo`` / ``ngram:demo-ft`` (the built-in demo's two models), ``ngram:FILE.txt``.
Each ``+KEY=VALUE`` is a key of that backend's model entry (validated as in YAML).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError

# Keys whose value names a file or folder relative to the config (resolved when the config
# is written somewhere other than the current folder). A hub id ("gpt2") is left alone.
_PATH_KEYS = {"adapter", "model"}
_DEMO_MODELS = {"demo": "base", "demo-ft": "ft"}
MODEL_HELP = "BACKEND:MODEL[+KEY=VALUE...], e.g. hf:gpt2+adapter=./lora, openai:gpt-4o-mini, ngram:demo"


@dataclass(frozen=True)
class InlineSpec:
    """What the flags say: model strings by name, task entries by role, gate flags."""

    models: dict[str, str]  # evalkit name -> model string
    tasks: tuple[str, ...]
    forgetting: tuple[str, ...] = ()
    gates: tuple[dict[str, Any], ...] = ()
    seed: int | None = None


def _value(raw: str):
    """A +KEY=VALUE value as YAML would read it (8 -> 8, false -> False): the backend's
    pydantic model then validates it exactly as it validates the same YAML."""
    import yaml

    try:
        return yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        return raw


def _looks_like_path(value: str) -> bool:
    return value.startswith(("./", "../", "/", "~")) or os.path.exists(value)


def parse_model(text: str) -> dict[str, Any]:
    """A model string -> the model's YAML entry (as the user would write it, paths as typed)."""
    from evalkit.backends.registry import known_backends

    backend, sep, rest = text.partition(":")
    if not sep or not backend or not rest:
        raise ConfigError(f"model '{text}': expected {MODEL_HELP}")
    # "+" starts an option only before KEY=, so a model id or value may hold a plain "+"
    model, *options = re.split(r"\+(?=[A-Za-z_][A-Za-z0-9_]*=)", rest)
    entry: dict[str, Any] = {"backend": backend}
    if backend == "ngram" and model in _DEMO_MODELS:
        entry = _demo_model(_DEMO_MODELS[model])
    elif backend == "ngram":
        entry["train"] = model.split(",")
    elif backend not in known_backends():
        hint = ""
        if backend == "vllm":  # a vLLM server speaks the OpenAI API
            hint = f"; for a running vLLM server use openai:{model}+base_url=http://localhost:8000/v1+api=completions"
        raise ConfigError(f"model '{text}': backend '{backend}' is not available here (known: "
                          f"{', '.join(known_backends())}){hint}")
    else:
        entry["model"] = model
    for opt in options:
        key, eq, raw = opt.partition("=")
        if not eq or not key:
            raise ConfigError(f"model '{text}': '+{opt}' must be +KEY=VALUE")
        if key in ("backend",):
            raise ConfigError(f"model '{text}': the backend is the part before the first colon")
        entry[key] = _value(raw)
    return entry


def _demo_model(name: str) -> dict[str, Any]:
    """The demo's model entry, its training files made absolute (they live in the demo)."""
    from evalkit.config import demo_dir
    from evalkit.yamlio import load_yaml

    root = demo_dir()
    entry = dict(load_yaml(root / "evalkit.yaml").data["models"][name])
    entry["train"] = [str(root / p) for p in entry["train"]]
    if entry.get("init"):
        entry["init"] = f"demo-{entry['init']}"  # its own entry, whatever the user names theirs
    return entry


def parse_gate(kind: str, text: str) -> dict[str, Any]:
    """``TASK:METRIC:NUMBER`` -> a gates: entry of ``kind``."""
    key = {"must_improve": "min_effect", "must_not_regress": "margin", "min_score": "min"}[kind]
    parts = text.rsplit(":", 2)  # the task may itself hold a colon (lm-eval:arc_easy)
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"gate '{text}': expected TASK:METRIC:NUMBER")
    task, metric, raw = parts
    try:
        number = float(raw)
    except ValueError:
        raise ConfigError(f"gate '{text}': '{raw}' is not a number") from None
    return {"type": kind, "task": task, "metric": metric, key: number}


def _task_entries(entries, root: Path) -> tuple[list[str], list[str]]:
    """(files for ``tasks:``, names for the suite): a YAML file or glob is a task file, read
    for its name; anything else (lm-eval:TASK, a built-in probe) is a suite entry as is."""
    from evalkit.config import load_task

    files, names = [], []
    for entry in entries:
        if entry.startswith("lm-eval:") or not (entry.endswith((".yaml", ".yml")) or glob.has_magic(entry)):
            _not_a_path(entry, root)
            names.append(entry)
            continue
        matches = sorted(glob.glob(str(root / entry)))
        if not matches:
            raise ConfigError(f"--tasks: '{entry}' matches no file")
        files.append(entry)
        names += [load_task(Path(m)).name for m in matches]
    return files, names


def _not_a_path(entry: str, root: Path) -> None:
    """A --tasks entry that names a file or folder but not a task YAML: said here, in the
    user's words, rather than later as an unknown task of a generated config."""
    from evalkit.suites.lm_eval_spec import BUILTIN_TASKS

    if entry in BUILTIN_TASKS:
        return  # a built-in probe, even where a folder of that name happens to exist
    path = root / entry
    if path.is_dir():
        raise ConfigError(f"--tasks: '{entry}' is a folder; name its task YAML files (e.g. '{entry.rstrip('/')}/*.yaml')")
    if path.is_file() or entry.endswith((".jsonl", ".json")):
        hint = f"; for a JSONL data file, `evalkit init {entry}` writes one" if entry.endswith((".jsonl", ".json")) else ""
        raise ConfigError(f"--tasks: '{entry}' is not a task YAML (.yaml){hint}")


def models_config(strings: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The models: mapping for model strings by name."""
    models = {name: parse_model(text) for name, text in strings.items()}
    for entry in list(models.values()):  # ngram:demo-ft continues the demo's base: add it
        init = entry.get("init")
        if entry["backend"] == "ngram" and isinstance(init, str) and init.startswith("demo-"):
            parent = _demo_model(init.removeprefix("demo-"))
            same = [name for name, other in models.items() if other == parent]
            if same:  # the user's base is that model: continue it, not a copy of it
                entry["init"] = same[0]
            else:
                models.setdefault(init, parent)
    return models


def build_config(spec: InlineSpec, root: Path) -> dict[str, Any]:
    """The evalkit.yaml mapping for ``spec``, paths as typed (relative to ``root``)."""
    if not spec.tasks:
        raise ConfigError("--tasks: name at least one task (lm-eval:TASK, a task YAML file, or a built-in probe)")
    models = models_config(spec.models)
    files, target = _task_entries(spec.tasks, root)
    suites: dict[str, Any] = {"target": {"role": "target", "tasks": target}}
    if spec.forgetting:
        more, names = _task_entries(spec.forgetting, root)
        files += more
        suites["forgetting"] = {"role": "forgetting", "tasks": names}
    config: dict[str, Any] = {}
    if spec.seed is not None:
        config["seed"] = spec.seed
    config |= {"tasks": list(dict.fromkeys(files)), "suites": suites, "models": models}
    if spec.gates:
        config["gates"] = [dict(g) for g in spec.gates]
    return config


def absolute_paths(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """The same config with every local path made absolute, to be written outside ``root``."""
    out = dict(config)
    out["tasks"] = [str((root / p).resolve()) for p in config["tasks"]]
    models = {}
    for name, entry in config["models"].items():
        entry = dict(entry)
        if "train" in entry:
            entry["train"] = [str((root / p).resolve()) for p in entry["train"]]
        for key in _PATH_KEYS & set(entry):
            value = entry[key]
            if isinstance(value, str) and _looks_like_path(value) and not (entry["backend"] == "openai"):
                entry[key] = str((root / Path(value).expanduser()).resolve())
        models[name] = entry
    out["models"] = models
    return out


def to_yaml(config: dict[str, Any], command: str) -> str:
    import yaml

    head = (f"# evalkit.yaml built by: {command}\n"
            "# Save it as evalkit.yaml in this folder and run `evalkit compare base ft` for the same comparison.\n")
    return head + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)


def stored_run_gates(project, args, raw: list[dict[str, Any]]):
    """Gate flags for a compare of stored runs (or a YAML project's models): checked against
    the tasks and suites the config and the stored runs have."""
    from evalkit.compare.gates import parse_gates
    from evalkit.results import RunResult, is_run_dir

    from evalkit.scorers.plan import declared_metric_names

    tasks = set(project.tasks) | {t.name for t in project.lm_eval_tasks.values()}
    suites = set(project.file.suites)
    metrics = {n for spec in project.tasks.values() for n in declared_metric_names(spec)}
    for arg in args:
        if is_run_dir(arg):
            run = RunResult.load(Path(arg))
            tasks |= {t.task for t in run.tasks}
            suites |= {t.suite for t in run.tasks}
            metrics |= {m for t in run.tasks for m in t.metrics}  # an imported scorer's (inspect's match)
    return parse_gates(raw, known_tasks=tasks, known_suites=suites, known_metrics=metrics)
