"""Contamination audit: which eval items (or near copies) are in the fine-tuning text."""
