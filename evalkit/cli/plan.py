"""``evalkit plan [MODELS...]``: requests, tokens, dated cost, time and detectable effects,
before anything runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from evalkit.cli.common import config_option, limit_option, no_cache_option, suite_option, trust_code_option


@click.command()
@click.argument("models", nargs=-1)
@config_option
@suite_option
@limit_option
@no_cache_option
@trust_code_option
@click.option("--baseline", type=click.Path(path_type=Path), default=None,
              help="A compare output folder (or run folder) whose per-item variance plans the gates "
                   "(default: the newest under ./evalkit-runs with these models).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (for scripts).")
def plan(models, config_path, suites, limit, no_cache, trust_code, baseline, as_json):
    """What comparing MODELS (base first; default: every configured model) will send, cost
    and be able to detect. Builds no model and sends nothing."""
    from evalkit.config import load_project
    from evalkit.planning.plan import make_plan
    from evalkit.preflight import check_data
    from evalkit.runner.run import RunOptions

    project = load_project(config_path, trust_code=trust_code)
    models = list(dict.fromkeys(models)) or list(project.models)
    for m in models:
        project.model(m)
    check_data(project, suites)
    options = RunOptions(suites=tuple(suites), limit=limit, use_cache=not no_cache, seed=project.file.seed)
    result = make_plan(project, models, options, baseline)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        render(result)
    return 0


def _tokens(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e4 else str(n)


def _usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}" if x >= 10 else f"${x:.4f}"


def _time(s: float | None) -> str:
    if s is None:
        return "?"
    s = round(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _need(x: float | None) -> str:
    if x is None:
        return "-"
    return "none" if math.isinf(x) else f"{int(x):,}"


def render(p, con=None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = con or Console(highlight=False, width=80)
    rows = Table(title="Requests per model and task", box=None, padding=(0, 1), title_justify="left")
    for name, just in (("model", "left"), ("task", "left"), ("items", "right"), ("cached", "right"),
                       ("to send", "right"), ("tok in", "right"), ("tok out<=", "right"), ("time", "right")):
        rows.add_column(name, justify=just, overflow="ellipsis", max_width=14 if name in ("model", "task") else None)
    skipped = {}
    for t in p.tasks:
        if t.skipped is not None:
            rows.add_row(t.model, t.task, str(t.items), "", "", "", "", "skipped")
            skipped.setdefault(t.skipped, []).append(f"{t.model} {t.task}")
            continue
        cached = "?" if t.cached is None else str(t.cached)
        rows.add_row(t.model, t.task, str(t.items), cached, str(t.to_send), _tokens(t.prompt_tokens),
                     _tokens(t.completion_tokens_max), _time(t.seconds))
    for j in p.judges:  # cached "?": the answers it judges do not exist yet
        rows.add_row(f"judge {j.judge}", j.task, str(j.items), "?", str(j.requests), _tokens(j.prompt_tokens),
                     _tokens(j.completion_tokens_max), _time(j.seconds))
    con.print(rows)
    con.print("tok out<=: an upper bound (every generation at its max_tokens). "
              f"Tokens: {', '.join(f'{m} {c}' for m, c in p.tokenizers.items())}.")
    for why, which in skipped.items():
        con.print(f"skipped ({', '.join(which)}): {why}", markup=False)
    for model, why in p.cache_note.items():
        shown = "?" if any(t.cached is None for t in p.tasks if t.model == model) else "0"
        con.print(f"cached {shown} for {model}: {why}", markup=False)

    cost = Table(title=f"Cost in USD at prices as of {p.prices_as_of}", box=None, padding=(0, 1), title_justify="left")
    for name in ("model", "to send", "tok in", "tok out<=", "list", "batch", "fine-tuned", "time"):
        cost.add_column(name, justify="left" if name == "model" else "right", overflow="ellipsis",
                        max_width=14 if name == "model" else None)
    for m in p.models:
        tot = p.totals(m)
        pays = tot["pays"]  # the rate the config pays is starred
        cost.add_row(m, str(tot["to_send"]), _tokens(tot["prompt_tokens"]), _tokens(tot["completion_tokens_max"]),
                     _usd(tot["cost_list_usd"]) + ("*" if pays == "list" else ""),
                     _usd(tot["cost_batch_usd"]) + ("*" if pays == "batch" else ""), _usd(tot["cost_fine_tuned_usd"]),
                     _time(tot["seconds"]))
    for name, tot in p.judge_totals().items():
        pays = tot["pays"]
        cost.add_row(f"judge {name}", str(tot["requests"]), _tokens(tot["prompt_tokens"]), _tokens(tot["completion_tokens_max"]),
                     _usd(tot["cost_list_usd"]) + ("*" if pays == "list" else ""),
                     _usd(tot["cost_batch_usd"]) + ("*" if pays == "batch" else ""), "-", _time(tot["seconds"]))
    con.print()
    con.print(cost)
    if p.judges:
        con.print("judge: its requests apart from the models' (pairwise: 2 per item per candidate, rubric: 1 per "
                  "item per model); tokens estimated with every judged answer at its max_tokens.")
    con.print(f"Prices as of {p.prices_as_of} (override with prices: in the model's config). batch: the batch "
              "API's half rate; fine-tuned: the rate a fine-tune of the model is billed at. "
              "-: a local model, or no price known. Cached answers cost nothing. *: the rate this run pays "
              "(batch for an openai model with mode: batch).")
    if p.gates:
        _render_gates(p, con)


def _render_gates(p, con) -> None:
    from rich.table import Table

    g = Table(title="What each gate can detect at this n (80% power, one-sided)", box=None, padding=(0, 1),
              title_justify="left")
    for name in ("gate", "n", "level", "threshold", "detectable", "n needed"):
        g.add_column(name, justify="left" if name == "gate" else "right", overflow="fold", max_width=30 if name == "gate" else None)
    for gp in p.gates:
        g.add_row(gp.gate, str(gp.n), f"{gp.level:.3g}", _num(gp.threshold), _num(gp.detectable), _need(gp.n_needed))
    con.print()
    con.print(g)
    con.print("detectable: the smallest true gain the gate would show (must_improve: min_effect + MDE), the "
              "loss it rules out (must_not_regress), or the distance above the floor (min_score). n needed: "
              "items to detect the gate's min_effect or margin.")
    if p.baseline:
        con.print(f"From the stored runs in {p.baseline} where they hold the task; otherwise:", markup=False)
    for basis in dict.fromkeys(gp.basis for gp in p.gates):
        con.print(f"  {basis}: {', '.join(gp.gate for gp in p.gates if gp.basis == basis)}", markup=False)
