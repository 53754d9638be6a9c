"""inspect_ai's eval logs -> imported tasks.

A ``.eval`` log is a zip of JSON: the header (``header.json``; ``_journal/start.json`` while
a run is going or in older files; ``start.json`` + ``results.json`` in the oldest) with
``eval.task`` and ``eval.model``, and one ``samples/<id>_epoch_<n>.json`` per sample and
epoch. A ``.json`` log is the same EvalLog as one document, samples inline. Only the JSON
is read (no pickle, nothing executes); inspect_ai need not be installed.

Each scorer becomes a metric named after it, its value read as inspect's ``value_to_float``
reads it (C=1, I=0, P=0.5, N=0, yes/no, true/false, numbers); a dict value gives one metric
per key (``scorer.key``). With several epochs every epoch is an item and the epochs of one
sample are a cluster (``group``), so intervals account for their correlation.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.importers.build import ImportedTask, MetricInfo, load_json_log, sample

_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
MAX_MEMBER = 512 * 1024 * 1024  # a zip member larger than this is not a log (a zip bomb is refused)


def _value(v) -> float | None:
    """inspect's value_to_float: a score value as a number; None when it is not one."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v) if v == v and abs(v) != float("inf") else None
    if isinstance(v, str):
        s = v.strip()
        if s in _LETTERS:
            return _LETTERS[s]
        if s.lower() in _WORDS:
            return _WORDS[s.lower()]
        try:
            return float(s)
        except ValueError:
            return None
    return None


def _text(content) -> str:
    """A message's content: a string, or inspect's list of content parts (text parts kept)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return ""


def _prompt(inp) -> str:
    if isinstance(inp, list):
        return "\n\n".join(f"{m.get('role', '')}: {_text(m.get('content'))}" for m in inp if isinstance(m, dict))
    return str(inp or "")


def _response(output: dict) -> str:
    if isinstance(output.get("completion"), str):
        return output["completion"]
    choices = output.get("choices") or []
    message = choices[0].get("message", {}) if choices and isinstance(choices[0], dict) else {}
    return _text(message.get("content")) if isinstance(message, dict) else ""


def _mapping(x) -> dict:
    return x if isinstance(x, dict) else {}


def _count(x) -> int:
    """A token count; 0 where the log has none or not a number (as for a model that reports no usage)."""
    return int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf") else 0


def _seconds(x) -> float | None:
    """The model call's time; None (unknown, shown as "-") where the log does not say, never 0."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and 0 <= x != float("inf") else None


def _json(raw: bytes, where: Path, member: str):
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{member}: invalid JSON ({getattr(exc, 'msg', type(exc).__name__)}); not a log inspect_ai wrote",
                        path=where) from None


ZIP_ZSTD = 93  # the zip method id of Zstandard, which inspect_ai writes its .eval members with


def _read_zstd(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One Zstandard-compressed member. Python's zipfile reads method 93 only from 3.14 on,
    so the member's bytes are taken from behind its local header (the zip format's fixed
    30-byte layout) and decompressed by ``zstandard``, the library inspect_ai itself uses;
    the CRC is checked as zipfile would."""
    import struct

    try:
        import zstandard
    except ImportError:
        raise DataError("this log's members are Zstandard-compressed (inspect_ai's default); "
                        "pip install 'evalkit[inspect]' (the zstandard package) to read it", path=path) from None
    fp = zf.fp
    fp.seek(info.header_offset)
    head = fp.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{info.filename}: bad local header")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    data = fp.read(info.compress_size)
    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=info.file_size)
    except zstandard.ZstdError as exc:
        raise zipfile.BadZipFile(f"{info.filename}: {exc}") from None
    if len(raw) != info.file_size or zlib.crc32(raw) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return raw


def _read_zip(path: Path) -> tuple[dict, list[dict]]:
    """(header, samples) of a .eval zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"not a readable .eval log (a zip of JSON): {exc}", path=path) from None
    with zf:
        def load(name):
            info = zf.getinfo(name)
            if info.file_size > MAX_MEMBER:
                raise DataError(f"{name} is {info.file_size:,} bytes uncompressed; too large for a log", path=path)
            try:
                raw = _read_zstd(path, zf, info) if info.compress_type == ZIP_ZSTD else zf.read(name)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a damaged copy: CRC, deflate
                raise DataError(f"{name}: cannot be read from the zip ({exc}); the log is damaged: copy it again",
                                path=path) from None
            return _json(raw, path, name)

        names = set(zf.namelist())
        if "header.json" in names:
            header = load("header.json")
        elif "_journal/start.json" in names:
            header = load("_journal/start.json")
        elif "start.json" in names:
            header = {**load("start.json"), **(load("results.json") if "results.json" in names else {})}
        else:
            raise DataError("no header.json (nor _journal/start.json) in this zip; not an inspect_ai .eval log", path=path)
        samples = [load(n) for n in sorted(names) if n.startswith("samples/") and n.endswith(".json")]
    return header, samples


def _read_json_log(path: Path) -> tuple[dict, list[dict]]:
    data = load_json_log(path, "inspect_ai")
    if not isinstance(data, dict):
        raise DataError("expected a JSON object (an inspect_ai EvalLog)", path=path)
    return data, list(data.get("samples") or [])


def _scores(scores: dict) -> dict[str, float]:
    out = {}
    for scorer, score in _mapping(scores).items():
        value = score.get("value") if isinstance(score, dict) else score
        if isinstance(value, dict):
            for key, v in value.items():
                if (x := _value(v)) is not None:
                    out[f"{scorer}.{key}"] = x
        elif (x := _value(value)) is not None:
            out[scorer] = x
    return out


def _metric_name(scorer: str) -> str:
    """The scorer's name, unless it is one of evalkit's metrics (``f1``), which reads its
    statistics its own way: then ``f1_score``."""
    from evalkit.metrics.registry import METRICS

    name = re.sub(r"[\[\]]", "_", scorer)  # brackets mean a filter variant in evalkit
    return f"{name}_score" if name in METRICS else name


def _task(header: dict, rows: list[dict], path: Path) -> ImportedTask:
    spec = header.get("eval") or {}
    logged = str(spec.get("task") or path.stem)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", logged.rsplit("/", 1)[-1]) or "task"
    for r in rows:  # checked first: the epochs below read every row
        if not isinstance(r, dict) or "id" not in r:
            raise DataError("a sample without an id; not a log inspect_ai wrote", path=path)
    epochs = {r.get("epoch", 1) for r in rows}
    samples, hashes, values = [], {}, {}
    for r in rows:
        sid = str(r["id"]) if len(epochs) == 1 else f"{r['id']}#epoch{r.get('epoch', 1)}"
        if sid in hashes:  # two answers to one item would be paired twice, or with the wrong one
            raise DataError(f"sample {r['id']} (epoch {r.get('epoch', 1)}) is in the log twice; not a log inspect_ai wrote",
                            path=path)
        output = _mapping(r.get("output"))
        usage = _mapping(output.get("usage"))
        err = r.get("error")
        error = (err.get("message") if isinstance(err, dict) else str(err)) if err else None
        scored = {_metric_name(k): v for k, v in _scores(r.get("scores")).items()}
        for k, v in scored.items():
            values.setdefault(k, []).append(v)
        target = r.get("target")
        reference = " | ".join(map(str, target)) if isinstance(target, list) else target
        hashes[sid] = hashlib.sha256(json.dumps([r.get("input"), target], sort_keys=True, default=str).encode()).hexdigest()
        samples.append(sample(
            name, sid, prompt=_prompt(r.get("input")), response=_response(output), reference=reference,
            metrics=scored, stats={k: [v, 1.0] for k, v in scored.items()},
            extra={"inspect": {"id": r["id"], "epoch": r.get("epoch", 1),
                               "answers": {k: s.get("answer") for k, s in _mapping(r.get("scores")).items() if isinstance(s, dict)}}},
            error=error, prompt_tokens=_count(usage.get("input_tokens")), completion_tokens=_count(usage.get("output_tokens")),
            group=str(r["id"]) if len(epochs) > 1 else None, latency_s=_seconds(output.get("time")),
        ))
    infos = {}
    for metric, vals in values.items():
        binary = all(v in (0.0, 1.0) for v in vals)
        bounded = all(0.0 <= v <= 1.0 for v in vals)
        sig = f"{metric}|inspect_ai:{logged}|v{(spec.get('packages') or {}).get('inspect_ai', '?')}|imported"
        infos[metric] = MetricInfo(True, binary, (0.0, 1.0) if bounded else None, sig)
    return ImportedTask(name, "generate", "generate", samples, infos, hashes)


def _logs(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(path.glob("*.eval"))
        if not found:
            raise DataError("no .eval log in this folder", path=path)
        return found
    return [path]


def read(path: Path) -> dict[str, Any]:
    """{"model", "identity", "tasks", "versions", "started"} of one model's inspect logs."""
    tasks, models, headers = [], set(), []
    for log in _logs(path):
        header, rows = _read_zip(log) if log.suffix == ".eval" else _read_json_log(log)
        spec = header.get("eval") if isinstance(header, dict) and isinstance(header.get("eval"), dict) else None
        if spec is None:
            raise DataError("no \"eval\" section in the header; not a log inspect_ai wrote", path=log)
        if not rows:
            raise DataError("the log has no samples (was it written with --no-log-samples, or cancelled?)", path=log)
        models.add(str(spec.get("model")))
        task = _task(header, rows, log)
        if task.name in {t.name for t in tasks}:
            raise DataError(f"task '{task.name}' is in two logs here; keep one (a retried run?)", path=log)
        tasks.append(task)
        headers.append((log, header))
    if len(models) > 1:
        raise DataError(f"logs of several models ({', '.join(sorted(models))}); import each model's separately", path=path)
    log, header = headers[0]
    spec = header["eval"]
    model = models.pop()
    identity = {"backend": "inspect_ai (imported)", "model": model, "model_base_url": spec.get("model_base_url"),
                "status": {t.name: h.get("status") for t, (_, h) in zip(tasks, headers)},  # an unfinished log has fewer items
                "tasks": {t.name: (h["eval"].get("task"), h["eval"].get("task_version")) for t, (_, h) in zip(tasks, headers)},
                "eval_ids": [h["eval"].get("eval_id") for _, h in headers], "log": str(path)}
    return {"model": model, "identity": identity, "tasks": tasks, "started": spec.get("created"),
            "versions": {"inspect_ai": str((spec.get("packages") or {}).get("inspect_ai", "?"))}}
