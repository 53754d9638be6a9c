"""The audit: eval items against the fine-tuning files, one streaming pass over each file.

An item is contaminated when its prompt or its reference shares an n-gram with the
training text (or, shorter than n, occurs in it whole), or when prompt + reference is a
near duplicate of a training document. Its longest overlapping span is recorded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evalkit.audit.ngrams import NgramIndex
from evalkit.audit.normalize import tokens
from evalkit.audit.training import CHUNK_CHARS, iter_pieces

FORMAT = "evalkit.audit/1"


@dataclass(frozen=True)
class EvalText:
    task: str
    id: str
    prompt: str
    reference: str | None


@dataclass(frozen=True)
class AuditSettings:
    ngram: int = 13
    min_tokens: int = 8
    near_duplicate: float | None = 0.8  # None: n-gram overlap only


@dataclass
class ItemFinding:
    task: str
    id: str
    matched: list[str]  # "prompt", "reference" (n-gram), "near_duplicate"
    longest_span: str  # normalised tokens; "" when only a near duplicate was found
    span_tokens: int
    jaccard: float | None = None


@dataclass
class TaskSummary:
    task: str
    items: int
    contaminated: int

    @property
    def share(self) -> float:
        return self.contaminated / self.items if self.items else 0.0


@dataclass
class AuditResult:
    settings: AuditSettings
    training: list[dict]
    tasks: list[TaskSummary]
    findings: list[ItemFinding] = field(default_factory=list)
    seconds: float = 0.0
    index_seconds: float = 0.0  # of ``seconds``: reading the eval items (the rest scales with the training text)

    def contaminated_ids(self, task: str) -> set[str]:
        return {f.id for f in self.findings if f.task == task}

    def to_json(self) -> dict:
        return {
            "format": FORMAT, "settings": asdict(self.settings), "training": self.training, "seconds": self.seconds, "index_seconds": self.index_seconds,
            "tasks": [{**asdict(t), "share": t.share} for t in self.tasks],
            "contaminated": [asdict(f) for f in self.findings],
        }

    @classmethod
    def from_json(cls, d: dict) -> "AuditResult":
        tasks = [TaskSummary(**{k: v for k, v in t.items() if k != "share"}) for t in d["tasks"]]
        return cls(AuditSettings(**d["settings"]), d["training"], tasks, [ItemFinding(**f) for f in d["contaminated"]],
                   d.get("seconds", 0.0), d.get("index_seconds", 0.0))


def run_audit(items: list[EvalText], training: list[Path], settings: AuditSettings = AuditSettings(),
              chunk_chars: int = CHUNK_CHARS) -> AuditResult:
    started = time.perf_counter()
    texts = {}
    for it in items:
        texts[(it.task, it.id, "prompt")] = it.prompt
        if it.reference:
            texts[(it.task, it.id, "reference")] = it.reference
    index = NgramIndex(texts, settings.ngram, settings.min_tokens)
    near = None
    if settings.near_duplicate is not None:
        from evalkit.audit.minhash import NearDuplicates

        near = NearDuplicates({(it.task, it.id): f"{it.prompt}\n{it.reference or ''}" for it in items}, settings.near_duplicate)
    indexed = time.perf_counter() - started
    described = []
    for path in training:
        n_bytes = 0
        for piece in iter_pieces(path, chunk_chars):
            toks = tokens(piece.text)
            index.scan(toks, piece.continues)
            if near is not None and not piece.continues:
                near.scan(toks)
        index.flush()
        if near is not None:
            near.flush()
        described.append({"path": str(path), "bytes": path.stat().st_size if isinstance(path, Path) else None})
    result = _result(items, index, near, settings, described, time.perf_counter() - started)
    result.index_seconds = round(indexed, 3)
    return result


def _result(items, index: NgramIndex, near, settings, training, seconds) -> AuditResult:
    spans = index.longest()
    near_found = near.found() if near is not None else {}
    findings, counts = [], {}
    for it in items:
        matched = [f for f in ("prompt", "reference") if (it.task, it.id, f) in spans]
        jac = near_found.get((it.task, it.id))
        if jac is not None:
            matched.append("near_duplicate")
        total, bad = counts.get(it.task, (0, 0))
        counts[it.task] = (total + 1, bad + bool(matched))
        if matched:
            span = max((spans.get((it.task, it.id, f), "") for f in ("prompt", "reference")), key=lambda s: len(s.split()))
            findings.append(ItemFinding(it.task, it.id, matched, span, len(span.split()), jac))
    tasks = [TaskSummary(t, n, bad) for t, (n, bad) in counts.items()]
    return AuditResult(settings, training, tasks, findings, round(seconds, 3))
