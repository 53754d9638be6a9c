"""Writing a generated probe's items where a built-in task can read them: a JSONL file under
the cache folder, named by a hash of its content, never inside the user's project."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def write_items(cache_dir: Path, name: str, items: list[dict]) -> Path:
    text = "".join(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n" for it in items)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    path = Path(cache_dir).expanduser().resolve() / "builtin" / f"{name}-{digest}.jsonl"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # atomic: a concurrent run reads the whole file or none
    return path
