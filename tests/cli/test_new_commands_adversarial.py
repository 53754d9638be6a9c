"""A demanding user's mistakes with the newer commands (import, compare --tasks, view, init,
probe, report): each is one line ``evalkit: error: PATH[:LINE]: ...`` and exit 2, never a
traceback; and what a log does not say (latency) is shown as unknown, never as 0."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from evalkit.results import RunResult


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("evalkit: error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def _eval_log(path: Path, model: str, samples: list, header: object = None) -> Path:
    """A minimal inspect_ai .eval zip: header.json and one member per sample (as written)."""
    header = {"version": 2, "eval": {"task": "t", "model": model}} if header is None else header
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for i, s in enumerate(samples):
            zf.writestr(f"samples/{i}_epoch_1.json", json.dumps(s))
    return path


def _row(i: int, right: bool, **more) -> dict:
    return {"id": i, "epoch": 1, "input": f"q{i}", "target": "a",
            "output": {"choices": [{"message": {"role": "assistant", "content": "a" if right else "b"}}], **more},
            "scores": {"match": {"value": "C" if right else "I"}}}


@pytest.mark.parametrize("samples, header, message", [
    ([[1, 2]], None, "a sample without an id"),  # a member that is not an object: was AttributeError
    ([_row(1, True), _row(1, False)], None, "sample 1 (epoch 1) is in the log twice"),  # would pair twice
    ([_row(1, True)], [1], 'no "eval" section'),  # a header that is not an object
])
def test_malformed_inspect_logs_are_one_line_errors(cli, tmp_path, samples, header, message):
    _eval_log(tmp_path / "x.eval", "m", samples, header)
    code, _, err = cli("import", "x.eval", "--name", "m", cwd=tmp_path)
    _one_line_error(code, err, "x.eval", message)
    assert not (tmp_path / "runs").exists()


def test_inspect_output_and_usage_of_the_wrong_shape_are_read_as_unknown(cli, tmp_path):
    rows = [{**_row(1, True), "output": "not an object"},
            {**_row(2, True), "output": {"usage": {"input_tokens": "x"}, "time": "soon"}}]
    _eval_log(tmp_path / "x.eval", "m", rows)
    code, _, err = cli("import", "x.eval", "--name", "m", cwd=tmp_path)
    assert code == 0, err
    run = RunResult.load(tmp_path / "runs" / "m")
    assert [(s["prompt_tokens"], s["latency_s"]) for s in run.samples] == [(0, None), (0, None)]


def test_an_empty_lm_eval_samples_file_is_refused_not_a_run_of_zero_items(cli, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results_1.json").write_text('{"results": {"t": {}}}')
    (tmp_path / "out" / "samples_t_1.jsonl").write_text("")
    code, _, err = cli("import", "out", "--name", "m", cwd=tmp_path)
    _one_line_error(code, err, "samples_t_1.jsonl", "no sample rows")


def test_missing_latency_is_shown_as_unknown_in_compare_and_report(cli, tmp_path):
    """inspect logs without output.time (and lm-eval logs, which never say): latency None, and
    every summary says "-" rather than a fast 0 ms; a log that says keeps its numbers."""
    n = 12
    _eval_log(tmp_path / "base.eval", "m", [_row(i, i % 3 == 0) for i in range(n)])
    _eval_log(tmp_path / "ft.eval", "m", [_row(i, i % 4 != 0, time=0.5 + i / 100) for i in range(n)])
    for name in ("base", "ft"):
        code, _, err = cli("import", f"{name}.eval", "--name", name, cwd=tmp_path)
        assert code == 0, err
    assert {s["latency_s"] for s in RunResult.load(tmp_path / "runs" / "base").samples} == {None}
    code, _, err = cli("compare", "runs/base", "runs/ft", "--output", "cmp", "--quiet", cwd=tmp_path)
    assert code == 0, err
    (task,) = json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"][0]["tasks"]
    assert task["latency_p50_base"] is None and task["latency_p95_base"] is None
    times = sorted(0.5 + i / 100 for i in range(n))
    assert task["latency_p50_ft"] == pytest.approx((times[5] + times[6]) / 2)  # numpy's linear percentile
    code, _, err = cli("report", "cmp", cwd=tmp_path)
    assert code == 0, err
    page = (tmp_path / "cmp" / "report.html").read_text()
    base_row = page.split("<tr><td>base</td>", 1)[1].split("</tr>", 1)[0]
    ft_row = page.split("<tr><td>ft</td>", 1)[1].split("</tr>", 1)[0]
    assert base_row.endswith("<td class=n>-</td><td class=n>-</td>")  # p50, p95: unknown
    assert f"<td class=n>{(times[5] + times[6]) / 2 * 1000:.1f}</td>" in ft_row
    md = (tmp_path / "cmp" / "compare.md").read_text()
    costs = md.split("### Prompt tokens, cost and latency per item", 1)[1].split("###", 1)[0]
    (line,) = [x for x in costs.splitlines() if x.startswith("| t |")]
    assert line.split("|")[6].strip() == "-"  # p50 ms base


@pytest.mark.parametrize("setup, entry, message", [
    (lambda p: (p / "tasks").mkdir(), "tasks", "'tasks' is a folder; name its task YAML files (e.g. 'tasks/*.yaml')"),
    (lambda p: (p / "qa.jsonl").write_text('{"prompt": "a", "answer": "b"}\n'), "qa.jsonl",
     "`evalkit init qa.jsonl` writes one"),
    (lambda p: None, "gone.jsonl", "'gone.jsonl' is not a task YAML"),
    (lambda p: None, "sub/gone.yaml", "'sub/gone.yaml' matches no file"),
])
def test_tasks_flag_naming_a_folder_or_data_file_says_so(cli, tmp_path, setup, entry, message):
    """Was: "evalkit-runs/<stamp>/evalkit.yaml:8: suite 'target' names unknown task", about a
    file the user never wrote, after creating that folder."""
    setup(tmp_path)
    code, _, err = cli("compare", "--base", "ngram:demo", "--ft", "ngram:demo-ft", "--tasks", entry, cwd=tmp_path)
    _one_line_error(code, err, "--tasks", message)
    assert not (tmp_path / "evalkit-runs").exists()


def test_a_folder_named_like_a_built_in_probe_does_not_hide_the_probe(cli, tmp_path):
    (tmp_path / "safety-harmful").mkdir()
    code, out, err = cli("compare", "--base", "ngram:demo", "--ft", "ngram:demo-ft", "--tasks", "safety-harmful",
                         "--print-config", cwd=tmp_path)
    assert code == 0, err
    assert "- safety-harmful" in out


def test_view_index_skips_a_corrupt_compare_and_keeps_the_others(tmp_path):
    """A compare.json or gate.json of the wrong shape (hand-edited, another tool's) was a
    KeyError/TypeError that emptied the whole index: now only that folder is left out."""
    from evalkit.view.index import find_compares

    def write(folder, compare, gate=None):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "compare.json").write_text(compare if isinstance(compare, str) else json.dumps(compare))
        if gate is not None:
            (tmp_path / folder / "gate.json").write_text(json.dumps(gate))

    good = {"comparisons": [{"base": "b", "candidate": "f"}]}
    write("good", good, {"verdict": "PASS", "gates": [{"verdict": "PASS"}]})
    write("no-candidate", {"comparisons": [{"x": 1}]})
    write("not-a-mapping", {"comparisons": [[1]]})
    write("truncated", '{"comparisons": [')
    write("bad-gate", good, {"verdict": "PASS", "gates": "all of them"})
    entries = {e.name: e for e in find_compares(tmp_path)}
    assert set(entries) == {"good", "bad-gate"}
    assert (entries["good"].verdict, entries["good"].gates["PASS"]) == ("PASS", 1)
    assert (entries["bad-gate"].verdict, entries["bad-gate"].gates) == ("NONE", {})  # no gate it can read: none claimed


def test_init_on_a_file_not_utf8_names_the_file_and_line(cli, tmp_path):
    """Was: "evalkit: error: a file is not UTF-8 text (...)", which file and where unsaid."""
    (tmp_path / "d.jsonl").write_bytes(b'{"prompt": "a", "answer": "b"}\n{"prompt": "caf\xe9", "answer": "b"}\n')
    code, _, err = cli("init", "d.jsonl", "--dir", "p", cwd=tmp_path)
    _one_line_error(code, err, "d.jsonl:2:", "not UTF-8")
    assert not (tmp_path / "p").exists()


def test_a_byte_order_mark_is_not_part_of_the_first_record(cli, tmp_path):
    (tmp_path / "d.jsonl").write_bytes('\ufeff{"question": "a?", "answer": "b"}\n'.encode())
    code, out, err = cli("init", "d.jsonl", "--dir", "p", "--base", "ngram:demo", "--ft", "ngram:demo-ft", cwd=tmp_path)
    assert code == 0, err
    assert "prompt from 'question'" in out
    code, out, err = cli("validate", cwd=tmp_path / "p")
    assert code == 0, err
    assert "1 items" in out


@pytest.mark.parametrize("margin, message", [
    ("over_refusal=nan", "expected AXIS=NUMBER"),  # was "Input should be a finite number", the flag unnamed
    ("harmful_compliance=inf", "expected AXIS=NUMBER"),
    ("harmful_compliance=abc", "expected AXIS=NUMBER"),
    ("harmful_compliance=-0.1", "margins.harmful_compliance: expected a number from 0 to 1"),
    ("harmful_compliance=1.5", "margins.harmful_compliance: expected a number from 0 to 1"),
    ("nope=0.1", "unknown axis 'nope'"),
])
def test_probe_margins_that_are_not_margins(cli, tmp_path, margin, message):
    code, _, err = cli("probe", "safety", "base", "ft", "--margin", margin, cwd=tmp_path)
    _one_line_error(code, err, message)
    assert not (tmp_path / "evalkit-runs").exists()


@pytest.mark.parametrize("command", [("init", "d.jsonl", "--dir", "p"),
                                     ("compare", "--base", "ngram:demo", "--ft", "ngram:demo-ft", "--tasks", "t.yaml")])
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_in_eval_data_is_refused_not_scored_as_the_string_nan(cli, tmp_path, command, constant):
    """Python's json reads NaN; it then became the reference "nan" and every answer was scored
    against it."""
    (tmp_path / "d.jsonl").write_text(f'{{"prompt": "a", "answer": "b"}}\n{{"prompt": "c", "answer": {constant}}}\n')
    (tmp_path / "t.yaml").write_text("name: t\ntype: generate\ndata: d.jsonl\nfields: {id: null, target: answer}\n"
                                     "prompt: '{prompt}'\nmetrics: [exact_match]\n")
    code, _, err = cli(*command, cwd=tmp_path)
    _one_line_error(code, err, "d.jsonl:2:", f"{constant.lstrip('-')} is not a JSON value")


@pytest.mark.parametrize("rows, message", [
    ('{"doc_id": [1], "acc": 1.0}\n', ":1: doc_id [1] is not a number or a string"),  # was TypeError: unhashable
    ('{"doc_id": 1, "filter": "none", "acc": 1.0}\n{"doc_id": 1, "filter": "none", "acc": 0.0}\n',
     ":2: doc_id 1 (filter none) is here twice (first on line 1)"),  # was: the second row silently won
])
def test_lm_eval_sample_rows_that_cannot_be_one_item_each(cli, tmp_path, rows, message):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results_1.json").write_text('{"results": {"t": {}}, "higher_is_better": {"t": {"acc": true}}}')
    (tmp_path / "out" / "samples_t_1.jsonl").write_text(rows)
    code, _, err = cli("import", "out", "--name", "m", cwd=tmp_path)
    _one_line_error(code, err, "samples_t_1.jsonl" + message)


def test_lm_eval_rows_with_a_metric_evalkit_does_not_know_keep_their_task(cli, tmp_path):
    """A per-document number lm-eval averages (here f1) reused the task's variable name: every
    sample after it was filed under task 'f1' instead of 'lm-eval:t'."""
    for model, skill in (("base", 2), ("ft", 4)):
        out = tmp_path / model
        out.mkdir()
        (out / "results_1.json").write_text(json.dumps({
            "results": {"t": {}}, "configs": {"t": {"output_type": "generate_until"}},
            "higher_is_better": {"t": {"exact_match": True, "f1": True}}}))
        rows = [{"doc_id": i, "filter": "none", "metrics": ["exact_match", "f1"], "filtered_resps": ["a"],
                 "exact_match": float(i % skill == 0), "f1": 0.5 * (i % skill == 0)} for i in range(12)]
        (out / "samples_t_1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        code, out_text, err = cli("import", model, "--name", model, cwd=tmp_path)
        assert code == 0, err
        assert "lm-eval:t" in out_text
    run = RunResult.load(tmp_path / "runs" / "ft")
    assert {s["task"] for s in run.samples} == {"lm-eval:t"}
    assert run.task("lm-eval:t").metrics["f1"].value == pytest.approx(0.5 * 3 / 12)  # i = 0, 4, 8
    code, _, err = cli("compare", "runs/base", "runs/ft", "--output", "cmp", "--quiet", cwd=tmp_path)
    assert code == 0, err
    (task,) = json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"][0]["tasks"]
    assert task["task"] == "lm-eval:t" and {m["metric"] for m in task["metrics"]} >= {"exact_match", "f1"}


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_an_eval_log_damaged_inside_the_zip_is_one_line(cli, tmp_path, compression):
    """The zip's directory is intact but a member's bytes are not (a bad copy): a CRC or zlib
    error was a traceback."""
    path = tmp_path / "x.eval"
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("header.json", json.dumps({"version": 2, "eval": {"task": "t", "model": "m"}}))
        zf.writestr("samples/1_epoch_1.json", json.dumps(_row(1, True)) + " " * 200)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("samples/1_epoch_1.json")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + 12):  # inside the member's data, past its local header
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = cli("import", "x.eval", "--name", "m", cwd=tmp_path)
    _one_line_error(code, err, "x.eval: samples/1_epoch_1.json: cannot be read from the zip", "damaged")


def test_items_the_log_left_unscored_are_missing_data_that_a_gate_counts_at_worst(cli, tmp_path):
    """inspect logs whose score is NaN for some samples: the import said match=1.0 over "n=60"
    from 50 scored items, and compare then crashed (KeyError 'match'). Now they are missing
    data: the gate's worst case counts them as lost, so the fine-tune cannot pass on the rest."""
    n, unscored = 60, 10

    def log(name, values):
        _eval_log(tmp_path / f"{name}.eval", name, [{**_row(i, True), "scores": {"match": {"value": v}}}
                                                    for i, v in enumerate(values)])

    log("base", ["C"] * n)
    log("ft", ["C"] * (n - unscored) + [float("nan")] * unscored)
    for name in ("base", "ft"):
        code, out, err = cli("import", f"{name}.eval", "--name", name, cwd=tmp_path)
        assert code == 0, err
    assert f"{unscored} errors" in out
    run = RunResult.load(tmp_path / "runs" / "ft")
    assert sum(s["status"] == "error" for s in run.samples) == unscored
    assert run.task("t").n_errors == unscored
    code, _, err = cli("compare", "runs/base", "runs/ft", "--output", "cmp", "--quiet",
                       "--gate-not-regress", "t:match:0.1", cwd=tmp_path)
    assert "Traceback" not in err and code != 0, err
    (gate,) = json.loads((tmp_path / "cmp" / "gate.json").read_text())["gates"]
    # on the 50 scored items alone it would pass; with the 10 unscored counted against the
    # fine-tune (-0.167 at worst, past the 0.1 margin) it cannot
    assert gate["verdict"] != "PASS" and gate["counts_as_fail"]
    assert "gain -0.1667" in gate["message"]


def test_report_and_view_of_stored_runs_work_from_another_folder(cli, tmp_path):
    """compare.json recorded a stored run's folder as typed ('runs/base'), relative to where
    compare ran: `evalkit report proj/cmp` from elsewhere said the run directory was missing."""
    from evalkit.view.compare import load_compare

    proj = tmp_path / "proj"
    proj.mkdir()
    _eval_log(proj / "base.eval", "m", [_row(i, i % 2 == 0) for i in range(12)])
    _eval_log(proj / "ft.eval", "m", [_row(i, i % 3 != 0) for i in range(12)])
    for name in ("base", "ft"):
        assert cli("import", f"{name}.eval", "--name", name, cwd=proj)[0] == 0
    code, _, err = cli("compare", "runs/base", "runs/ft", "--output", "cmp", "--quiet", cwd=proj)
    assert code == 0, err
    code, out, err = cli("report", "proj/cmp", cwd=tmp_path)
    assert code == 0, err
    view = load_compare(proj / "cmp", "ft")  # the viewer runs with the folder it was given as cwd
    assert {it["id"] for it in view.items}  # the changed items were read from the runs


def test_a_null_prompt_field_is_refused_not_sent_as_the_word_none(cli, tmp_path):
    """`init` guessed {question} from a file where one record had "question": null; the model
    was then asked "Question: None" and scored on it."""
    (tmp_path / "d.jsonl").write_text('{"question": "a?", "answer": "b"}\n{"question": null, "answer": "c"}\n')
    code, _, err = cli("init", "d.jsonl", "--dir", "p", "--base", "ngram:demo", "--ft", "ngram:demo-ft", cwd=tmp_path)
    assert code == 0, err
    code, _, err = cli("validate", cwd=tmp_path / "p")
    _one_line_error(code, err, "d.jsonl:2:", "field 'question' is null")


def test_a_null_target_is_refused_not_the_reference_none(cli, tmp_path):
    (tmp_path / "d.jsonl").write_text('{"question": "a?", "answer": "b"}\n{"question": "c?", "answer": null}\n')
    code, _, err = cli("init", "d.jsonl", "--dir", "p", "--base", "ngram:demo", "--ft", "ngram:demo-ft", cwd=tmp_path)
    assert code == 0, err
    code, _, err = cli("validate", cwd=tmp_path / "p")
    _one_line_error(code, err, "d.jsonl:2:", "field 'answer' is null")


def test_old_mac_line_ends_still_split_records(cli, tmp_path):
    (tmp_path / "d.jsonl").write_bytes(b'{"prompt": "a", "answer": "b"}\r{"prompt": "c", "answer": "d"}\r')
    code, _, err = cli("init", "d.jsonl", "--dir", "p", "--base", "ngram:demo", "--ft", "ngram:demo-ft", cwd=tmp_path)
    assert code == 0, err
    code, out, err = cli("validate", cwd=tmp_path / "p")
    assert code == 0 and "2 items" in out, err
