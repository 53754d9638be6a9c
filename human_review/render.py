"""What a response looks like on the rating page: model output is untrusted text.

Invisible and direction-changing characters (controls, zero-width and bidi marks, the
Unicode "format" category) are made visible as ``⟦U+202E⟧`` so that a rater sees what the
model wrote, not what a bidi override makes it look like. Markdown, for the optional
formatted view, is rendered only after everything that could fetch, link or run is turned
into plain text: raw HTML is escaped, images become ``[image: alt]``, links show their
target as code, and Streamlit's own directives (colours, icons, LaTeX) are escaped.
"""

from __future__ import annotations

import re
import unicodedata

_HIDDEN = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}


def reveal_invisible(text: str) -> tuple[str, int]:
    """(text with each hidden character spelled out, how many there were); tabs and newlines stay."""
    out, n = [], 0
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in _HIDDEN:
            out.append(f"⟦U+{ord(ch):04X}⟧")
            n += 1
        else:
            out.append(ch)
    return "".join(out), n


_FENCE_LINE = re.compile(r"(^ {0,3}(?:```|~~~)[^\n]*$)", re.M)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.M)


def _code(text: str) -> str:
    return "`` " + text.replace("`", "'") + " ``"


_TARGET = r"([^()\s]*(?:\([^()]*\))?[^()\s]*)(?:\s+\"[^\"]*\")?"
_TOKEN = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\(" + _TARGET.replace("(", "(?P<src>", 1) + r"\)"
    r"|\[(?P<text>[^\]]+)\]\(" + _TARGET.replace("(", "(?P<href>", 1) + r"\)"
    r"|(?P<url>(?:https?|ftp|javascript|data|file|mailto|vbscript):[^\s`<>]+|www\.[^\s`<>]+)",
    re.I,
)


def _plain_text(text: str) -> str:
    """Text outside code: nothing in it may become HTML, an image, a link or a directive."""
    lines = text.split("\n")
    if len(lines) > 1:
        return "\n".join(_plain_text(line) for line in lines)
    if _REF_DEF.fullmatch(text):  # [ref]: target would define a link: show it as code
        return _code(text.strip())
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        out.append(_escape(text[pos:m.start()]))
        if m.group("url"):  # a bare URL would be linked (GFM autolinks it): show it as code
            out.append(_code(m.group("url")))
        elif m.group("text") is not None:  # [text](target): the text, then the target as code
            out.append(_escape(m.group("text")) + (" (" + _code(m.group("href")) + ")" if m.group("href") else ""))
        else:
            out.append(_escape(f"[image: {m.group('alt') or 'no description'}]"))
        pos = m.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _escape(text: str) -> str:
    # Raw HTML, then Streamlit's own syntax: :red[...] colours, :material/x: icons, :emoji:,
    # $...$ LaTeX, and brackets that could still pair up into a link.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in ("\\", "$", ":", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def _inline(text: str) -> str:
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(text):  # code spans show their content verbatim already
        out.append(_plain_text(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_plain_text(text[pos:]))
    return "".join(out)


def safe_markdown(text: str) -> str:
    """Markdown whose rendering fetches nothing, links nowhere and runs nothing; fenced code
    blocks pass through untouched (shown verbatim, indentation kept)."""
    out, fenced = [], False
    for chunk in _FENCE_LINE.split(text):
        if _FENCE_LINE.fullmatch(chunk):
            fenced = not fenced
            out.append(chunk)
        else:
            out.append(chunk if fenced else _inline(chunk))
    if fenced:  # an unclosed fence: close it so that it cannot swallow the page below
        out.append("\n```")
    return "".join(out)
