"""The audit for a project: its tasks' items against ``contamination.training``, memoised in
the response cache by everything the answer depends on (so compare does not re-read a 1 GB
file each time)."""

from __future__ import annotations

from pathlib import Path

from evalkit.audit.audit import AuditResult, AuditSettings, EvalText, run_audit


def project_items(project, suites=None) -> tuple[list[EvalText], list[str]]:
    """(items of every selected evalkit task, names of tasks not audited). lm-eval tasks are
    not audited: their items live in lm-eval's own datasets."""
    from evalkit.suites.items import load_items
    from evalkit.suites.lm_eval_spec import LmEvalTask
    from evalkit.tasks import task_type

    items, skipped, seen = [], [], set()
    for _, spec in project.selected_tasks(suites):
        if isinstance(spec, LmEvalTask):
            skipped.append(spec.name)
            continue
        if spec.name in seen:
            continue
        seen.add(spec.name)
        tt = task_type(spec)
        for item in load_items(spec, None, project.file.seed):
            prompt = item.prompt if item.prompt is not None else (item.text or "")
            ref = tt.reference(item)
            items.append(EvalText(spec.name, item.id, prompt, None if ref is None else str(ref)))
    return items, skipped


def settings_of(cfg) -> AuditSettings:
    return AuditSettings(ngram=cfg.ngram, min_tokens=cfg.min_tokens, near_duplicate=cfg.near_duplicate)


def training_paths(project) -> list:
    """Each training entry as a Path (a file, relative to the config) or an HfSource."""
    from evalkit.audit.training import HfSource

    return [HfSource(t.hf, project.root) if not isinstance(t, str) else (project.root / t).expanduser()
            for t in project.file.contamination.training]


def _identity(source) -> list:
    """What stands for a source's content in the memo key: a file's size and mtime (hashing
    1 GB on every compare would cost more than the memo saves), a dataset's fingerprint."""
    if isinstance(source, Path):
        return [str(source.resolve()), source.stat().st_size, source.stat().st_mtime_ns]
    from evalkit.suites.hf_data import dataset_fingerprint

    return [str(source), dataset_fingerprint(source.params, source.base, None)]


def audit_project(project, suites=None, cache=None) -> AuditResult:
    from evalkit.runner.cache import code_version, digest

    items, _ = project_items(project, suites)
    paths = training_paths(project)
    settings = settings_of(project.file.contamination)
    for p in paths:
        if isinstance(p, Path) and not p.is_file():
            from evalkit.errors import ConfigError

            raise ConfigError(f"contamination.training: '{p}' is not a file; give the fine-tuning file's path", path=project.path)
    key = digest({"v": 1, "code": code_version(), "items": [list(vars(i).values()) for i in items],
                  "files": [_identity(p) for p in paths],
                  "settings": vars(settings)})
    if cache is not None and (hit := cache.memo_get(key)) is not None:
        return AuditResult.from_json(hit)
    result = run_audit(items, paths, settings)
    if cache is not None:
        cache.memo_put(key, "audit", result.to_json())
    return result
