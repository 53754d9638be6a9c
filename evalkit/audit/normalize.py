"""Text normalisation before n-gram matching, as in the GPT-3 paper's contamination check
(Brown et al. 2020, appendix C): lowercase, punctuation removed, whitespace collapsed, so
that "Sign out." and "sign out" are the same two tokens."""

from __future__ import annotations

import re

# Anything that is not a letter, digit or whitespace (Unicode-aware: accents stay letters).
_PUNCT = re.compile(r"[^\w\s]|_")


def normalize(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def tokens(text: str) -> list[str]:
    return _PUNCT.sub(" ", text.lower()).split()
