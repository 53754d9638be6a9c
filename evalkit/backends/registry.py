"""Backend names -> the classes that implement them, imported only when used.

A new backend is a new module plus one line here (or, outside evalkit, an entry point in the
group ``evalkit.backends``, or ``backend: "package.module:Class"`` in the config).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from evalkit.errors import ConfigError, MissingExtra

if TYPE_CHECKING:
    from evalkit.backends.base import Backend

BUILTIN: dict[str, str] = {
    "ngram": "evalkit.backends.ngram:NgramBackend",
    "openai": "evalkit.backends.openai_api:OpenAIBackend",
    "hf": "evalkit.backends.hf:HFBackend",
    "lm-eval": "evalkit.backends.lm_eval_model:LmEvalBackend",
    "vllm": "evalkit.backends.vllm:VLLMBackend",
}
ENTRY_POINT_GROUP = "evalkit.backends"


@dataclass(frozen=True)
class BackendContext:
    """What a backend may need from the project to build itself."""

    root: Path  # the config file's folder: relative paths are resolved against it
    cache_dir: Path | None  # None with --no-cache: nothing may be written
    backend_for: Callable[[str], "Backend"]  # another model's backend, by name
    # Every model entry's validated config, by name: a backend that serves several entries
    # from one engine (vllm: a base and its adapters) learns them before its first request.
    peers: Mapping[str, Any] = field(default_factory=dict)


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_backends() -> list[str]:
    return sorted(set(BUILTIN) | set(_entry_points()))


def _import(target: str, name: str):
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and not module.startswith(exc.name) and name in BUILTIN:
            raise MissingExtra(exc.name, name) from None
        raise ConfigError(f"backend '{name}': cannot import module '{module}' ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing: one line
        if name in BUILTIN:
            raise
        raise ConfigError(f"backend '{name}': importing '{module}' failed: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise ConfigError(f"backend '{name}': module '{module}' has no '{attr}'") from None


def is_code_path(name: str) -> bool:
    """True for ``backend: "package.module:Class"``: Python code named by the project
    itself (not built in, not an installed plugin), imported only with --trust-code."""
    return name not in BUILTIN and ":" in name and name not in _entry_points()


def backend_class(name: str) -> type["Backend"]:
    """The class for a backend name, or for an explicit ``module:Class`` path; a
    ConfigError unless it is a Backend subclass (``os:system`` is not)."""
    from evalkit.backends.base import Backend

    if name in BUILTIN:
        cls = _import(BUILTIN[name], name)
    elif name in (plugins := _entry_points()):
        cls = _import(plugins[name], name)
    elif ":" in name:
        cls = _import(name, name)
    else:
        raise ConfigError(f"unknown backend '{name}' (known: {', '.join(known_backends())}, or 'module:Class')")
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigError(f"backend '{name}' is not a Backend class (got {type(cls).__name__}); name a subclass of evalkit.backends.base.Backend")
    return cls
