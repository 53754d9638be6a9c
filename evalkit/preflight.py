"""Checks made before the first model runs, so that a mistake costs seconds, not a run.

Everything here reads the config, the environment and small files only (no torch, no
transformers, no network): a mistake found here is exit 2 with the config line, where the
same mistake found by a backend mid-run would be exit 3 ("run again") or a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from evalkit.errors import ConfigError

TRUST_HINT = "pass --trust-code or set trust_code: true in evalkit.yaml if you trust this project"
_FUNCTION_TAG = re.compile(r"!function\b")


# --- config alone (every command that loads the project) --------------------------------------


def check_config(project, located) -> None:
    _check_init_chains(project, located)
    _check_base_urls(project, located)
    _check_gate_metrics(project, located)
    _check_judges(project)


def _check_judges(project) -> None:
    """A task's ``judge:`` names a model of this config (the judge is any configured model)."""
    for spec in project.tasks.values():
        judge = getattr(spec, "judge", None)
        if judge is not None and judge not in project.models:
            known = ", ".join(sorted(project.models)) or "none"
            raise ConfigError(f"task '{spec.name}': judge '{judge}' is not a model of this config (known: {known})",
                              path=spec.source or project.path)


def _check_init_chains(project, located) -> None:
    """``init:`` names an ngram model of this config, and following it never comes back."""
    for name, cfg in project.models.items():
        init = getattr(cfg, "init", None)
        if cfg.backend != "ngram" or init is None:
            continue
        line = located.line(("models", name, "init"))
        chain = [name]
        while init is not None:
            if init not in project.models:
                known = ", ".join(sorted(project.models))
                raise ConfigError(f"model '{chain[-1]}': init '{init}' is not a model of this config (known: {known})", path=project.path, line=line)
            if project.models[init].backend != "ngram":
                raise ConfigError(f"model '{chain[-1]}': init '{init}' is not an ngram model", path=project.path, line=line)
            if init in chain:
                raise ConfigError(f"model '{name}': init forms a cycle ({' -> '.join(chain + [init])}); one model must start from its own text", path=project.path, line=line)
            chain.append(init)
            init = getattr(project.models[init], "init", None)


def _check_base_urls(project, located) -> None:
    for name, cfg in project.models.items():
        url = getattr(cfg, "base_url", None)
        if cfg.backend != "openai" or url is None:
            continue
        parts = urlsplit(url) if isinstance(url, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and parts.hostname and not any(c.isspace() for c in url)
        if ok:
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                ok = False
        if not ok:
            raise ConfigError(
                f"model '{name}': base_url {url!r} is not an http(s) URL (e.g. https://api.openai.com/v1)",
                path=project.path, line=located.line(("models", name, "base_url")),
            )


def _task_metrics(spec) -> list[str]:
    from evalkit.scorers.plan import declared_metric_names

    return declared_metric_names(spec)


def _check_gate_metrics(project, located) -> None:
    """A gate's metric is one its task computes (for a suite: every evalkit task of it)."""
    for i, gate in enumerate(project.gates):
        task, suite = getattr(gate, "task", None), getattr(gate, "suite", None)
        if task is not None:
            specs = [project.tasks[task]] if task in project.tasks else []
        else:
            names = project.file.suites[suite].tasks if suite in project.file.suites else []
            specs = [project.tasks[t] for t in names if t in project.tasks]
        for spec in specs:
            have = _task_metrics(spec)
            if gate.metric not in have:
                raise ConfigError(
                    f"gates[{i}] '{gate.label}': task '{spec.name}' does not compute '{gate.metric}' "
                    f"(it computes: {', '.join(have)}; add it to the task's metrics: or gate on one of these)",
                    path=project.path, line=located.line(("gates", i)),
                )


# --- code from the project folder -------------------------------------------------------------


def check_function_tags(project, located) -> None:
    """lm-eval imports the Python file a ``!function`` tag names: that is code from the
    project folder, and needs the same opt-in as a ``module:Class`` backend."""
    for i, folder in enumerate(project.file.lm_eval.include_path):
        base = project.root / folder
        if not base.is_dir():
            continue
        for yml in sorted(p for ext in ("*.yaml", "*.yml") for p in base.rglob(ext)):
            try:
                text = yml.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for n, line in enumerate(text.splitlines(), start=1):
                if _FUNCTION_TAG.search(line.split("#", 1)[0]):
                    raise ConfigError(
                        f"'!function' runs Python code from this folder (lm_eval.include_path, {project.path.name} "
                        f"line {located.line(('lm_eval', 'include_path', i))}); {TRUST_HINT}",
                        path=yml, line=n,
                    )


# --- before running (run, compare, validate) --------------------------------------------------


def check_models(project, names, *, secrets: bool = True) -> None:
    """Each named model can start: its API-key variable is set, its local folders exist."""
    for name in names:
        cfg = project.model(name)
        if cfg.backend == "openai" and secrets:
            _check_key(project, name, cfg)
        if cfg.backend == "hf":
            _check_hf_folders(project, name, cfg)
        if cfg.backend == "ngram" and getattr(cfg, "init", None):
            check_models(project, [cfg.init], secrets=secrets)


def _line(project, *loc):
    located = project.located
    return located.line(loc) if located is not None else None


def _check_key(project, name, cfg) -> None:
    env = cfg.api_key_env
    if env is not None and not os.environ.get(env, "").strip():
        raise ConfigError(
            f"model '{name}': the environment variable {env} is not set; export the API key there "
            "(or set api_key_env: null for a server that takes no key)",
            path=project.path, line=_line(project, "models", name, "api_key_env") or _line(project, "models", name),
        )


def _looks_local(spec: str, root: Path) -> bool:
    """As hf_loading.resolve_source decides: a path, not a hub id ``org/name``."""
    first = spec.split("/")[0]
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec or (first != spec and (root / first).is_dir())


def _check_hf_folders(project, name, cfg) -> None:
    root = project.root
    model = (root / cfg.model).expanduser()
    line = _line(project, "models", name, "model") or _line(project, "models", name)
    if model.is_dir():
        if not (model / "config.json").is_file():
            raise ConfigError(f"model '{name}': {model} has no config.json: not a Hugging Face model folder", path=project.path, line=line)
    elif _looks_local(cfg.model, root):
        raise ConfigError(f"model '{name}': model folder not found: {model}", path=project.path, line=line)
    if cfg.adapter:
        adapter = (root / cfg.adapter).expanduser()
        line = _line(project, "models", name, "adapter")
        if adapter.is_dir():
            if not (adapter / "adapter_config.json").is_file():
                raise ConfigError(
                    f"model '{name}': adapter folder {adapter} has no adapter_config.json: not a PEFT adapter "
                    "(save it with model.save_pretrained)", path=project.path, line=line,
                )
        elif _looks_local(cfg.adapter, root):
            raise ConfigError(f"model '{name}': adapter folder not found: {adapter}", path=project.path, line=line)


def check_data(project, suites=None) -> None:
    """Every selected task's data file can be opened, before the first model loads or spends
    anything: a missing file, a folder in its place or an unreadable one is found here, not
    after a base model's weights were loaded. Only the first byte is read (a 1 GB file is not
    read twice); bad lines are found when the items are loaded, still before any request."""
    from evalkit.suites import sources
    from evalkit.suites.lm_eval_spec import LmEvalTask
    from evalkit.suites.readers import open_first_byte

    for _, spec in project.selected_tasks(list(suites) if suites else None):
        if isinstance(spec, LmEvalTask) or isinstance(spec.data, sources.HfData):
            continue
        open_first_byte(sources.location(spec.data, spec.source), spec.source)
