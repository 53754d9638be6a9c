"""The pairwise judge's rule: both orders, a win only when they agree.

Order 0 shows the base's answer as A and the candidate's as B; order 1 swaps them. Each
judgment's verdict is mapped to the model it prefers ("ft", "base" or "tie"). An item is a
win for the candidate when both orders prefer it, a loss when both prefer the base, and a tie
otherwise: a judge that picks position A every time thus gives ties, not wins, and its flip
rate (share of items whose two verdicts disagree) says so.

An item with an unreadable judgment or a failed judge request in either order gets no
outcome: it is counted (``unparsed`` / ``failed``) and left out of the win rate, never turned
into a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.judge.parse import pairwise_verdict

SCORE = {"ft": 1.0, "tie": 0.5, "base": 0.0}
# Per order, who sits in position A.
FIRST = ("base", "ft")


def to_model(position_verdict: str | None, order: int) -> str | None:
    """"A"/"B"/"tie" in ``order`` as the model it prefers."""
    if position_verdict in (None, "tie"):
        return position_verdict
    first = FIRST[order]
    other = "ft" if first == "base" else "base"
    return first if position_verdict == "A" else other


@dataclass(frozen=True)
class PairJudgment:
    """One item judged in both orders. ``raw``: the judge's texts (None for a failed request);
    ``positions``: the parsed "A"/"B"/"tie" per order; ``verdicts``: the same as models."""

    id: str
    raw: tuple[str | None, str | None]
    positions: tuple[str | None, str | None]
    failed: bool
    len_base: int
    len_ft: int

    @property
    def verdicts(self) -> tuple[str | None, str | None]:
        return to_model(self.positions[0], 0), to_model(self.positions[1], 1)

    @property
    def unparsed(self) -> bool:
        return not self.failed and None in self.positions

    @property
    def outcome(self) -> str | None:
        """"ft", "base" or "tie"; None when an order has no verdict."""
        v0, v1 = self.verdicts
        if self.failed or v0 is None or v1 is None:
            return None
        return v0 if v0 == v1 and v0 != "tie" else "tie"

    @property
    def flipped(self) -> bool | None:
        v0, v1 = self.verdicts
        return None if v0 is None or v1 is None else v0 != v1

    def to_json(self) -> dict:
        return {"id": self.id, "outcome": self.outcome, "flipped": self.flipped, "verdicts": list(self.verdicts),
                "positions": list(self.positions), "raw": list(self.raw), "failed": self.failed,
                "len_base": self.len_base, "len_ft": self.len_ft}


def judge_pair(item_id: str, raw0, raw1, len_base: int, len_ft: int) -> PairJudgment:
    """``raw0``/``raw1``: the judgment texts of orders 0 and 1, or None for a failed request."""
    failed = raw0 is None or raw1 is None
    positions = (pairwise_verdict(raw0), pairwise_verdict(raw1))
    return PairJudgment(item_id, (raw0, raw1), positions, failed, len_base, len_ft)


@dataclass(frozen=True)
class PairwiseSummary:
    n: int  # items judged in both orders with a verdict each
    wins: int
    losses: int
    ties: int
    unparsed: int
    failed: int
    flips: int
    first_position: int  # readable judgments that preferred position A
    readable: int  # readable judgments (single orders)

    @property
    def win_rate(self) -> float | None:
        return (self.wins + 0.5 * self.ties) / self.n if self.n else None

    @property
    def flip_rate(self) -> float | None:
        return self.flips / self.n if self.n else None

    @property
    def first_position_rate(self) -> float | None:
        """Share of the readable judgments (single orders, ties included) that chose position A.
        Each answer sits in A once, so an unbiased judge picks A as often as B."""
        return self.first_position / self.readable if self.readable else None


def summarize(judgments: Sequence[PairJudgment]) -> PairwiseSummary:
    outcomes = [j.outcome for j in judgments]
    positions = [p for j in judgments if not j.failed for p in j.positions if p is not None]
    return PairwiseSummary(
        n=sum(o is not None for o in outcomes),
        wins=outcomes.count("ft"), losses=outcomes.count("base"), ties=outcomes.count("tie"),
        unparsed=sum(j.unparsed for j in judgments), failed=sum(j.failed for j in judgments),
        flips=sum(bool(j.flipped) for j in judgments if j.outcome is not None),
        first_position=positions.count("A"), readable=len(positions),
    )


def candidate_stats(j: PairJudgment) -> list[float]:
    """The candidate's (numerator, denominator) of ``win_rate`` for one item: 1, 0.5 or 0 of
    weight 1, or zero weight for an item without an outcome (left out, and counted). The base
    scores the no-preference 0.5 on every item, so the paired delta is the win rate minus one
    half, and its test is the test of "no preference"."""
    return [0.0, 0.0] if j.outcome is None else [SCORE[j.outcome], 1.0]
