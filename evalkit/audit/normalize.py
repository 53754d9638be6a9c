"""Text normalisation before n-gram matching, as in the GPT-3 paper's contamination check
(Brown et al. 2020, appendix C): lowercase, punctuation removed, whitespace collapsed, so
that "Sign out." and "sign out" are the same two tokens."""

from __future__ import annotations

import re

# Anything that is not a letter, digit or whitespace (Unicode-aware: accents stay letters).
_PUNCT = re.compile(r"[^\w\s]|_")
# The same for ASCII text, as a translate table: several times faster than the regex, and
# training files are mostly ASCII.
_ASCII = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c.isspace())})


def tokens(text: str) -> list[str]:
    text = text.lower()
    if text.isascii():
        return text.translate(_ASCII).split()
    return _PUNCT.sub(" ", text).split()


def normalize(text: str) -> str:
    return " ".join(tokens(text))
