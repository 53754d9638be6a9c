"""``evalkit import``: lm-eval --log_samples output and inspect_ai logs become run folders that
``evalkit compare`` reads like its own runs: the paired verdict and gates on another
harness's per-item results."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import write_jsonl

from evalkit.results import RunResult

CAPITALS = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Norway", "Oslo"), ("Peru", "Lima"), ("Egypt", "Cairo")]

MC_YAML = """task: tiny_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: What is the capital of {{{{country}}}}?\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
"""
GEN_YAML = """task: tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: What is the capital of {{{{country}}}}?\\nAnswer:"
doc_to_target: "{{{{city}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
  do_sample: false
metric_list:
  - metric: exact_match
"""
N = 30


def _knows(skill: int, i: int) -> bool:
    """Whether a model of this skill knows item i: skill 1 knows one item in three, skill 3 all but every tenth."""
    return i % 3 == 0 if skill == 1 else i % 10 != 0


def _lm_eval_logs(root: Path, skill: int) -> Path:
    """lm-eval's own files (EvaluationTracker, as its CLI writes them with --log_samples) for a
    rule-based model on two local tasks, offline."""
    from lm_eval.api.model import LM
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    country_index = {c: i for i, (c, _) in enumerate(CAPITALS)}
    city_of = dict(CAPITALS)

    def item(ctx: str) -> tuple[int, str]:
        line = [x for x in ctx.splitlines() if x.startswith("Question:")][-1]
        country = line.split("capital of ")[1].rstrip("?")
        return country_index[country], city_of[country]

    class Rule(LM):
        def __init__(self):
            super().__init__()
            self.seen = 0

        def loglikelihood(self, requests):
            out = []
            for r in requests:
                ctx, cont = r.args
                doc = r.doc
                right = cont.strip() == city_of[doc["country"]]
                knows = _knows(skill, doc["idx"])
                out.append((0.0 if right == knows else -1.0 - len(cont) / 100, False))
            return out

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            out = []
            for r in requests:
                doc = r.doc
                out.append((city_of[doc["country"]] if _knows(skill, doc["idx"]) else "Atlantis"))
            return out

    tasks = root / "lm_tasks"
    if not tasks.exists():
        rows = []
        for i in range(N):
            country, city = CAPITALS[i % 6]
            others = [k for _, k in CAPITALS if k != city][:3]
            choices = others[: i % 4] + [city] + others[i % 4:]
            rows.append({"idx": i, "country": country, "city": city, "choices": choices, "label": choices.index(city)})
        write_jsonl(tasks / "data.jsonl", rows)
        for name, text in (("mc", MC_YAML), ("gen", GEN_YAML)):
            (tasks / f"{name}.yaml").write_text(text.format(data=(tasks / "data.jsonl").resolve()))
    out = root / f"out{skill}"
    tracker = EvaluationTracker(output_path=str(out))
    res = simple_evaluate(model=Rule(), tasks=["tiny_mc", "tiny_gen"], task_manager=TaskManager(include_path=str(tasks), include_defaults=False),
                          log_samples=True, evaluation_tracker=tracker, bootstrap_iters=0)
    samples = res.pop("samples")
    tracker.save_results_aggregated(results=res, samples=samples)
    for name in res["configs"]:
        tracker.save_results_samples(task_name=name, samples=samples[name])
    (folder,) = {p.parent for p in out.rglob("results_*.json")}
    return folder


def test_lm_eval_logs_import_and_compare_with_gates(cli, tmp_path, monkeypatch):
    pytest.importorskip("lm_eval", reason="writing lm-eval logs needs lm-eval")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    base_log, ft_log = _lm_eval_logs(tmp_path, 1), _lm_eval_logs(tmp_path, 3)
    code, out, err = cli("import", base_log, "--name", "base", "--forgetting", "lm-eval:tiny_gen", cwd=tmp_path)
    assert code == 0, err
    assert "wrote runs/base" in out
    code, _, err = cli("import", next(ft_log.glob("results_*.json")), "--name", "ft", "--forgetting", "lm-eval:tiny_gen",
                       cwd=tmp_path)
    assert code == 0, err
    base, ft = RunResult.load(tmp_path / "runs" / "base"), RunResult.load(tmp_path / "runs" / "ft")
    # the numbers lm-eval reported, per task, are the run's
    results = json.loads(next(ft_log.glob("results_*.json")).read_text())["results"]
    assert ft.task("lm-eval:tiny_mc").metrics["accuracy"].value == pytest.approx(results["tiny_mc"]["acc,none"])
    assert ft.task("lm-eval:tiny_gen").metrics["exact_match"].value == pytest.approx(results["tiny_gen"]["exact_match,none"])
    assert base.task("lm-eval:tiny_mc").metrics["accuracy"].value == pytest.approx(10 / 30)  # knows i % 3 == 0
    assert ft.task("lm-eval:tiny_gen").role == "forgetting" and len(ft.samples_for("lm-eval:tiny_mc")) == N
    code, out, err = cli("compare", "runs/base", "runs/ft", "--format", "json", "--output", "cmp",
                         "--gate-improve", "lm-eval:tiny_mc:accuracy:0.2", "--gate-not-regress", "lm-eval:tiny_gen:exact_match:0.05",
                         cwd=tmp_path)
    assert code == 0, err
    payload = json.loads(out)
    (mc,) = [t for t in payload["comparisons"][0]["tasks"] if t["task"] == "lm-eval:tiny_mc"]
    acc = next(m for m in mc["metrics"] if m["metric"] == "accuracy")
    # the paired counts follow from the two rules: items the fine-tune fixed and broke
    fixed = sum(1 for i in range(N) if _knows(3, i) and not _knows(1, i))
    broke = sum(1 for i in range(N) if _knows(1, i) and not _knows(3, i))
    assert (acc["fixed"], acc["broke"], acc["n"]) == (fixed, broke, N)
    assert acc["delta"] == pytest.approx((fixed - broke) / N)
    gates = json.loads((tmp_path / "cmp" / "gate.json").read_text())["gates"]
    assert [(g["target"], g["verdict"]) for g in gates] == [("lm-eval:tiny_mc", "PASS"), ("lm-eval:tiny_gen", "PASS")]


def _eval_zip(path: Path, model: str, skill: int, *, task="popularity", epochs=1) -> Path:
    """An inspect_ai .eval log written in its documented layout (inspect_ai is not installed
    here): header.json with eval.task / eval.model, samples/<id>_epoch_<n>.json with the
    output and the scores (C/I letters, as inspect's match() scorer writes them)."""
    header = {"version": 2, "status": "success",
              "eval": {"eval_id": f"e-{model}", "run_id": "r", "created": "2026-11-30T10:00:00+00:00", "task": task,
                       "task_version": 0, "model": model, "packages": {"inspect_ai": "0.3.140"},
                       "dataset": {"name": "capitals", "samples": N}},
              "plan": {"name": "plan", "steps": [{"solver": "generate", "params": {}}]},
              "results": {"total_samples": N, "completed_samples": N,
                          "scores": [{"name": "match", "scorer": "match", "metrics": {"accuracy": {"name": "accuracy", "value": 0.5}}}]},
              "stats": {"started_at": "2026-11-30T10:00:00+00:00", "completed_at": "2026-11-30T10:01:00+00:00", "model_usage": {}}}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_journal/start.json", json.dumps({"version": 2, "eval": header["eval"], "plan": header["plan"]}))
        for epoch in range(1, epochs + 1):
            for i in range(N):
                country, city = CAPITALS[i % 6]
                knows = _knows(skill, i) if epoch == 1 else _knows(skill, i + 1)
                answer = city if knows else "Atlantis"
                sample = {
                    "id": i + 1, "epoch": epoch, "input": [{"role": "user", "content": f"What is the capital of {country}?"}],
                    "target": city, "messages": [],
                    "output": {"model": model, "choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": answer}]},
                                                            "stop_reason": "stop"}],
                               "usage": {"input_tokens": 12, "output_tokens": 2, "total_tokens": 14}},
                    "scores": {"match": {"value": "C" if knows else "I", "answer": answer}},
                    "metadata": {}, "store": {}, "events": [],
                }
                zf.writestr(f"samples/{i + 1}_epoch_{epoch}.json", json.dumps(sample))
        zf.writestr("header.json", json.dumps(header))
    return path


def test_inspect_logs_import_and_compare(cli, tmp_path):
    _eval_zip(tmp_path / "base.eval", "openai/gpt-4o-mini", 1)
    _eval_zip(tmp_path / "ft.eval", "openai/ft:gpt-4o-mini:acme::x1", 3)
    code, out, err = cli("import", "base.eval", cwd=tmp_path)
    assert code == 0, err
    assert "wrote runs/gpt-4o-mini" in out  # named after the logged model
    code, out, err = cli("import", "ft.eval", "--name", "ft", cwd=tmp_path)
    assert code == 0, err
    run = RunResult.load(tmp_path / "runs" / "ft")
    assert run.task("popularity").metrics["match"].value == pytest.approx(27 / 30)
    assert run.task("popularity").metrics["match"].binary
    first, second = (next(s for s in run.samples if s["id"] == i) for i in ("1", "2"))
    assert (first["response"], second["response"]) == ("Atlantis", "Madrid")  # the ft rule misses every tenth
    assert first["prompt"] == "user: What is the capital of France?" and first["prompt_tokens"] == 12
    code, out, err = cli("compare", "runs/gpt-4o-mini", "runs/ft", "--format", "json", "--output", "cmp",
                         "--gate-not-regress", "popularity:match:0.02", cwd=tmp_path)
    assert code == 0, err
    metric = json.loads(out)["comparisons"][0]["tasks"][0]["metrics"][0]
    assert metric["metric"] == "match" and metric["n"] == N
    assert metric["delta"] == pytest.approx(27 / 30 - 10 / 30)
    assert json.loads((tmp_path / "cmp" / "gate.json").read_text())["verdict"] == "PASS"
    # the other way round the "fine-tune" lost 17 of 30 items: the same gate fails, exit 1
    code, _, err = cli("compare", "runs/ft", "runs/gpt-4o-mini", "--quiet", "--output", "rev",
                       "--gate-not-regress", "popularity:match:0.02", cwd=tmp_path)
    assert code == 1, err
    assert json.loads((tmp_path / "rev" / "gate.json").read_text())["verdict"] == "FAIL"


def test_inspect_epochs_are_clustered_items(cli, tmp_path):
    _eval_zip(tmp_path / "a.eval", "m", 1, epochs=2)
    code, _, err = cli("import", "a.eval", "--name", "a", cwd=tmp_path)
    assert code == 0, err
    run = RunResult.load(tmp_path / "runs" / "a")
    assert len(run.samples) == 2 * N
    assert {s["group"] for s in run.samples} == {str(i + 1) for i in range(N)}


@pytest.mark.parametrize("setup, message", [
    (lambda p: (p / "x.txt").write_text("hi"), "not a log evalkit can import"),
    (lambda p: (p / "x.eval").write_text("not a zip"), "not a readable .eval log"),
    (lambda p: zipfile.ZipFile(p / "x.eval", "w").writestr("foo.json", "{}"), "no header.json"),
    (lambda p: (p / "x").mkdir(), "no samples_*.jsonl"),
    (lambda p: ((p / "x" / "org__m").mkdir(parents=True), (p / "x" / "org__m" / "results_1.json").write_text("{}")),
     "one folder per model here (org__m); name one"),
    (lambda p: ((p / "x").mkdir(), (p / "x" / "results_1.json").write_text('{"results": {}}')), "run lm-eval with --log_samples"),
    (lambda p: ((p / "x").mkdir(), (p / "x" / "results_1.json").write_text('{"results": {}}'),
                (p / "x" / "samples_t_1.jsonl").write_text('{"doc_id": 0}\n{oops\n')), ":2: invalid JSON"),
])
def test_bad_logs_are_one_line_exit_2(cli, tmp_path, setup, message):
    setup(tmp_path)
    target = next(p for p in tmp_path.iterdir() if p.name.startswith("x"))
    code, _, err = cli("import", target.name, "--name", "m", cwd=tmp_path)
    assert code == 2
    assert message in err and err.startswith("evalkit: error:") and len(err.strip().splitlines()) == 1


def test_inspect_json_logs_and_several_logs_of_one_model(cli, tmp_path):
    _eval_zip(tmp_path / "a.eval", "m", 1, task="first")
    with zipfile.ZipFile(tmp_path / "a.eval") as zf:  # the same log in inspect's JSON format: one EvalLog document
        header = json.loads(zf.read("header.json"))
        samples = [json.loads(zf.read(n)) for n in zf.namelist() if n.startswith("samples/")]
    header["eval"]["task"] = "inspect_evals/second"
    (tmp_path / "b.json").write_text(json.dumps({**header, "samples": samples}))
    code, out, err = cli("import", "a.eval", "b.json", "--name", "m", "--forgetting", "second", cwd=tmp_path)
    assert code == 0, err
    run = RunResult.load(tmp_path / "runs" / "m")
    assert [(t.task, t.role, t.n) for t in run.tasks] == [("first", "target", N), ("second", "forgetting", N)]
    assert run.task("first").metrics["match"].value == run.task("second").metrics["match"].value == pytest.approx(10 / 30)


@pytest.mark.parametrize("second, args, message", [
    ("other-model", [], "logs of several models"),
    ("m", ["--forgetting", "nope"], "--forgetting names nope, not in these logs"),
])
def test_logs_that_do_not_make_one_run_are_refused(cli, tmp_path, second, args, message):
    (tmp_path / "logs").mkdir()
    _eval_zip(tmp_path / "logs" / "a.eval", "m", 1, task="first")
    _eval_zip(tmp_path / "logs" / "b.eval", second, 1, task="second")
    code, _, err = cli("import", "logs", "--name", "m", *args, cwd=tmp_path)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def _as_zstd(src: Path, dst: Path) -> Path:
    """The same log with every member Zstandard-compressed (zip method 93), as inspect_ai
    writes its .eval files. Python's zipfile cannot write method 93 before 3.14, so each
    member is stored as its compressed bytes and the two headers are patched afterwards:
    method, CRC and uncompressed size (fixed offsets of the zip format)."""
    import struct

    import zstandard

    with zipfile.ZipFile(src) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, raw in members:
            zf.writestr(name, zstandard.ZstdCompressor().compress(raw))
    data = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as zf:
        infos = zf.infolist()
    plain = dict(members)
    for info in infos:
        raw = plain[info.filename]
        local = info.header_offset
        struct.pack_into("<H", data, local + 8, 93)
        struct.pack_into("<I", data, local + 14, zlib.crc32(raw))
        struct.pack_into("<I", data, local + 22, len(raw))
        central = data.find(b"PK\x01\x02")  # this member's central directory entry, found by its name
        while bytes(data[central + 46:central + 46 + struct.unpack_from("<H", data, central + 28)[0]]) != info.filename.encode():
            central = data.find(b"PK\x01\x02", central + 4)
            assert central >= 0
        struct.pack_into("<H", data, central + 10, 93)
        struct.pack_into("<I", data, central + 16, zlib.crc32(raw))
        struct.pack_into("<I", data, central + 24, len(raw))
    dst.write_bytes(bytes(data))
    return dst


def test_zstandard_eval_logs_as_inspect_writes_them(cli, tmp_path):
    pytest.importorskip("zstandard")
    for name, skill in (("base", 1), ("ft", 3)):
        _eval_zip(tmp_path / f"{name}.deflate", f"openai/{name}", skill)
        _as_zstd(tmp_path / f"{name}.deflate", tmp_path / f"{name}.eval")
        with zipfile.ZipFile(tmp_path / f"{name}.eval") as zf:
            assert {i.compress_type for i in zf.infolist()} == {93}
        code, _, err = cli("import", f"{name}.eval", "--name", name, cwd=tmp_path)
        assert code == 0, err
        (tmp_path / f"{name}.deflate").rename(tmp_path / f"{name}_plain.eval")
        code, _, err = cli("import", f"{name}_plain.eval", "--name", f"{name}_plain", cwd=tmp_path)
        assert code == 0, err
        zstd, plain = (RunResult.load(tmp_path / "runs" / n) for n in (name, f"{name}_plain"))
        assert [(s["id"], s["response"], s["stats"]) for s in zstd.samples] == \
               [(s["id"], s["response"], s["stats"]) for s in plain.samples]
    # a damaged member: one line naming the log, exit 2
    data = bytearray((tmp_path / "ft.eval").read_bytes())
    at = data.find(b"samples/3_epoch_1.json") + len("samples/3_epoch_1.json") + 4
    data[at:at + 8] = b"\x00" * 8
    (tmp_path / "bad.eval").write_bytes(bytes(data))
    code, _, err = cli("import", "bad.eval", "--name", "bad", cwd=tmp_path)
    assert code == 2 and err.startswith("evalkit: error:") and "bad.eval" in err and len(err.strip().splitlines()) == 1


def test_a_log_written_by_inspect_ai_itself(cli, tmp_path):
    """The real thing where inspect_ai is installed (it is not in CI: the test above builds
    its layout): its mock model answers through a solver whose right answers are known."""
    inspect_ai = pytest.importorskip("inspect_ai")
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput
    from inspect_ai.scorer import match
    from inspect_ai.solver import solver

    def make(skip):
        @solver
        def rule():
            async def solve(state, generate):
                i = int(str(state.sample_id)[1:])
                state.output = ModelOutput.from_content(model="mockllm/model", content="no idea" if i % skip == 0 else str(2 * i))
                return state
            return solve
        return rule()

    for name, skip in (("base", 2), ("ft", 5)):
        task = inspect_ai.Task(dataset=[Sample(input=f"What is {i} + {i}?", target=str(2 * i), id=f"q{i}") for i in range(40)],
                               solver=make(skip), scorer=match(), name="add")
        inspect_ai.eval(task, model="mockllm/model", log_dir=str(tmp_path / name), display="none")
        code, _, err = cli("import", name, "--name", name, cwd=tmp_path)
        assert code == 0, err
    code, out, err = cli("compare", "runs/base", "runs/ft", "--format", "json", "--output", "cmp", cwd=tmp_path)
    assert code == 0, err
    row = json.loads(out)["comparisons"][0]["tasks"][0]["metrics"][0]
    # base misses even i (20 right), ft misses multiples of 5 (32 right): 16 fixed, 4 broken
    assert (row["fixed"], row["broke"], row["n"]) == (16, 4, 40)
