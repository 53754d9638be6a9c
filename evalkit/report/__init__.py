"""Pure renderers of results: console tables, Markdown, JSON. They read results; they compute
nothing that is not already in them."""
