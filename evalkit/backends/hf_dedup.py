"""Shared-prefix reuse inside one forward pass, without changing a single bit of the result.

The choices of a multiple-choice question share their context, so the rows of a batch share
prefixes. In a causal LM, a position's hidden state depends only on the tokens up to it, so
positions with the same prefix (same tokens from the start of their row) carry identical
values in every layer. Position-wise modules (linear layers, norms, dense MLPs: most of the
compute) are therefore run once per distinct prefix: forward hooks gather the distinct
positions before such a module and scatter its output back to every position. Attention,
the only cross-position operation, still sees the full padded batch, so its kernel runs
exactly as in an ordinary forward pass.

Why not reuse a key/value cache across choices instead? Measured: on CPU, scoring a
continuation with a cached context changes log-likelihoods by up to 1e-4 (the attention
kernel and the matrix shapes differ), and lm-eval agreement to 1e-6 would be lost. Running a
position-wise module on fewer rows is bitwise identical on x86 MKL once the matrix has at
least 12 rows (below that BLAS picks other kernels), so the gathered rows are padded to 16.
Other platforms may not promise this: every model's first deduplicated batch is also run
without deduplication and compared bit for bit; on any difference deduplication is switched
off for that model (and the results of the plain pass are used).

Padding positions and, after the last attention layer, positions that are not scored carry
values nobody reads: they all share one slot.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("evalkit.hf")

MIN_ROWS = 16
WORTH_IT = 0.95  # deduplicate only when it removes at least 5 % of the positions (measured: worth it from there)


def _is_positionwise(module) -> bool:
    from torch import nn

    name = type(module).__name__
    if isinstance(module, (nn.Linear, nn.LayerNorm)) or name == "Conv1D" or name.endswith(("RMSNorm", "LayerNorm")):
        return True
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer

        if isinstance(module, BaseTunerLayer):  # a LoRA layer around a linear one
            return True
    except ImportError:
        pass
    # dense MLPs only: every part position-wise
    return name.endswith("MLP") and all(_is_positionwise(c) or _is_elementwise(c) for c in module.children())


def _is_elementwise(module) -> bool:
    from torch import nn

    mod = type(module).__module__
    return isinstance(module, (nn.Dropout, nn.Identity)) or mod.startswith(("torch.nn.modules.activation", "transformers.activations"))


def _layers(model):
    """The decoder blocks: the longest ModuleList of identical modules."""
    from torch import nn

    best = None
    for m in model.modules():
        uniform = isinstance(m, nn.ModuleList) and len(m) and len({type(x) for x in m}) == 1
        if uniform and (best is None or len(m) > len(best)):
            best = m
    return best


class PrefixDedup:
    """Hooks on one model. ``plan(batch)`` before a forward, ``clear()`` after."""

    def __init__(self):
        self._hooked: set[int] = set()
        self._state: tuple | None = None
        self._tail = False  # past the last attention layer: only scored positions matter
        self.verified: dict[Any, bool] = {}  # adapter -> deduplication proved exact

    def install(self, model) -> None:
        """Hook the outermost position-wise modules (again after peft injected layers)."""
        hooked_names: list[str] = []
        for name, m in model.named_modules():
            if any(name.startswith(h + ".") for h in hooked_names):
                continue
            if _is_positionwise(m):
                hooked_names.append(name)
                if id(m) not in self._hooked:
                    self._hooked.add(id(m))
                    m.register_forward_pre_hook(self._pre)
                    m.register_forward_hook(self._post)
        layers = _layers(model)
        attn = None
        if layers is not None:
            attn = next((c for n, c in layers[-1].named_children() if "attn" in n.lower() or "attention" in type(c).__name__.lower()), None)
        if attn is not None and id(attn) not in self._hooked:
            self._hooked.add(id(attn))
            attn.register_forward_pre_hook(self._attn_start)
            attn.register_forward_hook(self._attn_end)

    # --- plans ---------------------------------------------------------------------------

    def plan(self, rows: list[list[int]], width: int, scored_from: list[int]) -> bool:
        """Map the positions of a right-padded batch to distinct-prefix slots; False when
        that would not save enough to pay for the gathers."""
        import numpy as np
        import torch

        n = len(rows)
        lengths = np.array([len(r) for r in rows])
        real = np.arange(width)[None, :] < lengths[:, None]
        # Slot of each position = id of its prefix. In lexicographic order, the row sharing the
        # longest prefix with a row is the one just before it: copy that many slots from it.
        slot = np.empty((n, width), dtype=np.int64)
        next_id = 0
        prev = None
        for b in sorted(range(n), key=rows.__getitem__):
            row = rows[b]
            common = 0
            if prev is not None:
                other = rows[prev]
                m = min(len(row), len(other))
                diff = np.flatnonzero(np.asarray(row[:m]) != np.asarray(other[:m]))
                common = int(diff[0]) if len(diff) else m
                slot[b, :common] = slot[prev, :common]
            fresh = len(row) - common
            slot[b, common : len(row)] = np.arange(next_id, next_id + fresh)
            next_id += fresh
            prev = b
        slot[~real] = next_id  # padding: nobody reads it, one slot for all
        flat_slot = slot.reshape(-1)
        uniq, rep, inv = np.unique(flat_slot, return_index=True, return_inverse=True)
        if len(uniq) > WORTH_IT * n * width:
            self._state = None
            return False
        # After the last attention layer a position counts only where it is scored.
        wanted = real & (np.arange(width)[None, :] >= np.asarray(scored_from)[:, None])
        tail_slot = np.where(wanted, slot, -1).reshape(-1)
        _, tail_rep, tail_inv = np.unique(tail_slot, return_index=True, return_inverse=True)

        def padded(r):
            r = np.asarray(r, dtype=np.int64)
            if len(r) < MIN_ROWS:
                r = np.concatenate([r, np.full(MIN_ROWS - len(r), r[0])])
            return torch.from_numpy(r)

        self._state = (n, width, padded(rep), torch.from_numpy(inv.reshape(-1)), padded(tail_rep), torch.from_numpy(tail_inv.reshape(-1)))
        self._tail = False
        return True

    def clear(self) -> None:
        self._state = None
        self._tail = False

    # --- hooks ---------------------------------------------------------------------------

    def _maps(self):
        st = self._state
        return (st[4], st[5]) if self._tail else (st[2], st[3])

    def _pre(self, module, args):
        st = self._state
        if st is None or not args or not hasattr(args[0], "shape"):
            return None
        x = args[0]
        if x.dim() < 3 or x.shape[0] != st[0] or x.shape[1] != st[1]:
            return None
        rep, _ = self._maps()
        module._evalkit_dedup = True
        flat = x.reshape(st[0] * st[1], *x.shape[2:])
        return (flat.index_select(0, rep.to(x.device)).unsqueeze(0), *args[1:])

    def _post(self, module, args, out):
        if not getattr(module, "_evalkit_dedup", False):
            return None
        module._evalkit_dedup = False
        st = self._state
        _, inv = self._maps()
        return out[0].index_select(0, inv.to(out.device)).reshape(st[0], st[1], *out.shape[2:])

    def _attn_start(self, module, args):
        self._tail = False

    def _attn_end(self, module, args, out):
        if self._state is not None:
            self._tail = True
