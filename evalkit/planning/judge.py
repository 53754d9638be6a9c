"""The judge's requests in a plan (issue 13's judges): what judging the planned answers will
send to each judge model, counted apart from the models under test.

A pairwise task is judged at compare time in both orders: 2 requests per item per candidate
(a ``verdict_by: likelihood`` judge scores the two answers: 2 requests as well). A rubric task
is judged while each model runs: 1 request per item per model.

The judge's prompts hold the answers, which do not exist before the run, so their tokens are
an estimate: the template's text, the item's prompt as the model is asked it, and each answer
at its ``max_tokens`` (an upper bound, like the models' own completions). For the same reason
the cache cannot be checked for them: ``cached`` is unknown, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.planning.cost import Costs, price_requests, seconds
from evalkit.planning.requests import TaskRequests
from evalkit.planning.tokens import counter_for, request_tokens


@dataclass(frozen=True)
class JudgePlan:
    judge: str  # the judge's model entry
    task: str
    model: str  # whose answers it judges (pairwise: the candidate against the base)
    kind: str  # "pairwise" or "rubric"
    items: int
    requests: int
    prompt_tokens: int  # estimate, see the module's docstring
    completion_tokens_max: int
    cost: Costs
    seconds: float | None
    time_basis: str


def _template_tokens(kind: str, override: str | None, spec, counter) -> int:
    from evalkit.judge.prompts import load_template

    text, _ = load_template(kind, override, spec.source.parent if spec.source else None)
    return counter.count(text)


def _per_item(tr: TaskRequests, counter) -> tuple[float, float]:
    """(mean prompt tokens, mean answer tokens at most) of the task's requests, in the judge's counting."""
    tokens = [request_tokens(r, counter) for r in tr.requests]
    if not tokens:
        return 0.0, 0.0
    return sum(p for p, _ in tokens) / len(tokens), sum(c for _, c in tokens) / len(tokens)


def _judge_of(spec) -> tuple[str, str, str | None, int, bool] | None:
    """(kind, judge, template override, max_tokens, by likelihood) of a judged task, else None."""
    from evalkit.judge.hook import pairwise_spec

    sspec = getattr(spec, "scorer_spec", None)
    if sspec is None or sspec.name not in ("pairwise", "rubric"):
        return None
    if sspec.name == "pairwise":
        p = pairwise_spec(spec)
        return "pairwise", p.judge, p.template, p.max_tokens, p.verdict_by == "likelihood"
    args = sspec.args or {}
    return "rubric", spec.judge, args.get("template"), int(args.get("max_tokens", 512)), False


def plan_judges(project, models: list[str], planned: dict[str, list[TaskRequests]]) -> list[JudgePlan]:
    """The judge's work for every judged task of the plan. ``planned``: model -> its tasks' requests
    (``models[0]`` is the base; pairwise tasks judge every other model against it)."""
    out = []
    base = {tr.task: tr for tr in planned.get(models[0], [])}
    for model in models:
        for tr in planned.get(model, []):
            judged = _judge_of(project.tasks.get(tr.task)) if tr.skipped is None else None
            if judged is None:
                continue
            kind, judge, template, max_tokens, by_likelihood = judged
            if kind == "pairwise" and (model == models[0] or base.get(tr.task) is None or base[tr.task].skipped):
                continue  # a pairwise judge compares a candidate with the base only
            cfg = project.model(judge)
            counter = counter_for(cfg)
            prompt, answer = _per_item(tr, counter)
            frame = _template_tokens("likelihood" if by_likelihood else kind, template, project.tasks[tr.task], counter)
            if kind == "rubric":
                per_request, n = (round(frame + prompt + answer), max_tokens), tr.items
            elif by_likelihood:  # the context and one answer per request, nothing generated
                per_request, n = (round(frame + prompt + answer), counter.echo_tokens), 2 * tr.items
            else:  # both answers in every prompt, asked in both orders
                per_request, n = (round(frame + prompt + 2 * answer), max_tokens), 2 * tr.items
            tokens = [per_request] * n
            secs, how = seconds(cfg, tokens, None)
            out.append(JudgePlan(judge, tr.task, model, kind, tr.items, n, per_request[0] * n, per_request[1] * n,
                                 price_requests(cfg, tokens), secs, how))
    return out
