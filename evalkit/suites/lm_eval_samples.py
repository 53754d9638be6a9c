"""lm-eval's per-sample log (``evaluate(..., log_samples=True)["samples"]``) -> evalkit samples.

One evalkit sample per document. lm-eval logs a document once per filter; every filter is
kept, each as its own metric variant: ``exact_match`` for lm-eval's ``none`` filter,
``exact_match[strict-match]`` and ``exact_match[flexible-extract]`` for a task with those two
(lm-eval's ``exact_match,strict-match``). The shown response is the first filter's. Ids are
lm-eval's ``doc_id``; when one entry runs several tasks (a group such as ``mmlu``) they are
``SUBTASK/doc_id``.
"""

from __future__ import annotations

import math
from typing import Any

from evalkit.errors import BackendError

MEAN_METRICS = {"acc": "accuracy", "acc_norm": "acc_norm", "exact_match": "exact_match"}
RATIO_METRICS = {"word_perplexity": "word_perplexity", "bits_per_byte": "bits_per_byte", "byte_perplexity": "bits_per_byte"}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def variant(name: str, filter_name: str | None) -> str:
    """evalkit's name of lm-eval's ``name,filter`` (lm-eval's unfiltered ``none`` is plain)."""
    return name if filter_name in (None, "none") else f"{name}[{filter_name}]"


def evalkit_metric(lm_name: str) -> str | None:
    """evalkit's metric for an lm-eval metric name, None when it is not compared."""
    return MEAN_METRICS.get(lm_name) or RATIO_METRICS.get(lm_name)


def metric_stats(example: dict) -> tuple[dict[str, float], dict[str, list[float]], dict[str, Any]]:
    """(evalkit per-item scores, evalkit stats, lm-eval's other per-sample values) of one
    logged row, named for the row's filter."""
    metrics: dict[str, float] = {}
    stats: dict[str, list[float]] = {}
    other: dict[str, Any] = {}
    fname = example.get("filter")
    for name in example.get("metrics", []):
        value = example.get(name)
        if name in MEAN_METRICS and (_number(value) or isinstance(value, bool)):
            ours = variant(MEAN_METRICS[name], fname)
            stats[ours] = [float(value), 1.0]
            metrics[ours] = float(value)
        elif name in RATIO_METRICS and isinstance(value, (tuple, list)) and len(value) == 2:
            ours = variant(RATIO_METRICS[name], fname)
            if ours in stats:
                continue  # byte_perplexity and bits_per_byte carry the same numbers
            ll, count = float(value[0]), float(value[1])
            stats[ours] = [-ll, count]
            ratio = -ll / count if count else math.nan
            metrics[ours] = ratio / math.log(2) if RATIO_METRICS[name] == "bits_per_byte" else math.exp(ratio)
        elif _number(value):
            other[variant(name, fname)] = float(value)
    return metrics, stats, other


def _accounting(outs: list) -> dict[str, Any]:
    ok = [o for o in outs if not isinstance(o, BackendError)]
    costs = [getattr(o, "extra", {}).get("cost_usd") for o in ok]
    return {
        "prompt_tokens": max((getattr(o, "prompt_tokens", 0) for o in ok), default=0),
        "completion_tokens": sum(getattr(o, "completion_tokens", 0) for o in ok),
        "latency_s": round(sum(getattr(o, "latency_s", 0.0) for o in ok), 6),
        "cost_usd": round(sum(costs), 10) if costs and all(c is not None for c in costs) else None,
    }


def _shown(task_obj, example: dict) -> tuple[Any, Any, dict]:
    """(response, reference, extra) in words a person can read."""
    kind = task_obj.OUTPUT_TYPE
    resps = example.get("filtered_resps") or []
    target = example.get("target")
    if kind == "multiple_choice":
        lls = [float(r[0]) if isinstance(r, (tuple, list)) else float(r) for r in resps]
        try:
            choices = list(task_obj.doc_to_choice(example["doc"]))
        except Exception:  # noqa: BLE001 - display only
            choices = []
        pred = max(range(len(lls)), key=lls.__getitem__) if lls else None
        response = choices[pred] if pred is not None and pred < len(choices) else pred
        reference = choices[target] if isinstance(target, int) and 0 <= target < len(choices) else target
        return response, reference, {"loglikelihoods": lls, "pred_index": pred}
    if kind == "loglikelihood_rolling":
        ll = float(resps[0]) if resps else None
        return None, None, {"logprob": ll}
    if kind == "loglikelihood":
        r = resps[0] if resps else None
        return (bool(r[1]) if isinstance(r, (tuple, list)) else r), target, {"logprob": float(r[0]) if isinstance(r, (tuple, list)) else None}
    return (resps[0] if resps else ""), target, {}


def to_samples(out: dict, loaded: dict, task, suite: str, outcomes: dict, indices: dict | None = None) -> list[dict]:
    """``outcomes``: (lm-eval task, request doc_id) -> the backend's answers and errors;
    ``indices``: the documents scored per task when a subset was drawn (lm-eval then numbers
    its requests 0..n-1 and logs the true doc_id)."""
    leaves = list(loaded["tasks"])
    logged = (out or {}).get("samples") or {}
    samples: list[dict] = []
    for leaf in leaves:
        rows = logged.get(leaf, [])
        if not rows:
            continue
        task_obj = loaded["tasks"][leaf]
        first_filter = rows[0].get("filter")
        by_doc: dict[Any, list[dict]] = {}
        for r in rows:  # the document's rows, one per filter, first filter first
            by_doc.setdefault(r["doc_id"], []).append(r)
        picked = (indices or {}).get(leaf)
        position = {d: i for i, d in enumerate(picked)} if picked else None
        for doc_id, doc_rows in by_doc.items():
            ex = doc_rows[0]
            outs = outcomes.get((leaf, position[doc_id] if position else doc_id), [])
            sid = str(doc_id) if len(leaves) == 1 else f"{leaf}/{doc_id}"
            args = ex.get("arguments") or []
            sample: dict[str, Any] = {
                "task": task.name,
                "suite": suite,
                "id": sid,
                "group": None,
                "prompt": args[0][0] if args and args[0] else "",
                **_accounting(outs),
            }
            errors = [str(o) for o in outs if isinstance(o, BackendError)]
            lm_eval_info = {"task": leaf, "doc_id": doc_id, "doc_hash": ex.get("doc_hash"), "filter": first_filter}
            if errors:
                sample.update(status="error", error=errors[0], response=None, reference=None, metrics={}, stats={},
                              extra={"lm_eval": lm_eval_info})
                samples.append(sample)
                continue
            metrics, stats, other = {}, {}, {}
            for row in doc_rows:
                m, st, o = metric_stats(row)
                metrics.update(m)
                stats.update(st)
                other.update(o)
            response, reference, extra = _shown(task_obj, ex)
            if len(doc_rows) > 1:  # what each filter made of the answer
                extra["filtered"] = {r.get("filter"): _shown(task_obj, r)[0] for r in doc_rows}
            empty = isinstance(response, str) and not response.strip()
            sample.update(
                status="empty" if empty else "ok",
                response=response,
                reference=reference,
                metrics=metrics,
                stats=stats,
                extra={**extra, "lm_eval": {**lm_eval_info, "metrics": other}},
            )
            samples.append(sample)
    return samples
