"""Hugging Face datasets as a task's data, read offline from the local cache only: a run
never downloads, so its items cannot change under it. Rows are numbered from 1."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalkit.errors import DataError

_LOADED: dict[tuple, Any] = {}  # one load per process and dataset: reading and hashing share it


def _where(p) -> Path:
    return Path(f"hf:{p.path}" + (f"/{p.name}" if p.name else "") + f"/{p.split}")


def _local(p, base: Path) -> str:
    """A folder (absolute, or relative to the task file) is read as a local dataset;
    anything else is a hub id looked up in the cache."""
    folder = Path(p.path).expanduser()
    folder = folder if folder.is_absolute() else base / folder
    return str(folder.resolve()) if folder.is_dir() else p.path


def _hint(p) -> str:
    args = ", ".join([repr(p.path)] + ([repr(p.name)] if p.name else []) + [f"split={p.split!r}"]
                     + ([f"revision={p.revision!r}"] if p.revision else []))
    return f"download it once where the hub is reachable: python -c \"import datasets; datasets.load_dataset({args})\""


@contextmanager
def _quiet(datasets):
    """No progress bars or cache notices from datasets: evalkit reports its own problems."""
    verbosity, bars = datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def load(p, base: Path, task_file: Path | None):
    try:
        import datasets  # noqa: F401
    except ModuleNotFoundError:
        raise DataError("reading a Hugging Face dataset needs the datasets package: pip install datasets", path=task_file) from None
    import datasets.config as dcfg

    from evalkit.suites.lm_eval_run import hf_offline

    path = _local(p, base)
    key = (path, p.name, p.split, p.revision, str(dcfg.HF_DATASETS_CACHE))
    if key not in _LOADED:
        task = f" (data: of task {task_file})" if task_file else ""
        try:
            with hf_offline(), _quiet(datasets):
                _LOADED[key] = datasets.load_dataset(path, p.name, split=p.split, revision=p.revision)
        except Exception as exc:  # noqa: BLE001 - not cached (or a broken cache): one line, not a traceback
            why = " ".join(str(exc).split())[:200]
            if why.startswith("Unknown split"):  # the dataset is there; the task names a split it lacks
                raise DataError(f"split: {why}{task}", path=_where(p)) from None
            raise DataError(
                f"not in the local Hugging Face cache ({dcfg.HF_DATASETS_CACHE}) and evalkit reads datasets "
                f"offline ({why}){task}; {_hint(p)}",
                path=_where(p),
            ) from None
    return _LOADED[key]


def iter_rows(p, base: Path, task_file: Path | None):
    ds = load(p, base, task_file)
    for row, rec in enumerate(ds, start=1):
        yield row, dict(rec)


def dataset_fingerprint(p, base: Path, task_file: Path | None) -> str:
    return str(load(p, base, task_file)._fingerprint)
