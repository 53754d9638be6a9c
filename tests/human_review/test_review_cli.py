"""`evalkit review ...` driven as a user types it, on runs written by `evalkit compare`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evalkit.cli import main as cli_main


@pytest.fixture
def review_cli(cli, monkeypatch):
    pytest.importorskip("sqlalchemy", reason="the review extra is not installed: pip install -e '.[review]'")
    # The lead registers the command in evalkit/cli/main.py; until then the tests register it.
    monkeypatch.setitem(cli_main.COMMANDS, "review", ("evalkit.cli.review:review", "Blind side-by-side human review of responses."))
    return cli


@pytest.fixture
def runs(review_cli, project, tmp_path):
    code, _, err = review_cli("compare", "base", "ft", "--config", project, "--output", tmp_path / "cmp")
    assert code == 0, err
    return tmp_path / "cmp" / "runs"


def test_create_invite_vote_results_export_close(review_cli, runs, tmp_path, monkeypatch):
    from human_review.store import default_url, open_store

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = review_cli("review", "create", "pilot", "--from", runs / "base", "--from", runs / "ft", "--task", "qa",
                                "--items", 10, "--overlap", 2, "--gold", 2, "--repeats", 1, "--seed", 3,
                                "--min-seconds", 0)
    assert code == 0, err
    assert "10 items x 1 candidate(s)" in out and (work / "pilot.sqlite").is_file()
    secret = out.split("makes a new one): ")[1].split()[0]
    code, out, _ = review_cli("review", "invite", "pilot", "ann")
    assert code == 0 and out.startswith("http://127.0.0.1:8501/?invite=")
    review_cli("review", "invite", "pilot", "bob")

    store = open_store(default_url("pilot"))
    study = store.study("pilot")
    assert store.is_admin(study, secret)
    for name in ("ann", "bob"):
        rater = store.rater_by_name(study, name)
        while (view := store.next_assignment(study, rater.id)) is not None:
            store.record(study, rater.id, view.public_id, view.seq, "left", seconds=6.0)

    code, out, err = review_cli("review", "results", "pilot", "--resamples", 100, "--output", "res")
    assert code == 0, err
    assert "## Win rates" in out and "| base | base |" in out
    result = json.loads((work / "res" / "pilot.results.json").read_text())
    assert result["summary"]["answers"] == {"pair": 20, "gold": 4, "repeat": 2}
    code, out, _ = review_cli("review", "results", "pilot", "--resamples", 0, "--blind", "--output", "res")
    assert "candidate 1 vs base" in out
    code, _, err = review_cli("review", "results", "pilot", "--resamples", 0, "--exclude-rater", "bob", "--output", "res")
    assert code == 0, err
    excl = json.loads((work / "res" / "pilot.results.json").read_text())
    assert excl["summary"]["excluded_raters"] == ["bob"] and excl["summary"]["raters"] == 1
    assert excl["summary"]["answers"] == {"pair": 10, "gold": 2, "repeat": 1}
    code, _, err = review_cli("review", "results", "pilot", "--exclude-rater", "zed")
    assert code == 2 and "no such rater" in err

    code, out, _ = review_cli("review", "export", "pilot", "--output", "exp")
    assert code == 0
    assert {p.name for p in (work / "exp").iterdir()} == {"pilot.votes.csv", "pilot.votes.json", "pilot.pairs.jsonl"}

    code, out, _ = review_cli("review", "admin-secret", "pilot")
    assert code == 0 and store.is_admin(study, out.strip())
    assert review_cli("review", "close", "pilot")[0] == 0
    assert store.study("pilot").status == "closed"


def test_user_errors_exit_2(review_cli, runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = review_cli("review", "results", "nothing-here")
    assert code == 2 and "create the study first" in err
    args = ("review", "create", "s1", "--from", runs / "base", "--from", runs / "ft", "--task", "qa")
    assert review_cli(*args)[0] == 0
    code, _, err = review_cli(*args)
    assert code == 2 and "already exists" in err
    code, _, err = review_cli("review", "create", "bad name!", "--from", runs / "base", "--from", runs / "ft")
    assert code == 2 and "study name" in err
    code, _, err = review_cli("review", "create", "s2", "--from", runs / "base", "--from", runs / "ft", "--base", "zzz")
    assert code == 2 and "--base" in err


def test_db_from_the_environment_and_passwords_never_printed(review_cli, runs, tmp_path, monkeypatch):
    from evalkit.cli.review import _masked

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_REVIEW_DB", f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    code, out, err = review_cli("review", "create", "envdb", "--from", runs / "base", "--from", runs / "ft", "--task", "qa")
    assert code == 0, err
    assert (tmp_path / "elsewhere.sqlite").is_file() and not (tmp_path / "envdb.sqlite").exists()
    assert review_cli("review", "invite", "envdb", "ann")[0] == 0  # found through the variable too
    code, out, _ = review_cli("review", "invite", "envdb", "bob", "--once", "--expires", 2)
    assert code == 0 and "invite=" in out
    assert review_cli("review", "revoke", "envdb", "bob")[0] == 0
    code, _, err = review_cli("review", "revoke", "envdb", "nobody")
    assert code == 2 and "no rater" in err
    masked = _masked("postgresql+psycopg://ann:hunter2-secret@db.example/reviews")
    assert "hunter2-secret" not in masked and masked.startswith("postgresql+psycopg://ann:***@db.example")


def test_serve_builds_a_loopback_streamlit_command():
    from human_review.server import APP, ENV_DB, ENV_STUDY, streamlit_command

    argv, env = streamlit_command("s", "sqlite:////tmp/s.sqlite", port=9999)
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4] == str(APP)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--client.showErrorDetails") + 1] == "none"
    assert env[ENV_STUDY] == "s" and env[ENV_DB] == "sqlite:////tmp/s.sqlite"
    assert "s.sqlite" not in " ".join(argv)  # the database travels in the environment only


def test_imports_stay_light():
    pytest.importorskip("sqlalchemy", reason="the review extra is not installed: pip install -e '.[review]'")
    code = (
        "import sys, evalkit.cli.review, human_review.store, human_review.analysis, human_review.build, "
        "human_review.export, human_review.admin, human_review.server, evalkit.report.plots\n"
        "print(','.join(m for m in ('streamlit', 'matplotlib', 'sklearn', 'scipy', 'sqlalchemy.orm') if m in sys.modules))\n"
        "import evalkit.cli.review as r\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "streamlit" not in out and "matplotlib" not in out and "sklearn" not in out


def test_only_the_app_imports_streamlit():
    import re
    from pathlib import Path

    import human_review

    pattern = re.compile(r"^\s*(import|from)\s+streamlit\b", re.MULTILINE)
    importers = [p.name for p in Path(human_review.__file__).parent.glob("*.py") if pattern.search(p.read_text())]
    assert importers == ["app.py"]
