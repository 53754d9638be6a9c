"""Backends: the small interface every model provider implements (``base.py``), and a lazy
registry from backend names to the modules that implement them (``registry.py``)."""
