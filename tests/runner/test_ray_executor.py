"""``executor: {kind: ray}`` on a local Ray cluster of two CPUs: the same answers as one
process, stored in the driver's cache (a later run is all cache hits)."""

from __future__ import annotations

import pytest

from evalkit.config import load_project
from evalkit.runner.executor import RayBackend
from evalkit.runner.run import RunOptions, run_models
from conftest import make_project

VOLATILE = ("latency_s",)  # wall-clock time differs between any two runs


def _run(config, model="ft"):
    project = load_project(config)
    return project, run_models(project, [model], RunOptions(limit=6))[0]


def _samples(run):
    return [{k: v for k, v in s.items() if k not in VOLATILE} for s in run.samples]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="executor: ray needs ray (pip install 'evalkit[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_workers_answer_as_one_process_and_fill_the_same_cache(tmp_path, local_ray):
    single = make_project(tmp_path / "single")
    sharded = make_project(tmp_path / "sharded")
    with sharded.open("a") as f:
        f.write("executor: {kind: ray, workers: 2, chunks_per_worker: 2}\n")
    _, expected = _run(single)
    project, got = _run(sharded)
    assert isinstance(project._backends["ft"], RayBackend)
    assert got.identity == expected.identity
    assert _samples(got) == _samples(expected)
    assert [t.metrics for t in got.tasks] == [t.metrics for t in expected.tasks]
    assert sum(t.requests for t in got.tasks) > 0 and sum(t.cache_hits for t in got.tasks) == 0

    sharded.write_text(sharded.read_text().replace("executor: {kind: ray, workers: 2, chunks_per_worker: 2}\n", ""))
    _, again = _run(sharded)  # in one process now: everything the workers answered is cached
    assert all(t.cache_hits == t.requests for t in again.tasks if t.status == "ok")
    assert _samples(again) == _samples(expected)


def test_unknown_executor_keys_are_refused(tmp_path):
    from evalkit.errors import ConfigError

    config = make_project(tmp_path / "p")
    with config.open("a") as f:
        f.write("executor: {kind: ray, worker: 2}\n")
    with pytest.raises(ConfigError, match="worker"):
        load_project(config)


def test_ray_without_the_package_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    import sys

    from evalkit.errors import MissingExtra

    config = make_project(tmp_path / "p")
    with config.open("a") as f:
        f.write("executor: {kind: ray}\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(MissingExtra, match=r"evalkit\[ray\]"):
        _run(config)


def test_the_wrapper_answers_for_its_backend_without_starting_ray(tmp_path):
    from evalkit.backends.base import Backend

    class Local(Backend):
        name = "fake"

        def identity(self):
            return {"m": 1}

        def submit(self, requests):
            return iter(())

        def compare_warnings(self, base):
            return [f"vs {type(base).__name__}"]

        def run_info(self):
            return {"batch_size": 3}

    project = load_project(make_project(tmp_path / "p"))
    a, b = RayBackend(Local(), project, "ft", None), RayBackend(Local(), project, "base", None)
    assert a.identity() == {"m": 1} and a.name == "fake" and a.run_info() == {"batch_size": 3}
    assert a.compare_warnings(b) == ["vs Local"]  # the driver's copies compared, not the wrappers
    assert list(a.submit([])) == []
