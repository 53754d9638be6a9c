"""Writing a planned study: systems, items, responses, comparisons and the free pair slots."""

from __future__ import annotations

import time
from dataclasses import asdict

from human_review import assignment as rules
from human_review import schema as t


def _insert(conn, table, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return [r.id for r in conn.execute(stmt, rows)]


def write_plan(conn, name: str, plan) -> str:
    """Insert the plan inside the caller's transaction; returns the new admin secret."""
    import numpy as np

    secret, admin = rules.new_secret(), rules.new_token()
    settings = {**asdict(plan.options), "higher_is_better": plan.higher_is_better, "dropped": plan.dropped}
    study_id = _insert(conn, t.study, [{
        "name": name, "status": "open", "secret": secret, "admin_hash": rules.keyed_hash(secret, "admin", admin),
        "settings": settings, "created_at": time.time(),
    }])[0]
    system_ids = _insert(conn, t.system, [
        {"study_id": study_id, "label": s.label, "model": s.model, "run_id": s.run_id, "source": s.source, "is_base": s.is_base}
        for s in plan.systems
    ])
    item_ids = _insert(conn, t.item, [
        {"study_id": study_id, "task": i.task, "item_key": i.key, "prompt": i.prompt, "reference": ref}
        for i, ref in [(i, i.reference) for i in plan.items] + [(g, g.good) for g in plan.gold]
    ])
    rows = []
    for iid, it in zip(item_ids, plan.items):
        rows += [{"item_id": iid, "system_id": sid, "origin": "model", "text": text, "metrics": metrics}
                 for sid, (text, metrics) in zip(system_ids, it.responses)]
    for iid, g in zip(item_ids[len(plan.items):], plan.gold):
        rows += [{"item_id": iid, "system_id": None, "origin": "reference", "text": g.good, "metrics": {}},
                 {"item_id": iid, "system_id": None, "origin": "decoy", "text": g.bad, "metrics": {}}]
    response_ids = iter(_insert(conn, t.response, rows))
    n_sys = len(plan.systems)
    pairs = []
    for iid in item_ids[: len(plan.items)]:
        resp = [next(response_ids) for _ in range(n_sys)]
        pairs += [(iid, resp[c], resp[0]) for c in range(1, n_sys)]
        if getattr(plan.options, "pairs", "base") == "all":  # candidate against candidate, x the earlier one
            pairs += [(iid, resp[c], resp[d]) for c in range(1, n_sys) for d in range(c + 1, n_sys)]
    # Interleave the candidates so that no rater meets one prompt twice in a row.
    order = np.random.default_rng([plan.options.seed, 1]).permutation(len(pairs))
    comps = [{"study_id": study_id, "item_id": iid, "kind": "pair", "x_response_id": x, "y_response_id": y, "order_key": int(o)}
             for (iid, x, y), o in zip(pairs, order)]
    for k, iid in enumerate(item_ids[len(plan.items):]):
        good, bad = next(response_ids), next(response_ids)
        comps.append({"study_id": study_id, "item_id": iid, "kind": "gold", "x_response_id": good, "y_response_id": bad, "order_key": k})
    comp_ids = _insert(conn, t.comparison, comps)
    slots = [
        {"public_id": rules.new_public_id(), "study_id": study_id, "comparison_id": cid, "kind": "pair", "slot": j,
         "order_key": c["order_key"], "state": "free", "last_seq": 0}
        for cid, c in zip(comp_ids, comps) if c["kind"] == "pair" for j in range(plan.options.overlap)
    ]
    _insert(conn, t.assignment, slots)
    return admin
