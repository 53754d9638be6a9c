"""The command line: one thin module per verb. Each parses its options, calls the library and
maps the outcome to an exit code (0 ok, 1 a gate failed, 2 bad input, 3 incomplete run)."""
