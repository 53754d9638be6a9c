"""Few-shot prompts: exactly what first_n, random and ids put before each prompt, as text or
as chat turns; an item is never its own shot; the shown prompt is the one sent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.backends.base import Message, RequestKind
from evalkit.config import load_task
from evalkit.errors import ConfigError, DataError, EvalkitError
from evalkit.suites.fewshot import load_pool, with_shots
from evalkit.suites.items import load_items
from evalkit.tasks import task_type
from evalkit.tasks.base import PromptFormat

WORDS = ["zero", "one", "two", "three", "four", "five"]
GEN = RequestKind.GENERATE


def make(tmp_path: Path, fewshot: str, *, kind: str = "generate", extra: str = "") -> tuple:
    data = tmp_path / "d.jsonl"
    rows = [{"id": f"q{i}", "question": f"{w}?", "answer": str(i), "choices": [w, "other"], "gold": 0} for i, w in enumerate(WORDS)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fields = "{target: answer}" if kind == "generate" else "{target: gold}"
    path = tmp_path / "t.yaml"
    path.write_text(f'name: t\ntype: {kind}\ndata: d.jsonl\nfields: {fields}\nprompt: "Q: {{question}}\\nA:"\n'
                    f"fewshot: {fewshot}\n{extra}")
    spec = load_task(path)
    return spec, load_items(spec), task_type(spec)


def sent(tt, item, pool, method=GEN, fmt=PromptFormat()):
    f = with_shots(fmt, tt, item, method, pool)
    return tt.requests(item, f, method)[0], tt.prompt_for_display(item, f, method)


def test_first_n_is_the_first_items_other_than_the_item_itself(tmp_path):
    spec, items, tt = make(tmp_path, "{n: 2}")
    pool = load_pool(spec, seed=7)
    req, shown = sent(tt, items[0], pool)
    assert req.messages == (Message("user", "Q: one?\nA: 1\n\nQ: two?\nA: 2\n\nQ: zero?\nA:"),)
    assert shown == req.as_text()
    req, _ = sent(tt, items[3], pool)
    assert req.messages[0].content == "Q: zero?\nA: 0\n\nQ: one?\nA: 1\n\nQ: three?\nA:"


def test_delimiters_and_the_model_template_wrap_the_whole_prompt(tmp_path):
    spec, items, tt = make(tmp_path, '{n: 1, delimiter: "\\n###\\n", target_delimiter: "="}')
    fmt = PromptFormat(system_prompt="Be brief.", template="[INST] {prompt} [/INST]")
    req, shown = sent(tt, items[0], load_pool(spec, 7), fmt=fmt)
    assert req.messages == (Message("system", "Be brief."), Message("user", "[INST] Q: one?\nA:=1\n###\nQ: zero?\nA: [/INST]"))
    assert shown == "Be brief.\n\n[INST] Q: one?\nA:=1\n###\nQ: zero?\nA: [/INST]"


def _expected_random(seed: int, item_id: str, others: list[str], n: int) -> list[str]:
    """The documented draw, computed here from its description: numpy's default_rng seeded by
    [seed, the first 8 bytes of sha256(item id) as a little-endian integer]."""
    per_item = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "little")
    return [others[i] for i in np.random.default_rng([seed, per_item]).choice(len(others), size=n, replace=False)]


def test_random_is_seeded_per_item_and_never_picks_the_item(tmp_path):
    spec, items, tt = make(tmp_path, "{n: 3, sampler: random}")
    pool = load_pool(spec, seed=11)
    chosen = {it.id: [s.id for s in pool.choose(it)] for it in items}
    for it in items:
        others = [o.id for o in items if o.id != it.id]
        assert chosen[it.id] == _expected_random(11, it.id, others, 3)
        assert it.id not in chosen[it.id] and len(set(chosen[it.id])) == 3
    assert len({tuple(v) for v in chosen.values()}) > 1  # per item, not one fixed set
    again = load_pool(spec, seed=11)
    assert all([s.id for s in again.choose(it)] == chosen[it.id] for it in items)
    other_seed = load_pool(spec, seed=12)
    assert any([s.id for s in other_seed.choose(it)] != chosen[it.id] for it in items)
    own = load_pool(make(tmp_path, "{n: 3, sampler: random, seed: 11}")[0], seed=999)  # fewshot.seed wins
    assert all([s.id for s in own.choose(it)] == chosen[it.id] for it in items)
    req, _ = sent(tt, items[2], pool)
    shots = [items[int(i[1:])] for i in chosen["q2"]]
    assert req.messages[0].content == "".join(f"Q: {s.record['question']}\nA: {s.target}\n\n" for s in shots) + "Q: two?\nA:"


def test_fixed_ids_in_order_without_the_item_itself(tmp_path):
    spec, items, tt = make(tmp_path, "{sampler: ids, ids: [q4, q2]}")
    pool = load_pool(spec, 7)
    assert sent(tt, items[0], pool)[0].messages[0].content == "Q: four?\nA: 4\n\nQ: two?\nA: 2\n\nQ: zero?\nA:"
    assert sent(tt, items[2], pool)[0].messages[0].content == "Q: four?\nA: 4\n\nQ: two?\nA:"  # one shot fewer
    spec, items, tt = make(tmp_path, "{sampler: ids, ids: [q2, q4, q5], n: 2}")
    assert [s.id for s in load_pool(spec, 7).choose(items[2])] == ["q4", "q5"]


def test_multiturn_shots_are_user_and_assistant_turns(tmp_path):
    spec, items, tt = make(tmp_path, "{n: 2, as_multiturn: true}")
    fmt = PromptFormat(system_prompt="Sys.", template="<{prompt}>")
    req, shown = sent(tt, items[5], load_pool(spec, 7), fmt=fmt)
    assert req.messages == (
        Message("system", "Sys."),
        Message("user", "<Q: zero?\nA:>"), Message("assistant", "0"),
        Message("user", "<Q: one?\nA:>"), Message("assistant", "1"),
        Message("user", "<Q: five?\nA:>"),
    )
    assert shown == req.as_text()


def test_shots_from_another_file(tmp_path):
    (tmp_path / "train.csv").write_text("id,question,answer\nt1,six?,6\nt2,seven?,7\n")
    spec, items, tt = make(tmp_path, "{from: train.csv, n: 2}")
    assert sent(tt, items[0], load_pool(spec, 7))[0].messages[0].content == "Q: six?\nA: 6\n\nQ: seven?\nA: 7\n\nQ: zero?\nA:"


def test_multiple_choice_shots_follow_the_scoring_method(tmp_path):
    spec, items, tt = make(tmp_path, "{n: 1}", kind="multiple_choice")
    pool = load_pool(spec, 7)
    ll, shown = sent(tt, items[0], pool, RequestKind.LOGLIKELIHOOD)
    assert (ll.context, ll.continuation) == ("Q: one?\nA: one\n\nQ: zero?\nA:", " zero") and shown == ll.context
    gen, shown = sent(tt, items[0], pool, GEN)
    lettered = "Q: one?\nA:\nA. one\nB. other\nAnswer: A\n\nQ: zero?\nA:\nA. zero\nB. other\nAnswer:"
    assert gen.messages[0].content == lettered
    assert shown == lettered  # the choice lines the model saw are shown, not hidden


def test_bad_fewshot_settings_are_one_line_errors(tmp_path):
    with pytest.raises(EvalkitError, match="sampler: ids needs ids"):
        make(tmp_path, "{sampler: ids}")
    with pytest.raises(EvalkitError, match="sampler: random needs n"):
        make(tmp_path, "{sampler: random}")
    spec, _, _ = make(tmp_path, "{sampler: ids, ids: [q1, nope]}")
    with pytest.raises(ConfigError, match=r"t\.yaml: fewshot\.ids: no item with id 'nope'"):
        load_pool(spec, 7)
    spec, items, _ = make(tmp_path, "{n: 6}")
    pool = load_pool(spec, 7)  # six items: enough for the pool, not for any item without itself
    with pytest.raises(DataError, match=r"d\.jsonl: fewshot\.n is 6 but only 5 other items"):
        pool.choose(items[0])


def test_a_run_shows_the_sent_prompt_with_shots(tmp_path):
    from conftest import make_project

    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    config = make_project(tmp_path / "p", "  chat: {backend: 'fakes:GenerateOnly', system_prompt: 'S.'}\n")
    mc = config.parent / "tasks" / "mc.yaml"
    mc.write_text(mc.read_text() + "fewshot: {n: 2, sampler: random}\n")
    run = run_model(load_project(config), "chat")
    samples = [s for s in run.samples if s["task"] == "mc"]
    assert len(samples) == 24
    for s in samples:
        assert s["prompt"].startswith("S.\n\nThe capital of ") and s["prompt"].count("Answer:") == 3
        assert s["prompt"].count("\nA. ") == 3  # two lettered shots and the question itself


def test_validate_checks_the_shot_ids_before_any_run(tmp_path, cli):
    from conftest import make_project

    config = make_project(tmp_path / "p")
    qa = config.parent / "tasks" / "qa.yaml"
    qa.write_text(qa.read_text() + "fewshot: {sampler: ids, ids: [q1, q99]}\n")
    code, out, err = cli("validate", "--config", config)
    assert code == 2 and err.strip().endswith("qa.yaml: fewshot.ids: no item with id 'q99' in the shot data "
                                              f"({config.parent / 'tasks' / 'data' / 'qa.jsonl'})")
    assert len(err.strip().splitlines()) == 1
