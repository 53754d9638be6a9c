"""report.html's provenance: which models were compared (their weights and adapter
fingerprints, as the cache identifies them) and the dated list prices costs were taken from.

A base and its LoRA fine-tune can share a name and a backend; only the fingerprints tell them
apart, so the reader of a report can check that the right files were compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

API_BACKENDS = {"openai", "vllm", "http"}  # list prices apply to these; a local model has none


def model_info(name: str, run: Any | None, run_dir: Path | None) -> dict:
    """{model, backend, identity, config} from an in-memory RunResult or the run's results.json."""
    if run is not None:
        return {"model": name, "backend": run.backend, "identity": run.identity, "config": run.model_config}
    try:
        data = json.loads((run_dir / "results.json").read_text(encoding="utf-8")) if run_dir else {}
    except (OSError, ValueError):
        data = {}  # an older or partial run folder: the report still shows everything else
    return {"model": name, "backend": data.get("backend", "?"), "identity": data.get("identity") or {},
            "config": data.get("model_config") or {}}


def _fingerprints(identity: dict, esc: Callable) -> str:
    # Everything the cache keys the model by: hashes of weights and adapters, order, revision.
    parts = [f"{esc(str(k))}: <code>{esc(str(v))}</code>" for k, v in sorted(identity.items()) if k != "backend"]
    return "<br>".join(parts) or "-"


def _price(info: dict) -> str:
    from evalkit.backends.pricing import price_per_million

    cfg = info["config"]
    if info["backend"] not in API_BACKENDS or not cfg.get("model"):
        return "-"
    rate = price_per_million(str(cfg["model"]), cfg.get("prices"))
    return "unknown" if rate is None else f"${rate[0]:.2f} / ${rate[1]:.2f}"


def provenance_html(infos: list[dict], esc: Callable) -> str:
    from evalkit.backends.pricing import PRICES_AS_OF

    rows = "".join(
        f"<tr><td>{esc(i['model'])}</td><td>{esc(str(i['backend']))}</td><td>{esc(str(i['config'].get('model', '')))}</td>"
        f"<td>{_fingerprints(i['identity'], esc)}</td><td class=n>{_price(i)}</td></tr>"
        for i in infos
    )
    return (
        "<h3>Models</h3><table class=models><tr><th>name</th><th>backend</th><th>model</th><th>fingerprints</th>"
        f"<th>list price USD per 1M tokens in / out, as of {esc(PRICES_AS_OF)}</th></tr>{rows}</table>"
        f"<p class=muted>Prices are the providers' list prices on {esc(PRICES_AS_OF)} unless the config sets "
        "<code>prices:</code>; a local model has none (-).</p>"
    )
