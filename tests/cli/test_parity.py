"""``evalkit parity`` and ``parity:`` on a model entry: a "backend" that alters a known
fraction of answers (tests/fakes.py AlteredNgram, the ngram model underneath) is flagged on
exactly the items it altered; an unaltered second backend agrees on every item."""

from __future__ import annotations

import json

from conftest import make_project
from fakes import altered

TRAIN = "order: 6, train: [corpora/general.txt, corpora/support.txt]"
FRACTION = 0.3


def _project(tmp_path):
    models = (
        f"  ref: {{backend: ngram, {TRAIN}}}\n"
        f"  twin: {{backend: 'fakes:AlteredNgram', {TRAIN}, alter_fraction: 0}}\n"
        f"  alt: {{backend: 'fakes:AlteredNgram', {TRAIN}, alter_fraction: {FRACTION}}}\n"
        f"  alt_required: {{backend: 'fakes:AlteredNgram', {TRAIN}, alter_fraction: {FRACTION}, parity: {{reference: ref, items: 30}}}}\n"
        f"  twin_required: {{backend: 'fakes:AlteredNgram', {TRAIN}, alter_fraction: 0, parity: {{reference: ref, items: 30}}}}\n"
    )
    return make_project(tmp_path / "p", models)


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_an_altered_backend_is_flagged_on_exactly_the_altered_items(cli, tmp_path):
    cfg = _project(tmp_path)
    code, out, err = cli("parity", "ref", "alt", "--config", cfg, "--items", "30", "--json")
    assert code == 1, err
    report = json.loads(out)
    tasks = {t["task"]: t for t in report["tasks"]}
    data = cfg.parent / "tasks" / "data"
    # generation: the greedy outputs differ exactly where the prompt was altered
    want_qa = {r["id"] for r in _rows(data / "qa.jsonl") if altered(f"Question: {r['question']}\nAnswer:", FRACTION)}
    assert 0 < len(want_qa) < 30
    assert set(tasks["qa"]["disagreeing"]) == want_qa and tasks["qa"]["n"] == 30
    # perplexity: 1 nat per token apart on the altered texts, identical elsewhere
    want_ppl = {r["id"] for r in _rows(data / "ppl.jsonl") if altered(r["text"], FRACTION)}
    assert set(tasks["ppl"]["disagreeing"]) == want_ppl
    assert tasks["ppl"]["ll_abs_diff_max"] >= 1
    # multiple choice: every choice of an altered item lost the same amount, so the same
    # choice still wins (agreement), but the log-likelihood differences show it
    assert tasks["mc"]["agreement"] == 1.0 and tasks["mc"]["ll_abs_diff_max"] >= 1
    n = sum(t["n"] for t in report["tasks"])
    assert report["agreement"] == (n - len(want_qa) - len(want_ppl)) / n < 0.99
    assert report["passed"] is False
    # the effect on each metric is reported: exact match moves on qa
    assert tasks["qa"]["metrics"]["exact_match"]["difference"] < 0


def test_an_unaltered_second_backend_agrees_everywhere(cli, tmp_path):
    cfg = _project(tmp_path)
    code, out, err = cli("parity", "ref", "twin", "--config", cfg, "--items", "10")
    assert code == 0, err
    assert "100.0%" in out and "agree" in out


def test_compare_requires_parity_before_the_large_run(cli, tmp_path):
    cfg = _project(tmp_path)
    code, _, err = cli("compare", "ref", "alt_required", "--config", cfg, "--output", tmp_path / "o1", "--quiet")
    assert code == 1 and "parity: 'alt_required' agrees with its reference 'ref' on" in err
    assert not (tmp_path / "o1" / "compare.json").exists()
    code, _, err = cli("compare", "ref", "twin_required", "--config", cfg, "--output", tmp_path / "o2", "--quiet")
    assert code == 0, err
    assert (tmp_path / "o2" / "compare.json").exists()


def test_a_parity_reference_must_be_a_model(cli, tmp_path):
    cfg = _project(tmp_path)
    text = cfg.read_text().replace("reference: ref, items: 30}}", "reference: nobody}}", 1)
    cfg.write_text(text)
    code, _, err = cli("compare", "ref", "alt_required", "--config", cfg, "--output", tmp_path / "o", "--quiet")
    assert code == 2 and "parity reference 'nobody' is not a model" in err
