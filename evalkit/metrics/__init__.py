"""Metrics: one object per metric (name, direction, per-item statistics, corpus value,
signature). Per-item sufficient statistics make every metric resample-able: a corpus metric
such as BLEU is recomputed on each bootstrap resample from summed statistics."""
