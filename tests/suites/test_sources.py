"""Data sources: CSV, TSV, JSON with a record path, Parquet and Hugging Face datasets read
offline, with where: filters, a seeded sample: and file:line errors; a CSV task end to end."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from evalkit.config import load_task
from evalkit.errors import DataError, EvalkitError
from evalkit.suites.items import load_items
from evalkit.suites.sources import fingerprint

CSV = (
    "id,question,answer,level\n"
    "a1,What is 2+2?,4,1\n"
    'a2,"Say ""hi"", then\nstop",hi,3\n'  # a quoted value over two lines
    "a3,Capital of Peru?,Lima,2\n"
    "a4,Capital of Chad?,N'Djamena,5\n"
)


def task(tmp_path: Path, body: str, name: str = "t") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ntype: generate\nfields: {{target: answer}}\nprompt: \"Q: {{question}}\\nA:\"\n" + body)
    return path


def test_csv_with_where_keeps_string_values_and_real_line_numbers(tmp_path):
    (tmp_path / "d.csv").write_text(CSV)
    spec = load_task(task(tmp_path, "data: d.csv\nwhere: {level: {ge: 2}}\n"))
    items = load_items(spec)
    assert [(i.id, i.line, i.target) for i in items] == [("a2", 3, "hi"), ("a3", 5, "Lima"), ("a4", 6, "N'Djamena")]
    assert items[0].record == {"id": "a2", "question": 'Say "hi", then\nstop', "answer": "hi", "level": "3"}
    # equality against a YAML number matches the CSV's text "2"
    assert [i.id for i in load_items(load_task(task(tmp_path, "data: d.csv\nwhere: {level: 2}\n")))] == ["a3"]


def test_tsv_with_in_and_ne(tmp_path):
    (tmp_path / "d.tsv").write_text(CSV.replace(",", "\t").replace('"Say ""hi""\t then\nstop"', "Say hi"))
    spec = load_task(task(tmp_path, "data: d.tsv\nwhere: {id: {in: [a1, a3, a4]}, answer: {ne: Lima}}\n"))
    assert [i.id for i in load_items(spec)] == ["a1", "a4"]


def test_csv_row_with_too_many_values_names_its_line(tmp_path):
    (tmp_path / "d.csv").write_text("id,question,answer\nx,ok,1\ny,a,b,c\n")
    with pytest.raises(DataError, match=r"d\.csv:3: row has 4 values but the header has 3"):
        load_items(load_task(task(tmp_path, "data: d.csv\n")))


def test_where_on_a_missing_field_and_a_non_number_name_the_line(tmp_path):
    (tmp_path / "d.csv").write_text(CSV)
    with pytest.raises(DataError, match=r"d\.csv:2: where: names field 'lvl'"):
        load_items(load_task(task(tmp_path, "data: d.csv\nwhere: {lvl: 1}\n")))
    with pytest.raises(DataError, match=r"d\.csv:2: where: question compares numbers"):
        load_items(load_task(task(tmp_path, "data: d.csv\nwhere: {question: {gt: 1}}\n")))


def test_where_that_matches_nothing_is_an_error_naming_the_task(tmp_path):
    (tmp_path / "d.csv").write_text(CSV)
    with pytest.raises(DataError, match=r"no record passes where: \(task .*t\.yaml\)"):
        load_items(load_task(task(tmp_path, "data: d.csv\nwhere: {level: {gt: 99}}\n")))


def test_json_with_a_record_path_gives_each_record_its_line(tmp_path):
    doc = {"meta": {"v": 1}, "data": {"note": "x", "items": [
        {"id": "j1", "question": "one?", "answer": "1", "ok": True},
        {"id": "j2", "question": "two?", "answer": "2", "ok": False},
        {"id": "j3", "question": "three?", "answer": "3", "ok": True},
    ]}}
    (tmp_path / "d.json").write_text(json.dumps(doc, indent=2))
    spec = load_task(task(tmp_path, "data: {path: d.json, records: data.items}\nwhere: {ok: true}\n"))
    items = load_items(spec)
    text = (tmp_path / "d.json").read_text().splitlines()
    assert [i.id for i in items] == ["j1", "j3"]
    for it in items:  # the line holds the record's opening brace, its id a few lines below
        assert text[it.line - 1].strip() == "{" and f'"{it.id}"' in text[it.line]
    with pytest.raises(DataError, match=r"records: 'data\.rows': no key 'rows' at 'data' \(found: items, note\)"):
        load_items(load_task(task(tmp_path, "data: {path: d.json, records: data.rows}\n")))


def test_plain_json_list_and_a_bad_record(tmp_path):
    (tmp_path / "d.json").write_text('[{"id": "a", "question": "q", "answer": "x"},\n 7]\n')
    with pytest.raises(DataError, match=r"d\.json:2: expected a JSON object, got int"):
        load_items(load_task(task(tmp_path, "data: d.json\n")))


def test_unknown_extension_and_records_on_csv_are_config_errors(tmp_path):
    with pytest.raises(EvalkitError, match="cannot tell the format of 'd.txt'"):
        load_task(task(tmp_path, "data: d.txt\n"))
    with pytest.raises(EvalkitError, match="records: .* applies to JSON files only"):
        load_task(task(tmp_path, "data: {path: d.csv, records: a}\n"))


def test_parquet_rows_and_the_missing_pyarrow_error(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["p1", "p2", "p3"], "question": ["a", "b", "c"], "answer": ["1", "2", "3"], "n": [1, 5, 9]}),
                   tmp_path / "d.parquet")
    spec = load_task(task(tmp_path, "data: d.parquet\nwhere: {n: {lt: 6}}\n"))
    assert [(i.id, i.line) for i in load_items(spec)] == [("p1", 1), ("p2", 2)]
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"d\.parquet: reading Parquet needs the pyarrow package: pip install pyarrow"):
        load_items(spec)


def test_sample_is_reproducible_by_seed_and_keeps_data_order(tmp_path):
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"id": f"s{i}", "question": "q", "answer": "a"}) + "\n" for i in range(40)))
    spec = load_task(task(tmp_path, "data: d.jsonl\nsample: 10\n"))
    a, b = ([i.id for i in load_items(spec, seed=3)] for _ in range(2))
    c = [i.id for i in load_items(spec, seed=4)]
    assert a == b and len(a) == 10 and a != c
    assert a == sorted(a, key=lambda s: int(s[1:]))
    import numpy as np  # the documented draw: numpy's default_rng(seed), 10 of 40 without replacement

    assert a == [f"s{i}" for i in sorted(np.random.default_rng(3).choice(40, size=10, replace=False))]
    own = load_task(task(tmp_path, "data: d.jsonl\nsample: {n: 10, seed: 3}\n"))
    assert [i.id for i in load_items(own, seed=99)] == a  # the task's own seed wins over the project's
    assert [i.id for i in load_items(spec, limit=4, seed=3)] == a[:4]


def test_content_hash_is_the_file_sha256(tmp_path):
    (tmp_path / "d.csv").write_text(CSV)
    spec = load_task(task(tmp_path, "data: d.csv\n"))
    assert fingerprint(spec.data, spec.source) == hashlib.sha256((tmp_path / "d.csv").read_bytes()).hexdigest()


# --- Hugging Face datasets, offline ---------------------------------------------------------------

ROWS = [{"id": f"r{i}", "question": f"q{i}", "answer": str(i), "lang": ["en", "fr"][i % 2]} for i in range(6)]


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty datasets cache of the test's own: nothing read from or written to the user's."""
    datasets_config = pytest.importorskip("datasets.config")
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(datasets_config, "HF_DATASETS_CACHE", cache)
    return cache


def _local_folder(tmp_path) -> Path:
    folder = tmp_path / "tiny_qa"
    folder.mkdir()
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return folder


def test_hf_local_dataset_folder_with_where(tmp_path, hf_cache):
    folder = _local_folder(tmp_path)
    spec = load_task(task(tmp_path, f"data: {{hf: {{path: {folder}, split: test}}}}\nwhere: {{lang: en}}\n"))
    items = load_items(spec)
    assert [(i.id, i.line, i.target) for i in items] == [("r0", 1, "0"), ("r2", 3, "2"), ("r4", 5, "4")]
    assert len(fingerprint(spec.data, spec.source)) == 16  # the dataset's own fingerprint
    rel = load_task(task(tmp_path, "data: {hf: {path: tiny_qa, split: test}}\n", name="rel"))  # relative to the task
    assert len(load_items(rel)) == 6


def test_hf_hub_dataset_from_the_offline_cache(tmp_path, hf_cache):
    """The layout ``load_dataset("owner/name")`` leaves in the datasets cache after one online
    load (owner___name/default/0.0.0/HASH with arrow files), built here from a local JSONL by
    datasets' own JSON builder, so the offline lookup is the one users get."""
    from datasets.packaged_modules.json.json import Json

    folder = _local_folder(tmp_path)
    builder = Json(cache_dir=str(hf_cache), dataset_name="tiny_qa", config_name="default", hash="0123abcd",
                   data_files={"test": str(folder / "test.jsonl")})
    builder.download_and_prepare()
    (hf_cache / "tiny_qa").rename(hf_cache / "evalkit-test___tiny_qa")
    config_dir = next((hf_cache / "evalkit-test___tiny_qa").iterdir())
    config_dir.rename(config_dir.parent / "default")

    spec = load_task(task(tmp_path, "data: {hf: {path: evalkit-test/tiny_qa, split: test}}\nwhere: {lang: {ne: en}}\n"))
    assert [i.id for i in load_items(spec)] == ["r1", "r3", "r5"]
    assert spec.data_path == Path("hf:evalkit-test/tiny_qa/test")
    bad_split = load_task(task(tmp_path, "data: {hf: {path: evalkit-test/tiny_qa, split: train}}\n", name="b"))
    with pytest.raises(DataError, match=r"hf:evalkit-test/tiny_qa/train: split: Unknown split \"train\""):
        load_items(bad_split)


def test_hf_dataset_not_in_the_cache_is_one_line_naming_the_download(tmp_path, hf_cache):
    path = task(tmp_path, "data: {hf: {path: evalkit-test/absent, name: main, split: test}}\n")
    with pytest.raises(DataError) as exc:
        load_items(load_task(path))
    msg = str(exc.value)
    assert msg.startswith("hf:evalkit-test/absent/main/test: not in the local Hugging Face cache")
    assert str(path) in msg and "datasets.load_dataset('evalkit-test/absent', 'main', split='test')" in msg
    assert "\n" not in msg


# --- end to end ------------------------------------------------------------------------------------


def test_compare_runs_a_csv_task_with_where_and_records_its_hash(tmp_path, cli):
    from conftest import make_project

    config = make_project(tmp_path / "p")
    root = config.parent
    rows = ["id,question,answer,split"] + [f"c{i},How do I fix error E{100 + i}?,patch{i} fixes it.,{'dev' if i % 3 else 'test'}" for i in range(30)]
    (root / "tasks" / "data" / "qa.csv").write_text("\n".join(rows) + "\n")
    (root / "tasks" / "qa_csv.yaml").write_text(
        'name: qa_csv\ntype: generate\ndata: data/qa.csv\nwhere: {split: test}\nsample: 6\nfields: {target: answer}\n'
        'prompt: "Question: {question}\\nAnswer:"\ngeneration: {max_tokens: 12, stop: ["\\n"]}\nnormalize: [strip, lower, punctuation]\n'
    )
    config.write_text(config.read_text().replace("tasks: [qa, intent]", "tasks: [qa, intent, qa_csv]"))
    code, out, err = cli("validate", "--config", config)
    assert code == 0 and "qa_csv" in out and "6 items" in out, err
    code, out, err = cli("compare", "base", "ft", "--suite", "support", "--config", config, "--output", tmp_path / "o")
    assert code == 0, err
    results = json.loads(next((tmp_path / "o").rglob("ft/results.json")).read_text())
    assert results["data_hashes"]["qa_csv"] == hashlib.sha256((root / "tasks" / "data" / "qa.csv").read_bytes()).hexdigest()
    samples = [json.loads(s) for s in next((tmp_path / "o").rglob("ft/samples.jsonl")).read_text().splitlines()]
    csv_ids = [s["id"] for s in samples if s["task"] == "qa_csv"]
    test_ids = [f"c{i}" for i in range(0, 30, 3)]  # where: split == test
    assert csv_ids == [test_ids[i] for i in sorted(np.random.default_rng(7).choice(10, size=6, replace=False))]
    task = next(t for t in results["tasks"] if t["task"] == "qa_csv")
    assert task["selection"] == {"where": {"split": "test"}, "sample": {"n": 6, "seed": 7}}  # the project's seed
