"""compare --gate --sequential: growing prefixes of a seeded order, stopped once decided."""

from __future__ import annotations

import json

from conftest import make_project


def _with_gates(path, gates: str):
    path.write_text(path.read_text() + "gates:\n" + gates)
    return path


def test_a_clear_gain_stops_before_the_last_look(tmp_path, cli):
    config = _with_gates(make_project(tmp_path / "p"), "  - {type: must_improve, task: qa, metric: exact_match}\n")
    code, out, err = cli("compare", "base", "ft", "--config", config, "--gate", "--sequential", "--looks", "10",
                         "--output", tmp_path / "out")
    assert code == 0, out + err
    gate = json.loads((tmp_path / "out" / "gate.json").read_text())
    (result,) = gate["gates"]
    assert result["verdict"] == "PASS" and "anytime-valid" in result["message"]
    assert result["n"] < 30  # decided on a prefix of the 30 items
    line = next(x for x in out.splitlines() if x.startswith("sequential:"))
    assert "% not run" in line and "0 % not run" not in line
    # The compare table covers the same prefix the gate saw.
    compared = json.loads((tmp_path / "out" / "compare.json").read_text())["comparisons"][0]
    qa = next(t for t in compared["tasks"] if t["task"] == "qa")
    assert qa["n"] == result["n"]


def test_an_undecidable_gate_runs_every_item_and_is_inconclusive(tmp_path, cli):
    # mc has 24 items: far too few to show a forgetting margin of 0.001 either way.
    config = _with_gates(make_project(tmp_path / "p"),
                         "  - {type: must_not_regress, task: mc, metric: accuracy, margin: 0.001}\n")
    code, out, err = cli("compare", "base", "ft", "--config", config, "--gate", "--sequential", "--looks", "3",
                         "--output", tmp_path / "out")
    assert code == 1, out + err
    (result,) = json.loads((tmp_path / "out" / "gate.json").read_text())["gates"]
    assert result["verdict"] == "INCONCLUSIVE" and result["n"] == 24


def test_sequential_needs_gate(tmp_path, cli):
    config = make_project(tmp_path / "p")
    code, out, err = cli("compare", "base", "ft", "--config", config, "--sequential", "--output", tmp_path / "o")
    assert code == 2 and "--gate" in err


def test_sequential_keeps_stdout_machine_readable_with_format_json(tmp_path, cli):
    config = _with_gates(make_project(tmp_path / "p"), "  - {type: must_improve, task: qa, metric: exact_match}\n")
    code, out, err = cli("compare", "base", "ft", "--config", config, "--gate", "--sequential", "--looks", "5",
                         "--format", "json", "--output", tmp_path / "out")
    assert code == 0, err
    payload = json.loads(out)  # nothing but the JSON on stdout
    assert payload["comparisons"][0]["candidate"] == "ft"
    assert "sequential: ft decided" in err
