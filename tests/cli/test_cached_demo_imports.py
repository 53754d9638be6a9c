"""A cached demo compare, and a second ``evalkit report`` of the same folder, leave the
heavy parts out: the plot, the comparison and the judge's length control are memoised or
not needed, so matplotlib and scipy are never imported (issue 17, item 5: a fully cached
compare under 1 s; this checks the imports, not the time)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("matplotlib", "scipy", "statsmodels", "sklearn", "pandas", "torch")


def _run(cwd: Path, args: list[str]) -> str:
    code = (
        "import sys\nfrom evalkit.cli.main import main\n"
        f"code = main({args!r})\n"
        f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules), code)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(cwd), "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def _judge_cached(folder: Path) -> int:
    return int(re.search(r"<tr><td>judge</td><td>\d+</td><td>(\d+)</td>", (folder / "report.html").read_text(encoding="utf-8"))[1])


def _page(folder: Path) -> str:
    return re.sub(r"(<tr><td>judge</td><td>\d+</td><td>)\d+(</td>)", r"\1N\2", (folder / "report.html").read_text(encoding="utf-8"))


def test_cached_demo_compare_and_report_import_no_plotting_or_scipy(tmp_path):
    first = _run(tmp_path, ["compare", "base", "ft", "--limit", "15", "--output", "first", "--quiet"])
    assert "matplotlib" in first and "scipy" in first  # uncached: the statistics and the plot ran
    assert _run(tmp_path, ["compare", "base", "ft", "--limit", "15", "--output", "again", "--quiet"]) == "HEAVY: 0"
    again = tmp_path / "again"
    # The same page, but for the judge's "cached" count: the second run's judge requests were.
    assert _judge_cached(again) == 30 and _judge_cached(tmp_path / "first") == 0
    assert _page(again) == _page(tmp_path / "first")
    # evalkit report has no cache: the first rebuild draws the plot, the second reuses it.
    assert _run(tmp_path, ["report", "again"]).startswith("HEAVY:matplotlib")
    drawn = (again / "report.html").read_text(encoding="utf-8")
    assert _run(tmp_path, ["report", "again"]) == "HEAVY: 0"
    assert (again / "report.html").read_text(encoding="utf-8") == drawn
