"""The committed demo data is exactly what benchmarks/demo/generate.py writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "benchmarks" / "demo"


def test_generator_reproduces_the_committed_files(tmp_path):
    subprocess.run([sys.executable, str(DEMO / "generate.py"), "--out", str(tmp_path)], check=True)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) >= 16
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (DEMO / rel).read_bytes(), rel
