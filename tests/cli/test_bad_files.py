"""Files that are missing, unreadable, not UTF-8, of the wrong shape or on a full disk: each
ends in exactly one ``evalkit: error: PATH[:LINE]: ...`` line and exit 2, never a traceback,
and nothing already computed is lost.

The base is the built-in demo project copied into tmp_path; every copy shares one cache
folder per module, so the demo's n-gram models are trained once.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit
from evalkit.config import demo_dir

REPO = Path(evalkit.__file__).resolve().parent.parent
LIMIT = ("--limit", "3")
BAD_UTF8 = b'{"id": "x", "question": "caf\xe9"}\n'


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One cache (n-gram models trained once) and one good stored run of the demo's base."""
    root = tmp_path_factory.mktemp("shared")
    proj = _copy_demo(root / "proj", root / "cache")
    from evalkit.cli.main import main

    assert main(["run", "base", *LIMIT, "--config", str(proj), "--output", str(root / "run-base")]) == 0
    assert main(["run", "ft", *LIMIT, "--config", str(proj), "--output", str(root / "run-ft")]) == 0
    return root


def _copy_demo(dest: Path, cache: Path) -> Path:
    shutil.copytree(demo_dir(), dest, ignore=shutil.ignore_patterns("*.py", "README.md", ".cache"))
    config = dest / "evalkit.yaml"
    config.write_text(config.read_text() + f"cache_dir: {cache}\n")
    return config


@pytest.fixture
def demo(tmp_path, shared) -> Path:
    """A fresh copy of the demo project (its evalkit.yaml), on the shared cache."""
    return _copy_demo(tmp_path / "demo", shared / "cache")


@pytest.fixture
def stored_run(tmp_path, shared) -> Path:
    """A copy of a good run directory of base, to be damaged."""
    dest = tmp_path / "stored"
    shutil.copytree(shared / "run-base", dest)
    return dest


def _one_error(code: int, err: str, *names: str) -> str:
    """The single ``evalkit: error:`` line, checked: exit 2, no traceback, names every name."""
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("evalkit: error:")]
    assert len(errors) == 1, err
    assert err.strip().splitlines()[-1] == errors[0], err  # nothing after it
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


# --- data files during validate, run and compare ---------------------------------------------


def _data(demo: Path, task: str = "support_qa") -> Path:
    return demo.parent / "tasks" / "data" / f"{task}.jsonl"


def _not_utf8(path: Path) -> int:
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(2, BAD_UTF8)
    path.write_bytes(b"".join(lines))
    return 3


def _missing(path: Path):
    path.unlink()


def _folder(path: Path):
    path.unlink()
    path.mkdir()
    (path / "part.jsonl").write_text("{}\n")


def _symlink_loop(path: Path):
    path.unlink()
    path.symlink_to(path.name)


def _dangling(path: Path):
    path.unlink()
    path.symlink_to("nowhere.jsonl")


DATA_DAMAGE = {
    "not-utf8": (_not_utf8, "not UTF-8"),
    "missing": (_missing, "not found"),
    "folder": (_folder, "directory"),
    "symlink-loop": (_symlink_loop, "symbolic link"),
    "dangling-symlink": (_dangling, "symbolic link"),
}
COMMANDS = {
    "validate": ("validate",),
    "run": ("run", "base", *LIMIT),
    "compare": ("compare", "base", "ft", *LIMIT),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("damage", list(DATA_DAMAGE))
def test_a_damaged_data_file_is_named(cli, demo, tmp_path, command, damage):
    data = _data(demo)
    harm, says = DATA_DAMAGE[damage]
    line = harm(data)
    args = [*COMMANDS[command], "--config", demo]
    if command != "validate":
        args += ["--output", tmp_path / "out"]
    code, _, err = cli(*args)
    where = f"{data}:{line}:" if line else f"{data}"
    msg = _one_error(code, err, where)
    assert says in msg


# --- task files and the task glob ------------------------------------------------------------


def test_a_symlink_loop_matched_by_the_task_glob(cli, demo):
    loop = demo.parent / "tasks" / "loop.yaml"
    loop.symlink_to("loop.yaml")
    msg = _one_error(*cli("validate", "--config", demo)[::2], str(loop))
    assert "symbolic link" in msg and "loop" in msg


def test_a_symlink_loop_in_the_task_glob_stops_a_run_before_any_model(cli, demo, tmp_path):
    (demo.parent / "tasks" / "a.yaml").symlink_to("b.yaml")
    (demo.parent / "tasks" / "b.yaml").symlink_to("a.yaml")
    code, out, err = cli("run", "base", *LIMIT, "--config", demo, "--output", tmp_path / "out")
    _one_error(code, err, "a.yaml")
    assert not (tmp_path / "out").exists()


def test_a_folder_matched_by_the_task_glob(cli, demo):
    (demo.parent / "tasks" / "extra.yaml").mkdir()
    _one_error(*cli("validate", "--config", demo)[::2], "extra.yaml")


def test_a_task_file_that_is_not_utf8(cli, demo):
    task = demo.parent / "tasks" / "intent.yaml"
    task.write_bytes(task.read_bytes() + b"# caf\xe9\n")
    _one_error(*cli("validate", "--config", demo)[::2], str(task))


def test_a_config_that_is_not_utf8(cli, demo):
    demo.write_bytes(demo.read_bytes() + b"# caf\xe9\n")
    _one_error(*cli("validate", "--config", demo)[::2], str(demo))


# --- --output ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("where", ["existing-file", "under-a-file", "dangling-link"])
def test_a_bad_output_path_fails_before_any_model_runs(cli, demo, tmp_path, command, where):
    afile = tmp_path / "afile"
    afile.write_text("keep me\n")
    if where == "existing-file":
        output, named = afile, afile
    elif where == "under-a-file":
        output, named = afile / "sub" / "dir", afile
    else:
        output = named = tmp_path / "link"
        output.symlink_to(tmp_path / "gone")
    code, out, err = cli(*COMMANDS[command], "--config", demo, "--output", output)
    _one_error(code, err, str(named), "--output")
    assert afile.read_text() == "keep me\n"
    assert "━" not in err  # no progress bar: nothing ran


# --- stored run directories given to compare -------------------------------------------------


def _results(run: Path):
    return run / "results.json"


def _samples(run: Path):
    return run / "samples.jsonl"


def _edit_results(run: Path, edit):
    data = json.loads(_results(run).read_text())
    data = edit(data)
    _results(run).write_text(json.dumps(data))


def _edit_sample(run: Path, n: int, edit):
    lines = _samples(run).read_text().splitlines()
    lines[n - 1] = edit(lines[n - 1])
    _samples(run).write_text("\n".join(lines) + "\n")


def _set_task_field(key, value):
    def edit(d):
        d["tasks"][0][key] = value
        return d

    return edit


def _sample_json_edit(edit):
    def line_edit(line):
        obj = json.loads(line)
        edit(obj)
        return json.dumps(obj)

    return line_edit


RUN_DAMAGE = {
    # name: (damage, file, line or None, words in the message)
    "results-not-json": (lambda r: _results(r).write_text('{"format": "evalkit.run/1",\n  "tasks": [\n'), _results, 3, "invalid JSON"),
    "results-a-list": (lambda r: _results(r).write_text("[1, 2]\n"), _results, None, "JSON object"),
    "results-no-tasks": (lambda r: _edit_results(r, lambda d: {k: v for k, v in d.items() if k != "tasks"}), _results, None, "tasks"),
    "results-tasks-not-a-list": (lambda r: _edit_results(r, lambda d: {**d, "tasks": 5}), _results, None, "tasks"),
    "results-task-n-a-word": (lambda r: _edit_results(r, _set_task_field("n", "many")), _results, None, "tasks.0.n"),
    "results-metric-value-a-list": (
        lambda r: _edit_results(r, _set_task_field("metrics", {"exact_match": {"value": [1], "higher_is_better": True, "signature": ""}})),
        _results, None, "tasks.0.metrics",
    ),
    "results-other-format": (lambda r: _edit_results(r, lambda d: {**d, "format": "other/9"}), _results, None, "format"),
    "results-not-utf8": (lambda r: _results(r).write_bytes(b'{"format": "caf\xe9"}'), _results, None, "UTF-8"),
    "results-a-folder": (lambda r: (_results(r).unlink(), _results(r).mkdir()), _results, None, "folder"),
    "samples-bad-json-line": (lambda r: _edit_sample(r, 4, lambda s: s[:-5]), _samples, 4, "invalid JSON"),
    "samples-line-a-list": (lambda r: _edit_sample(r, 2, lambda s: "[1, 2]"), _samples, 2, "JSON object"),
    "samples-no-task": (lambda r: _edit_sample(r, 5, _sample_json_edit(lambda o: o.pop("task"))), _samples, 5, "task"),
    "samples-id-a-list": (lambda r: _edit_sample(r, 3, _sample_json_edit(lambda o: o.update(id=[1]))), _samples, 3, "id"),
    "samples-stats-a-string": (lambda r: _edit_sample(r, 6, _sample_json_edit(lambda o: o.update(stats="x"))), _samples, 6, "stats"),
    "samples-unknown-task": (lambda r: _edit_sample(r, 7, _sample_json_edit(lambda o: o.update(task="nope"))), _samples, 7, "nope"),
    "samples-not-utf8": (lambda r: _samples(r).write_bytes(_samples(r).read_bytes() + BAD_UTF8), _samples, "last", "UTF-8"),
    "samples-missing": (lambda r: _samples(r).unlink(), _samples, None, "not found"),
    "samples-a-folder": (lambda r: (_samples(r).unlink(), _samples(r).mkdir()), _samples, None, "directory"),
}


@pytest.mark.parametrize("damage", list(RUN_DAMAGE))
def test_a_damaged_stored_run_is_named_with_its_line(cli, demo, stored_run, tmp_path, damage):
    harm, which, line, says = RUN_DAMAGE[damage]
    harm(stored_run)
    path = which(stored_run)
    if line == "last":
        line = len(path.read_bytes().splitlines())
    code, _, err = cli("compare", stored_run, "ft", *LIMIT, "--config", demo, "--output", tmp_path / "out")
    msg = _one_error(code, err, f"{path}:{line}:" if line else str(path))
    assert says in msg


def test_a_good_stored_run_still_compares(cli, demo, stored_run, tmp_path):
    code, out, err = cli("compare", stored_run, "ft", *LIMIT, "--config", demo, "--output", tmp_path / "out")
    assert code in (0, 1) and "evalkit: error" not in err, err


# --- unreadable files (a user without the permission) ----------------------------------------


def _drop_file_permission_bypass():  # pragma: no cover - runs in the child
    """In the child before exec: take CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH out of the
    bounding set, so that root's exec'd process is refused by file modes like anyone else."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _run_unprivileged(args, cwd: Path):
    """The real executable, unable to read a file whose mode forbids it.

    Tests run as root here, where chmod 000 does not stop reads. Switching to `nobody` is
    no way out where Python itself lives in root's private home (it could not even start),
    so root keeps its uid and loses only the capabilities that bypass file modes.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    preexec = _drop_file_permission_bypass if os.geteuid() == 0 else None
    return subprocess.run(
        [sys.executable, "-m", "evalkit.cli.main", *map(str, args)], cwd=cwd, env=env,
        capture_output=True, text=True, preexec_fn=preexec, timeout=300,
    )


@pytest.fixture(scope="module")
def unprivileged(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("probe")
    probe = tmp_path / "probe"
    probe.write_text("secret")
    probe.chmod(0)
    try:
        proc = _run_unprivileged(["--version"], tmp_path)
        check = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}).read()"], capture_output=True,
            preexec_fn=_drop_file_permission_bypass if os.geteuid() == 0 else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot start an unprivileged evalkit here: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"cannot start an unprivileged evalkit here: {proc.stderr.strip()[-200:]}")
    if check.returncode == 0:
        pytest.skip("this process cannot be kept from reading a chmod 000 file (capabilities cannot be dropped)")
    return _run_unprivileged


UNREADABLE = {
    # name: (path relative to the project, command)
    "config": ("evalkit.yaml", ("validate",)),
    "task-file": ("tasks/intent.yaml", ("validate",)),
    "data-file-validate": ("tasks/data/intent.jsonl", ("validate",)),
    "data-file-run": ("tasks/data/support_qa.jsonl", ("run", "base", *LIMIT)),
    "training-text": ("corpora/support.txt", ("run", "ft", *LIMIT)),
}


@pytest.mark.parametrize("what", list(UNREADABLE))
def test_an_unreadable_file_is_named(unprivileged, demo, tmp_path, what):
    rel, command = UNREADABLE[what]
    target = demo.parent / rel
    target.chmod(0)
    try:
        args = [*command, "--config", demo]
        if command[0] != "validate":
            args += ["--output", tmp_path / "out"]
        proc = unprivileged(args, tmp_path)
    finally:
        target.chmod(0o755 if target.is_dir() else 0o644)
    _one_error(proc.returncode, proc.stderr, str(target), "permission denied")


def test_an_unwritable_output_folder_is_named_before_running(unprivileged, demo, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        proc = unprivileged(["run", "base", *LIMIT, "--config", demo, "--output", locked / "run"], tmp_path)
    finally:
        locked.chmod(0o755)
    msg = _one_error(proc.returncode, proc.stderr, str(locked))
    assert "not writable" in msg


def test_an_unreadable_stored_run_is_named(unprivileged, demo, stored_run, tmp_path):
    _results(stored_run).chmod(0)
    proc = unprivileged(["compare", stored_run, "ft", *LIMIT, "--config", demo, "--output", tmp_path / "o"], tmp_path)
    _one_error(proc.returncode, proc.stderr, str(_results(stored_run)), "permission denied")


# --- a full or read-only disk ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs: too small for the demo's outputs."""
    yield from _tmpfs(tmp_path / "small", "size=64k")


@pytest.fixture
def read_only_disk(tmp_path):
    yield from _tmpfs(tmp_path / "ro", "ro,size=64k")


def _tmpfs(mnt: Path, options: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def _all_from_cache(run_dir: Path) -> bool:
    tasks = json.loads(_results(run_dir).read_text())["tasks"]
    return all(t["requests"] > 0 and t["cache_hits"] == t["requests"] for t in tasks if t["status"] == "ok")


def test_a_full_disk_while_writing_a_run_loses_no_answer(cli, demo, tmp_path, small_disk):
    # Without --limit the samples do not fit in 64 KiB.
    code, _, err = cli("run", "ft", "--suite", "support", "--config", demo, "--output", small_disk / "run")
    msg = _one_error(code, err, str(small_disk / "run" / "samples.jsonl"), "no space left")
    assert "cache" in msg
    assert not (small_disk / "run" / "results.json").exists()  # no half-written run to mistake for one
    assert list((small_disk / "run").iterdir()) == []  # nor temporary files
    code, _, err = cli("run", "ft", "--suite", "support", "--config", demo, "--output", tmp_path / "again")
    assert code == 0, err
    assert _all_from_cache(tmp_path / "again")  # every answer was kept


def test_a_full_disk_while_writing_a_comparison(cli, demo, tmp_path, small_disk):
    code, _, err = cli("compare", "base", "ft", "--suite", "support", "--config", demo, "--output", small_disk / "cmp")
    _one_error(code, err, str(small_disk / "cmp"), "no space left")
    code, _, err = cli("compare", "base", "ft", "--suite", "support", "--config", demo, "--output", tmp_path / "cmp")
    assert code in (0, 1), err
    assert _all_from_cache(tmp_path / "cmp" / "runs" / "base") and _all_from_cache(tmp_path / "cmp" / "runs" / "ft")


def test_a_read_only_output_disk_is_named_before_running(cli, demo, read_only_disk):
    code, _, err = cli("run", "base", *LIMIT, "--config", demo, "--output", read_only_disk / "run")
    _one_error(code, err, str(read_only_disk), "not writable")
    assert "━" not in err


# --- the one error path for what escapes a command ------------------------------------------

ESCAPING = {
    "disk-quota": (OSError(errno.EDQUOT, "Disk quota exceeded", "/data/x.jsonl"), ["/data/x.jsonl", "quota"]),
    "no-space-no-name": (OSError(errno.ENOSPC, "No space left on device"), ["no space left"]),
    "read-only-fs": (OSError(errno.EROFS, "Read-only file system", "/ro/cache"), ["/ro/cache", "read-only"]),
    "symlink-loop": (OSError(errno.ELOOP, "Too many levels of symbolic links", "/p/t.yaml"), ["/p/t.yaml", "symbolic link"]),
    "permission": (PermissionError(errno.EACCES, "Permission denied", "/p/evalkit.yaml"), ["/p/evalkit.yaml", "permission denied"]),
    "not-utf8": (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), ["UTF-8"]),
    "sqlite-damaged": (sqlite3.DatabaseError("database disk image is malformed"), ["cache clear"]),
    "sqlite-full": (sqlite3.OperationalError("database or disk is full"), ["no space left"]),
    "memory": (MemoryError(), ["out of memory"]),
    "recursion": (RecursionError("maximum recursion depth exceeded"), ["cycle"]),
}


@pytest.mark.parametrize("name", list(ESCAPING))
def test_what_escapes_a_command_is_one_line(cli, monkeypatch, name):
    exc, words = ESCAPING[name]

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr("evalkit.config.load_project", boom)
    monkeypatch.delenv("EVALKIT_DEBUG", raising=False)
    _one_error(*cli("validate")[::2], *words)


@pytest.mark.parametrize("how", ["flag-before", "flag-after", "environment"])
def test_debug_shows_the_traceback(cli, monkeypatch, how):
    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "/full/x")

    monkeypatch.setattr("evalkit.config.load_project", boom)
    args = {"flag-before": ["--debug", "validate"], "flag-after": ["validate", "--debug"], "environment": ["validate"]}[how]
    if how == "environment":
        monkeypatch.setenv("EVALKIT_DEBUG", "1")
    code, _, err = cli(*args)
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("evalkit: error: /full/x:")


def test_no_traceback_from_the_real_executable_on_an_os_error(demo, tmp_path):
    (demo.parent / "tasks" / "loop.yaml").symlink_to("loop.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit.cli.main", "validate", "--config", str(demo)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    _one_error(proc.returncode, proc.stderr, "loop.yaml")


# --- a corpus metric with no item scored -----------------------------------------------------


def test_a_translation_task_whose_every_item_failed_reports_no_items(cli, demo, tmp_path):
    # fakes:GenerateOnly with fail_every 1 fails every request, as a provider that is down.
    text = demo.read_text().replace("models:\n", "models:\n  down: {backend: 'fakes:GenerateOnly', fail_every: 1}\n", 1)
    demo.write_text(text)
    translate = demo.parent / "tasks" / "translate_es.yaml"
    assert "metrics: [bleu, chrf]" in translate.read_text()
    code, out, err = cli("run", "down", "--suite", "support", *LIMIT, "--config", demo, "--trust-code",
                         "--output", tmp_path / "run")
    assert code == 3 and "Traceback" not in err, err  # incomplete, not a crash
    line = next(ln for ln in out.splitlines() if ln.startswith("translate_es"))
    assert "no items scored" in line
    task = next(t for t in json.loads(_results(tmp_path / "run").read_text())["tasks"] if t["task"] == "translate_es")
    assert task["n_errors"] == task["n"] == 3
    assert {k: (v["value"], "no items" in v["signature"]) for k, v in task["metrics"].items()} == {
        "bleu": (None, True), "chrf": (None, True),
    }
    code, _, err = cli("compare", "base", "down", "--suite", "support", *LIMIT, "--config", demo, "--trust-code",
                       "--output", tmp_path / "cmp")
    assert code == 3 and "Traceback" not in err, err


# --- evalkit report on a damaged compare folder ----------------------------------------------


@pytest.mark.parametrize("damage", ["comparisons-a-number", "compare-a-list", "compare-not-json", "no-compare-json"])
def test_report_on_a_damaged_compare_folder(cli, tmp_path, damage):
    folder = tmp_path / "cmp"
    folder.mkdir()
    path = folder / "compare.json"
    text = {"comparisons-a-number": '{"comparisons": 3}', "compare-a-list": "[1]", "compare-not-json": "{\n\n oops", "no-compare-json": None}[damage]
    if text is not None:
        path.write_text(text)
    code, _, err = cli("report", folder)
    _one_error(code, err, f"{path}:3:" if damage == "compare-not-json" else str(folder))
