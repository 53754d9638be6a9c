"""Names that become folder names: model names and the names stored in run directories.

``runs/NAME`` and ``gates/NAME`` are written under ``--output``; a name such as ``../../x``
or ``/abs`` would write outside it (and could overwrite a stored baseline), so a name is
letters, digits and ``._-`` only, not starting with a dot.
"""

from __future__ import annotations

import re

SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
RULE = "use letters, digits, '.', '_' and '-' only, not starting with '.' (at most 128 characters)"


def unsafe_name(name: object) -> str | None:
    """Why ``name`` cannot be a folder name, or None when it can."""
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        return f"{name!r} is not a safe name: {RULE}"
    return None
