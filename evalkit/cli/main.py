"""``evalkit``: the entry point. Subcommands are imported only when invoked, so that
``evalkit --help`` answers at once."""

from __future__ import annotations

import importlib
import os
import sys

import click

COMMANDS = {
    "init": ("evalkit.cli.init:init", "Write a starter evalkit.yaml and a task from your JSONL data."),
    "run": ("evalkit.cli.run:run", "Run one model on the suites and write a run directory."),
    "compare": ("evalkit.cli.compare:compare", "Compare a base model with one or more fine-tunes, item by item."),
    "review": ("evalkit.cli.review:review", "Blind side-by-side human review of responses."),
    "report": ("evalkit.cli.report:report", "Rebuild report.html from a stored compare folder."),
    "view": ("evalkit.cli.view:view", "Browse the compares under a folder in a local web app (flip explorer)."),
    "ls": ("evalkit.cli.ls:ls", "List the configured models, suites and tasks."),
    "validate": ("evalkit.cli.validate:validate", "Check the config and every task's data."),
    "probe": ("evalkit.cli.probe:probe", "Built-in safety drift and bias probes: generated prompts, paired against the base."),
    "audit": ("evalkit.cli.audit:audit", "Find eval items that are in the fine-tuning text (contamination)."),
    "cache": ("evalkit.cli.cache:cache", "Inspect or clear the response cache."),
    "import": ("evalkit.cli.import_:import_cmd", "Turn lm-eval --log_samples output or inspect_ai logs into a run folder."),
    "plan": ("evalkit.cli.plan:plan", "Before a run: requests, tokens, dated cost, time and the effect each gate can detect."),
    "parity": ("evalkit.cli.parity:parity", "Check that one model answers alike on two backends (canary items)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evalkit")
@click.option(
    "--debug", is_flag=True, expose_value=False,
    help="Show the Python traceback of an error (also EVALKIT_DEBUG=1). Accepted anywhere on the line.",
)
def cli():
    """evalkit: is the fine-tune better than its base, did it forget, is it cheaper?

    With no evalkit.yaml in the current folder, the built-in demo project is used:
    try `evalkit compare base ft`.
    """


def _debug_requested(args: list[str]) -> tuple[bool, list[str]]:
    """--debug anywhere on the line (users add it after the command); EVALKIT_DEBUG=1 too."""
    wanted = "--debug" in args or os.environ.get("EVALKIT_DEBUG", "") not in ("", "0")
    return wanted, [a for a in args if a != "--debug"]


def main(argv=None) -> int:
    from evalkit.cli.errors import ENVIRONMENT_ERRORS, describe
    from evalkit.errors import EvalkitError

    debug, args = _debug_requested(list(sys.argv[1:] if argv is None else argv))
    try:
        rv = cli.main(args=args, prog_name="evalkit", standalone_mode=False)
    except EvalkitError as exc:
        _traceback(debug)
        click.echo(f"evalkit: error: {exc}", err=True)
        return exc.exit_code
    except ENVIRONMENT_ERRORS as exc:
        # Not a crash of evalkit and not a failed gate: the input or the machine (exit 2).
        _traceback(debug)
        click.echo(f"evalkit: error: {describe(exc)}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("evalkit: interrupted; answers so far are cached: run the same command to resume", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("evalkit: interrupted; answers so far are cached: run the same command to resume", err=True)
        return 130
    except click.UsageError as exc:  # a bad option is bad input too: one line, exit 2
        where = f"; see {exc.ctx.command_path} --help" if exc.ctx is not None else ""
        click.echo(f"evalkit: error: {exc.format_message().rstrip('.')}{where}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


def _traceback(debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
