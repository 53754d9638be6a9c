"""Comparing runs item by item: alignment, paired intervals, and (later) gates and verdicts."""
