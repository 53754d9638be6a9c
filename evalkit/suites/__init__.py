"""Task specs (declarative YAML next to JSONL data), item loading and prompt rendering."""
