"""Where `evalkit run` and `evalkit compare` write by default, and the `latest` links."""

from __future__ import annotations

import os

from conftest import make_project

from evalkit.cli import common


def test_run_writes_runs_model_where_compare_reads_it(cli, tmp_path):
    project = make_project(tmp_path / "p")
    code, out, err = cli("run", "base", "--config", project, "--suite", "forgetting", cwd=tmp_path / "p")
    assert code == 0, err
    runs = tmp_path / "p" / "runs"
    assert (runs / "base" / "results.json").exists() and "wrote runs/base" in out
    assert os.readlink(runs / "latest") == "base"  # relative: the folder can move
    # the README's next step: compare against the stored run, through the link
    code, out, err = cli("compare", "runs/latest", "ft", "--config", project, "--suite", "forgetting", "-q", cwd=tmp_path / "p")
    assert code == 0, err
    [folder] = [p for p in (tmp_path / "p" / "evalkit-runs").iterdir() if p.name != "latest"]
    assert folder.name.endswith("-base-vs-ft")
    assert os.readlink(tmp_path / "p" / "evalkit-runs" / "latest") == folder.name
    assert f"wrote evalkit-runs/{folder.name}/compare.json" in out


def test_latest_never_replaces_a_folder_of_the_users(tmp_path):
    (tmp_path / "latest").mkdir()
    (tmp_path / "a").mkdir()
    assert common.link_latest(tmp_path / "a") is None and (tmp_path / "latest").is_dir()


def test_latest_moves_to_the_newest(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        assert common.link_latest(tmp_path / name) == tmp_path / "latest"
    assert os.readlink(tmp_path / "latest") == "b" and not [p for p in tmp_path.iterdir() if p.name.startswith(".latest")]


def test_no_links_allowed_is_no_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", refuse)
    (tmp_path / "a").mkdir()
    assert common.link_latest(tmp_path / "a") is None and not os.path.lexists(tmp_path / "latest")
