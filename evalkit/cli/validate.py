"""``evalkit validate``: load the config, every task and every data file, as a run would."""

from __future__ import annotations

import click

from evalkit.cli.common import config_option, console, trust_code_option


@click.command()
@config_option
@trust_code_option
def validate(config_path, trust_code):
    """Check the config, the task files and all their data; exit 2 at the first problem."""
    from evalkit.config import load_project
    from evalkit.metrics.registry import metrics_for
    from evalkit.suites.fewshot import load_pool
    from evalkit.suites.items import load_items
    from evalkit.tasks.generate import check_references

    from evalkit.preflight import check_models

    project = load_project(config_path, trust_code=trust_code)
    # API keys are not asked for: validate runs where secrets are not (a CI lint job).
    check_models(project, list(project.models), secrets=False)
    con = console()
    for name in project.models:
        project.backend(name).identity()  # resolves files the model needs (training text, weights)
    for name, spec in project.tasks.items():
        metrics_for(spec)
        items = load_items(spec, seed=project.file.seed)
        load_pool(spec, project.file.seed)  # unknown shot ids and a too-small pool fail here, not mid-run
        check_references(spec, items)
        con.print(f"ok  {name:<16} {len(items):>6} items  {spec.data_path}")
    if project.lm_eval_tasks:
        check_lm_eval_names(project, con)
    con.print(f"ok  {len(project.models)} models, {len(project.file.suites)} suites, {len(project.tasks)} tasks: {project.path}")
    return 0


def check_lm_eval_names(project, con) -> None:
    """Every ``lm-eval:`` entry names a task or group lm-eval knows (datasets are not fetched)."""
    import difflib

    from evalkit.errors import ConfigError, MissingExtra
    from evalkit.suites.lm_eval_run import Unavailable, task_manager

    try:
        manager = task_manager(project.file.lm_eval, project.root)
    except ModuleNotFoundError:
        raise MissingExtra("lm-eval", "lm-eval") from None
    except Unavailable as exc:
        raise ConfigError(str(exc), path=project.path) from None
    known = set(manager.all_tasks)
    for entry in project.lm_eval_tasks.values():
        if entry.task not in known:
            close = difflib.get_close_matches(entry.task, sorted(known), n=3)
            hint = f" (did you mean: {', '.join(close)}?)" if close else ""
            raise ConfigError(f"suite entry '{entry.entry}': lm-eval has no task or group '{entry.task}'{hint}", path=project.path)
        con.print(f"ok  {entry.entry:<16} lm-eval task (dataset fetched when run)")
