"""The review store on a real PostgreSQL server.

Uses $EVALKIT_TEST_POSTGRES_URL (an SQLAlchemy URL) when set; otherwise starts a throwaway
cluster with initdb / pg_ctl (from /usr/lib/postgresql/*/bin or PATH) on a free loopback
port in a temporary folder, as the 'postgres' user when running as root (initdb refuses
root), and skips, saying why, only when no server can be started.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from review_helpers import check_counts, hammer, new_study, rate_all

from human_review.server import free_port


def _driver() -> str | None:
    for module, dialect in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module):
            return dialect
    return None


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run(cmd, as_user):
    prefix = ["runuser", "-u", as_user, "--"] if as_user else []
    return subprocess.run(prefix + [str(c) for c in cmd], capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def pg_url():
    if os.environ.get("EVALKIT_TEST_POSTGRES_URL"):
        yield os.environ["EVALKIT_TEST_POSTGRES_URL"]
        return
    dialect = _driver()
    if dialect is None:
        pytest.skip("no PostgreSQL driver: pip install 'psycopg[binary]' (or set EVALKIT_TEST_POSTGRES_URL)")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install -y postgresql, or set EVALKIT_TEST_POSTGRES_URL")
    as_user = None
    root = Path(tempfile.mkdtemp(prefix="evalkit-pg-"))
    if os.geteuid() == 0:  # initdb will not run as root: run the cluster as the 'postgres' user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no 'postgres' user to run initdb as")
        if not shutil.which("runuser"):
            shutil.rmtree(root)
            pytest.skip("running as root and runuser is missing: cannot start PostgreSQL as the 'postgres' user")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = "postgres"
    data, log, port = root / "data", root / "server.log", free_port()
    try:
        init = _run([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], as_user)
        if init.returncode:
            pytest.skip(f"initdb failed, so no PostgreSQL server for this test: {init.stderr.strip()[-300:]}")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=120"
        start = _run([bindir / "pg_ctl", "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"], as_user)
        if start.returncode:
            tail = log.read_text()[-300:] if log.exists() else start.stderr
            pytest.skip(f"pg_ctl could not start a PostgreSQL server: {tail.strip()}")
        yield f"{dialect}://postgres@127.0.0.1:{port}/postgres"
        _run([bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], as_user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_flow_on_postgres(pg_url, tmp_path):
    name = f"pg-{uuid.uuid4().hex[:8]}"
    store, study, secret, _ = new_study(tmp_path, name, url=pg_url, n=8, overlap=2, gold=2, repeats=1)
    try:
        assert store.engine.dialect.name == "postgresql"
        assert store.is_admin(study, secret)
        ann, bob = (store.sign_in(study, store.invite(study, n)) for n in ("ann", "bob"))
        v = store.next_assignment(study, ann.id)
        assert store.record(study, ann.id, v.public_id, v.seq, "left", scores={"left": {"tone": 2}}, comment="ok")
        assert not store.record(study, ann.id, v.public_id, v.seq, "left")
        assert store.undo(study, ann.id, store.undo_target(study, ann.id))
        assert store.next_assignment(study, ann.id).public_id == v.public_id
        assert rate_all(store, study, ann, lambda v: "tie") == 11  # 8 items, 2 gold, 1 repeat
        assert rate_all(store, study, bob, lambda v: "right") == 11
        data = store.data(study)
        assert len(data.answers) == 22 and data.rows == {"vote": 23, "undo": 1}
        from human_review.analysis import analyse

        assert analyse(data, reveal=True, n_boot=50)["win_rates"][0]["items"] == 8
    finally:
        store.dispose()


def test_concurrent_raters_on_postgres(pg_url, tmp_path):
    raters_n, votes = 20, 200  # the load: 20 raters x 200 votes
    store, study, _, _ = new_study(tmp_path, f"pg-{uuid.uuid4().hex[:8]}", url=pg_url, n=raters_n * votes // 2 + 50, overlap=2)
    try:
        raters = [store.sign_in(study, store.invite(study, f"rater{i:02d}")) for i in range(raters_n)]
        tallies = hammer(store, study, raters, votes)
        check_counts(store, study, tallies, votes, overlap=2)
    finally:
        store.dispose()
