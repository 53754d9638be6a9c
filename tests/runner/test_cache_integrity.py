"""A cache that cannot lie, and cannot crash evalkit: changed values are caught by their
checksums and recomputed; every broken cache location or file is one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import make_project
from evalkit.errors import EvalkitError
from evalkit.runner.cache import ANSWERS, MEMO

def _db(project: Path) -> Path:
    return project.parent / ".cache" / "responses.sqlite"


def _error_line(err: str) -> str:
    """The one error line, after checking there is exactly one and no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("evalkit: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _run(cli, project: Path, *extra, model="base", out="out"):
    return cli("run", model, "--config", project, "--suite", "support", "--output", project.parent / out, *extra)


def _metrics(project: Path, out: str) -> dict:
    results = json.loads((project.parent / out / "results.json").read_text())
    return {t["task"]: {k: v["value"] for k, v in t["metrics"].items()} for t in results["tasks"]}


def _memo_row(project: Path, task: str):
    with sqlite3.connect(_db(project)) as con:
        for key, value in con.execute(f"SELECT key, value FROM {MEMO} WHERE kind = 'task'"):
            if json.loads(value)["result"]["task"] == task:
                return key, json.loads(value)
    raise AssertionError(f"no memo row for {task}")


def _write_raw(project: Path, table: str, key: str, value: str) -> None:
    """Change a stored value behind evalkit's back: the checksum is left as it was."""
    with sqlite3.connect(_db(project)) as con:
        con.execute(f"UPDATE {table} SET value = ? WHERE key = ?", (value, key))


def _checksum_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "checksum mismatch" in r.getMessage()]


# ----- values that changed on disk ---------------------------------------------------------

def test_a_flipped_digit_in_a_memo_row_is_caught_and_results_stay_right(cli, project, caplog):
    code, _, err = _run(cli, project, out="first")
    assert code == 0, err
    truth = _metrics(project, "first")
    key, memo = _memo_row(project, "qa")
    lie = truth["qa"]["exact_match"] + 0.9  # the case: 0.0 on disk became 0.9
    memo["result"]["metrics"]["exact_match"]["value"] = lie
    _write_raw(project, MEMO, key, json.dumps(memo, separators=(",", ":")))

    code, _, err = _run(cli, project, out="second")
    assert code == 0, err
    assert _metrics(project, "second") == truth
    warnings = _checksum_warnings(caplog)
    assert len(warnings) == 1 and str(_db(project)) in warnings[0]
    # The row was recomputed and replaced: a third run reads it back without a warning.
    caplog.clear()
    assert _run(cli, project, out="third")[0] == 0 and _metrics(project, "third") == truth
    assert not _checksum_warnings(caplog)


def test_results_json_comes_from_the_samples_even_when_a_memo_row_is_valid_but_wrong(cli, project):
    from evalkit.runner.cache import ResponseCache

    assert _run(cli, project, out="first")[0] == 0
    truth = _metrics(project, "first")
    key, memo = _memo_row(project, "intent")
    for m in memo["result"]["metrics"].values():
        m["value"] = 0.123  # well-formed, checksummed, and false
    cache = ResponseCache(_db(project))
    cache.memo_put(key, "task", memo)
    cache.close()
    assert _run(cli, project, out="second")[0] == 0
    assert _metrics(project, "second") == truth


def test_a_changed_cached_answer_is_asked_again_and_replaced(cli, project, caplog):
    assert _run(cli, project, out="first")[0] == 0
    truth = _metrics(project, "first")
    with sqlite3.connect(_db(project)) as con:
        con.execute(f"DELETE FROM {MEMO}")  # so the answers themselves are read again
        key, value = con.execute(f"SELECT key, value FROM {ANSWERS} WHERE kind = 'generate'").fetchone()
    answer = json.loads(value)
    _write_raw(project, ANSWERS, key, json.dumps({**answer, "text": answer["text"] + " WRONG"}))

    assert _run(cli, project, out="second")[0] == 0
    assert _metrics(project, "second") == truth
    assert len(_checksum_warnings(caplog)) == 1
    with sqlite3.connect(_db(project)) as con:
        again = json.loads(con.execute(f"SELECT value FROM {ANSWERS} WHERE key = ?", (key,)).fetchone()[0])
    assert {**again, "latency_s": 0} == {**answer, "latency_s": 0}


def test_a_cache_written_before_checksums_is_migrated_and_still_serves_its_answers(cli, project):
    assert _run(cli, project, out="first")[0] == 0
    truth = _metrics(project, "first")
    with sqlite3.connect(_db(project)) as con:  # the tables as evalkit wrote them before checksums
        con.execute(f"CREATE TABLE responses AS SELECT key, kind, value, created FROM {ANSWERS}")
        con.execute(f"CREATE TABLE memo AS SELECT key, kind, value, created FROM {MEMO}")
        con.execute(f"DROP TABLE {ANSWERS}")
        con.execute(f"DROP TABLE {MEMO}")
    assert _run(cli, project, out="second")[0] == 0
    results = json.loads((project.parent / "second" / "results.json").read_text())
    assert all(t["cache_hits"] == t["requests"] > 0 for t in results["tasks"])
    assert _metrics(project, "second") == truth


# ----- evalkit cache verify / clear -----------------------------------------------------

def test_cache_verify_counts_rows_and_exits_2_naming_clear_when_a_row_is_damaged(cli, project):
    assert _run(cli, project)[0] == 0
    code, out, err = cli("cache", "verify", "--config", project)
    assert code == 0, err
    assert "integrity check: ok" in out and "34 ok, 0 failing" in out and "n-gram models: 1 ok, 0 damaged" in out

    key, memo = _memo_row(project, "qa")
    memo["samples"][0]["id"] = "q-changed"
    _write_raw(project, MEMO, key, json.dumps(memo))
    code, out, err = cli("cache", "verify", "--config", project)
    assert code == 2
    line = _error_line(err)
    assert "1 rows failing their checksum" in line and "evalkit cache clear" in line
    assert "memoised results: 1 ok, 1 failing" in out

    code, out, _ = cli("cache", "clear", "--yes", "--config", project)
    assert code == 0 and "deleted 34 answers and 1 n-gram model files" in out
    assert cli("cache", "verify", "--config", project)[0] == 0


def test_cache_verify_reports_a_damaged_stored_model(cli, project):
    assert _run(cli, project)[0] == 0
    model = sorted((project.parent / ".cache" / "ngram").glob("*.npz"))[0]
    model.write_bytes(model.read_bytes()[:-100])
    code, out, err = cli("cache", "verify", "--config", project)
    assert code == 2 and "1 damaged" in out and "evalkit cache clear" in _error_line(err)


# ----- broken cache files and locations: one line, exit 2 -------------------------------

def _corrupt_pages(db: Path) -> None:
    """Keep the header page, overwrite the rest: SQLite opens it, then finds it malformed."""
    raw = bytearray(db.read_bytes())
    raw[4096:] = b"\xa5" * (len(raw) - 4096)
    db.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_a_damaged_database_is_one_line_naming_cache_clear_and_clear_fixes_it(cli, project, damage):
    db = _db(project)
    if damage == "garbage":
        db.parent.mkdir(parents=True)
        db.write_bytes(b"this is not SQLite\n" * 300)
    else:
        assert _run(cli, project)[0] == 0
        _corrupt_pages(db)
    for args in (("run", "base", "--config", project, "--output", project.parent / "r"),
                 ("compare", "base", "ft", "--config", project, "--output", project.parent / "c"),
                 ("cache", "info", "--config", project),
                 ("cache", "verify", "--config", project)):
        code, _, err = cli(*args)
        line = _error_line(err)
        assert code == 2 and str(db) in line and "damaged" in line and "evalkit cache clear" in line, (args, err)
    code, out, err = cli("cache", "clear", "--yes", "--config", project)
    assert code == 0 and "removed the damaged database" in out, err
    assert _run(cli, project)[0] == 0


def test_a_folder_where_the_database_belongs(cli, project):
    _db(project).mkdir(parents=True)
    code, _, err = _run(cli, project)
    line = _error_line(err)
    assert code == 2 and line.startswith(f"evalkit: error: {_db(project)}: is a folder")


@pytest.mark.parametrize("cache_dir", ["blocker", "blocker/cache", "blocker/deeper/cache"])
def test_a_cache_dir_that_runs_through_a_regular_file(cli, project, cache_dir):
    blocker = project.parent / "blocker"
    blocker.write_text("a file, not a folder\n")
    project.write_text(project.read_text().replace("cache_dir: .cache", f"cache_dir: {cache_dir}"))
    code, _, err = _run(cli, project)
    line = _error_line(err)
    assert code == 2 and line.startswith(f"evalkit: error: {blocker}: is a file, not a folder") and "--no-cache" in line
    assert blocker.read_text() == "a file, not a folder\n"


def test_no_cache_writes_nothing_to_the_cache_dir(cli, project):
    cache = project.parent / ".cache"
    assert _run(cli, project, "--no-cache", model="ft")[0] == 0
    code, _, err = cli("compare", "base", "ft", "--no-cache", "--config", project, "--output", project.parent / "c")
    assert code == 0, err
    assert not cache.exists()


def test_a_lock_held_by_another_process_is_waited_out(tmp_path, monkeypatch):
    import evalkit.runner.cache as cache_mod
    from evalkit.backends.base import GenerateRequest, Generation, Message

    monkeypatch.setattr(cache_mod, "BUSY_TIMEOUT_MS", 50)  # so that the retries, not the timeout, do the waiting
    db = tmp_path / "c" / "responses.sqlite"
    cache = cache_mod.ResponseCache(db)
    held = threading.Event()

    def hold():
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(0.6)
        con.execute("COMMIT")
        con.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    req = GenerateRequest((Message("user", "hi"),), max_tokens=3)
    cache.put_many([("k", req, Generation("hello", 1, 1, "stop"))])
    holder.join()
    assert cache.get_many(["k"])["k"].text == "hello"

    monkeypatch.setattr(cache_mod, "LOCK_RETRIES", 1)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    with pytest.raises(EvalkitError, match="locked by another process"):
        cache.memo_put("m", "task", {"x": 1})
    con.execute("ROLLBACK")
    cache.close()


def test_a_lone_surrogate_in_an_answer_is_stored_and_read_back(tmp_path):
    """A model cut off mid-emoji can answer "\\ud83d"; SQLite takes only UTF-8."""
    from evalkit.backends.base import GenerateRequest, Generation, Message
    from evalkit.runner.cache import ResponseCache, request_key

    cache = ResponseCache(tmp_path / "responses.sqlite")
    req = GenerateRequest((Message("user", "emoji \ud83d?"),), max_tokens=3)
    key = request_key({"backend": "x"}, req)
    cache.put_many([(key, req, Generation("half \ud83d", 1, 1, "length"))])
    cache.memo_put("m", "task", {"response": "half \ud83d"})
    assert cache.get_many([key])[key].text == "half \ud83d"
    assert cache.memo_get("m") == {"response": "half \ud83d"}
    assert cache.verify() == {"integrity": [], "answers": {"ok": 1, "bad": 0}, "memo": {"ok": 1, "bad": 0}}
    cache.close()


@pytest.mark.parametrize("message, expected", [
    ("database or disk is full", "the disk is full"),
    ("attempt to write a readonly database", "make its folder writable"),
    ("disk I/O error", "evalkit cache verify"),
])
def test_other_sqlite_failures_are_one_line_user_errors(message, expected, tmp_path):
    from evalkit.runner.cache_errors import cache_error

    err = cache_error(tmp_path / "responses.sqlite", sqlite3.OperationalError(message))
    assert isinstance(err, EvalkitError) and expected in str(err) and "\n" not in str(err)


# ----- a read-only cache folder, as a user who cannot write it ---------------------------

def _in_child(args, cwd: Path, drop: bool) -> tuple[int, str]:
    """``evalkit ARGS`` in a forked child, as 'nobody' when ``drop`` (root ignores permissions).
    A fork rather than a new interpreter: this one lives under /root, which 'nobody' cannot
    enter, so the child runs the modules the parent has already imported."""
    from evalkit.cli.main import main

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 70
        try:
            os.close(r)
            if drop:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            os.chdir(cwd)
            sys.stdout = sys.stderr = open(w, "w")
            code = main([str(a) for a in args])
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(w)
    with open(r) as f:
        output = f.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX permissions and fork")
@pytest.mark.parametrize("existing", [False, True], ids=["empty-folder", "existing-database"])
def test_a_read_only_cache_folder_is_one_line_and_no_cache_still_runs(cli, existing):
    drop = os.geteuid() == 0
    work = Path(tempfile.mkdtemp(prefix="evalkit-ro-"))
    try:
        # The same commands once as this user, so that every module they need is imported
        # before the child loses the right to read the interpreter's folder.
        warm = make_project(work / "warm")
        assert _run(cli, warm)[0] == 0 and _run(cli, warm, "--no-cache", out="b")[0] == 0

        project = make_project(work / "proj")
        if existing:  # a database written earlier by someone who could write the folder
            assert cli("cache", "info", "--config", project)[0] == 0
        else:
            _db(project).parent.mkdir()
        (work / "out").mkdir()
        for path in [work, *work.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (work / "out").chmod(0o777)
        _db(project).parent.chmod(0o555)
        if not drop and os.access(_db(project).parent, os.W_OK):
            pytest.skip("this user can write a read-only folder")
        before = sorted(p.name for p in _db(project).parent.iterdir())

        args = ("run", "base", "--config", project, "--suite", "support")
        code, err = _in_child((*args, "--output", work / "out" / "a"), work, drop)
        line = _error_line(err)
        assert code == 2 and str(_db(project)) in line and "--no-cache" in line, err
        code, err = _in_child((*args, "--no-cache", "--output", work / "out" / "b"), work, drop)
        assert code == 0, err
        assert (work / "out" / "b" / "results.json").is_file()
        assert sorted(p.name for p in _db(project).parent.iterdir()) == before
    finally:
        for path in [work, *work.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(work)
