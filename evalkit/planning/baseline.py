"""A stored compare of the planned models, whose per-item variance plans the gates.

``--baseline DIR``: a compare output folder (its ``runs/MODEL`` folders) or one run folder
(its sibling run folders are read). Without it, the newest compare under ./evalkit-runs that
holds the base and a candidate is used, when there is one.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ROOT = Path("evalkit-runs")


def _runs_in(folder: Path) -> dict[str, Path]:
    from evalkit.results import is_run_dir

    if is_run_dir(folder):
        folder = folder.parent
    elif (folder / "runs").is_dir():
        folder = folder / "runs"
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if is_run_dir(p)}


def find_stored(models: list[str], baseline: Path | None):
    """((base run, candidate run), where) or (None, None). A candidate is the first planned
    model after the base that the folder holds."""
    from evalkit.errors import DataError
    from evalkit.results import RunResult

    if baseline is not None:
        folders = [Path(baseline)]
        if not folders[0].exists():
            raise DataError("--baseline: no such folder; give a compare output folder or a run folder", path=baseline)
    else:
        found = DEFAULT_ROOT.glob("*/runs") if DEFAULT_ROOT.is_dir() else []
        folders = sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
    base = models[0]
    for folder in folders:
        runs = _runs_in(folder)
        ft = next((m for m in models[1:] if m in runs), None)
        if base in runs and ft is not None:
            return (RunResult.load(runs[base]), RunResult.load(runs[ft])), str(folder)
    if baseline is not None:
        raise DataError(f"--baseline: no stored runs of both '{base}' and a candidate ({', '.join(models[1:]) or 'none'}) here",
                        path=baseline)
    return None, None
