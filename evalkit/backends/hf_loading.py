"""Where a Hugging Face model comes from, what pins it, and loading it once per process.

A *source* is a local folder or a hub id; its fingerprint goes into cache keys:
- a local folder: the content of its small files (config, tokenizer, adapter config) and of
  weight files up to 64 MiB, and the names, sizes and modification times of larger weights
  (hashing tens of GB on every run would cost more than the evaluation);
- a hub id: the commit sha of the snapshot in the local Hugging Face cache, else the sha the
  hub resolves the revision to; the model is then loaded at exactly that commit.

Base weights are shared: :func:`acquire` keeps one loaded model per (source, dtype, device)
for the whole process, and adapters are added to it with peft and switched on and off per
forward pass, so a base and its LoRA fine-tune cost the memory of one model. A released model
stays loaded until a different one is needed (at most one idle model), so ``evalkit compare
base ft`` loads the weights once although it runs the two models one after the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError

log = logging.getLogger("evalkit.hf")

CONTENT_HASH_LIMIT = 64 * 2**20
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5", ".ckpt")
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Source:
    """A resolved model or adapter location: ``path`` is what from_pretrained gets."""

    path: str  # a local folder, or the hub id
    revision: str | None  # the pinned commit for a hub id; None for a local folder
    fingerprint: str

    @property
    def is_local(self) -> bool:
        return self.revision is None

    def record(self) -> dict[str, Any]:
        """What identifies it in cache keys and results: no machine-specific path."""
        name = Path(self.path).name if self.is_local else self.path
        return {"name": name, "revision": self.revision, "fingerprint": self.fingerprint}


def _file_digest(path: Path) -> str:
    st = path.stat()
    small = st.st_size <= CONTENT_HASH_LIMIT or not path.name.endswith(WEIGHT_SUFFIXES)
    if small:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return "sha256:" + h.hexdigest()
    return f"stat:{st.st_size}:{st.st_mtime_ns}"


def folder_fingerprint(folder: Path) -> str:
    """A hash of a model or adapter folder (see the module docstring for what it covers)."""
    h = hashlib.sha256(b"evalkit-hf-folder-v1\n")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise ConfigError(f"'{folder}' is an empty folder, not a model")
    for p in files:
        h.update(f"{p.relative_to(folder).as_posix()}\0{_file_digest(p)}\n".encode())
    return h.hexdigest()


def _hub_commit(repo_id: str, revision: str | None, what: str) -> str:
    """The commit sha a hub revision points to: from the local cache when the snapshot is
    there, else asked of the hub; a ConfigError saying what to do when neither works."""
    if revision and _SHA.match(revision):
        return revision
    try:
        from huggingface_hub import snapshot_download

        snap = snapshot_download(repo_id, revision=revision, local_files_only=True)
        return Path(snap).name
    except Exception as exc:  # noqa: BLE001 - not in the local cache: ask the hub below
        log.debug("%s %s not in the local cache: %s", what, repo_id, type(exc).__name__)
    try:
        from huggingface_hub import HfApi

        sha = HfApi().model_info(repo_id, revision=revision, timeout=15).sha
        if sha:
            return sha
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, no access
        reason = type(exc).__name__
    else:
        reason = "no commit sha"
    raise ConfigError(
        f"{what} '{repo_id}' is not in the local Hugging Face cache and its revision cannot be resolved "
        f"({reason}); download it first (huggingface-cli download {repo_id}) or give a local folder"
    )


def resolve_source(spec: str, root: Path, revision: str | None = None, what: str = "model") -> Source:
    """A local folder (relative to the config's folder) or a hub id, pinned."""
    local = (root / spec).expanduser()
    if local.is_dir():
        local = local.resolve()
        return Source(str(local), None, folder_fingerprint(local))
    first = spec.split("/")[0]
    looks_local = spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec or (first != spec and (root / first).is_dir())
    if looks_local:
        raise ConfigError(f"{what} folder not found: {local}")
    return Source(spec, _hub_commit(spec, revision, what), "")


def read_model_config(source: Source) -> dict[str, Any]:
    """config.json without loading the model (a local folder, or the cached snapshot)."""
    try:
        if source.is_local:
            return json.loads((Path(source.path) / "config.json").read_text(encoding="utf-8"))
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(source.path, "config.json", revision=source.revision)).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"'{source.path}' has no config.json: not a Hugging Face model folder") from None
    except Exception as exc:  # noqa: BLE001 - unreadable: loading will say more
        log.debug("config.json of %s unreadable: %s", source.path, exc)
        return {}


def resolve_dtype(choice: str, model_config: dict[str, Any]) -> str:
    if choice != "auto":
        return choice
    found = model_config.get("dtype") or model_config.get("torch_dtype") or "float32"
    return str(found).removeprefix("torch.")


DEVICE_MEMO = "hf_device.json"


def resolve_device(choice: str, cache_dir: Path | None = None) -> str:
    """``choice``, or for ``auto`` the device torch finds. The answer for ``auto`` is kept in
    ``cache_dir`` per host, visible devices and torch version, so that a fully cached run
    identifies its model (the device kind is part of every cache key) without importing
    torch; :func:`check_device` holds the memo to what torch finds when a model loads."""
    if choice != "auto":
        return choice
    memo = _read_device_memo(cache_dir)
    found = memo.get(_device_key())
    if found is None:
        found = probe_device()
        _write_device_memo(cache_dir, {**memo, _device_key(): found})
    return found


def check_device(choice: str, used: str, cache_dir: Path | None) -> str | None:
    """Why the ``auto`` device an identity was built with is not what torch finds now (the
    memo is corrected), or None when it is."""
    if choice != "auto":
        return None
    found = probe_device()
    if found == used:
        return None
    _write_device_memo(cache_dir, {**_read_device_memo(cache_dir), _device_key(): found})
    return f"device 'auto' was recorded as {used} on this machine but torch now finds {found}; run again"


def _device_key() -> str:
    import socket
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "-"
    visible = ",".join(os.environ.get(v, "*") for v in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"))
    return f"{socket.gethostname()}|{visible}|torch {torch_version}"


def _read_device_memo(cache_dir: Path | None) -> dict[str, str]:
    if cache_dir is None:
        return {}
    try:
        data = json.loads((Path(cache_dir) / DEVICE_MEMO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if v in ("cuda", "mps", "cpu")} if isinstance(data, dict) else {}


def _write_device_memo(cache_dir: Path | None, memo: dict[str, str]) -> None:
    if cache_dir is None:  # --no-cache: nothing may be written
        return
    path = Path(cache_dir) / DEVICE_MEMO
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # runs sharing a cache
        tmp.write_text(json.dumps(memo), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only cache folder: probe again next time
        log.debug("cannot keep the device in %s: %s", path, exc)


def probe_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def tokenizer_source(model: Source, adapter: Source | None) -> Source:
    """An adapter folder that carries its own tokenizer (added tokens, a chat template) wins."""
    if adapter is not None and adapter.is_local and (Path(adapter.path) / "tokenizer_config.json").is_file():
        return adapter
    return model


def load_tokenizer(source: Source):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source.path, revision=source.revision)
    if tok.pad_token_id is None:  # as lm-eval's configure_pad_token: unk, else eos
        tok.pad_token_id = tok.unk_token_id if tok.unk_token_id is not None else tok.eos_token_id
    return tok


# --- one loaded base model per (source, dtype, device), adapters switched per forward ----------


@dataclass
class LoadedBase:
    key: tuple
    model: Any  # the transformers model; LoRA layers are injected into it in place
    peft: Any = None  # the PeftModel wrapping it, once an adapter was added
    adapters: dict[str, str] = field(default_factory=dict)  # adapter fingerprint -> peft name
    users: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    dedup: Any = None  # the PrefixDedup hooks on this model (hf_dedup), made on first use
    tokenizers: dict[str, str] = field(default_factory=dict)  # model entry -> tokenizer fingerprint
    _active: str | None = None

    def note_tokenizer(self, model_name: str, fingerprint: str) -> None:
        """Warn when two models on these weights tokenize differently (an adapter that brings
        its own tokenizer or chat template): the same prompt is then not the same tokens."""
        others = {n for n, f in self.tokenizers.items() if f != fingerprint and n != model_name}
        self.tokenizers[model_name] = fingerprint
        if others:
            warnings.warn(
                f"'{model_name}' and '{min(others)}' share base weights but not their tokenizer or chat template",
                stacklevel=3,
            )

    def add_adapter(self, adapter: Source) -> str:
        key = adapter.fingerprint or f"{adapter.path}@{adapter.revision}"
        with self.lock:
            if key in self.adapters:
                return self.adapters[key]
            name = f"a{len(self.adapters)}"
            from peft import PeftModel

            with quiet_transformers():
                if self.peft is None:
                    self.peft = PeftModel.from_pretrained(self.model, adapter.path, adapter_name=name, revision=adapter.revision, is_trainable=False)
                else:
                    self.peft.load_adapter(adapter.path, adapter_name=name, revision=adapter.revision, is_trainable=False)
            self.peft.eval()
            self._active = None  # set_adapter again before the next forward
            self.adapters[key] = name
            _warn_if_inert(self.model, name, adapter)
            return name

    @contextmanager
    def using(self, adapter_name: str | None):
        """The model with exactly this adapter active (None: the base weights alone)."""
        with self.lock:
            if self.peft is None:
                yield self.model
            elif adapter_name is None:
                with self.peft.disable_adapter():
                    yield self.model
            else:
                if self._active != adapter_name:
                    self.peft.set_adapter(adapter_name)
                    self._active = adapter_name
                yield self.model


def _warn_if_inert(model, name: str, adapter: Source) -> None:
    """LoRA's B matrices start at zero: an adapter saved before any training changes nothing."""
    b = [p for n, p in model.named_parameters() if ".lora_B." in n and n.split(".lora_B.")[1].startswith(name + ".")]
    if b and all(not bool(p.detach().any()) for p in b):
        warnings.warn(
            f"adapter '{adapter.record()['name']}' changes nothing: all its LoRA B weights are zero "
            "(an untrained adapter?); the fine-tune will answer exactly like its base",
            stacklevel=2,
        )


_LOCK = threading.Lock()
_LOADED: dict[tuple, LoadedBase] = {}
LOAD_COUNT = {"n": 0}  # models loaded from disk in this process (tests read it)


@contextmanager
def quiet_transformers():
    """No per-file progress bars or deprecation chatter from transformers and peft while
    loading: evalkit shows its own progress."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _load(source: Source, dtype: str, device: str):
    import torch
    from transformers import AutoModelForCausalLM

    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(source.path, revision=source.revision, dtype=getattr(torch, dtype))
    model.to(device)
    model.eval()
    LOAD_COUNT["n"] += 1
    return model


def acquire(source: Source, dtype: str, device: str) -> LoadedBase:
    key = (source.path, source.revision, source.fingerprint, dtype, device)
    with _LOCK:
        entry = _LOADED.get(key)
        if entry is None:
            # Keep peak memory at one model: drop idle models before loading another.
            for k in [k for k, e in _LOADED.items() if e.users == 0]:
                del _LOADED[k]
            _free_accelerator_memory()
            entry = _LOADED[key] = LoadedBase(key, _load(source, dtype, device))
        entry.users += 1
        return entry


def release(entry: LoadedBase) -> None:
    with _LOCK:
        entry.users = max(0, entry.users - 1)


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception as exc:  # noqa: BLE001 - best effort
        log.debug("could not empty the CUDA cache: %s", exc)


def clear_loaded() -> None:
    """Forget every loaded model (tests; a long-lived process that wants its memory back)."""
    with _LOCK:
        _LOADED.clear()
    _free_accelerator_memory()
