"""Bad config and task files: exit 2, one line naming the file (and line), no traceback.

Each case edits the small test project (conftest.make_project), runs one command in-process
and checks the single stderr line. A few cases run the real ``evalkit`` process, where the
point is the process itself: time (the alias bomb), the file system (the path escape) and
what gets imported (no torch for an hf pre-flight check).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import make_project

WORKTREE = Path(__file__).resolve().parents[2]
BOMB = textwrap.dedent(
    """\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """
)
OPENAI = "  api: {backend: openai, model: gpt-4o-mini, api_key_env: EVALKIT_TEST_NO_SUCH_KEY, base_url: 'http://127.0.0.1:9/v1'}\n"


# --- editing the project ----------------------------------------------------------------------


def _cfg(root: Path) -> Path:
    return root / "evalkit.yaml"


def _task(root: Path, name: str = "qa") -> Path:
    return root / "tasks" / f"{name}.yaml"


def _line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing ``needle``: where the error must point."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1))


def _add_model(root: Path, entry: str) -> None:
    _append(_cfg(root), entry)


def _prompt(template: str):
    def edit(root):
        _replace(_task(root), '"Question: {question}\\nAnswer:"', json.dumps(template))
        return _task(root), "prompt:"

    return edit


def _model_named(name: str):
    def edit(root):
        _add_model(root, f"  {json.dumps(name)}: {{backend: ngram, train: [corpora/general.txt]}}\n")
        return _cfg(root), json.dumps(name)

    return edit


def _config_line(text: str, needle: str | None = None):
    """Append ``text`` to evalkit.yaml; the error must name the line containing ``needle``."""

    def edit(root):
        _append(_cfg(root), text)
        return _cfg(root), needle

    return edit


def _model_option(model: str, old: str, new: str, needle: str):
    def edit(root):
        _replace(_cfg(root), old, new)
        return _cfg(root), needle

    return edit


def _init_to_api(root):
    _add_model(root, OPENAI)
    _replace(_cfg(root), "init: base", "init: api")
    return _cfg(root), "ft:"


def _task_edit(old: str, new: str, needle: str | None, name: str = "qa"):
    def edit(root):
        _replace(_task(root, name), old, new)
        return _task(root, name), needle

    return edit


def _gate(text: str):
    return _config_line("gates:\n" + text, text.strip().splitlines()[0].strip())


# Each case: (id, edit(root) -> (file the error names, text of the line it names or None),
#             command, words the message must contain)
CASES = [
    # strict YAML
    ("duplicate-top-level-key", _config_line("seed: 8\n", "seed: 8"), "validate", ["duplicate key 'seed'", "first on line"]),
    ("duplicate-model-option", _model_option("base", "order: 6, init", "order: 6, order: 5, init", "ft:"), "validate", ["duplicate key 'order'"]),
    ("duplicate-key-in-task-file", _task_edit("type: generate\n", "type: generate\ntype: perplexity\n", "type: perplexity"), "validate", ["duplicate key 'type'"]),
    ("duplicate-key-run", _config_line("seed: 8\n", "seed: 8"), "run base", ["duplicate key"]),
    ("alias-in-config", _config_line("x_anchor: &a [1]\nlm_eval: *a\n", "lm_eval: *a"), "validate", ["aliases"]),
    ("merge-key-in-config", _config_line("lm_eval: {<<: {download: false}}\n", "lm_eval"), "validate", ["aliases"]),
    ("alias-in-task-file", _task_edit("metrics: [exact_match, f1, chrf]", "metrics: &m [exact_match]\ndescription: *m", "description: *m"), "validate", ["aliases"]),
    ("list-as-key", _config_line("[a, b]: 1\n", "[a, b]"), "validate", ["plain name"]),
    ("deeply-nested", _config_line("deep: " + "[" * 2000 + "]" * 2000 + "\n", None), "validate", ["invalid YAML"]),
    # bounded numbers
    ("max-tokens-huge", _task_edit("max_tokens: 12", "max_tokens: 100000000000000000000000", "generation:"), "validate", ["max_tokens", "less than or equal"]),
    ("max-tokens-zero", _task_edit("max_tokens: 12", "max_tokens: 0", "generation:"), "validate", ["max_tokens"]),
    ("temperature-nan", _task_edit("max_tokens: 12", "max_tokens: 12, temperature: .nan", "generation:"), "validate", ["temperature"]),
    ("too-many-stops", _task_edit('stop: ["\\n"]', "stop: [" + ", ".join(f"s{i}" for i in range(100)) + "]", "generation:"), "validate", ["stop"]),
    ("bootstrap-resamples-huge", _model_option("base", "bootstrap_resamples: 2000", "bootstrap_resamples: 1000000000000", "bootstrap_resamples"), "validate", ["bootstrap_resamples"]),
    ("negative-seed", _model_option("base", "seed: 7", "seed: -1", "seed:"), "validate", ["seed"]),
    ("confidence-nan", _config_line("confidence: .nan\n", "confidence"), "validate", ["confidence"]),
    ("ngram-weight-inf", _model_option("base", "weight: 3", "weight: .inf", "ft:"), "validate", ["weight"]),
    ("ngram-order-huge", _model_option("base", "order: 6, init", "order: 100, init", "ft:"), "validate", ["order"]),
    ("openai-concurrency-huge", _config_line(OPENAI.replace("}", ", concurrency: 100000}"), "api:"), "validate", ["concurrency"]),
    ("openai-timeout-huge", _config_line(OPENAI.replace("}", ", timeout: 1.0e+12}"), "api:"), "validate", ["timeout"]),
    ("openai-retries-huge", _config_line(OPENAI.replace("}", ", max_retries: 1000000}"), "api:"), "validate", ["max_retries"]),
    ("hf-batch-size-zero", _config_line("  local: {backend: hf, model: ./nope, batch_size: 0}\n", "local:"), "validate", ["batch_size"]),
    ("lm-eval-fetch-timeout", _config_line("lm_eval: {fetch_timeout: -1}\n", "lm_eval"), "validate", ["fetch_timeout"]),
    ("gate-margin-nan", _gate("  - {type: must_not_regress, task: mc, metric: accuracy, margin: .nan}\n"), "validate", ["margin"]),
    # templates: the task file and its prompt line, never the data file
    ("template-attribute", _prompt("{question.__class__}"), "validate", ["plain field names"]),
    ("template-index", _prompt("{question[0]}"), "validate", ["plain field names"]),
    ("template-conversion", _prompt("{question!r}"), "validate", ["conversions"]),
    ("template-huge-width", _prompt("{question:>1000000}"), "validate", ["width"]),
    ("template-positional", _prompt("Q: {}"), "validate", ["name the item field"]),
    ("template-index-number", _prompt("Q: {0}"), "validate", ["name the item field"]),
    ("template-nested-spec", _prompt("{question:{answer}}"), "validate", ["nested"]),
    ("template-unbalanced", _prompt("Q: {question"), "validate", ["not a valid template"]),
    ("template-on-run", _prompt("{question.attr}"), "run base", ["plain field names"]),
    # metrics named in files
    ("unknown-task-metric", _task_edit("metrics: [exact_match, f1, chrf]", "metrics: [exact_match, f2]", "metrics:"), "validate", ["unknown metric 'f2'"]),
    ("task-metric-wrong-type", _task_edit("metrics: [exact_match, f1, chrf]", "metrics: [accuracy]", "metrics:"), "validate", ["does not apply"]),
    ("gate-metric-not-computed", _gate("  - {type: must_improve, task: qa, metric: rouge_l}\n"), "validate", ["does not compute 'rouge_l'"]),
    ("gate-suite-metric-not-computed", _gate("  - {type: must_not_regress, suite: forgetting, metric: accuracy, margin: 0.1}\n"), "validate", ["task 'ppl' does not compute 'accuracy'"]),
    ("gate-metric-checked-before-compare", _gate("  - {type: must_improve, task: qa, metric: rouge_l}\n"), "compare base ft --gate", ["does not compute"]),
    ("gate-unknown-metric", _gate("  - {type: must_improve, task: qa, metric: nope}\n"), "validate", ["unknown metric 'nope'"]),
    # names that become folders
    ("model-name-parent", _model_named("../../x"), "validate", ["not a safe name"]),
    ("model-name-absolute", _model_named("/tmp/evil"), "validate", ["not a safe name"]),
    ("model-name-hidden", _model_named(".hidden"), "validate", ["not a safe name"]),
    ("model-name-slash", _model_named("a/b"), "validate", ["not a safe name"]),
    ("model-name-space", _model_named("my model"), "ls", ["not a safe name"]),
    # code from the project folder
    ("code-backend-untrusted-validate", _config_line("  chat: {backend: 'fakes:GenerateOnly'}\n", "chat:"), "validate", ["--trust-code", "trust_code: true"]),
    ("code-backend-untrusted-run", _config_line("  chat: {backend: 'fakes:GenerateOnly'}\n", "chat:"), "run chat", ["--trust-code"]),
    ("code-backend-untrusted-compare", _config_line("  chat: {backend: 'fakes:GenerateOnly'}\n", "chat:"), "compare base ft", ["--trust-code"]),
    ("os-system-backend", _config_line("  evil: {backend: 'os:system'}\n", "evil:"), "validate --trust-code", ["not a Backend class"]),
    ("missing-code-module", _config_line("  evil: {backend: 'no_such_module_x:Thing'}\n", "evil:"), "validate --trust-code", ["cannot import"]),
    ("missing-class-in-module", _config_line("  evil: {backend: 'fakes:NoSuchClass'}\n", "evil:"), "validate --trust-code", ["has no 'NoSuchClass'"]),
    # pre-flight: before the first model runs
    ("init-target-missing", _model_option("base", "init: base", "init: nobody", "ft:"), "validate", ["init 'nobody'"]),
    ("init-cycle", _model_option("base", "order: 6, train: [corpora/general.txt]", "order: 6, init: ft, train: [corpora/general.txt]", "base:"), "compare base ft", ["cycle"]),
    ("init-self", _model_option("base", "init: base", "init: ft", "ft:"), "run ft", ["cycle"]),
    ("init-not-ngram", _init_to_api, "validate", ["not an ngram model"]),
    ("base-url-not-url", _config_line(OPENAI.replace("http://127.0.0.1:9/v1", "not a url"), "api:"), "validate", ["base_url", "not an http(s) URL"]),
    ("base-url-ftp", _config_line(OPENAI.replace("http://", "ftp://"), "api:"), "validate", ["not an http(s) URL"]),
    ("base-url-bad-port", _config_line(OPENAI.replace("9/v1", "port/v1"), "api:"), "validate", ["not an http(s) URL"]),
    ("api-key-unset-run", _config_line(OPENAI, "api:"), "run api", ["EVALKIT_TEST_NO_SUCH_KEY is not set"]),
    ("api-key-unset-compare", _config_line(OPENAI, "api:"), "compare base api", ["EVALKIT_TEST_NO_SUCH_KEY"]),
    ("unknown-model-run", _config_line("", None), "run nobody", ["unknown model 'nobody'"]),
    ("unknown-candidate-compare", _config_line("", None), "compare base nobody", ["'nobody' is neither a model"]),
    ("hf-local-model-missing", _config_line("  local: {backend: hf, model: ./weights/nope}\n", "local:"), "run local", ["model folder not found"]),
    ("hf-model-without-config-json", _config_line("  local: {backend: hf, model: ./corpora}\n", "local:"), "validate", ["no config.json"]),
    ("lm-eval-function-untrusted", _config_line("lm_eval: {include_path: [lm_tasks], include_defaults: false}\n", None), "validate", ["!function", "--trust-code"]),
]


@pytest.mark.parametrize("edit, command, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config(cli, project, edit, command, words, monkeypatch):
    monkeypatch.delenv("EVALKIT_TEST_NO_SUCH_KEY", raising=False)
    root = project.parent
    function_task = root / "lm_tasks" / "mine.yaml"  # only used when include_path names it
    function_task.parent.mkdir()
    function_task.write_text("task: mine\ndataset_path: json\nprocess_docs: !function utils.process\n")
    named, needle = edit(root)
    outdir = root / "out"
    args = command.split() + ["--config", str(project)]
    if command.startswith(("run", "compare")):
        args += ["--output", str(outdir)]
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    msg = lines[0]
    if "!function" in words:
        named, needle = function_task, "!function"
    line = _line_of(named, needle) if needle else None
    where = {f"{p}:{line}: " if line else f"{p}" for p in (named, named.resolve())}
    assert any(msg.startswith("evalkit: error: " + w) for w in where), (msg, where)
    for w in words:
        assert w in msg, (w, msg)
    assert not (outdir / "runs").exists(), "a model ran before the pre-flight check"


def _adapter_without_config(root):
    (root / "adapters" / "lora").mkdir(parents=True)
    (root / "adapters" / "lora" / "adapter_model.safetensors").write_bytes(b"\0")
    _add_model(root, "  tuned: {backend: hf, model: ./corpora, adapter: adapters/lora}\n")
    (root / "corpora" / "config.json").write_text("{}")
    return _cfg(root), "tuned:"


def _symlink_loop(root):
    (root / "tasks" / "loop.yaml").symlink_to(root / "tasks" / "loop2.yaml")
    (root / "tasks" / "loop2.yaml").symlink_to(root / "tasks" / "loop.yaml")
    return root / "tasks" / "loop.yaml", None


def _not_utf8(root):
    _task(root).write_bytes(b"name: qa\xff\xfe\n")
    return _task(root), None


CASES.append(("hf-adapter-without-adapter-config", _adapter_without_config, "run tuned", ["no adapter_config.json"]))
CASES.append(("task-glob-symlink-loop", _symlink_loop, "validate", ["cannot read"]))
CASES.append(("task-file-not-utf8", _not_utf8, "run base", ["cannot read"]))


# An unreadable config, task or data file: tests/cli/test_bad_files.py (it drops root's
# permission bypass, so the case runs here too instead of being skipped).


# --- the process itself -------------------------------------------------------------------------


def _evalkit(*args, cwd: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{WORKTREE}{os.pathsep}{WORKTREE / 'tests'}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "evalkit.cli.main", *map(str, args)], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout,
    )


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("where", ["config", "task"])
def test_alias_bomb_fails_fast_with_one_line(project, where):
    target = project if where == "config" else _task(project.parent)
    target.write_text(BOMB + target.read_text())
    # CPU seconds of the child: the machine running the tests may be busy, but an expanding
    # bomb burns CPU (the unpatched loader ran for minutes, then raised MemoryError).
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = _evalkit("validate", "--config", project, cwd=project.parent)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    msg = _one_error_line(proc)
    assert f"{target}:2: " in msg and "aliases" in msg
    assert used < 2.0 and elapsed < 20, f"{used:.2f} s CPU, {elapsed:.1f} s wall"


def test_alias_bomb_in_process_is_fast(project):
    from evalkit.config import load_project
    from evalkit.errors import ConfigError

    project.write_text(BOMB + project.read_text())
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases"):
        load_project(project)
    assert time.perf_counter() - started < 2.0


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/evalkit-escaped-abs"])
def test_model_name_cannot_write_outside_output(tmp_path, name):
    cfg = make_project(tmp_path / "proj", "  base: {backend: ngram, order: 3, train: [corpora/general.txt]}\n"
                       f"  {json.dumps(name)}: {{backend: ngram, order: 3, train: [corpora/support.txt]}}\n")
    before = _tree(tmp_path)
    proc = _evalkit("compare", "base", name, "--config", cfg, "--output", tmp_path / "proj" / "out" / "cmp", cwd=tmp_path / "proj")
    msg = _one_error_line(proc)
    assert "not a safe name" in msg and f"{cfg}:" in msg
    assert _tree(tmp_path) - before <= {"proj/out", "proj/out/cmp"}
    assert not Path("/tmp/evalkit-escaped-abs").exists()


def test_stored_run_with_an_unsafe_model_name_is_refused(tmp_path, cli):
    """A results.json is data: its model name must not steer where compare writes."""
    cfg = make_project(tmp_path / "proj")
    stored = tmp_path / "proj" / "baseline"
    assert cli("run", "base", "--config", cfg, "--output", stored, "--suite", "forgetting")[0] == 0
    results = json.loads((stored / "results.json").read_text())
    results["model"] = "../../../overwritten"
    (stored / "results.json").write_text(json.dumps(results))
    before = _tree(tmp_path)
    code, out, err = cli("compare", stored, "ft", "--config", cfg, "--output", tmp_path / "proj" / "out", "--suite", "forgetting")
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    msg = lines[0]
    assert msg.startswith(f"evalkit: error: {stored / 'results.json'}: ") and "not a safe name" in msg
    assert not any("overwritten" in p for p in _tree(tmp_path.parent))
    assert {p for p in _tree(tmp_path) - before if not p.startswith(("proj/out", "proj/.cache"))} == set()


def test_a_run_directory_argument_is_said_out_loud(tmp_path, cli):
    cfg = make_project(tmp_path / "proj")
    stored = tmp_path / "proj" / "ft"  # a folder with the same name as a model
    assert cli("run", "ft", "--config", cfg, "--output", stored, "--suite", "forgetting")[0] == 0
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "out", "--suite", "forgetting", cwd=tmp_path / "proj")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "stored run directory" in line]
    assert len(notes) == 1 and "'ft'" in notes[0] and "the config's model 'ft' is not run" in notes[0]
    assert not (tmp_path / "out" / "runs" / "ft").exists() and (tmp_path / "out" / "runs" / "base").exists()


# --- code from the project folder ------------------------------------------------------------


def test_ls_lists_a_code_backend_without_importing_it(project, cli):
    (project.parent / "evil_backend_mod.py").write_text("raise SystemExit('imported!')\n")
    _add_model(project.parent, "  evil: {backend: 'evil_backend_mod:Thing'}\n")
    sys.path.insert(0, str(project.parent))
    try:
        code, out, err = cli("ls", "--config", project)
    finally:
        sys.path.remove(str(project.parent))
    assert code == 0, err
    assert "evil" in out and "evil_backend_mod" not in sys.modules


@pytest.mark.parametrize("how", ["flag", "config"])
def test_trusted_code_backend_runs(project, cli, how):
    _add_model(project.parent, "  chat: {backend: 'fakes:GenerateOnly'}\n")
    flag = ["--trust-code"] if how == "flag" else []
    if how == "config":
        project.write_text("trust_code: true\n" + project.read_text())
    code, out, err = cli("validate", *flag, "--config", project)
    assert code == 0, err


def test_function_tags_pass_with_trust(project):
    from evalkit.config import load_project
    from evalkit.errors import ConfigError

    (project.parent / "lm_tasks").mkdir()
    (project.parent / "lm_tasks" / "t.yaml").write_text("task: t\n# a comment about !function is fine\nx: 1\n")
    _append(project, "lm_eval: {include_path: [lm_tasks], include_defaults: false}\n")
    load_project(project)  # a comment mentioning the tag is not code
    (project.parent / "lm_tasks" / "t.yaml").write_text("task: t\nprocess_docs: !function utils.go\n")
    with pytest.raises(ConfigError, match="!function"):
        load_project(project)
    assert load_project(project, trust_code=True).file.lm_eval.include_path == ["lm_tasks"]


def test_hf_preflight_reads_files_only(project):
    """The adapter check fails before torch or transformers is imported."""
    _adapter_without_config(project.parent)
    code = (
        "import sys\nfrom evalkit.cli.main import main\n"
        f"rc = main(['run', 'tuned', '--config', {str(project)!r}, '--output', {str(project.parent / 'out')!r}])\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stdout)\nsys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    msg = _one_error_line(proc)
    assert "adapter_config.json" in msg and f"{project}:" in msg
    assert "HEAVY []" in proc.stdout


def test_missing_api_key_never_prints_a_value(project, cli, monkeypatch):
    monkeypatch.setenv("EVALKIT_TEST_OTHER_SECRET", "sk-do-not-print")
    monkeypatch.delenv("EVALKIT_TEST_NO_SUCH_KEY", raising=False)
    _add_model(project.parent, OPENAI)
    code, out, err = cli("run", "api", "--config", project, "--output", project.parent / "out")
    assert code == 2 and "EVALKIT_TEST_NO_SUCH_KEY" in err and "sk-" not in err + out


@pytest.mark.parametrize("args, words", [
    (["compare", "base", "ft", "--seed", "-1"], ["--seed", "evalkit compare --help"]),
    (["compare", "base", "ft", "--resamples", "100000000000"], ["--resamples"]),
    (["run", "base", "--limit", "0"], ["--limit"]),
    (["run"], ["MODEL"]),
    (["run", "base", "--no-such-option"], ["--no-such-option"]),
])
def test_bad_options_are_one_line(project, cli, args, words):
    code, out, err = cli(*args, "--config", project)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("evalkit: error: "), err
    assert all(w in lines[0] for w in words), lines[0]
