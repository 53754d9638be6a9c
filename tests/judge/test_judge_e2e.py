"""The judges end to end: ``evalkit compare`` against the fake OpenAI-compatible server, with
models under test whose answers have known lengths and judges whose verdicts are known
functions of the two texts (issue 13's "done when")."""

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_openai_server import FakeOpenAIServer, ServerConfig  # noqa: E402

KEY_ENV = "EVALKIT_TEST_JUDGE_KEY"
N = 80


def _u(*parts) -> float:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big") / 2**64


def _answer(who: str, extra: int):
    def respond(prompt: str) -> str:
        i = re.search(r"Question (\d+)", prompt).group(1)
        return " ".join([who, i] + ["word"] * (extra + int(6 * _u(who, i))))
    return respond


def _answers(prompt: str) -> tuple[str, str]:
    a = re.search(r"\[The Start of Answer A\]\n(.*?)\n\[The End of Answer A\]", prompt, re.S).group(1)
    b = re.search(r"\[The Start of Answer B\]\n(.*?)\n\[The End of Answer B\]", prompt, re.S).group(1)
    return a, b


def prefers_longer(prompt: str) -> str:
    """Log-odds of choosing A: (len A - len B) / 8 characters; nothing else matters to it."""
    from scipy.special import expit

    a, b = _answers(prompt)
    return "The longer one is better. [[A]]" if _u(a, b) < expit((len(a) - len(b)) / 8) else "Clearly [[B]]"


def always_first(prompt: str) -> str:
    return "Answer A is better. [[A]]"


def rates_by_words(prompt: str) -> str:
    answer = re.search(r"\[The Start of the Answer\]\n(.*?)\n\[The End of the Answer\]", prompt, re.S).group(1)
    n = len(answer.split())
    return "no idea" if n == 7 else f"Rating: [[{min(5, max(1, n // 2))}]]"  # 7 words: unreadable on purpose


def write_project(root: Path, url: str) -> Path:
    (root / "tasks" / "data").mkdir(parents=True)
    rows = [{"id": f"q{i}", "question": f"Question {i}: how do I sync my notes?", "answer": "Open Settings > Sync."}
            for i in range(N)]
    (root / "tasks" / "data" / "open.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = 'type: generate\ndata: data/open.jsonl\nfields: {target: answer}\nprompt: "{question}"\n'
    (root / "tasks" / "open_long.yaml").write_text("name: open_long\n" + common + "scorer: pairwise\njudge: judge_long\n")
    (root / "tasks" / "open_first.yaml").write_text("name: open_first\n" + common + "scorer: pairwise\njudge: judge_first\n"
                                          "metrics: [win_rate, exact_match]\n")
    (root / "tasks" / "rated.yaml").write_text("name: rated\n" + common + "judge: rater\n"
                                     'scorer: {name: rubric, args: {rubric: "5: complete; 1: useless", scale: [1, 5]}}\n')
    m = {"base_url": url, "api_key_env": KEY_ENV, "timeout": 5, "retry_base_delay": 0.02}
    models = {"base": {"backend": "openai", "model": "base-m", **m}, "ft": {"backend": "openai", "model": "ft-m", **m},
              "judge_long": {"backend": "openai", "model": "gpt-4o", **m},
              "judge_first": {"backend": "openai", "model": "judge-first", **m},
              "rater": {"backend": "openai", "model": "rater", **m}}
    gates = [{"type": "must_improve", "task": "open_long", "metric": "win_rate"},
             {"type": "must_not_regress", "task": "open_first", "metric": "win_rate", "margin": 0.1}]
    cfg = {"cache_dir": "cache", "seed": 7, "tasks": ["tasks/*.yaml"], "models": models, "gates": gates}
    (root / "evalkit.yaml").write_text(json.dumps(cfg))
    return root / "evalkit.yaml"


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    import os

    from evalkit.cli.main import main

    tmp = tmp_path_factory.mktemp("judge")
    os.environ[KEY_ENV] = "sk-test-judge"
    responders = {"base-m": _answer("base", 3), "ft-m": _answer("cand", 5), "gpt-4o": prefers_longer,
                  "judge-first": always_first, "rater": rates_by_words}
    config = ServerConfig(responders=responders, models=tuple(responders))
    try:
        with FakeOpenAIServer(config) as server:
            cfg = write_project(tmp / "proj", server.base_url)
            code = main(["compare", "base", "ft", "--config", str(cfg), "--output", str(tmp / "out"), "--gate", "-q"])
            first = dict(server.stats)
            again = main(["compare", "base", "ft", "--config", str(cfg), "--output", str(tmp / "out2"), "-q"])
            second = dict(server.stats)
    finally:
        os.environ.pop(KEY_ENV, None)
    payload = json.loads((tmp / "out" / "compare.json").read_text())
    return {"code": code, "again": again, "first": first, "second": second, "payload": payload, "out": tmp / "out"}


def _row(payload, task, metric):
    t = next(t for t in payload["comparisons"][0]["tasks"] if t["task"] == task)
    return next(m for m in t["metrics"] if m["metric"] == metric)


def _judged(payload, task):
    return next(t for t in payload["judge"]["tasks"] if t["task"] == task)


def test_a_length_loving_judge_biases_the_win_rate_and_length_control_removes_it(compared):
    p = compared["payload"]
    row = _row(p, "open_long", "win_rate")
    assert row["tested"] and row["base"] == 0.5
    assert row["ft"] > 0.6 and row["ci_low"] > 0  # plain win rate: "significantly better", by length alone
    lc = _judged(p, "open_long")["length_controlled"]
    assert lc["ci_low"] <= 0.5 <= lc["ci_high"], lc  # the truth at equal length: no preference
    assert lc["length_coef"] > 0.5


def test_a_position_biased_judge_is_caught_by_its_flip_rate(compared):
    s = _judged(compared["payload"], "open_first")["summary"]
    assert s["flip_rate"] == 1.0 and s["first_position_rate"] == 1.0
    assert s["wins"] == s["losses"] == 0 and s["win_rate"] == 0.5  # both-orders rule: no win from position
    assert _row(compared["payload"], "open_first", "win_rate")["ft"] == 0.5


def test_judgments_are_stored_and_the_judge_asked_in_both_orders_once(compared):
    lines = (compared["out"] / "judge" / "ft" / "open_long.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == N and len(first["raw"]) == 2 and first["raw"][0].endswith("]]")
    assert compared["first"]["model:gpt-4o"] == 2 * N and compared["first"]["model:judge-first"] == 2 * N
    assert compared["second"]["model:gpt-4o"] == 2 * N  # a second compare reads the judge's cache
    usage = compared["payload"]["judge"]["usage"]["judge_long"]
    assert usage["requests"] == 2 * N and usage["failed"] == 0


def test_win_rate_is_a_gate_metric(compared):
    gate = json.loads((compared["out"] / "gate.json").read_text())
    verdicts = {g["metric"]: g["verdict"] for g in gate["gates"]}
    assert set(verdicts) == {"win_rate"} and len(gate["gates"]) == 2
    assert compared["code"] in (0, 1) and compared["again"] == 0


def test_rubric_scores_are_stored_with_the_raw_judgment(compared):
    samples = [json.loads(x) for x in (compared["out"] / "runs" / "ft" / "samples.jsonl").read_text().splitlines()]
    rated = [s for s in samples if s["task"] == "rated"]
    unreadable = [s for s in rated if s["extra"]["judge"]["verdict"] is None]
    assert unreadable and all(s["extra"]["label"] == "judge unreadable" and s["stats"]["judge_score"] == [0.0, 0.0]
                              for s in unreadable)
    readable = [s for s in rated if s["extra"]["judge"]["verdict"] is not None]
    assert all(s["extra"]["judge"]["raw"].startswith("Rating:") for s in readable)
    expected = sum(min(5, max(1, len(s["response"].split()) // 2)) for s in readable) / len(readable)
    assert _row(compared["payload"], "rated", "judge_score")["ft"] == pytest.approx(expected)
    shown = {r["model"]: r for r in compared["payload"]["judge"]["rubric"]}
    assert shown["ft"]["judged"] == N and shown["ft"]["unreadable"] == len(unreadable) and shown["ft"]["failed"] == 0


def test_compare_shows_the_judge_against_a_review_study_of_the_same_items(compared, tmp_path, monkeypatch, capsys):
    pytest.importorskip("sqlalchemy")
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "human_review"))
    from review_helpers import new_study, rate_all

    from evalkit.cli.main import main

    runs = compared["out"] / "runs"
    store, study, _, url = new_study(tmp_path, "pilot", runs=[runs / "base", runs / "ft"], tasks=("open_long",),
                                     items=20, overlap=2)
    for name in ("ann", "bob"):
        store.invite(study, name)
        # both raters prefer the longer answer, like the judge
        rate_all(store, study, store.rater_by_name(study, name),
                 lambda v: "left" if len(v.left) > len(v.right) else "right" if len(v.right) > len(v.left) else "tie")
    os.environ[KEY_ENV] = "sk-test-judge"
    try:
        responders = {"gpt-4o": prefers_longer, "judge-first": always_first, "rater": rates_by_words}
        with FakeOpenAIServer(ServerConfig(responders=responders)) as server:  # a new port: the judge is asked again
            cfg = compared["out"].parent / "proj" / "evalkit.yaml"
            text = cfg.read_text()
            old_url = json.loads(text)["models"]["base"]["base_url"]
            cfg.write_text(text.replace(old_url, server.base_url))
            code = main(["compare", str(runs / "base"), str(runs / "ft"), "--config", str(cfg), "--output",
                         str(tmp_path / "cmp"), "--review", f"{url}#pilot", "-q"])
    finally:
        os.environ.pop(KEY_ENV, None)
    assert code == 0
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "## Judge against people" in md
    assert "<h3>Judge against people</h3>" in (tmp_path / "cmp" / "report.html").read_text()
    rows = json.loads((tmp_path / "cmp" / "compare.json").read_text())["judge"]["against_people"]
    (row,) = [r for r in rows if r["task"] == "open_long"]
    assert row["agreement"]["items"] == 20 and row["agreement"]["judge_agreement"]["share"] > 0.5


def test_report_html_has_the_judge_section(compared, cli):
    page = (compared["out"] / "report.html").read_text()
    long = _judged(compared["payload"], "open_long")
    s = long["summary"]
    assert "<h2 id=judge>Judge</h2>" in page
    assert f"{s['wins']} / {s['ties']} / {s['losses']} of {s['n']}" in page
    assert f"{s['flip_rate']:.3f}" in page and "The judge's own requests" in page
    # `evalkit report DIR` rebuilds it from compare.json alone
    (compared["out"] / "report.html").unlink()
    code, _, err = cli("report", str(compared["out"]))
    assert code == 0, err
    assert "<h2 id=judge>Judge</h2>" in (compared["out"] / "report.html").read_text()
