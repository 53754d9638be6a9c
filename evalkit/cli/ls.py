"""``evalkit ls``: models (with what tells them apart), suites, and tasks with their item counts
and which model can run each. Read from the config and data files only: no backend is
built (the hf backend would import torch) and no project code is imported."""

from __future__ import annotations

import click

from evalkit.cli.common import config_option, console


@click.command()
@config_option
def ls(config_path):
    """List models, suites and tasks of the project."""
    from evalkit.config import load_project

    project = load_project(config_path, import_code=False)  # listing never runs project code
    con = console()
    con.print(f"project: {project.path}{'  (built-in demo)' if project.is_demo else ''}", markup=False)
    con.print("models:")
    for name, cfg in project.models.items():
        con.print(f"  {name:<12} {describe(cfg)}", markup=False)
    con.print("suites:")
    for name, s in project.file.suites.items():
        con.print(f"  {name:<12} ({s.role}) {', '.join(s.tasks)}", markup=False)
    con.print(task_table(project, con))
    return 0


def describe(cfg) -> str:
    """backend and model, then what makes two entries of one model differ: an adapter, a
    revision, a system prompt or template (a base and its LoRA must not read alike)."""
    parts = [f"backend={cfg.backend}", f"model={cfg.model}"]
    for key in ("revision", "adapter", "adapter_revision", "api"):
        value = getattr(cfg, key, None)
        if value and not (key == "api" and value == "chat"):
            parts.append(f"{key}={value}")
    args = getattr(cfg, "model_args", None) or {}
    parts += [f"{k}={args[k]}" for k in ("pretrained", "peft", "revision") if k in args]  # never keys or tokens
    if cfg.system_prompt:
        parts.append(f"system prompt ({len(cfg.system_prompt):,} chars)")
    if cfg.template != "{prompt}":
        parts.append(f"template {cfg.template!r}")
    return "  ".join(parts)


def item_count(spec, seed: int) -> str:
    """Items in a task's file (after where: and sample:), "-" where counting means a download
    or lm-eval; "bad data" when it does not load (``evalkit validate`` says why)."""
    from evalkit.errors import EvalkitError
    from evalkit.suites.items import load_items
    from evalkit.suites.lm_eval_spec import LmEvalTask
    from evalkit.suites.sources import FileData

    if isinstance(spec, LmEvalTask) or not isinstance(spec.data, FileData):
        return "-"
    try:
        return f"{len(load_items(spec, None, seed)):,}"
    except (EvalkitError, OSError, ValueError):
        return "bad data"


def can_run(project, spec) -> dict[str, str]:
    """Per model: the kind of request it would be asked (a multiple-choice task is generated
    on a chat API), or no with the kind it lacks; "?" for a backend that is
    project code (not imported here) or an lm-eval task (its kind is lm-eval's to say)."""
    from evalkit.backends.registry import BUILTIN, backend_class
    from evalkit.suites.lm_eval_spec import LmEvalTask
    from evalkit.tasks import task_type
    from evalkit.tasks.base import Unsupported

    out = {}
    for name, cfg in project.models.items():
        if isinstance(spec, LmEvalTask) or cfg.backend not in BUILTIN:
            out[name] = "?"
            continue
        try:
            out[name] = task_type(spec).method(backend_class(cfg.backend).supports_for(cfg)).value
        except Unsupported as exc:
            out[name] = f"no ({exc.kind.value})"
    return out


def task_table(project, con):
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    con.print("tasks (items: after where: and sample:; under each model: the requests it would answer, or no):")
    table = Table(box=None if not con.is_terminal else box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in ("task", "type", "items", *project.models):
        table.add_column(col, justify="right" if col == "items" else "left", no_wrap=col != "task")
    specs = {**project.tasks, **{entry: t for entry, t in project.lm_eval_tasks.items()}}
    for name, spec in specs.items():
        runs = can_run(project, spec)
        cells = [name, getattr(spec, "type", "lm-eval"), item_count(spec, project.file.seed), *runs.values()]
        table.add_row(*(escape(c) for c in cells))
    return table
