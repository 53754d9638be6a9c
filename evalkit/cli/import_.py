"""``evalkit import LOG...``: another harness's per-item log as an evalkit run folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import")
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--name", default=None,
              help="The model's name in compares (default: the logged model's, e.g. gpt-4o-mini); names the folder.")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Run folder to write (default: runs/NAME, then runs/latest links to it).")
@click.option("--from", "fmt", type=click.Choice(["lm-eval", "inspect"]), default=None,
              help="The harness that wrote the logs (default: told from the files).")
@click.option("--forgetting", "forgetting", metavar="TASKS", multiple=True,
              help="Comma-separated tasks that are forgetting probes (the rest are target tasks).")
def import_cmd(logs, name, output, fmt, forgetting):
    """Turn lm-eval or inspect_ai logs of ONE model into an evalkit run folder.

    LOGS: lm-eval's output folder for the model (or its results_*.json; run lm-eval with
    --output_path and --log_samples), or inspect_ai .eval / .json logs (or a folder of them).
    Import the base and the fine-tune, then `evalkit compare runs/BASE runs/FT`.
    """
    from evalkit.cli.common import console, link_latest
    from evalkit.cli.output import check_output_dir
    from evalkit.errors import ConfigError
    from evalkit.importers import import_logs
    from evalkit.names import unsafe_name

    if name is not None and (why := unsafe_name(name)) is not None:
        raise ConfigError(f"--name {why} (it becomes a folder name)")
    if output is not None:
        check_output_dir(output)
    probes = [t.strip() for v in forgetting for t in v.split(",") if t.strip()]
    run = import_logs(list(logs), name, forgetting=probes, fmt=fmt)
    out = check_output_dir(output or Path("runs") / run.model)
    run.write(out)
    if output is None:
        link_latest(out)
    con = console()
    for t in run.tasks:
        vals = ", ".join(f"{k}={v.value:.4f}" if v.value is not None else f"{k}=-" for k, v in t.metrics.items())
        err = f"  {t.n_errors} errors" if t.n_errors else ""
        con.print(f"{t.task:<16} n={t.n:<5} {vals or 'no metric evalkit can compare'}{err}", markup=False)
    con.print(f"wrote {out}  (compare it: evalkit compare BASE_RUN {out})", markup=False)
    return 0
