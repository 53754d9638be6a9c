"""The judge against people: agreement figures on recorded votes checked against sklearn, the
krippendorff package and evalkit's own alpha; the review CLI shows them and builds a study
from the judge's least sure items."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from evalkit.judge.calibration import judge_vs_humans, majority

# Recorded votes: 12 items, three raters (x: candidate better, y: base better).
VOTES = {
    "i0": [("ann", "x"), ("bob", "x"), ("cy", "x")], "i1": [("ann", "x"), ("bob", "tie"), ("cy", "x")],
    "i2": [("ann", "y"), ("bob", "y"), ("cy", "x")], "i3": [("ann", "tie"), ("bob", "tie"), ("cy", "both_bad")],
    "i4": [("ann", "x"), ("bob", "y"), ("cy", "y")], "i5": [("ann", "x"), ("bob", "x"), ("cy", "tie")],
    "i6": [("ann", "y"), ("bob", "y"), ("cy", "y")], "i7": [("ann", "x"), ("bob", "x"), ("cy", "x")],
    "i8": [("ann", "tie"), ("bob", "x"), ("cy", "x")], "i9": [("ann", "y"), ("bob", "tie"), ("cy", "y")],
    "i10": [("ann", "x"), ("bob", "y")], "i11": [("ann", "x"), ("bob", "x"), ("cy", "y")],
}
JUDGE = {"i0": "ft", "i1": "ft", "i2": "base", "i3": "tie", "i4": "ft", "i5": "ft", "i6": "base", "i7": "tie",
         "i8": "ft", "i9": "base", "i10": "tie", "i11": "ft", "i12": "ft"}  # i12: no votes


def test_agreement_figures_match_sklearn_and_krippendorff():
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    from human_review.agreement import krippendorff_alpha_nominal

    got = judge_vs_humans(VOTES, JUDGE, rng=np.random.default_rng(0), n_boot=200)
    keys = sorted(VOTES)
    human = {k: ["tie" if x == "both_bad" else x for _, x in VOTES[k]] for k in keys}
    maj = [majority(human[k]) for k in keys]
    judge = [{"ft": "x", "base": "y", "tie": "tie"}[JUDGE[k]] for k in keys]
    assert got["items"] == 12 and got["items_without_judge"] == 0
    assert got["judge_agreement"]["share"] == pytest.approx(np.mean([a == b for a, b in zip(judge, maj)]))
    assert got["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(judge, maj, labels=["x", "tie", "y"]))
    # alpha: a raters x items matrix for the package; evalkit's own coincidence-matrix alpha agrees
    code = {"x": 0, "tie": 1, "y": 2}
    matrix = np.full((4, 12), np.nan)
    for j, k in enumerate(keys):
        for i, v in enumerate(human[k] + [judge[j]]):
            matrix[i, j] = code[v]
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert got["alpha_with_judge"]["value"] == pytest.approx(expected)
    assert got["alpha_with_judge"]["value"] == pytest.approx(
        krippendorff_alpha_nominal({k: human[k] + [judge[j]] for j, k in enumerate(keys)}))
    assert got["alpha_humans"]["value"] == pytest.approx(krippendorff_alpha_nominal(human))
    for name in ("cohen_kappa", "alpha_humans", "alpha_with_judge"):
        low, high = got[name]["interval"]
        assert low <= got[name]["value"] <= high
    assert got["win_rate"]["humans"] == pytest.approx((maj.count("x") + 0.5 * maj.count("tie")) / 12)


def test_a_judge_that_echoes_the_majority_may_stand_in_and_a_contrary_one_may_not():
    echo = {k: {"x": "ft", "y": "base", "tie": "tie"}[majority([x for _, x in v])] for k, v in VOTES.items()}
    good = judge_vs_humans(VOTES, echo, rng=np.random.default_rng(1), n_boot=100)
    assert good["judge_agreement"]["share"] == pytest.approx(1.0) and "may stand in" in good["statement"]
    contrary = {k: {"ft": "base", "base": "ft", "tie": "ft"}[v] for k, v in echo.items()}
    bad = judge_vs_humans(VOTES, contrary, rng=np.random.default_rng(1), n_boot=100)
    assert bad["judge_agreement"]["share"] == 0 and "should not stand in" in bad["statement"]


def _write_judgments(folder: Path, model: str, task: str, outcomes: dict[str, str], flipped=()):
    d = folder / "judge" / model
    d.mkdir(parents=True, exist_ok=True)
    rows = [{"id": k, "outcome": o, "flipped": k in flipped} for k, o in outcomes.items()]
    (d / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _vote(rater: str, view) -> str:
    """ann prefers the candidate on every item; bob on even items only."""
    ft_left = view.left.startswith("fine-tune")
    item = int((view.left if ft_left else view.right).rsplit("qa", 1)[1])
    wants_ft = rater == "ann" or item % 2 == 0
    return "left" if wants_ft == ft_left else "right"


def test_review_results_show_the_judge_against_people_and_a_study_of_disagreements(cli, tmp_path, monkeypatch):
    pytest.importorskip("sqlalchemy")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "human_review"))
    from review_helpers import FT_MODEL, make_pair_runs, new_study, rate_all

    runs = make_pair_runs(tmp_path, 12)
    store, study, _, url = new_study(tmp_path, n=12, runs=runs, overlap=2)
    for name in ("ann", "bob"):
        store.invite(study, name)
        rater = store.rater_by_name(study, name)
        rate_all(store, study, rater, lambda v, n=name: _vote(n, v))
    cmp = tmp_path / "cmp"
    _write_judgments(cmp, FT_MODEL, "qa", {f"qa{i}": ("ft" if i % 3 else "tie") for i in range(12)}, flipped={"qa3", "qa6"})
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("review", "results", "study", "--db", url, "--resamples", 50, "--judge", cmp, "--output", "res")
    assert code == 0, err
    assert "## Judge against people" in out
    saved = json.loads((tmp_path / "res" / "study.results.json").read_text())["judge_agreement"]
    assert saved[0]["task"] == "qa" and saved[0]["candidate"] == FT_MODEL and saved[0]["agreement"]["items"] == 12

    code, out, err = cli("review", "create", "unsure", "--db", f"sqlite:///{tmp_path / 'unsure.sqlite'}", "--from", runs[0],
                         "--from", runs[1], "--from-judge-disagreements", cmp, "--overlap", 1)
    assert code == 0, err
    assert "4 item(s) where the judge flipped" in out and "4 items x 1 candidate(s)" in out
