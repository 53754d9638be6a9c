"""``evalkit plan``: what a run or compare will send, cost and be able to detect, computed
before anything runs (no model built, no request sent)."""
