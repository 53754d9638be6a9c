"""The project config ``evalkit.yaml``: models, task files, suites, gates.

Validated at the edge with pydantic (unknown keys rejected); every error names the file and
line. When no config is found, the built-in demo project is used.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from evalkit.audit.training import HfTraining
from evalkit.config_base import ModelConfigBase, StrictModel, describe_validation_error
from evalkit.errors import ConfigError
from evalkit.suites.lm_eval_spec import (
    BUILTIN_TASKS,
    PRESETS,
    LmEvalSettings,
    LmEvalTask,
    is_lm_eval,
    parse_entry,
)
from evalkit.suites.groups import GroupConfig, check_groups
from evalkit.suites.spec import TaskSpec
from evalkit.yamlio import Located, load_yaml

CONFIG_NAME = "evalkit.yaml"


class SuiteConfig(StrictModel):
    role: Literal["target", "forgetting"] = Field("target", description="target tasks or forgetting probes")
    description: str = ""
    tasks: list[str] = Field(default_factory=list, description="task names, lm-eval:TASK entries, built-in probes")
    preset: str | None = Field(None, description=f"a built-in suite: {', '.join(PRESETS)}")
    groups: dict[str, GroupConfig] = Field(default_factory=dict, description="extra rows aggregating tasks of this suite")
    margins: dict[str, float] = Field(default_factory=dict, description="margins of the preset's gates, by axis (safety-drift)")

    @model_validator(mode="after")
    def _tasks_or_preset(self):
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset '{self.preset}' (known: {', '.join(PRESETS)})")
        axes = PRESETS[self.preset].get("gates", {}) if self.preset else {}
        for axis, margin in self.margins.items():
            if axis not in axes:
                raise ValueError(f"margins: unknown axis '{axis}' (known: {', '.join(axes) or 'none: the suite has no preset gates'})")
            if not 0 <= margin < 1:
                raise ValueError(f"margins.{axis}: expected a number from 0 to 1, got {margin}")
        if not self.tasks and self.preset is None:
            raise ValueError("a suite needs tasks or a preset")
        return self


class ContaminationConfig(StrictModel):
    training: list[str | HfTraining] = Field(
        ..., min_length=1,
        description="fine-tuning files (chat/prompt-completion/text JSONL, or plain text), relative to this file, or {hf: {...}}",
    )
    ngram: int = Field(13, ge=2, le=100, description="n-gram length that counts as overlap (13: the GPT-3 paper's)")
    min_tokens: int = Field(8, ge=1, le=100, description="a text shorter than ngram counts when it occurs whole, from this many tokens")
    near_duplicate: float | None = Field(0.8, gt=0, le=1, description="MinHash Jaccard threshold for near duplicates; null: off")


class ExecutorConfig(StrictModel):
    """Where a run's requests are answered (``runner/executor.py``)."""

    kind: Literal["local", "ray"] = Field("local", description="local: this process; ray: Ray workers, each building the backend once")
    workers: int = Field(2, ge=1, le=4096, description="Ray workers (actors), one CPU each")
    address: str | None = Field(None, description="an existing Ray cluster (e.g. ray://head:10001); null: start one here")
    chunks_per_worker: int = Field(4, ge=1, le=1000, description="shards per worker: answers reach the cache while the rest run")
    gpus_per_worker: float = Field(0, ge=0, le=64, description="GPUs Ray reserves for each worker (an HF model on cuda: 1)")


class ProjectFile(StrictModel):
    seed: int = Field(1234, ge=0, lt=2**63, description="seed for every resampling; recorded in the results")
    cache_dir: str | None = Field(None, description="response cache folder (default: the user cache)")
    tasks: list[str] = Field(["tasks/*.yaml"], description="task YAML files or globs, relative to this file")
    suites: dict[str, SuiteConfig] = Field(default_factory=dict)
    default_suites: list[str] | None = Field(None, description="suites run when --suite is not given (default: all)")
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gates: list[dict[str, Any]] = Field(default_factory=list)
    bootstrap_resamples: int = Field(10_000, ge=100, le=10_000_000)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    lm_eval: LmEvalSettings = Field(default_factory=LmEvalSettings, description="lm-eval task options")
    contamination: ContaminationConfig | None = Field(None, description="audit eval items against the fine-tuning text")
    executor: ExecutorConfig | None = Field(None, description="executor: {kind: ray, workers: 2}: shard requests over Ray")
    trust_code: bool = Field(
        False, description="let this project's module:Class backends, lm-eval !function files and scorer code run (as --trust-code)"
    )


def validate_located(model_cls, data: Any, located: Located, path: Path, prefix: tuple = ()):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", path=path, line=located.line(prefix))
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        loc, msg = describe_validation_error(exc, model_cls)
        raise ConfigError(msg, path=path, line=located.line(prefix + loc)) from None


def demo_dir() -> Path:
    """The built-in demo: packaged as evalkit/_demo in a wheel, benchmarks/demo in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_demo", here.parent / "benchmarks" / "demo"):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise ConfigError("the built-in demo project is missing from this installation")


def default_cache_dir() -> Path:
    env = os.environ.get("EVALKIT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "evalkit"


@dataclass
class Project:
    path: Path
    file: ProjectFile
    models: dict[str, ModelConfigBase]
    tasks: dict[str, TaskSpec]
    is_demo: bool = False
    gates: list = field(default_factory=list)
    lm_eval_tasks: dict[str, LmEvalTask] = field(default_factory=dict)  # suite entry -> parsed
    located: Located | None = field(default=None, repr=False)  # the config's lines, for errors
    use_cache: bool = True  # False (--no-cache): backends keep trained models in memory only
    _backends: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def cache_dir(self) -> Path:
        if self.file.cache_dir:
            return (self.root / self.file.cache_dir).expanduser()
        return default_cache_dir()

    def model(self, name: str) -> ModelConfigBase:
        if name not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            raise ConfigError(f"unknown model '{name}' (known: {known})", path=self.path)
        return self.models[name]

    def suite_names(self, requested: list[str] | None = None) -> list[str]:
        names = requested or self.file.default_suites or list(self.file.suites)
        for n in names:
            if n not in self.file.suites:
                known = ", ".join(sorted(self.file.suites)) or "none"
                raise ConfigError(f"unknown suite '{n}' (known: {known})", path=self.path)
        return names

    def selected_tasks(self, suites: list[str] | None = None) -> list[tuple[str, TaskSpec | LmEvalTask]]:
        """(suite name, task) for the requested suites, in config order; an ``lm-eval:``
        entry comes as an LmEvalTask."""
        if not self.file.suites:
            return [("all", t) for t in self.tasks.values()]
        return [
            (s, self.tasks[t] if t in self.tasks else self.lm_eval_tasks[t])
            for s in self.suite_names(suites)
            for t in self.file.suites[s].tasks
        ]

    def role(self, suite: str) -> str:
        return self.file.suites[suite].role if suite in self.file.suites else "target"

    def close_backends(self, names) -> None:
        """Close the named models' backends that were built (connections, worker threads)."""
        for name in names:
            if name in self._backends:
                self._backends[name].close()

    def backend(self, name: str):
        """The backend for a named model, built once per project."""
        if name not in self._backends:
            from evalkit.backends.registry import BackendContext, backend_class

            cfg = self.model(name)
            cls = backend_class(cfg.backend)
            cache_dir = self.cache_dir if self.use_cache else None
            ctx = BackendContext(root=self.root, cache_dir=cache_dir, backend_for=self.backend, peers=self.models)
            self._backends[name] = cls.create(cfg, ctx)
        return self._backends[name]


def find_config(explicit: str | Path | None) -> tuple[Path, bool]:
    """The config to use: --config, else ./evalkit.yaml, else the demo. (path, is_demo)"""
    if explicit is not None:
        path = Path(explicit)
        if not path.exists():
            raise ConfigError("config file not found", path=path)
        if path.is_dir():
            path = path / CONFIG_NAME
            if not path.is_file():
                raise ConfigError(f"no {CONFIG_NAME} in this folder", path=path.parent)
        return path, False
    local = Path.cwd() / CONFIG_NAME
    if local.is_file():
        return local, False
    return demo_dir() / CONFIG_NAME, True


def _load_models(raw: dict, located: Located, path: Path, *, trusted: bool, import_code: bool) -> dict[str, ModelConfigBase]:
    from evalkit.backends.registry import backend_class, is_code_path
    from evalkit.names import unsafe_name
    from evalkit.preflight import TRUST_HINT

    models = {}
    for name, entry in raw.items():
        loc = ("models", name)
        if (why := unsafe_name(name)) is not None:
            raise ConfigError(f"model name {why} (it becomes a folder name)", path=path, line=located.line(loc))
        if not isinstance(entry, dict):
            raise ConfigError(f"model '{name}' must be a mapping", path=path, line=located.line(loc))
        if "backend" not in entry:
            raise ConfigError(f"model '{name}': missing required key 'backend'", path=path, line=located.line(loc))
        backend = str(entry["backend"])
        if is_code_path(backend):
            if not import_code:  # ls: list it without importing anything
                models[name] = ModelConfigBase.model_construct(backend=backend, model=str(entry.get("model", name)))
                continue
            if not trusted:
                raise ConfigError(
                    f"model '{name}': backend '{backend}' imports and runs Python code ({backend.partition(':')[0]}); {TRUST_HINT}",
                    path=path, line=located.line(loc + ("backend",)),
                )
        try:
            cls = backend_class(backend)
        except ConfigError as exc:
            raise ConfigError(f"model '{name}': {exc}", path=path, line=located.line(loc + ("backend",))) from None
        entry = {"model": name, **entry}
        cfg = validate_located(cls.Config, entry, located, path, loc)
        if "{prompt}" not in cfg.template:
            raise ConfigError(f"model '{name}': template must contain {{prompt}}", path=path, line=located.line(loc + ("template",)))
        models[name] = cfg
    return models


def load_task(path: Path) -> TaskSpec:
    located = load_yaml(path)
    spec = validate_located(TaskSpec, located.data, located, path)
    return spec.model_copy(update={"source": path.resolve()})


def _load_tasks(patterns: list[str], root: Path, path: Path, located: Located) -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for i, pattern in enumerate(patterns):
        matches = sorted(glob.glob(str(root / pattern)))
        if not matches:
            raise ConfigError(f"tasks: '{pattern}' matches no file", path=path, line=located.line(("tasks", i)))
        for m in matches:
            spec = load_task(Path(m))
            if spec.name in tasks:
                raise ConfigError(f"task name '{spec.name}' is defined twice (also in {tasks[spec.name].source})", path=m)
            tasks[spec.name] = spec
    return tasks


def _expand_presets(pf: ProjectFile) -> ProjectFile:
    """A suite with ``preset:`` gets the preset's tasks (before its own) and, unless it says
    otherwise, the preset's role and description; its gates (with the suite's ``margins:``)
    come after the config's own, except where the config already gates that task and metric."""
    suites, gates = {}, list(pf.gates)
    gated = {(g.get("task"), g.get("metric")) for g in pf.gates if isinstance(g, dict)}
    for name, suite in pf.suites.items():
        if suite.preset is not None:
            preset = PRESETS[suite.preset]
            update = {"tasks": list(dict.fromkeys(preset["tasks"] + suite.tasks))}
            for key in ("role", "description"):
                if key not in suite.model_fields_set:
                    update[key] = preset[key]
            suite = suite.model_copy(update=update)
            for axis, gate in preset.get("gates", {}).items():
                if (gate["task"], gate["metric"]) not in gated:
                    gated.add((gate["task"], gate["metric"]))
                    gates.append({**gate, "margin": suite.margins.get(axis, gate["margin"])})
        suites[name] = suite
    return pf.model_copy(update={"suites": suites, "gates": gates})


def _resolve_suite_entries(pf: ProjectFile, tasks: dict[str, TaskSpec], path: Path, located: Located) -> dict[str, LmEvalTask]:
    """Check every suite entry; add built-in tasks to ``tasks``; parse ``lm-eval:`` entries."""
    lm_eval: dict[str, LmEvalTask] = {}
    by_name: dict[str, str] = {}
    cache_dir = (path.parent / pf.cache_dir).expanduser() if pf.cache_dir else default_cache_dir()
    for sname, suite in pf.suites.items():
        for i, t in enumerate(suite.tasks):
            line = located.line(("suites", sname, "tasks", i)) or located.line(("suites", sname))
            if t in tasks:
                continue
            if is_lm_eval(t):
                try:
                    parsed = parse_entry(t)
                except ConfigError as exc:
                    raise ConfigError(f"suite '{sname}': {exc}", path=path, line=line) from None
                if by_name.setdefault(parsed.name, t) != t:
                    raise ConfigError(
                        f"suite '{sname}': '{t}' and '{by_name[parsed.name]}' are both {parsed.name}; "
                        "use one entry (results are reported under the task's name)", path=path, line=line,
                    )
                lm_eval[t] = parsed
            elif t in BUILTIN_TASKS:
                import importlib

                module, _, attr = BUILTIN_TASKS[t].partition(":")
                tasks[t] = getattr(importlib.import_module(module), attr)(cache_dir)
            else:
                known = ", ".join(sorted(tasks) + [f"{b} (built in)" for b in BUILTIN_TASKS if b not in tasks])
                raise ConfigError(
                    f"suite '{sname}' names unknown task '{t}' (known: {known}; or lm-eval:TASK)", path=path, line=line,
                )
    return lm_eval


def load_project(explicit: str | Path | None = None, *, trust_code: bool = False, import_code: bool = True) -> Project:
    """The validated project. Code the project names (``module:Class`` backends, lm-eval
    ``!function`` files) runs only when trusted (``trust_code`` here or in the config);
    ``import_code=False`` (for ``ls``) never imports it."""
    from evalkit.preflight import check_config, check_function_tags
    from evalkit.scorers.trust import check_task_code

    path, is_demo = find_config(explicit)
    located = load_yaml(path)
    pf = _expand_presets(validate_located(ProjectFile, located.data, located, path))
    trusted = trust_code or pf.trust_code
    root = path.parent
    tasks = _load_tasks(pf.tasks, root, path, located)
    if import_code:  # ls lists a task with scorer code without importing or refusing it
        check_task_code(tasks, trusted=trusted)
    lm_eval_tasks = _resolve_suite_entries(pf, tasks, path, located)
    check_groups(pf.suites, tasks, lm_eval_tasks, path, located)
    models = _load_models(pf.models, located, path, trusted=trusted, import_code=import_code)
    gates = []
    if pf.gates:
        from evalkit.gate_config import parse_gates
        from evalkit.scorers.plan import declared_metric_names

        known = set(tasks) | {t.name for t in lm_eval_tasks.values()}  # not group rows: gates resample items
        gates = parse_gates(
            pf.gates, known_tasks=known, known_suites=pf.suites, path=path, line_of=lambda i: located.line(("gates", i)),
            known_metrics={n for spec in tasks.values() for n in declared_metric_names(spec)},
        )
    project = Project(
        path=path.resolve(), file=pf, models=models, tasks=tasks, is_demo=is_demo, gates=gates,
        lm_eval_tasks=lm_eval_tasks, located=located,
    )
    check_config(project, located)
    if import_code and not trusted:
        check_function_tags(project, located)
    return project
