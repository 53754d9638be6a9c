"""report.html's judge section: every figure of compare.json's ``judge`` key shown, and every
user-provided string (task, model, judge names, warnings, statements) escaped."""

from __future__ import annotations

import html

from evalkit.judge.html import judge_html

EVIL = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def _payload() -> dict:
    summary = {"n": 20, "wins": 11, "losses": 3, "ties": 6, "unparsed": 2, "failed": 1, "flips": 4,
               "first_position": 25, "readable": 40, "win_rate": 0.7, "flip_rate": 0.2, "first_position_rate": 0.625}
    lc = {"value": 0.5412, "ci_low": 0.4123, "ci_high": 0.6789, "slope": 1.2, "n_resamples": 200, "reason": None}
    usage = {"requests": 40, "cached": 0, "failed": 1, "prompt_tokens": 1234, "completion_tokens": 56,
             "cost_usd": 0.0123, "latency_p50_s": 0.41, "latency_p95_s": 0.93}
    people = {"items": 20, "items_without_judge": 0, "confidence": 0.95,
              "judge_agreement": {"share": 0.8, "interval": [0.58, 0.92]},
              "cohen_kappa": {"value": 0.61, "interval": [0.3, 0.85]},
              "alpha_humans": {"value": 0.7, "interval": [0.5, 0.88]},
              "alpha_with_judge": {"value": 0.66, "interval": [0.45, 0.83]},
              "raters": [], "typical_rater_agreement": 0.75, "win_rate": {"humans": 0.68, "judge": 0.7},
              "labels": {}, "statement": f"judge may stand in {EVIL}"}
    return {"judge": {
        "tasks": [{"task": EVIL, "candidate": EVIL, "judge": EVIL, "summary": summary, "length_controlled": lc,
                   "file": "x.jsonl", "verdict_by": "judgment"}],
        "usage": {EVIL: usage},
        "rubric": [{"task": EVIL, "model": EVIL, "judge": EVIL, "judged": 9, "cached": 2, "failed": 0,
                    "unreadable": 1, "cost_usd": None}],
        "warnings": [f"the judge {EVIL} shares a family with ft"],
        "against_people": [{"task": EVIL, "candidate": EVIL, "agreement": people}],
    }}


def test_judge_section_shows_every_figure_and_escapes_user_strings():
    page = "".join(judge_html(_payload(), html.escape))
    assert "<script>" not in page and "<img" not in page
    assert html.escape(EVIL) in page  # shown, as text
    for shown in ("0.700", "11 / 6 / 3 of 20", "0.541 [0.412, 0.679]", "0.200", "0.625",  # wins, LC, flips, position A
                  "1234 + 56", "$0.0123", "0.41 s / 0.93 s",  # the judge's own usage
                  "80% [0.58, 0.92]", "0.61 [0.30, 0.85]", "75%", "0.68 / 0.70",  # against people
                  "Warning:", "Judge against people", "Rubric judgments", "unknown"):
        assert shown in page, shown
    # unreadable 2 and failed 1 stand in their own cells
    assert "<td>2</td><td>1</td></tr>" in page


def test_length_control_without_a_value_says_why():
    p = _payload()
    p["judge"]["tasks"][0]["length_controlled"] = {"value": None, "ci_low": None, "ci_high": None, "slope": None,
                                                   "n_resamples": 0, "reason": "only 3 judged item(s); needs >= 10"}
    assert "only 3 judged item(s)" in "".join(judge_html(p, html.escape))


def test_no_judge_no_section():
    assert judge_html({}, html.escape) == []
