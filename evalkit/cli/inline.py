"""The config-free flags of ``evalkit compare``: --base, --ft, --tasks, gate flags and
--print-config. They build an evalkit.yaml (``evalkit.inline_config``) that the compare then
loads like any other: written into the compare folder, so the folder says how to rerun it."""

from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass
from pathlib import Path

import click

_GATE_FLAGS = {"gate_improve": "must_improve", "gate_not_regress": "must_not_regress", "gate_min": "min_score"}


def _split(values) -> tuple[str, ...]:
    """--tasks a,b --tasks c -> (a, b, c)."""
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


@dataclass(frozen=True)
class Inline:
    base: str | None
    ft: tuple[str, ...]
    tasks: tuple[str, ...]
    forgetting: tuple[str, ...]
    gates: tuple[tuple[str, str], ...]  # (gate type, TASK:METRIC:NUMBER)
    print_config: bool

    @property
    def given(self) -> bool:
        """Config-free: the flags name the models and tasks (gate flags alone add gates to a
        compare of a config's models or of stored runs)."""
        return bool(self.base or self.ft or self.tasks or self.forgetting or self.print_config)

    def gate_entries(self) -> list[dict]:
        from evalkit.inline_config import parse_gate

        return [parse_gate(kind, text) for kind, text in self.gates]

    @property
    def has_gates(self) -> bool:
        return bool(self.gates)

    def _names(self) -> dict[str, str]:
        names = ["ft"] if len(self.ft) == 1 else [f"ft{i}" for i in range(1, len(self.ft) + 1)]
        return {"base": self.base, **dict(zip(names, self.ft))}

    def command(self) -> str:
        """The flags as a command line (for the config's header: how it was made)."""
        words = ["evalkit", "compare", "--base", self.base or ""]
        for ft in self.ft:
            words += ["--ft", ft]
        if self.tasks:
            words += ["--tasks", ",".join(self.tasks)]
        if self.forgetting:
            words += ["--forgetting", ",".join(self.forgetting)]
        flags = {v: k.replace("_", "-") for k, v in _GATE_FLAGS.items()}
        for kind, text in self.gates:
            words += [f"--{flags[kind]}", text]
        return shlex.join(words)

    def config(self, seed) -> dict:
        from evalkit.inline_config import InlineSpec, build_config

        gates = tuple(self.gate_entries())
        spec = InlineSpec(self._names(), self.tasks, self.forgetting, gates, seed)
        return build_config(spec, Path.cwd())

    def write(self, base, candidates, config_path, output, seed):
        """(config path, output folder, base name, candidate names) for the compare, or None
        after printing the config (--print-config)."""
        from evalkit.cli.common import stamp
        from evalkit.cli.output import check_output_dir, write_output
        from evalkit.inline_config import absolute_paths, to_yaml

        if base is not None or candidates:
            raise click.UsageError("give either BASE CANDIDATE... or --base/--ft/--tasks, not both")
        if config_path is not None:
            raise click.UsageError("--base/--ft/--tasks build the config; leave out --config")
        if not self.base or not self.ft:
            raise click.UsageError("--base and at least one --ft are needed (with --tasks)")
        config = self.config(seed)
        command = self.command()
        if self.print_config:
            click.echo(to_yaml(config, command), nl=False)
            return None
        names = list(self._names())
        out = check_output_dir(output or Path("evalkit-runs") / f"{stamp()}-base-vs-{'-'.join(names[1:])}")
        out.mkdir(parents=True, exist_ok=True)
        path = out / "evalkit.yaml"
        write_output(path, to_yaml(absolute_paths(config, Path.cwd()), command))
        return path, out, names[0], tuple(names[1:])


def inline_options(fn):
    """Add the config-free flags to a command; it receives them as one ``inline`` argument."""
    from evalkit.inline_config import MODEL_HELP

    @click.option("--base", "inline_base", metavar="MODEL", help=f"Without a config: the base model, {MODEL_HELP}.")
    @click.option("--ft", "inline_ft", metavar="MODEL", multiple=True,
                  help="Without a config: a fine-tuned model, same form as --base (repeatable).")
    @click.option("--tasks", "inline_tasks", metavar="LIST", multiple=True,
                  help="Without a config: target tasks, comma-separated: lm-eval:TASK, task YAML files or globs, built-in probes.")
    @click.option("--forgetting", "inline_forgetting", metavar="LIST", multiple=True,
                  help="Without a config: forgetting probes (tasks the fine-tune must not lose), as --tasks.")
    @click.option("--gate-improve", "gate_improve", metavar="TASK:METRIC:MIN_EFFECT", multiple=True,
                  help="Add a must_improve gate (repeatable; implies --gate), also to a config's or stored runs' compare.")
    @click.option("--gate-not-regress", "gate_not_regress", metavar="TASK:METRIC:MARGIN", multiple=True,
                  help="Add a must_not_regress gate (repeatable; implies --gate), as --gate-improve.")
    @click.option("--gate-min", "gate_min", metavar="TASK:METRIC:MIN", multiple=True,
                  help="Add a min_score gate on the fine-tune (repeatable; implies --gate), as --gate-improve.")
    @click.option("--print-config", is_flag=True,
                  help="Print the evalkit.yaml that --base/--ft/--tasks make, and stop.")
    @functools.wraps(fn)
    def wrapper(*args, inline_base, inline_ft, inline_tasks, inline_forgetting, gate_improve, gate_not_regress,
                gate_min, print_config, **kwargs):
        gates = tuple((_GATE_FLAGS[flag], text) for flag, values in
                      (("gate_improve", gate_improve), ("gate_not_regress", gate_not_regress), ("gate_min", gate_min))
                      for text in values)
        inline = Inline(inline_base, tuple(inline_ft), _split(inline_tasks), _split(inline_forgetting), gates, print_config)
        return fn(*args, inline=inline, **kwargs)

    return wrapper
