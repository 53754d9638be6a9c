"""Sanity checks on a base / fine-tune pair that are worth a warning, not a verdict."""

from __future__ import annotations


def identical_warning(base_run, ft_run) -> str | None:
    """One line when the fine-tune answered exactly like its base on every item it was
    scored on (its responses, log-likelihoods and statistics): its adapter, or its
    training, changed nothing. None otherwise."""
    def key(s):
        return (s.get("response"), s.get("stats"), (s.get("extra") or {}).get("loglikelihoods"), (s.get("extra") or {}).get("logprob"))

    answered = lambda s: s.get("status") != "error"  # noqa: E731 - empty and unparsed answers are answers
    base = {(s["task"], s["id"]): s for s in base_run.samples if answered(s)}
    pairs = [(base[(s["task"], s["id"])], s) for s in ft_run.samples if answered(s) and (s["task"], s["id"]) in base]
    if not pairs or any(key(b) != key(f) for b, f in pairs):
        return None
    return (
        f"'{ft_run.model}' answered exactly like '{base_run.model}' on all {len(pairs)} items: "
        "the fine-tune changes nothing (an untrained adapter, or the wrong checkpoint?)"
    )
