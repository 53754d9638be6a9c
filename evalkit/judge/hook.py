"""The pairwise judge in ``evalkit compare``: judge every paired item in both orders, then
give both runs the metric ``win_rate`` so that the table, Holm and the gates treat it like any
other metric (the base scores the no-preference 0.5 on every item, the candidate its per-item
outcome 1 / 0.5 / 0; the unit of the interval is the item with both its orders, one row).

What the table cannot show is reported here: wins, ties and losses, the flip rate, how often
the judge picked position A, unreadable and failed judgments, the length-controlled win rate,
the judge's own cost and latency, and the same-family warning. Every judgment (raw text and
parsed verdict) is written to ``judge/<candidate>/<task>.jsonl`` in the compare folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evalkit.compare.outcomes import MISSING
from evalkit.errors import ConfigError
from evalkit.judge.client import Judge
from evalkit.judge.pairwise import PairJudgment, candidate_stats, judge_pair, summarize
from evalkit.results import MetricValue

METRIC = "win_rate"


@dataclass(frozen=True)
class PairwiseSpec:
    judge: str  # a model entry of the config
    template: str | None = None  # a file relative to the task file; None: the default
    max_tokens: int = 512
    # "judgment": the judge writes a verdict; "likelihood": the answer the judge finds more
    # probable (per token) after the question wins, for a model that cannot follow a judging
    # prompt (a weak judge: it has no position, so it never flips)
    verdict_by: str = "judgment"

    def __post_init__(self):
        if self.verdict_by not in ("judgment", "likelihood"):
            raise ConfigError(f"scorer pairwise: verdict_by must be judgment or likelihood, not {self.verdict_by!r}")


def pairwise_spec(task) -> PairwiseSpec | None:
    """The task's pairwise judge, when its scorer is ``pairwise``."""
    spec = getattr(task, "scorer_spec", None)
    if spec is None or spec.name != "pairwise":
        return None
    try:
        return PairwiseSpec(judge=task.judge, **spec.args)
    except TypeError as exc:
        raise ConfigError(f"scorer pairwise: bad args: {exc}", path=task.source) from None


@dataclass
class TaskJudgment:
    task: str
    candidate: str
    judge: str
    summary: dict
    length_controlled: dict
    file: str
    verdict_by: str = "judgment"


@dataclass
class JudgeReport:
    tasks: list[TaskJudgment] = field(default_factory=list)
    usage: dict = field(default_factory=dict)  # judge name -> Usage.summary()
    warnings: list[str] = field(default_factory=list)
    rubric: list[dict] = field(default_factory=list)  # per rubric task and model: the judge's work
    calibration: list[dict] = field(default_factory=list)  # judge vs the votes of a review study

    @property
    def payload(self) -> dict:
        if not (self.tasks or self.rubric):
            return {}
        return {"judge": {"tasks": [asdict(t) for t in self.tasks], "usage": self.usage, "rubric": self.rubric,
                          "warnings": self.warnings, "against_people": self.calibration}}

    def lines(self) -> list[str]:
        out = []
        for r in self.rubric:
            cost = "cost unknown" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}"
            out.append(f"judge {r['judge']} (rubric) on {r['task']} for {r['model']}: {r['judged']} judgments "
                       f"({r['cached']} cached), unreadable {r['unreadable']}, failed {r['failed']}, {cost} "
                       "(not in the models' costs)")
        for t in self.tasks:
            s, lc = t.summary, t.length_controlled
            wr = "n/a" if s["win_rate"] is None else f"{s['win_rate']:.3f}"
            if lc["value"] is None:
                lc_text = f"length-controlled n/a ({lc['reason']})"
            elif lc["ci_low"] is None:
                lc_text = f"length-controlled {lc['value']:.3f} ({lc['reason']})"
            else:
                lc_text = f"length-controlled {lc['value']:.3f} [{lc['ci_low']:.3f}, {lc['ci_high']:.3f}]"
            flip = "n/a" if s["flip_rate"] is None else f"{s['flip_rate']:.3f}"
            first = "n/a" if s["first_position_rate"] is None else f"{s['first_position_rate']:.3f}"
            how = (" (verdict by likelihood: a weak judge that reads no instructions, shown for illustration)"
                   if t.verdict_by == "likelihood" else "")
            out.append(f"judge {t.judge}{how} on {t.task}, {t.candidate} vs base: win rate {wr} (W {s['wins']} / T {s['ties']} / "
                       f"L {s['losses']} of {s['n']}), {lc_text}, flip rate {flip}, position A chosen {first}, "
                       f"unreadable {s['unparsed']}, failed {s['failed']}")
        for c in self.calibration:
            out.append(f"judge against people on {c['task']}, {c['candidate']}: {c['agreement']['statement']}")
        for name, u in self.usage.items():
            cost = "cost unknown" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}"
            lat = "" if u["latency_p50_s"] is None else f", latency p50 {u['latency_p50_s']:.2f} s p95 {u['latency_p95_s']:.2f} s"
            out.append(f"judge {name}: {u['requests']} requests ({u['cached']} cached, {u['failed']} failed), "
                       f"{u['prompt_tokens']} + {u['completion_tokens']} tokens, {cost}{lat} (not in the models' costs)")
        return out

    def markdown(self) -> str:
        if not (self.tasks or self.rubric):
            return ""
        from evalkit.judge.calibration import markdown

        body = "\n".join(f"- {line}" for line in self.lines() + [f"warning: {w}" for w in self.warnings])
        return f"\n## Judge\n\n{body}\n" + markdown(self.calibration)


def _questions(spec, seed) -> dict[str, str]:
    """Item id -> the task's prompt as rendered for the item, without any model's system prompt
    or few-shot turns (the judge sees the question, not one model's framing of it)."""
    from evalkit.suites.items import load_items

    try:
        return {it.id: it.render(spec.prompt) for it in load_items(spec, None, seed)}
    except Exception:  # noqa: BLE001 - a stored run whose data moved: fall back to the prompt as sent
        return {}


def _reference(sample) -> str | None:
    ref = sample.get("reference")
    if isinstance(ref, list):
        return "\n".join(map(str, ref)) if ref else None
    return None if ref in (None, "") else str(ref)


def _text(answer) -> str:
    return "" if answer is None else str(answer)


def judge_task(judge: Judge, pspec: PairwiseSpec, spec, base_samples, ft_samples, questions) -> list[PairJudgment]:
    """Both orders of every item both models answered, asked in one batch."""
    from evalkit.judge.prompts import load_template, render

    pairs = [(b, f) for b, f in zip(base_samples, ft_samples) if b["status"] != MISSING and f["status"] != MISSING]
    if pspec.verdict_by == "likelihood":
        return _by_likelihood(judge, pspec, spec, pairs, questions)
    text, path = load_template("pairwise", pspec.template, spec.source.parent if spec.source else None)
    prompts = []
    for b, f in pairs:
        fields = {"prompt": questions.get(b["id"], b["prompt"]), "reference": _reference(b)}
        ab, fa = _text(b["response"]), _text(f["response"])
        prompts.append(render(text, path, {**fields, "answer_a": ab, "answer_b": fa}))
        prompts.append(render(text, path, {**fields, "answer_a": fa, "answer_b": ab}))
    outs = judge.ask(prompts)
    raw = [o if isinstance(o, str) else None for o in outs]
    return [judge_pair(b["id"], raw[2 * i], raw[2 * i + 1], len(_text(b["response"])), len(_text(f["response"])))
            for i, (b, f) in enumerate(pairs)]


# Per-token log-probabilities closer than this are a tie: the n-gram judge's noise floor.
LIKELIHOOD_TIE = 0.01


def _by_likelihood(judge: Judge, pspec: PairwiseSpec, spec, pairs, questions) -> list[PairJudgment]:
    from evalkit.judge.prompts import load_template, render

    text, path = load_template("likelihood", pspec.template, spec.source.parent if spec.source else None)
    # The file's final newline is not part of the context: the answer follows "Answer:" directly.
    contexts = [render(text, path, {"prompt": questions.get(b["id"], b["prompt"]), "reference": _reference(b)}).rstrip("\n")
                for b, _ in pairs]
    answers = [" " + _text(x["response"]).strip() for pair in pairs for x in pair]
    scores = judge.likelihoods([c for c in contexts for _ in (0, 1)], answers)
    out = []
    for i, (b, f) in enumerate(pairs):
        lb, lf = scores[2 * i], scores[2 * i + 1]
        raws = [None, None]
        if isinstance(lb, float) and isinstance(lf, float):
            for order, (a_score, b_score) in enumerate(((lb, lf), (lf, lb))):
                pick = "C" if abs(a_score - b_score) < LIKELIHOOD_TIE else "A" if a_score > b_score else "B"
                raws[order] = f"mean log-probability per token: A {a_score:.4f}, B {b_score:.4f} [[{pick}]]"
        out.append(judge_pair(b["id"], raws[0], raws[1], len(_text(b["response"])), len(_text(f["response"]))))
    return out


def _apply(judgments: list[PairJudgment], base_samples, ft_samples, tb, tf, summary) -> None:
    """Give both runs the per-item statistics and the task value of ``win_rate``."""
    by_id = {j.id: j for j in judgments}
    for b, f in zip(base_samples, ft_samples):
        j = by_id.get(b["id"])
        if j is None:  # a failed request on either side: compare drops the item anyway
            continue
        # The base's value is the no-preference 0.5 on every item, whatever the candidate's
        # outcome (several candidates share one base run).
        for sample, stats in ((b, [0.5, 1.0]), (f, candidate_stats(j))):
            sample.setdefault("stats", {})[METRIC] = stats
            sample.setdefault("metrics", {})[METRIC] = stats[0] / stats[1] if stats[1] else None
        f.setdefault("extra", {})["judge"] = j.to_json()
    signature = f"{METRIC}|judge:pairwise-both-orders|mean-of-ratio"
    tb.metrics = {METRIC: MetricValue(0.5, True, signature, False, [0.0, 1.0]), **tb.metrics}
    tf.metrics = {METRIC: MetricValue(summary.win_rate, True, signature, False, [0.0, 1.0]), **tf.metrics}


def judge_runs(project, base_run, runs, cache, *, seed: int, confidence: float, out: Path, review: str | None = None) -> JudgeReport:
    """Judge every pairwise task of the compare; the runs gain ``win_rate`` (in memory).
    ``review``: a review study on the same items (``STUDY`` or ``URL#STUDY``), whose votes the
    judgments are set against."""
    from evalkit.compare.compare import align_items, resample_rng
    from evalkit.judge.family import same_family_warnings
    from evalkit.judge.length import length_controlled

    report = JudgeReport()
    judges: dict[str, Judge] = {}
    for name, spec in project.tasks.items():
        pspec = pairwise_spec(spec)
        tb = base_run.task(name)
        if pspec is None or tb is None or tb.status != "ok":
            continue
        judge = judges.setdefault(pspec.judge, Judge(project, pspec.judge, cache, pspec.max_tokens))
        questions = _questions(spec, project.file.seed)
        for run in runs:
            tf = run.task(name)
            if tf is None or tf.status != "ok":
                continue
            b, f = align_items(name, base_run.samples_for(name), run.samples_for(name))
            judgments = judge_task(judge, pspec, spec, b, f, questions)
            summary = summarize(judgments)
            _apply(judgments, b, f, tb, tf, summary)
            base_run.samples_edited()
            run.samples_edited()
            lc = length_controlled(judgments, resample_rng(seed, name, METRIC, "length"), confidence=confidence)
            where = out / "judge" / run.model / f"{name}.jsonl"
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_text("".join(json.dumps(j.to_json(), ensure_ascii=False) + "\n" for j in judgments), encoding="utf-8")
            s = {**asdict(summary), "win_rate": summary.win_rate, "flip_rate": summary.flip_rate,
                 "first_position_rate": summary.first_position_rate}
            report.tasks.append(TaskJudgment(name, run.model, pspec.judge, s, asdict(lc), str(where), pspec.verdict_by))
            if summary.unparsed or summary.failed:
                report.warnings.append(
                    f"task '{name}': the judge gave {summary.unparsed} unreadable and {summary.failed} failed judgment(s) "
                    f"for {run.model}; those items are left out of win_rate (see {where})")
    if review is not None and report.tasks:
        report.calibration = _against_review(review, out, seed=seed, confidence=confidence)
    report.rubric = [r for run in [base_run, *runs] for r in rubric_usage(project, run)]
    for r in report.rubric:
        if r["unreadable"] or r["failed"]:
            report.warnings.append(f"task '{r['task']}': the judge gave {r['unreadable']} unreadable and {r['failed']} failed "
                                   f"judgment(s) for {r['model']}; those items are left out of judge_score")
    project.close_backends(list(judges))  # connections and worker threads of an API judge
    for name, judge in judges.items():
        report.usage[name] = judge.usage.summary()
    tested = {r.model: mid for r in [base_run, *runs] if (mid := _model_id(project, r))}
    for name in dict.fromkeys([*judges, *(r["judge"] for r in report.rubric)]):
        judge_id = str(getattr(project.models.get(name), "model", None) or name)
        report.warnings += same_family_warnings(name, judge_id, tested)
    return report


def _model_id(project, run) -> str | None:
    cfg = getattr(run, "model_config", None) or {}
    if cfg.get("model"):
        return str(cfg["model"])
    if run.model in project.models:
        return str(getattr(project.models[run.model], "model", None) or run.model)
    return run.model


def rubric_usage(project, run) -> list[dict]:
    """Per rubric-judged task of ``run``: how many judgments, unreadable and failed ones, and
    their cost, from what the scorer stored with each item."""
    out = []
    for name, spec in project.tasks.items():
        sspec = getattr(spec, "scorer_spec", None)
        if sspec is None or sspec.name != "rubric":
            continue
        judged = [s["extra"]["judge"] for s in run.samples_for(name) if "judge" in (s.get("extra") or {})]
        if not judged:
            continue
        costs = [j.get("cost_usd") for j in judged]
        out.append({
            "task": name, "model": run.model, "judge": spec.judge, "judged": len(judged),
            "cached": sum(bool(j.get("cached")) for j in judged),
            "failed": sum(j["raw"] is None for j in judged),
            "unreadable": sum(j["raw"] is not None and j["verdict"] is None for j in judged),
            "cost_usd": None if any(c is None for c in costs) else sum(costs),
        })
    return out


def _against_review(review: str, out: Path, *, seed: int, confidence: float) -> list[dict]:
    import importlib.util

    from evalkit.errors import EvalkitError, MissingExtra
    from evalkit.judge.study import load_judgments, study_agreement

    if importlib.util.find_spec("sqlalchemy") is None:
        raise MissingExtra("sqlalchemy", "review")
    from human_review.store import default_url, open_store

    url, _, study = review.rpartition("#") if "#" in review else (default_url(review), "#", review)
    if "#" not in review and not Path(url.removeprefix("sqlite:///")).is_file():
        raise EvalkitError(f"--review: no study database {review}.sqlite in this folder; give URL#STUDY for another database")
    store = open_store(url)
    data = store.data(store.study(study))
    return study_agreement(data, load_judgments(out), seed=seed, n_boot=1000, confidence=confidence)
