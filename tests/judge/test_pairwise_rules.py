"""The pairwise judge's rules on known judgments: both orders, flips, unreadable verdicts,
and the length-controlled regression against statsmodels and a known truth."""

import hashlib

import numpy as np
import pytest

from evalkit.judge.family import base_id, family, same_family_warnings
from evalkit.judge.length import _design, _rows, length_controlled, newton_weighted
from evalkit.judge.pairwise import candidate_stats, judge_pair, summarize
from evalkit.judge.parse import label_verdict, pairwise_verdict, score_verdict


def test_verdicts_are_read_from_the_last_brackets_only():
    assert pairwise_verdict("Format: [[A]], [[B]] or [[C]]. ... so [[B]]") == "B"
    assert pairwise_verdict("[[C]]") == "tie" and pairwise_verdict("[[ a ]]") == "A"
    assert pairwise_verdict("B is better") is None and pairwise_verdict(None) is None
    assert pairwise_verdict("[[D]]") is None
    assert score_verdict("Rating: [[4]]", 1, 5) == 4.0
    assert score_verdict("[[7]]", 1, 5) is None  # off the scale is unreadable, not clipped
    assert label_verdict("[[Pass]]", ["pass", "fail"]) == "pass" and label_verdict("[[maybe]]", ["pass", "fail"]) is None


def test_a_win_needs_both_orders():
    # order 0 shows base as A, order 1 shows the candidate as A
    assert judge_pair("x", "[[B]]", "[[A]]", 1, 2).outcome == "ft"
    assert judge_pair("x", "[[A]]", "[[B]]", 1, 2).outcome == "base"
    always_a = judge_pair("x", "[[A]]", "[[A]]", 1, 2)
    assert always_a.outcome == "tie" and always_a.flipped
    one_tie = judge_pair("x", "[[B]]", "[[C]]", 1, 2)
    assert one_tie.outcome == "tie" and one_tie.flipped


def test_an_unreadable_or_failed_judgment_is_counted_never_a_tie():
    unread = judge_pair("u", "[[B]]", "I cannot decide", 1, 2)
    failed = judge_pair("f", None, "[[A]]", 1, 2)
    assert unread.outcome is None and unread.unparsed and candidate_stats(unread) == [0.0, 0.0]
    assert failed.outcome is None and failed.failed and not failed.unparsed
    s = summarize([unread, failed, judge_pair("w", "[[B]]", "[[A]]", 1, 2)])
    assert (s.n, s.wins, s.ties, s.unparsed, s.failed, s.win_rate) == (1, 1, 0, 1, 1, 1.0)


def test_a_position_biased_judge_shows_in_its_flip_and_position_rates():
    s = summarize([judge_pair(str(i), "[[A]]", "[[A]]", i, 2 * i) for i in range(30)])
    assert s.wins == s.losses == 0 and s.win_rate == 0.5
    assert s.flip_rate == 1.0 and s.first_position_rate == 1.0


def _u(*parts) -> float:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big") / 2**64


def _judged(n: int, quality: float, seed: str = "0"):
    """A judge whose log-odds of preferring position A are (len A - len B) / 8 chars, plus
    ``quality`` in favour of the candidate; the candidate's answers run about two words longer."""
    from scipy.special import expit

    def verdict(a, b, ft_is_a):
        p = expit((len(a) - len(b)) / 8 + (quality if ft_is_a else -quality))
        return "[[A]]" if _u(a, b) < p else "[[B]]"

    out = []
    for i in range(n):
        b = " ".join(["base", str(i), seed] + ["word"] * (3 + int(6 * _u("b", str(i), seed))))
        f = " ".join(["cand", str(i), seed] + ["word"] * (5 + int(6 * _u("f", str(i), seed))))
        out.append(judge_pair(str(i), verdict(b, f, False), verdict(f, b, True), len(b), len(f)))
    return out


def test_the_batched_newton_fit_is_the_glm_fit():
    import statsmodels.api as sm

    rows = _rows(_judged(120, 0.3))
    x = _design(rows, float(rows[:, 2].std()))
    expected = sm.GLM(rows[:, 1], x, family=sm.families.Binomial()).fit().params
    weights = np.ones((2, len(rows)))
    weights[1, :10] = 3.0  # a weighted fit is the fit of the repeated rows
    repeated = np.concatenate([rows, rows[:10], rows[:10]])
    expected_w = sm.GLM(repeated[:, 1], _design(repeated, float(rows[:, 2].std())), family=sm.families.Binomial()).fit().params
    got = newton_weighted(rows[:, 1], x, weights)
    np.testing.assert_allclose(got[0], expected, atol=1e-8)
    np.testing.assert_allclose(got[1], expected_w, atol=1e-8)


@pytest.mark.parametrize("quality", [0.0, 0.8])
def test_length_control_recovers_the_preference_at_equal_length(quality):
    from scipy.special import expit

    judged = _judged(150, quality)
    s = summarize(judged)
    lc = length_controlled(judged, np.random.default_rng(5), n_resamples=400)
    truth = float(expit(quality))  # one judgment's preference for the candidate at zero length difference
    assert lc.ci_low <= truth <= lc.ci_high, (lc, truth)
    assert lc.length_coef > 0.5  # the judge's taste for length is found
    assert s.win_rate > truth + 0.05  # while the plain win rate is pulled up by length


def test_too_few_items_gives_a_reason_not_a_number():
    lc = length_controlled(_judged(5, 0.0), np.random.default_rng(0))
    assert lc.value is None and "needs >= 10" in lc.reason


def test_families_from_model_ids():
    assert base_id("ft:gpt-4o-mini-2024-07-18:acme::abc123") == "gpt-4o-mini-2024-07-18"
    assert family("ft:gpt-4o-mini-2024-07-18:acme::abc123") == family("gpt-4o-2024-08-06") == "openai-gpt"
    assert family("meta-llama/Llama-3.1-8B-Instruct") == "meta-llama"
    assert family("Qwen/Qwen2.5-7B") == "qwen" and family("nimbus-ft") is None
    warned = same_family_warnings("judge", "gpt-4o-2024-08-06", {"ft": "ft:gpt-4o-mini-2024-07-18:acme::x", "base": "Qwen/Qwen2.5-7B"})
    assert len(warned) == 1 and "'ft'" in warned[0]


def test_a_likelihood_judge_prefers_the_more_probable_answer_in_both_orders():
    from types import SimpleNamespace

    from evalkit.judge.hook import PairwiseSpec, _by_likelihood

    class Fake:
        def likelihoods(self, contexts, continuations):
            assert all(c.endswith("Answer:") for c in contexts)
            return [-len(x) / 10 for x in continuations]  # shorter is more probable

    pairs = [({"id": "a", "prompt": "Q?", "response": "short", "reference": "r"}, {"id": "a", "response": "much longer one"}),
             ({"id": "b", "prompt": "Q?", "response": "same", "reference": None}, {"id": "b", "response": "same"})]
    spec = SimpleNamespace(source=None)
    got = _by_likelihood(Fake(), PairwiseSpec(judge="j", verdict_by="likelihood"), spec, pairs, {})
    assert got[0].outcome == "base" and not got[0].flipped and got[0].raw[0].endswith("[[A]]")
    assert got[1].outcome == "tie" and not got[1].flipped


def test_pairwise_args_are_checked():
    from evalkit.errors import ConfigError
    from evalkit.judge.hook import PairwiseSpec

    with pytest.raises(ConfigError, match="verdict_by"):
        PairwiseSpec(judge="j", verdict_by="vibes")


def test_a_task_file_with_bad_judge_settings_is_refused_with_its_line(tmp_path):
    from evalkit.config import load_task
    from evalkit.errors import ConfigError

    head = 'name: t\ntype: generate\ndata: d.jsonl\nprompt: "{q}"\n'
    for body, message in [("scorer: pairwise\n", "needs judge: MODEL"),
                          ("scorer: {name: pairwise, args: {verdict_by: vibes}}\njudge: j\n", "verdict_by"),
                          ("scorer: {name: pairwise, args: {colour: red}}\njudge: j\n", "bad args"),
                          ("metrics: [exact_match]\njudge: j\n", "applies to scorer: pairwise")]:
        path = tmp_path / "t.yaml"
        path.write_text(head + body)
        with pytest.raises(ConfigError, match=message):
            load_task(path)


def test_a_judge_that_is_not_a_model_of_the_config_is_one_line_exit_2(tmp_path, cli):
    import json

    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "t.yaml").write_text('name: t\ntype: generate\ndata: d.jsonl\nprompt: "{q}"\n'
                                               "fields: {target: a}\nscorer: pairwise\njudge: nobody\n")
    models = {"m": {"backend": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}}
    (tmp_path / "evalkit.yaml").write_text(json.dumps({"tasks": ["tasks/*.yaml"], "models": models}))
    code, out, err = cli("validate", "--config", tmp_path / "evalkit.yaml")
    lines = [x for x in err.splitlines() if x.startswith("evalkit: error:")]
    assert code == 2 and len(lines) == 1 and "judge 'nobody' is not a model of this config" in lines[0], err


def test_a_changed_rubric_judge_changes_the_task_cache_key(tmp_path):
    from types import SimpleNamespace

    from evalkit.config import load_task
    from evalkit.judge.session import judging
    from evalkit.tasks import task_type

    path = tmp_path / "t.yaml"
    path.write_text('name: t\ntype: generate\ndata: d.jsonl\nprompt: "{q}"\nfields: {target: a}\n'
                    'scorer: {name: rubric, args: {scale: [1, 5]}}\njudge: j\n')
    tt = task_type(load_task(path))

    def project(model_id):
        backend = SimpleNamespace(identity=lambda: {"backend": "openai", "model": model_id})
        return SimpleNamespace(backend=lambda name: backend, close_backends=lambda names: None)

    with judging(project("gpt-4o-2024-08-06"), cache=None):
        first = tt.code_digest()
    with judging(project("gpt-4o-2024-08-06"), cache=None):
        same = tt.code_digest()
    with judging(project("gpt-4.1"), cache=None):
        other = tt.code_digest()
    assert first == same != other
