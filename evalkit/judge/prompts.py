"""The judge's prompt templates: files the user can read and replace.

The defaults live in ``evalkit/judge/templates``; a task names its own with
``scorer: {name: pairwise, args: {template: my_judge.j2}}`` (relative to the task file). They
render in the same Jinja sandbox as task prompts (:mod:`evalkit.suites.jinja`): a template is
data, never code.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import ConfigError

DEFAULTS = {"pairwise": "pairwise.j2", "rubric": "rubric.j2", "likelihood": "likelihood.j2"}


def default_path(kind: str) -> Path:
    return Path(__file__).parent / "templates" / DEFAULTS[kind]


def load_template(kind: str, override: str | None, base_dir: Path | None) -> tuple[str, Path]:
    """(template text, its file); a ConfigError when the file is missing or does not compile."""
    from evalkit.suites.jinja import TemplateError, check

    path = default_path(kind) if override is None else (Path(base_dir or ".") / override).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"judge template {path}: {exc.strerror or exc}; give an existing file (the default is {default_path(kind)})") from None
    try:
        check(text)
    except TemplateError as exc:
        raise ConfigError(f"judge template {path}: {exc}", path=path) from None
    return text, path


def render(text: str, path: Path, fields: dict) -> str:
    from evalkit.suites.jinja import RenderError
    from evalkit.suites.jinja import render as jinja_render

    try:
        return jinja_render(text, fields)
    except RenderError as exc:
        raise ConfigError(f"judge template {path}: {exc} (it may use: {', '.join(sorted(fields))})", path=path) from None
