"""``backend: ngram``: the embedded reference model (see ``ngram_lm.py``).

Trained from the text files named in the config, saved under the cache directory by a hash of
its inputs and reused; a model with ``init: OTHER`` starts from OTHER and continues on its own
``train`` files with ``weight``. Construction is cheap: training or loading happens on the
first request, so a fully cached run never touches the model. Without a cache directory
(``--no-cache``) models are trained in memory and nothing is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from evalkit.backends.base import (
    Backend,
    Generation,
    GenerateRequest,
    Loglikelihood,
    LoglikelihoodRequest,
    Outcome,
    Request,
    RequestKind,
    RollingLoglikelihood,
    RollingRequest,
)
from evalkit.config_base import ModelConfigBase
from evalkit.errors import ConfigError, DataError

log = logging.getLogger("evalkit.ngram")


class NgramConfig(ModelConfigBase):
    backend: Literal["ngram"] = "ngram"
    order: int = Field(5, ge=1, le=12, description="n-gram order (context of order-1 tokens)")
    train: list[Path] = Field(..., min_length=1, description="text files to train on (relative to the config)")
    init: str | None = Field(None, description="another ngram model to continue training from")
    weight: float = Field(1.0, gt=0, le=1e6, description="weight of this model's own train files")


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise DataError("training text not found", path=path) from None
    except IsADirectoryError:
        raise DataError("expected a text file, found a directory", path=path) from None


class NgramBackend(Backend):
    name = "ngram"
    supports = frozenset(RequestKind)
    Config = NgramConfig

    @classmethod
    def create(cls, config: NgramConfig, ctx) -> "NgramBackend":
        config = config.model_copy(update={"train": [ctx.root / p for p in config.train]})
        parent = None
        if config.init is not None:
            parent = ctx.backend_for(config.init)
            if not isinstance(parent, NgramBackend):
                raise ConfigError(f"model '{config.model}': init '{config.init}' is not an ngram model")
            if "order" not in config.model_fields_set:  # a continued model inherits its parent's order
                config = config.model_copy(update={"order": parent.config.order})
        return cls(config, cache_dir=ctx.cache_dir, parent=parent)

    def __init__(self, config: NgramConfig, *, cache_dir: Path | None, parent: "NgramBackend | None" = None):
        if parent is not None and parent.config.order != config.order:
            raise ConfigError(
                f"model '{config.model}' continues '{config.init}' but their orders differ "
                f"({config.order} vs {parent.config.order})"
            )
        self.config = config
        self.parent = parent
        self.cache_dir = cache_dir
        self._lm = None
        self._hash: str | None = None

    # The hash covers the training files' contents, weights, order and the parent's hash, so a
    # changed corpus gives a new model and new cache keys.
    def model_hash(self) -> str:
        if self._hash is None:
            h = hashlib.sha256()
            h.update(f"ngram-v1 order={self.config.order} weight={self.config.weight!r}\n".encode())
            if self.parent is not None:
                h.update(f"init={self.parent.model_hash()}\n".encode())
            for path in self.config.train:
                h.update(f"{_file_sha256(path)}\n".encode())
            self._hash = h.hexdigest()
        return self._hash

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model_hash": self.model_hash(), "order": self.config.order}

    def _model_path(self) -> Path | None:
        # .npz, never the .pkl.gz files that evalkit < format 2 wrote here: those are ignored.
        return None if self.cache_dir is None else self.cache_dir / "ngram" / f"{self.model_hash()[:24]}.npz"

    def lm(self):
        if self._lm is None:
            path = self._model_path()
            self._lm = self._load(path) if path is not None else None
            if self._lm is None:
                self._lm = self._train()
                if path is not None:
                    self._store(path)
        return self._lm

    def _train(self):
        from evalkit.backends.ngram_lm import KneserNeyLM

        texts = [p.read_text(encoding="utf-8") for p in self.config.train]
        if self.parent is None:
            return KneserNeyLM.train(texts, self.config.order)
        return self.parent.lm().continue_training(texts, self.config.weight)

    @staticmethod
    def _load(path: Path):
        from evalkit.backends.ngram_lm import KneserNeyLM, ModelFileError

        try:
            with open(path, "rb") as f:
                return KneserNeyLM.load(f)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ModelFileError) as exc:
            log.warning("evalkit: warning: %s: stored n-gram model is unusable (%s); training it again", path, exc)
            return None

    def _store(self, path: Path) -> None:
        """Write to a temp file of this process's own, then rename: concurrent runs on one
        cache never share a temp file, and a killed run never leaves half a model behind.
        A cache folder that cannot be written costs only the reuse, never the run."""
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Not mkstemp: its 0600 would hide the model from the other users of a shared cache;
            # O_EXCL on a name of our own gives the same safety with the umask's permissions.
            tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as f:
                self._lm.save(f)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            log.warning("evalkit: warning: %s: cannot store the trained n-gram model (%s); it is used from memory", path, exc.strerror or exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        lm = self.lm()
        for i, req in enumerate(requests):
            start = time.perf_counter()
            if isinstance(req, GenerateRequest):
                out: Outcome = self._generate(lm, req)
            elif isinstance(req, LoglikelihoodRequest):
                out = self._loglikelihood(lm, req)
            elif isinstance(req, RollingRequest):
                ids = lm.encode(req.text)
                lp = sum(lm.logprob(t, ids[:j]) for j, t in enumerate(ids))
                out = RollingLoglikelihood(logprob=lp, n_tokens=len(ids))
            else:  # pragma: no cover - the runner only sends the three kinds
                raise TypeError(f"unknown request {type(req).__name__}")
            yield i, _with_latency(out, time.perf_counter() - start)

    @staticmethod
    def _generate(lm, req: GenerateRequest) -> Generation:
        history = lm.encode(req.as_text())
        prompt_tokens = len(history)
        pieces: list[str] = []
        finish = "length"
        for _ in range(req.max_tokens):
            nxt = lm.greedy_next(history)
            if nxt == lm.eos_id:
                finish = "stop"
                break
            history.append(nxt)
            pieces.append(lm.vocab[nxt])
            text = "".join(pieces)
            cut = _first_stop(text, req.stop)
            if cut is not None:
                return Generation(text[:cut], prompt_tokens, len(pieces), "stop")
        return Generation("".join(pieces), prompt_tokens, len(pieces), finish)

    @staticmethod
    def _loglikelihood(lm, req: LoglikelihoodRequest) -> Loglikelihood:
        history = lm.encode(req.context)
        n_context = len(history)
        total, greedy = 0.0, True
        for tok in lm.encode(req.continuation):
            total += lm.logprob(tok, history)
            if greedy and lm.greedy_next(history) != tok:
                greedy = False
            history.append(tok)
        return Loglikelihood(total, greedy, len(history) - n_context, prompt_tokens=n_context)


def check_models(cache_dir: Path) -> dict[str, list[Path]]:
    """Stored models under ``cache_dir`` by state: ``ok``, ``damaged`` (trained again when
    next needed) and ``ignored`` (pickles from evalkit < format 2, never loaded)."""
    from evalkit.backends.ngram_lm import KneserNeyLM, ModelFileError

    found: dict[str, list[Path]] = {"ok": [], "damaged": [], "ignored": []}
    folder = cache_dir / "ngram"
    for path in sorted(folder.glob("*.pkl.gz")) + sorted(folder.glob("*.pkl")):
        found["ignored"].append(path)
    for path in sorted(folder.glob("*.npz")):
        try:
            with open(path, "rb") as f:
                KneserNeyLM.load(f)
            found["ok"].append(path)
        except (OSError, ModelFileError):
            found["damaged"].append(path)
    return found


def remove_models(cache_dir: Path) -> int:
    """Delete every stored model (and any temp file a killed run left); how many."""
    folder = cache_dir / "ngram"
    paths = [p for pattern in ("*.npz", "*.pkl.gz", "*.pkl", "*.tmp") for p in folder.glob(pattern)]
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    cuts = [text.find(s) for s in stops if s]
    cuts = [c for c in cuts if c >= 0]
    return min(cuts) if cuts else None


def _with_latency(out, seconds: float):
    from dataclasses import replace

    return replace(out, latency_s=seconds)
