"""``evalkit review``: blind side-by-side human review of two or more models' responses.

The library and the Streamlit app live in ``human_review/``; this module only parses the
command line, calls them and maps the outcome to an exit code.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from evalkit.errors import EvalkitError, MissingExtra

db_option = click.option(
    "--db", "db_url", default=None, metavar="URL", envvar="EVALKIT_REVIEW_DB", show_envvar=True,
    help="SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/db (default: STUDY.sqlite in the current folder). "
         "Prefer the environment variable for a URL with a password: it stays out of the shell history.",
)


def _masked(url: str) -> str:
    """The URL as printed: a password never reaches the terminal or a log."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _need(*modules: str) -> None:
    import importlib.util

    for m in modules:
        if importlib.util.find_spec(m) is None:
            raise MissingExtra(m, "review")


def _open(study: str, db_url: str | None, *, create: bool = False):
    _need("sqlalchemy")
    from human_review.store import default_url, open_store

    url = db_url or default_url(study)
    if db_url is None and not create and not Path(url.removeprefix("sqlite:///")).is_file():
        raise EvalkitError(f"no study database {study}.sqlite in this folder: create the study first, or pass --db URL")
    return open_store(url), url


@click.group()
def review():
    """Blind side-by-side human review of responses (create, invite, serve, results, export)."""


@review.command()
@click.argument("study")
@click.option("--from", "runs", multiple=True, required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="A run directory (repeat: two or more; each candidate is paired with the base).")
@click.option("--base", default=None, help="The base model's name (default: the first --from).")
@click.option("--items", type=click.IntRange(min=1), default=None, help="Items to review (default: every shared item).")
@click.option("--per-task", is_flag=True, help="--items per task rather than in all.")
@click.option("--task", "tasks", multiple=True, help="Only this task (repeatable; default: all with text responses).")
@click.option("--overlap", type=click.IntRange(min=1), default=2, show_default=True, help="Raters per item.")
@click.option("--gold", type=click.IntRange(min=0), default=0, show_default=True, help="Gold items (a known-right vs a wrong answer) per rater.")
@click.option("--repeats", type=click.IntRange(min=0), default=0, show_default=True, help="Hidden repeats per rater, sides swapped.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling items and ordering them.")
@click.option("--from-judge-disagreements", "judge_dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              default=None, help="A compare folder with judge/ judgments: only the items where the judge flipped with "
              "the order, gave no verdict or tied (flips first; --items caps each task).")
@click.option("--pairs", type=click.Choice(["base", "all"]), default="base", show_default=True,
              help="base: each candidate against the base; all: also every candidate against every other.")
@click.option("--study-file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="YAML with instructions, criteria (each with its scale) and tie options for raters.")
@click.option("--min-seconds", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Refuse a vote sooner than this after the item was shown (a double-tapped key).")
@click.option("--claim-timeout", type=click.FloatRange(min=1), default=1800.0, show_default=True,
              help="Seconds after which an unanswered claim goes back to the pool.")
@db_option
def create(study, runs, base, items, per_task, tasks, overlap, gold, repeats, seed, judge_dir, pairs, study_file, min_seconds,
           claim_timeout, db_url):
    """Build STUDY from the responses in two or more run directories."""
    from evalkit.results import RunResult
    from human_review.build import StudyOptions, plan_study

    from human_review import study_file as sf

    settings = sf.load(study_file).model_dump(mode="json") if study_file else None
    loaded = [RunResult.load(p) for p in runs]
    if judge_dir is not None:  # human time where the judge is least sure (issue 13)
        from evalkit.judge.study import disagreements, load_judgments

        keep = disagreements(load_judgments(judge_dir), items)
        for r in loaded:
            r.samples = [x for x in r.samples if (x["task"], str(x["id"])) in keep]
        click.echo(f"{len(keep)} item(s) where the judge flipped, tied or gave no verdict")
    options = StudyOptions(items=items, per_task=per_task, overlap=overlap, gold=gold, repeats=repeats, seed=seed, tasks=tuple(tasks),
                           min_seconds=min_seconds, claim_timeout=claim_timeout, pairs=pairs, study=settings)
    plan = plan_study(loaded, options, base)
    store, url = _open(study, db_url, create=True)
    secret = store.create_study(study, plan)
    n_cand = len(plan.systems) - 1
    n_pairs = n_cand if pairs == "base" else n_cand * (n_cand + 1) // 2
    click.echo(f"created study {study!r} in {_masked(url)}")
    click.echo(f"  base: {plan.systems[0].model}; candidates: {', '.join(s.model for s in plan.systems[1:])}")
    click.echo(f"  {len(plan.items)} items x {n_cand} candidate(s) = {len(plan.items) * n_pairs} comparisons ({pairs} pairs), "
               f"{overlap} rater(s) each; {len(plan.gold)} gold item(s) and {repeats} repeat(s) per rater")
    if plan.dropped:
        click.echo(f"  {plan.dropped} shared item(s) left out: a model's response was missing, empty or an error")
    click.echo(f"admin secret (shown once; `evalkit review admin-secret {study}` makes a new one): {secret}")
    click.echo(f"next: evalkit review invite {study} RATER_NAME, then evalkit review serve {study}")
    return 0


@review.command()
@click.argument("study")
@click.argument("rater")
@click.option("--url", "app_url", default="http://127.0.0.1:8501", show_default=True, help="Where raters reach the app.")
@click.option("--once", is_flag=True, help="The link signs in one browser only.")
@click.option("--expires", "expires_h", type=click.FloatRange(min=0, min_open=True), default=None, metavar="HOURS",
              help="The link stops working after this many hours (a session already started runs on).")
@db_option
def invite(study, rater, app_url, once, expires_h, db_url):
    """Print a sign-in link for RATER (inviting again replaces the rater's token and lifts a revocation)."""
    store, _ = _open(study, db_url)
    token = store.invite(store.study(study), rater, once=once, expires_in=expires_h * 3600 if expires_h else None)
    click.echo(f"{app_url.rstrip('/')}/?invite={token}")
    click.echo(f"token: {token}")
    return 0


@review.command()
@click.argument("study")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: this machine only).")
@click.option("--port", type=int, default=8501, show_default=True)
@db_option
def serve(study, host, port, db_url):
    """Run the review app for STUDY (Streamlit); SIGTERM or Ctrl-C stops it and its server."""
    _need("streamlit")
    from human_review.server import run_forwarding_signals, streamlit_command

    store, url = _open(study, db_url)
    store.study(study)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: put a TLS-terminating proxy in front; tokens travel in the clear", err=True)
    argv, env = streamlit_command(study, url, host=host, port=port)
    click.echo(f"review app for {study!r} on http://{host}:{port} (Ctrl-C to stop)")
    return run_forwarding_signals(argv, env)


@review.command()
@click.argument("study")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True)
@click.option("--resamples", type=click.IntRange(min=0), default=1000, show_default=True, help="Bootstrap resamples for Bradley-Terry intervals.")
@click.option("--blind", is_flag=True, help="Name systems by label only, not by model.")
@click.option("--judge", "judge_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="A compare folder with judge/ judgments on the same items: add judge-vs-human agreement.")
@click.option("--exclude-rater", "excluded", multiple=True, metavar="NAME",
              help="Leave this rater's votes out (repeatable), e.g. one the rater flags call careless.")
@db_option
def results(study, output, resamples, blind, judge_dir, excluded, db_url):
    """Print the analysis of STUDY and write STUDY.results.md and .json."""
    _need("statsmodels", "scipy")
    from human_review.analysis import analyse
    from human_review.report import render_markdown

    store, _ = _open(study, db_url)
    data = store.data(store.study(study))
    unknown = sorted(set(excluded) - set(data.raters))
    if unknown:
        raise EvalkitError(f"--exclude-rater {', '.join(unknown)}: no such rater in {study!r}; the raters are {', '.join(data.raters)}")
    data = data.without_raters(excluded)
    result = analyse(data, reveal=not blind, n_boot=resamples)
    result["summary"]["excluded_raters"] = sorted(excluded)
    md = render_markdown(result)
    if judge_dir is not None:  # the judge against the people (issue 13)
        from evalkit.judge.calibration import markdown
        from evalkit.judge.study import load_judgments, study_agreement

        result["judge_agreement"] = study_agreement(data, load_judgments(judge_dir), seed=result["bradley_terry"]["seed"] or 0,
                                                    n_boot=max(resamples, 200), confidence=result["summary"]["confidence"])
        md += markdown(result["judge_agreement"])
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{study}.results.md").write_text(md, encoding="utf-8")
    (output / f"{study}.results.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(md)
    click.echo(f"wrote {output / (study + '.results.md')} and .json")
    return 0


@review.command()
@click.argument("study")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True)
@db_option
def export(study, output, db_url):
    """Write the votes (CSV, JSON) and the preference pairs (JSONL: prompt, chosen, rejected)."""
    from human_review.export import write_exports

    store, _ = _open(study, db_url)
    for p in write_exports(store.data(store.study(study)), output, study):
        click.echo(f"wrote {p}")
    return 0


@review.command()
@click.argument("study")
@click.argument("rater")
@db_option
def revoke(study, rater, db_url):
    """End RATER's sessions and void their link at once (their votes stay; `invite` again to readmit)."""
    store, _ = _open(study, db_url)
    if not store.revoke(store.study(study), rater):
        raise EvalkitError(f"no rater {rater!r} in study {study!r}")
    click.echo(f"revoked {rater!r}: their sessions end on their next click")
    return 0


@review.command()
@click.argument("study")
@db_option
def close(study, db_url):
    """Stop taking votes; the admin pages then name the models."""
    store, _ = _open(study, db_url)
    store.set_status(store.study(study), "closed")
    click.echo(f"closed {study!r}")
    return 0


@review.command("admin-secret")
@click.argument("study")
@db_option
def admin_secret(study, db_url):
    """Replace the admin secret of STUDY and print the new one."""
    store, _ = _open(study, db_url)
    click.echo(store.new_admin_secret(store.study(study)))
    return 0
