"""``evalkit init DATA.jsonl``: a starter project around the user's data."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

BASE, FT = "hf:gpt2", "hf:gpt2+adapter=./lora"  # placeholders the comments ask to replace


@click.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="The task's name (default: from the file name).")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="The project folder to write evalkit.yaml and tasks/ into.")
@click.option("--base", default=BASE, show_default=True, metavar="MODEL",
              help="The base model, as compare --base: hf:gpt2, openai:gpt-4o-mini, ngram:demo, ...")
@click.option("--ft", default=FT, show_default=True, metavar="MODEL",
              help="The fine-tuned model, as compare --ft.")
@click.option("--force", is_flag=True, help="Overwrite evalkit.yaml and the task file when they exist.")
def init(data, name, folder, base, ft, force):
    """Write a commented evalkit.yaml and tasks/NAME.yaml for the records in DATA (JSONL).

    The task's fields are guessed (prompt/input/question, answer/target/reference,
    choices); the files say what was guessed. Nothing is overwritten without --force.
    """
    import shutil

    from evalkit.cli.output import check_output_dir, write_output
    from evalkit.errors import ConfigError, EvalkitError
    from evalkit.inline_config import models_config
    from evalkit.names import unsafe_name
    from evalkit.starter import FIRST_METRIC, data_reference, guess_fields, project_yaml, task_yaml

    name = name or re.sub(r"[^A-Za-z0-9_.-]+", "_", data.stem).strip("_.") or "task"
    if (why := unsafe_name(name)) is not None:
        raise ConfigError(f"--name {why}")
    guess, n = guess_fields(data)
    check_output_dir(folder, "--dir")
    tasks_dir = folder / "tasks"
    config_path, task_path = folder / "evalkit.yaml", tasks_dir / f"{name}.yaml"
    ref = data_reference(data, tasks_dir)
    copy_to = None if ref is not None else tasks_dir / "data" / f"{name}.jsonl"
    for path in (config_path, task_path, *([copy_to] if copy_to else [])):
        if path.exists() and not force:
            raise EvalkitError("exists; evalkit init never overwrites a file: use --force, or another --dir or --name", path=path)
    models = models_config({"base": base, "ft": ft})
    config = {"tasks": ["tasks/*.yaml"], "suites": {"target": {"role": "target", "tasks": [name]}}, "models": models}
    given = [str(data), *(["--name", name] if name != data.stem else []), *(["--base", base] if base != BASE else []),
             *(["--ft", ft] if ft != FT else [])]
    command = "evalkit init " + shlex.join(given)
    tasks_dir.mkdir(parents=True, exist_ok=True)
    if copy_to is not None:  # the project keeps its own copy: it stays valid when moved or shared
        copy_to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, copy_to)
        ref = f"data/{copy_to.name}"
    write_output(task_path, task_yaml(name, ref, guess, n))
    write_output(config_path, project_yaml(config, name, command, FIRST_METRIC[guess.type]))
    fields = f"prompt from '{guess.prompt}', target from '{guess.target}'" + (f", choices from '{guess.choices}'" if guess.choices else "")
    click.echo(f"wrote {config_path} and {task_path} ({guess.type} task; {fields})")
    if copy_to is not None:
        click.echo(f"copied the data to {copy_to}")
    click.echo("next: check the guessed fields, set the models in evalkit.yaml, then `evalkit validate` and "
               "`evalkit compare base ft --limit 20`")
    return 0
