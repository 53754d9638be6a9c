"""lm-eval's ``--output_path DIR --log_samples`` files -> imported tasks.

lm-eval writes, per model, ``results_<date>.json`` (aggregates, task configs, model args) and
one ``samples_<task>_<date>.jsonl`` per task: a row per document and filter, holding the
per-document metric values (``"acc": 1.0``, ``"bits_per_byte": [loglikelihood, bytes]``).
Those rows are read with the same code that reads lm-eval's in-memory samples when evalkit
runs an lm-eval task itself (``suites.lm_eval_samples.metric_stats``), so an imported task
has the statistics, names and filter variants of a task evalkit ran.
"""

from __future__ import annotations

import glob
import json
import math
import re
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.importers.build import ImportedTask, MetricInfo, load_json_log, sample

_TYPES = {"multiple_choice": "multiple_choice", "generate_until": "generate", "loglikelihood_rolling": "perplexity",
          "loglikelihood": "loglikelihood"}
_SECRET = re.compile(r"((?:api_?key|token|secret|password)[^=,]*=)[^,]*", re.IGNORECASE)


def _files(path: Path) -> tuple[Path, list[Path]]:
    """(results_*.json, its samples_*.jsonl files)."""
    if path.is_dir():
        found = sorted(path.glob("results_*.json"))
        if not found:
            raise DataError("no results_*.json here: name the folder lm-eval wrote for this model "
                            "(--output_path/<model name>), run with --log_samples", path=path)
        if len(found) > 1:
            raise DataError(f"{len(found)} lm-eval runs in this folder ({', '.join(p.name for p in found[:3])}"
                            f"{'...' if len(found) > 3 else ''}); name one results_*.json", path=path)
        path = found[0]
    date = path.stem.removeprefix("results_")
    samples = sorted(path.parent.glob(f"samples_*_{glob.escape(date)}.jsonl"))
    if not samples:
        raise DataError(f"no samples_*_{date}.jsonl next to it: run lm-eval with --log_samples "
                        "(evalkit compares item by item)", path=path)
    return path, samples


def _load_results(path: Path) -> dict[str, Any]:
    data = load_json_log(path, "lm-eval")
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise DataError("not an lm-eval results file: no \"results\" mapping", path=path)
    return data


def _float(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _shown(kind: str, row: dict) -> tuple[Any, Any, dict]:
    """(response, reference, extra) of a logged row; lm-eval logs responses as strings."""
    resps = row.get("filtered_resps") or []
    target = row.get("target")
    if kind == "multiple_choice":
        lls = [_float(r[0] if isinstance(r, list) else r) for r in resps]
        known = [(v, i) for i, v in enumerate(lls) if v is not None]
        pred = max(known)[1] if known else None
        return (str(pred) if pred is not None else None), target, {"loglikelihoods": lls, "pred_index": pred}
    if kind == "loglikelihood_rolling":
        return None, None, {"logprob": _float(resps[0]) if resps else None}
    if kind == "loglikelihood":
        r = resps[0] if resps else None
        return (r[1] if isinstance(r, list) and len(r) > 1 else r), target, {}
    return (resps[0] if resps and isinstance(resps[0], str) else ""), target, {}


def _prompt(row: dict) -> str:
    args = row.get("arguments") or {}
    if isinstance(args, dict):  # as lm-eval writes it: {"gen_args_0": {"arg_0": prompt, ...}}
        first = args.get("gen_args_0") or {}
        return str(first.get("arg_0", "")) if isinstance(first, dict) else ""
    return str(args[0][0]) if args and isinstance(args[0], list) and args[0] else ""


def _task_name(path: Path, date: str) -> str:
    return path.name.removeprefix("samples_").removesuffix(f"_{date}.jsonl")


def _read_task(path: Path, task: str, config: dict, hib: dict, version: str, fewshot) -> ImportedTask:
    from evalkit.suites.groups import base_metric
    from evalkit.suites.lm_eval_samples import metric_stats
    from evalkit.yamlio import iter_jsonl

    kind = config.get("output_type") or "generate_until"
    name = f"lm-eval:{task}"  # as a suite's lm-eval:TASK entry names it: an evalkit run of it compares
    by_doc: dict[Any, list[tuple[int, dict]]] = {}
    for line, row in iter_jsonl(path):
        if "doc_id" not in row:
            raise DataError("not an lm-eval sample row: no doc_id (was it written with --log_samples?)", path=path, line=line)
        doc_id = row["doc_id"]
        if not isinstance(doc_id, (int, str)) or isinstance(doc_id, bool):
            raise DataError(f"doc_id {json.dumps(doc_id)[:40]} is not a number or a string; not a file lm-eval wrote",
                            path=path, line=line)
        rows = by_doc.setdefault(doc_id, [])
        first = next((n for n, r in rows if r.get("filter") == row.get("filter")), None)
        if first is not None:  # two files joined, or a rerun appended: which answer is the model's is unknown
            raise DataError(f"doc_id {doc_id} (filter {row.get('filter')}) is here twice (first on line {first}); "
                            "keep one lm-eval run per file", path=path, line=line)
        rows.append((line, row))
    if not by_doc:  # a run of 0 items would compare as "no difference"; a cut-short log is not data
        raise DataError("no sample rows in this file (an interrupted lm-eval run?); run lm-eval again with --log_samples",
                        path=path)
    samples, hashes, other_values = [], {}, {}
    for doc_id, rows in by_doc.items():
        first = rows[0][1]
        metrics, stats, other = {}, {}, {}
        for _, row in rows:  # one row per filter: each its own metric variant
            m, st, o = metric_stats(row)
            metrics.update(m)
            stats.update(st)
            other.update(o)
        for metric, value in other.items():  # a per-document number lm-eval averages (e.g. f1)
            other_values.setdefault(metric, []).append(value)
            metrics[metric], stats[metric] = value, [value, 1.0]
        response, reference, extra = _shown(kind, first)
        if len(rows) > 1:
            extra["filtered"] = {r.get("filter"): _shown(kind, r)[0] for _, r in rows}
        sid = str(doc_id)
        hashes[sid] = f"{first.get('doc_hash', '')}{first.get('target_hash', '')}"
        extra["lm_eval"] = {"task": task, "doc_id": doc_id, "doc_hash": first.get("doc_hash"), "filter": first.get("filter")}
        samples.append(sample(name, sid, prompt=_prompt(first), response=response, reference=reference,
                              metrics=metrics, stats=stats, extra=extra))
    names = {n for s in samples for n in s["stats"]}
    infos = {}
    for metric in sorted(names):
        sig = f"lm-eval:{task}|v{version}|fewshot:{fewshot if fewshot is not None else '?'}|imported"
        if metric in other_values:
            lm_name = metric.split("[", 1)[0]
            if lm_name not in hib:  # direction unknown: not a metric evalkit can test
                for s in samples:
                    s["metrics"].pop(metric, None)
                    s["stats"].pop(metric, None)
                continue
            binary = all(v in (0.0, 1.0) for v in other_values[metric])
            infos[metric] = MetricInfo(bool(hib[lm_name]), binary, (0.0, 1.0) if binary else None, f"{metric}|{sig}")
        else:
            m = base_metric(metric)
            infos[metric] = MetricInfo(m.higher_is_better, m.binary, m.value_range, f"{m.signature()}|{sig}")
    return ImportedTask(name, _TYPES.get(kind, kind), kind, samples, infos, hashes)


def read(path: Path) -> dict[str, Any]:
    """{"model", "identity", "tasks", "versions", "started"} of one lm-eval run."""
    results_path, sample_files = _files(path)
    data = _load_results(results_path)
    date = results_path.stem.removeprefix("results_")
    configs = data.get("configs") or {}
    version = str(data.get("lm_eval_version") or (data.get("versions") or {}).get("lm_eval", "?"))
    cfg = data.get("config") or {}
    model_args = cfg.get("model_args")
    if isinstance(model_args, str):
        model_args = _SECRET.sub(r"\1***", model_args)  # a key in the log stays out of the run folder
    elif isinstance(model_args, dict):
        model_args = {k: ("***" if _SECRET.match(f"{k}=") else v) for k, v in model_args.items()}
    tasks = []
    for f in sample_files:
        task = _task_name(f, date)
        hib = (data.get("higher_is_better") or {}).get(task) or {}
        imported = _read_task(f, task, configs.get(task) or {}, hib, version, (data.get("n-shot") or {}).get(task))
        tasks.append(imported)
    name = data.get("model_name") or (model_args if isinstance(model_args, str) else None) or cfg.get("model") or "lm-eval"
    identity = {"backend": "lm-eval (imported)", "model": str(name), "lm_eval_model": cfg.get("model"),
                "model_args": model_args, "log": str(results_path), "task_hashes": data.get("task_hashes") or {}}
    return {"model": str(data.get("model_name_sanitized") or name), "identity": identity, "tasks": tasks,
            "versions": {"lm_eval": version}, "started": _started(data.get("date"))}


def _started(stamp) -> str | None:
    """lm-eval's "date" is a Unix time."""
    from datetime import datetime, timezone

    value = _float(stamp)
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds") if value is not None else None
