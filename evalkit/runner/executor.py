"""``executor: {kind: ray}``: a run's requests sharded over Ray workers.

The driver keeps everything that is policy: it plans the tasks, looks every request up in
its cache, and stores each answer as it comes back (``answer._Sink``), so a killed run keeps
what it was told and resumes from the cache as a single-process run does; progress and cost
are counted where the answers arrive. Only the cache misses travel: each worker (a Ray actor)
loads the project's config once, builds the configured backend once, and answers the chunks
it is handed. The model's identity (its cache key) is computed in the driver from files, so
the driver never loads weights.

Ray is an optional extra (``pip install 'evalkit[ray]'``), imported only here and only when
a run uses it. Locally ``ray.init()`` starts a cluster of ``workers`` CPUs; with ``address``
the workers run on an existing cluster, which must see the config folder and data at the
same paths (a shared file system, or Ray's ``runtime_env`` working_dir).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from evalkit.backends.base import Backend, Request


class _Worker:
    """A Ray actor: one backend, built once from the project's config."""

    def __init__(self, config_path: str, trust_code: bool, model: str, use_cache: bool):
        from evalkit.config import load_project

        project = load_project(config_path, trust_code=trust_code)
        project.use_cache = use_cache
        self.backend = project.backend(model)

    def answer(self, requests: list[Request]) -> list[tuple[int, Any]]:
        return list(self.backend.submit(requests))

    def close(self) -> None:
        self.backend.close()


class RayBackend(Backend):
    """The configured backend, its requests answered by Ray workers. Everything but
    ``submit`` (name, supports, identity, warnings) is the driver's own copy's."""

    preferred_chunk_size = 10**9  # every miss at once: the shards are cut here

    def __init__(self, local: Backend, project, model: str, settings):
        self.local, self.project, self.model, self.settings = local, project, model, settings
        self.name = local.name
        self.supports = local.supports
        self._actors: list | None = None

    def identity(self) -> dict[str, Any]:
        return self.local.identity()

    def compare_warnings(self, base: Backend) -> list[str]:  # defined on Backend: __getattr__ would not see it
        return self.local.compare_warnings(getattr(base, "local", base))

    def __getattr__(self, attr: str):  # compare_warnings, run_info and the like: the driver's copy
        if attr == "local":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(attr)
        return getattr(self.local, attr)

    def _start(self):
        import ray

        if not ray.is_initialized():
            if self.settings.address:
                ray.init(address=self.settings.address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.settings.workers, include_dashboard=False, log_to_driver=False)
        if self._actors is None:
            actor = ray.remote(num_cpus=1, num_gpus=self.settings.gpus_per_worker)(_Worker)
            # the config's own trust_code: a --trust-code given to the driver does not reach the workers
            args = (str(self.project.path), self.project.file.trust_code, self.model, self.project.use_cache)
            self._actors = [actor.remote(*args) for _ in range(self.settings.workers)]
        return ray

    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Any]]:
        """(index, outcome) as each chunk comes back. Chunks are a few per worker so that
        answers reach the driver's cache (and the progress bar) while the rest are worked on."""
        if not requests:
            return
        ray = self._start()
        n_chunks = max(1, min(len(requests), self.settings.workers * self.settings.chunks_per_worker))
        bounds = [round(i * len(requests) / n_chunks) for i in range(n_chunks + 1)]
        chunks = [(bounds[i], list(requests[bounds[i]:bounds[i + 1]])) for i in range(n_chunks)]
        idle, running = list(self._actors), {}
        try:
            while chunks or running:
                while chunks and idle:
                    start, reqs = chunks.pop(0)
                    actor = idle.pop()
                    running[actor.answer.remote(reqs)] = (actor, start)
                done, _ = ray.wait(list(running), num_returns=1)
                actor, start = running.pop(done[0])
                idle.append(actor)
                try:
                    answered = ray.get(done[0])
                except Exception as exc:  # noqa: BLE001 - a worker that cannot build or run the backend
                    from evalkit.errors import FatalBackendError

                    first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                    raise FatalBackendError(f"model '{self.model}': a Ray worker failed: {first}") from None
                for i, out in answered:
                    yield start + i, out
        finally:
            for ref in running:  # stopped early (Ctrl-C, an error): what is in flight is dropped
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._actors:
            import ray

            for a in self._actors:
                ray.kill(a)
            self._actors = None
        self.local.close()


def with_executor(project, model: str, backend: Backend) -> Backend:
    """``backend`` itself, or wrapped so that its requests run on the configured executor."""
    settings = project.file.executor
    if settings is None or settings.kind == "local" or isinstance(backend, RayBackend):
        return backend
    try:
        import ray  # noqa: F401
    except ImportError:
        from evalkit.errors import MissingExtra

        raise MissingExtra("ray", "ray") from None
    wrapped = RayBackend(backend, project, model, settings)
    project._backends[model] = wrapped  # built once per project, closed (workers too) with the others
    return wrapped
