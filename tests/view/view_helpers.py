"""Helpers for the viewer tests: the built-in demo (twice, the same base) and a
small project whose fine-tune answers with the report tests' XSS payloads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import make_project

# The payload set report.html is tested with (tests/report/test_html_report.py).
from report.test_html_report import MODELS as XSS_MODELS
from report.test_html_report import PAYLOAD


def evalkit(*args, cwd: Path) -> int:
    from evalkit.cli.main import main

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        return main([str(a) for a in args])


def xss_compare(root: Path) -> Path:
    """A compare whose fine-tune answers every item with PAYLOAD (its gate fails)."""
    project = make_project(root / "xss-project", XSS_MODELS)
    project.write_text(project.read_text() + "gates:\n  - {type: must_not_regress, task: qa, metric: exact_match, margin: 0.05}\n")
    code = evalkit("compare", "base", "ft", "--suite", "support", "--gate", "--config", project, "--output", root / "xss", cwd=root)
    assert code == 1
    return root / "xss"


def build_root(root: Path) -> Path:
    """Two demo compares of the same base and the XSS compare, under ``root``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_CACHE_DIR", str(root / ".cache"))
        assert evalkit("compare", "base", "ft", "--gate", "--output", "demo-monday", cwd=root) == 1
        # Another compare of the same base (as yesterday's and today's would be); a copy saves a run.
        shutil.copytree(root / "demo-monday", root / "demo-tuesday")
        xss_compare(root)
    return root


def demo_broke(folder: Path) -> int:
    """How many items the demo's failing gate lost (right -> wrong), from compare.json."""
    gates = json.loads((folder / "gate.json").read_text())["gates"]
    failing = {(g["target"], g["metric"]) for g in gates if g["verdict"] == "FAIL"}
    c = json.loads((folder / "compare.json").read_text())["comparisons"][0]
    return sum(m["broke"] for t in c["tasks"] for m in t["metrics"] if (t["task"], m["metric"]) in failing)


__all__ = ["PAYLOAD", "build_root", "demo_broke", "evalkit", "xss_compare"]
