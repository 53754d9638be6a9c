"""Run an lm-eval task on any evalkit backend; its per-sample log becomes evalkit samples.

lm-eval builds the documents, prompts, few-shot examples and requests and scores the
responses with its own metrics, exactly as ``lm_eval`` would; the requests are answered by
:class:`EvalkitLM`, an ``lm_eval.api.model.LM`` that forwards them to the evalkit backend
through the runner's response cache (so a repeated run, or an evalkit task asking the same
question, costs nothing). Each logged sample becomes an evalkit sample whose ``stats`` feed
the paired bootstrap and the gates:

===================================== ======================= ====================
lm-eval metric (per sample)           evalkit metric          stats
===================================== ======================= ====================
``acc``                               ``accuracy``            ``[score, 1]``
``acc_norm``                          ``acc_norm``            ``[score, 1]``
``exact_match``                       ``exact_match``         ``[score, 1]``
``word_perplexity`` (ll, words)       ``word_perplexity``     ``[-ll, words]``
``bits_per_byte``, ``byte_perplexity`` ``bits_per_byte``      ``[-ll, bytes]``
===================================== ======================= ====================

A task's metric under a filter other than lm-eval's ``none`` is named ``metric[filter]``
(``exact_match[flexible-extract]``); every filter is kept. An entry naming a group with an
``aggregate_metric_list`` reports the group's metrics as lm-eval does (each leaf's value,
weighted by its size or not, as ``weight_by_size`` says; see :mod:`evalkit.suites.groups`);
a group without one, or a tag, pools its leaves' items. Other metrics are kept per sample
under ``extra.lm_eval`` but not compared. Datasets are
loaded from the local Hugging Face cache first (offline, instantly); a missing one is fetched
only when ``lm_eval.download`` allows it and the hub answers, within ``fetch_timeout``;
otherwise the task is reported as skipped with one line saying why.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalkit.backends.base import (
    GenerateRequest,
    LoglikelihoodRequest,
    Message,
    RequestKind,
    RollingRequest,
)
from evalkit.errors import BackendError
from evalkit.results import MetricValue, TaskResult
from evalkit.suites.lm_eval_spec import LmEvalSettings, LmEvalTask

log = logging.getLogger("evalkit.lm_eval")

KIND_OF_OUTPUT = {
    "multiple_choice": RequestKind.LOGLIKELIHOOD,
    "loglikelihood": RequestKind.LOGLIKELIHOOD,
    "loglikelihood_rolling": RequestKind.ROLLING,
    "generate_until": RequestKind.GENERATE,
}


class Unavailable(Exception):
    """The task or its dataset cannot be loaded; the message is one line for the user."""


# --- loading tasks: local cache first, then (maybe) the hub, never hanging ----------------------


@contextmanager
def hf_offline():
    """Hugging Face libraries in offline mode for this block only. They read the environment
    when first imported, so their module-level switches are flipped too."""
    import datasets.config as dcfg
    import huggingface_hub.constants as hcfg

    saved_env = {k: os.environ.get(k) for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}
    saved = (hcfg.HF_HUB_OFFLINE, dcfg.HF_HUB_OFFLINE, getattr(dcfg, "HF_DATASETS_OFFLINE", None))
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    hcfg.HF_HUB_OFFLINE = dcfg.HF_HUB_OFFLINE = True
    if saved[2] is not None:
        dcfg.HF_DATASETS_OFFLINE = True
    try:
        yield
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        hcfg.HF_HUB_OFFLINE, dcfg.HF_HUB_OFFLINE = saved[0], saved[1]
        if saved[2] is not None:
            dcfg.HF_DATASETS_OFFLINE = saved[2]


@contextmanager
def quiet_lm_eval():
    """lm-eval's warnings about defaulted metric settings and datasets' progress bars off
    while an entry runs (evalkit shows its own progress and one line per problem)."""
    import datasets

    logger = logging.getLogger("lm_eval")
    level, bars = logger.level, datasets.is_progress_bar_enabled()
    logger.setLevel(logging.ERROR)
    datasets.disable_progress_bars()
    import lm_eval.api.task as lm_task

    # lm-eval's request building draws a bar of its own that no setting turns off; its module
    # global is swapped for a silent one while the entry runs.
    loud = lm_task.tqdm
    lm_task.tqdm = functools.partial(loud, disable=True)
    try:
        yield
    finally:
        lm_task.tqdm = loud
        logger.setLevel(level)
        if bars:
            datasets.enable_progress_bars()


_REACHABLE: dict[str, bool] = {}  # endpoint -> answered (asked once per process)


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    import huggingface_hub.constants as hcfg

    if hcfg.HF_HUB_OFFLINE:
        return False
    if hcfg.ENDPOINT not in _REACHABLE:
        url = urlparse(hcfg.ENDPOINT)
        try:
            with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
                _REACHABLE[hcfg.ENDPOINT] = True
        except OSError:
            _REACHABLE[hcfg.ENDPOINT] = False
    return _REACHABLE[hcfg.ENDPOINT]


def _timeboxed(fn, timeout: float):
    """fn() on a daemon thread; Unavailable when it takes longer than ``timeout``."""
    box: dict[str, Any] = {}

    def work():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True, name="evalkit-lm-eval-load")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Unavailable(f"fetching its dataset took more than {timeout:g} s (lm_eval.fetch_timeout)")
    if "error" in box:
        raise box["error"]
    return box["value"]


_MANAGERS: dict[tuple, Any] = {}


def task_manager(settings: LmEvalSettings, root: Path):
    """lm-eval's TaskManager, built once per process for the same include paths."""
    paths = tuple(str((root / p).resolve()) for p in settings.include_path)
    key = (paths, settings.include_defaults)
    if key not in _MANAGERS:
        from lm_eval.tasks import TaskManager

        for p in paths:
            if not Path(p).is_dir():
                raise Unavailable(f"lm_eval.include_path '{p}' is not a folder")
        _MANAGERS[key] = TaskManager(include_path=list(paths) or None, include_defaults=settings.include_defaults)
    return _MANAGERS[key]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def load_tasks(task: LmEvalTask, settings: LmEvalSettings, root: Path) -> dict:
    """lm-eval's loaded task dict for one entry, or Unavailable with a one-line reason."""
    tm = task_manager(settings, root)
    if task.task not in tm.all_tasks:
        raise Unavailable(f"lm-eval has no task '{task.task}'")
    try:
        with hf_offline():
            return _timeboxed(lambda: tm.load([task.task]), settings.fetch_timeout)
    except Unavailable:
        raise
    except Exception as offline_exc:  # noqa: BLE001 - not in the local cache: maybe fetch it
        log.debug("%s: not loadable offline: %s", task.name, _short(offline_exc))
        if not settings.download:
            raise Unavailable("dataset not in the local Hugging Face cache (lm_eval.download: false)") from None
        if not _hub_reachable():
            raise Unavailable("offline: dataset not in the local Hugging Face cache") from None
    try:
        return _timeboxed(lambda: tm.load([task.task]), settings.fetch_timeout)
    except Unavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to fetch is one line, not a traceback
        raise Unavailable(f"cannot fetch its dataset: {_short(exc)}") from None


# --- the LM that lm-eval talks to -----------------------------------------------------------


def _lm_class():
    from lm_eval.api.model import LM

    class EvalkitLM(LM):
        """lm-eval requests -> evalkit requests, answered through the runner's cache."""

        def __init__(self, backend, identity, cache, chunk_size: int, progress, label: str):
            super().__init__()
            self.backend, self.identity, self.cache = backend, identity, cache
            self.chunk_size, self.progress, self.label = chunk_size, progress, label
            self.outcomes: dict[tuple, list] = {}  # (task, doc_id) -> responses and errors
            self.hits = self.requests = 0

        def _answer(self, instances, make):
            from evalkit.runner.answer import answer
            from evalkit.runner.cache import request_key

            reqs = [make(inst) for inst in instances]
            total = len({request_key(self.identity, r) for r in reqs})
            with self.progress.task(self.label, total=total, done=0) as bar:
                keys, found, hits, sent = answer(self.backend, self.identity, self.cache, reqs, self.chunk_size, bar)
                bar.advance(hits)
            self.hits += hits
            self.requests += hits + sent
            outs = [found[k] for k in keys]
            for inst, out in zip(instances, outs):
                self.outcomes.setdefault((inst.task_name, inst.doc_id), []).append(out)
            return outs

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            outs = self._answer(requests, lambda i: LoglikelihoodRequest(i.args[0], i.args[1]))
            return [(-math.inf, False) if isinstance(o, BackendError) else (o.logprob, o.is_greedy) for o in outs]

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            outs = self._answer(requests, lambda i: RollingRequest(i.args[0]))
            return [-math.inf if isinstance(o, BackendError) else o.logprob for o in outs]

        def generate_until(self, requests, disable_tqdm: bool = False):
            outs = self._answer(requests, _generate_request)
            return ["" if isinstance(o, BackendError) else o.text for o in outs]

    return EvalkitLM


def _generate_request(inst) -> GenerateRequest:
    context, kwargs = inst.args[0], dict(inst.args[1] or {})
    until = kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    temperature = float(kwargs.get("temperature", 0.0) or 0.0) if kwargs.get("do_sample") else 0.0
    return GenerateRequest((Message("user", context),), max_tokens=int(kwargs.get("max_gen_toks", 256)), stop=tuple(until), temperature=temperature)


# --- one suite entry ------------------------------------------------------------------------


def _prepare(loaded: dict, task: LmEvalTask, settings: LmEvalSettings, limit: int | None):
    """Few-shot settings as lm_eval.simple_evaluate applies them; the documents to score
    (``samples`` for lm-eval's evaluate) when a seeded subset is asked for."""
    import numpy as np

    for obj in loaded["tasks"].values():
        if task.num_fewshot is not None and obj.get_config("num_fewshot") != 0:
            obj.set_config(key="num_fewshot", value=task.num_fewshot)
        elif obj.get_config("num_fewshot") is None:
            obj.set_config(key="num_fewshot", value=0)
        obj.set_fewshot_seed(seed=settings.fewshot_seed)
    if task.seed is None:
        return min(x for x in (task.limit, limit) if x is not None) if (task.limit or limit) else None, None
    samples = {}
    for name, obj in loaded["tasks"].items():
        n = len(obj.eval_docs)
        rng = np.random.default_rng([task.seed, zlib.crc32(name.encode())])
        picked = sorted(rng.choice(n, size=min(task.limit, n), replace=False).tolist())
        samples[name] = picked[:limit] if limit else picked
    return None, samples


def run_lm_eval_task(task: LmEvalTask, suite, role, backend, identity, cache, options, progress, *, settings: LmEvalSettings, root: Path):
    with quiet_lm_eval():
        return _run(task, suite, role, backend, identity, cache, options, progress, settings, root)


def _run(task: LmEvalTask, suite, role, backend, identity, cache, options, progress, settings: LmEvalSettings, root: Path):
    started = time.perf_counter()
    result = TaskResult(task=task.name, suite=suite, role=role, type="lm-eval", status="ok")
    try:
        loaded = load_tasks(task, settings, root)
    except Unavailable as exc:
        result.status, result.reason = "skipped", str(exc)
        log.info("%s skipped: %s", task.name, exc)
        return result, []
    kinds = {KIND_OF_OUTPUT.get(obj.OUTPUT_TYPE) for obj in loaded["tasks"].values()}
    missing = sorted(k.value for k in kinds - set(backend.supports) if k is not None)
    if missing:
        result.status, result.reason = "skipped", f"{backend.name} cannot {missing[0]}"
        return result, []
    limit, samples = _prepare(loaded, task, settings, options.limit)
    lm = _lm_class()(backend, identity, cache, options.chunk_size, progress, task.name)
    from lm_eval.evaluator import evaluate

    from evalkit.errors import EvalkitError

    try:
        out = evaluate(lm=lm, task_dict=loaded, limit=limit, samples=samples, bootstrap_iters=0, log_samples=True)
    except EvalkitError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken task definition: one line, the run goes on
        result.status, result.reason = "skipped", f"lm-eval failed: {type(exc).__name__}: {_short(exc)}"
        return result, []
    from evalkit.suites.lm_eval_samples import to_samples

    samples_out = to_samples(out, loaded, task, suite, lm.outcomes, samples)
    _aggregate(result, samples_out, task, out, loaded)
    result.cache_hits, result.requests = lm.hits, lm.requests
    result.method = ",".join(sorted(k.value for k in kinds if k is not None))
    result.seconds = round(time.perf_counter() - started, 4)
    return result, samples_out


def _aggregate(result: TaskResult, samples: list[dict], task: LmEvalTask, out: dict, loaded: dict) -> None:
    from importlib.metadata import version

    import numpy as np

    from evalkit.suites.groups import base_metric

    ok = [s for s in samples if s["status"] != "error"]
    result.n = len(samples)
    result.n_errors = len(samples) - len(ok)
    result.n_empty = sum(s["status"] == "empty" for s in samples)
    names = [n for n in (ok[0]["stats"] if ok else {}) if all(n in s["stats"] for s in ok)]
    fewshot = sorted(set((out.get("n-shot") or {}).values()))
    grouped = _group_values(loaded, task, samples)
    for name in grouped if grouped is not None else names:
        m = base_metric(name)
        sig = f"{m.signature()}|lm-eval:{task.task}|v{version('lm_eval')}|fewshot:{','.join(map(str, fewshot)) or 0}"
        if grouped is not None:
            value, how = grouped[name]
            sig += f"|group:{how}"
        else:
            value = float(m.from_stats(np.sum([s["stats"][name] for s in ok], axis=0)))
        vr = list(m.value_range) if m.value_range is not None else None
        result.metrics[name] = MetricValue(value, m.higher_is_better, sig, m.binary, vr)
    if grouped is not None:
        leaves = list(loaded["groups"][task.task].get_all_tasks())
        result.members = {"of": "lm-eval", "tasks": [t.task_name for t in leaves],
                          "weighting": {name: how for name, (_, how) in grouped.items()}}
    if ok:
        result.prompt_tokens_mean = sum(s["prompt_tokens"] for s in ok) / len(ok)
        result.completion_tokens_mean = sum(s["completion_tokens"] for s in ok) / len(ok)
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s["id"]):
        h.update(f"{s['id']}\0{s['extra']['lm_eval']['doc_hash']}\n".encode())
    result.data_sha256 = h.hexdigest()


def _group_values(loaded: dict, task: LmEvalTask, samples: list[dict]) -> dict[str, tuple[float | None, str]] | None:
    """{evalkit metric: (value, weighting)} as lm-eval aggregates the entry's group (its
    ``aggregate_metric_list``, each metric over every filter its leaves report unless the entry
    names them, weighted by size or not); None for a task, a tag or a group without one."""
    from evalkit.suites.groups import EQUAL, SIZE, combine
    from evalkit.suites.lm_eval_samples import evalkit_metric, variant

    group = (loaded.get("groups") or {}).get(task.task)
    if group is None or not getattr(group, "aggregate_metric_list", None):
        return None
    leaves = [t.task_name for t in group.get_all_tasks()]
    parts = [[s for s in samples if s["extra"]["lm_eval"]["task"] == leaf] for leaf in leaves]
    reported = {k for s in samples for k in s.get("stats", {})}
    values: dict[str, tuple[float | None, str]] = {}
    for agg in group.aggregate_metric_list:
        ours = evalkit_metric(agg.metric)
        if ours is None or agg.metric == "byte_perplexity":
            continue  # not a metric evalkit compares (byte_perplexity would be averaged as bits)
        how = SIZE if agg.weight_by_size else EQUAL
        if agg.filter_list is None:  # lm-eval discovers the filters its leaves report
            names = sorted(k for k in reported if k == ours or k.startswith(ours + "["))
        else:
            names = [variant(ours, f) for f in agg.filter_list]
        for name in names:
            if name in reported:
                values[name] = (combine(name, parts, how), how)
    return values
