"""Gate reports: gate.md (also the CI step summary), junit.xml and gate.json.

Pure renderers of a GateReport; only :func:`write_gate_outputs` touches the file system.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evalkit.compare.gates import FAIL, INCONCLUSIVE, PASS, GateReport, GateResult
from evalkit.report.format import num, signed

FORMAT = "evalkit.gate/1"
_ICON = {PASS: "✅", FAIL: "❌", INCONCLUSIVE: "⚠️"}
_THRESHOLD = {"must_improve": "min effect", "must_not_regress": "margin", "min_score": "min"}


def _verdict_line(report: GateReport) -> str:
    counts = {v: sum(g.verdict == v for g in report.gates) for v in (PASS, FAIL, INCONCLUSIVE)}
    allowed = sum(g.verdict == INCONCLUSIVE and not g.counts_as_fail for g in report.gates)
    tail = f" ({allowed} inconclusive allowed to pass)" if allowed else ""
    return (f"**{_ICON[report.verdict]} {report.verdict}**: {report.candidate} vs {report.base}: "
            f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[INCONCLUSIVE]} inconclusive{tail}")


def _estimate(g: GateResult) -> str:
    """The estimate and the one-sided bound the decision used (not a two-sided interval:
    that is a different test, and beside a PASS it misleads)."""
    if g.estimate is None:
        return "-"
    fmt = num if g.type == "min_score" else signed
    if g.bound is None:
        return fmt(g.estimate, 4)
    word = "<=" if g.type == "min_score" and not g.higher_is_better else ">="
    return f"{fmt(g.estimate, 4)} ({word} {fmt(g.bound, 4)} at {100 * (1 - g.bound_level):.4g}%)"


def _p(g: GateResult) -> str:
    if g.p_value is None:
        return "-"
    return f"{g.p_value:.4f}" + (f" (Holm {g.p_adjusted:.4f})" if g.p_adjusted is not None else "")


def render_gate_md(report: GateReport) -> str:
    """A verdict line and one table row per gate."""
    lines = [
        "## evalkit gates", "", _verdict_line(report), "",
        "Gain = fine-tune - base, sign flipped for lower-is-better metrics (positive = fine-tune better). "
        "Each PASS is a one-sided test; the bound shown is the one it used, at its level (must_improve: "
        "Holm's level for that gate). 0/1 metrics: the exact unconditional test up to 100 items, Tango's score "
        "test above (Wilson for min_score); others: "
        f"paired t / delta method, CR1 when grouped; suites: paired bootstrap, {report.n_resamples:,} resamples, "
        f"seed {report.seed}.", "",
        "| gate | target | metric | verdict | estimate (one-sided bound) | threshold | p | n |",
        "|---|---|---|---|---|---|---|---:|",
    ]
    for g in report.gates:
        direction = "" if g.higher_is_better else " (lower better)"
        lines.append(
            f"| {g.name} | {g.target} | {g.metric}{direction} | {_ICON[g.verdict]} {g.verdict} | {_estimate(g)} | "
            f"{_THRESHOLD[g.type]} {g.threshold:g} | {_p(g)} | {g.n} |"
        )
    # Only what did not pass needs its reasons (detectable effect, items needed) spelled out.
    open_gates = [g for g in report.gates if g.verdict != PASS]
    if open_gates:
        lines += ["", *(f"- **{g.name}** ({g.verdict}): {g.message}" for g in open_gates)]
    return "\n".join(lines) + "\n"


def render_junit(report: GateReport) -> str:
    """JUnit XML: one testcase per gate; FAIL and counted INCONCLUSIVE gates carry a <failure>."""
    import xml.etree.ElementTree as ET

    failures = sum(g.counts_as_fail for g in report.gates)
    suite = ET.Element("testsuite", name="evalkit gates", tests=str(len(report.gates)),
                       failures=str(failures), errors="0", skipped="0")
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="seed", value=str(report.seed))
    for g in report.gates:
        case = ET.SubElement(suite, "testcase", name=g.name, classname=f"evalkit.gates.{g.type}")
        if g.counts_as_fail:
            failure = ET.SubElement(case, "failure", message=f"{g.verdict}: {g.message}", type=g.verdict)
            failure.text = f"{g.type} on {g.target} ({g.metric}): {g.verdict}\n{g.message}\n"
        ET.SubElement(case, "system-out").text = f"{g.verdict}: {g.message}"
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _finite(value: Any) -> Any:
    """JSON has no inf or NaN: write null (the message says why)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def render_gate_json(report: GateReport) -> dict[str, Any]:
    return {
        "format": FORMAT, "base": report.base, "candidate": report.candidate, "verdict": report.verdict,
        "exit_code": report.exit_code, "seed": report.seed, "n_resamples": report.n_resamples,
        "gates": [{k: _finite(v) for k, v in asdict(g).items()} for g in report.gates],
    }


def write_gate_outputs(report: GateReport, out_dir: str | Path) -> list[Path]:
    """Write gate.md, junit.xml and gate.json; append gate.md to $GITHUB_STEP_SUMMARY if set."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = render_gate_md(report)
    written = [out / "gate.md", out / "junit.xml", out / "gate.json"]
    written[0].write_text(md, encoding="utf-8")
    written[1].write_text(render_junit(report), encoding="utf-8")
    written[2].write_text(json.dumps(render_gate_json(report), indent=2) + "\n", encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(md + "\n")
    return written
