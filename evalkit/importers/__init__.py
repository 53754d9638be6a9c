"""Other harnesses' logs -> evalkit run folders (``evalkit import``), so that a team keeps its
harness and gets evalkit's paired compare, gates and reports on top.

One module per format: ``lm_eval_log`` (lm-eval's ``--output_path --log_samples`` files) and
``inspect_log`` (inspect_ai's ``.eval`` zip and ``.json`` logs); ``build`` turns their per-item
rows into a RunResult exactly as a run of evalkit would record it.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import DataError

MODULES = {"lm-eval": "lm_eval_log", "inspect": "inspect_log"}


def detect(path: Path) -> str:
    """Which harness wrote ``path``: a .eval file or a folder of them is inspect_ai's; a
    results_*.json or a folder with samples_*.jsonl is lm-eval's; a .json log with
    "eval" and "samples" is inspect_ai's JSON format."""
    import json

    path = Path(path)
    if not path.exists():
        raise DataError("not found; name an lm-eval output folder, a results_*.json, or an inspect .eval/.json log", path=path)
    if path.is_dir():
        if any(path.glob("samples_*.jsonl")) or any(path.glob("results_*.json")):
            return "lm-eval"
        if any(path.glob("*.eval")):
            return "inspect"
        inner = sorted({p.parent.name for p in path.glob("*/results_*.json")})
        if inner:  # lm-eval writes OUTPUT_PATH/<model>/results_*.json
            raise DataError(f"lm-eval wrote one folder per model here ({', '.join(inner[:3])}); name one of them", path=path)
        raise DataError("no samples_*.jsonl (lm-eval --log_samples) and no .eval log (inspect_ai) in this folder", path=path)
    if path.suffix == ".eval":
        return "inspect"
    if path.suffix == ".json":
        if path.name.startswith("results_"):
            return "lm-eval"
        try:
            with path.open(encoding="utf-8") as f:
                head = f.read(4096)
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read: {type(exc).__name__}", path=path) from None
        if '"eval"' in head or '"version"' in head:
            return "inspect"
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    raise DataError("not a log evalkit can import; name an lm-eval output folder or results_*.json (run with "
                    "--log_samples), or an inspect_ai .eval/.json log", path=path)


def read_logs(paths, *, fmt: str | None = None) -> dict:
    """The logs at ``paths`` (one model's: several files or folders of one harness) merged:
    {"model", "identity", "tasks", "versions", "started", "format"}."""
    import importlib

    merged: dict = {}
    for path in paths:
        kind = fmt or detect(Path(path))
        one = importlib.import_module(f"evalkit.importers.{MODULES[kind]}").read(Path(path))
        if not merged:
            merged = {**one, "format": kind}
            continue
        if kind != merged["format"]:
            raise DataError(f"a {kind} log among {merged['format']} logs; import each harness's logs separately", path=path)
        if one["identity"].get("model") != merged["identity"].get("model"):
            raise DataError(f"a log of model {one['identity'].get('model')!r}, the others are of "
                            f"{merged['identity'].get('model')!r}; import each model separately", path=path)
        have = {t.name for t in merged["tasks"]}
        for task in one["tasks"]:
            if task.name in have:
                raise DataError(f"task '{task.name}' is in two of these logs; import one of them", path=path)
        merged["tasks"] = merged["tasks"] + one["tasks"]
    return merged


def import_logs(paths, model: str | None = None, *, forgetting=(), fmt: str | None = None):
    """The RunResult of one model's logs at ``paths``, named ``model`` (default: the logged
    model's name, made folder-safe)."""
    from evalkit.importers.build import build_run

    logs = read_logs(paths, fmt=fmt)
    model = model or default_name(logs["model"])
    names = {t.name for t in logs["tasks"]}
    unknown = sorted(set(forgetting) - names)
    if unknown:
        raise DataError(f"--forgetting names {', '.join(unknown)}, not in these logs (tasks: {', '.join(sorted(names))})",
                        path=paths[0])
    return build_run(model, f"{logs['format']} (imported)", logs["identity"], logs["tasks"],
                     source=", ".join(str(p) for p in paths), forgetting=set(forgetting),
                     started=logs.get("started"), versions=logs.get("versions"))


def default_name(logged: str) -> str:
    """A folder-safe name for a logged model (``openai/gpt-4o-mini`` -> ``gpt-4o-mini``)."""
    import re

    raw = str(logged).rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-.") or "imported"
