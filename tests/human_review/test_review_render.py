"""Model output on the rating page: hidden characters made visible, and Markdown that a
standard renderer (markdown-it, CommonMark) turns into no link, image, script or raw HTML."""

from __future__ import annotations

import pytest

from human_review.render import reveal_invisible, safe_markdown

markdown_it = pytest.importorskip("markdown_it")

HOSTILE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "![pixel](http://tracker.example/p.png)",
    "[click](javascript:alert(1))", "[ok](https://example.com/a_(b) \"title\")", "<http://auto.example>",
    "see https://bare.example/x?a=1&b=2 now", "www.example.com", "[ref]: http://ref.example\n\n[ref]",
    "<iframe src=http://x></iframe>", "<a href='javascript:alert(2)'>a</a>", "![x][ref]\n\n[ref]: http://img.example/x.png",
]


def _html(md: str) -> str:
    return markdown_it.MarkdownIt("commonmark").enable("table").render(md)


@pytest.mark.parametrize("payload", HOSTILE)
def test_nothing_renders_as_a_link_image_or_html(payload):
    html = _html(safe_markdown(f"Intro **bold**\n\n{payload}\n\nend"))
    assert "<a " not in html and "<img" not in html and "<script" not in html and "<iframe" not in html
    assert "<strong>bold</strong>" in html  # ordinary formatting still works


def test_code_blocks_keep_indentation_and_streamlit_syntax_is_inert():
    md = safe_markdown("Text :red[colour] $x^2$ :material/home:\n```python\ndef f(x):\n    if x:\n        return '<b>'\n```\n")
    html = _html(md)
    assert "def f(x):\n    if x:\n        return '&lt;b&gt;'" in html
    assert "\\:red\\[colour\\]" in md and "\\$x^2\\$" in md
    assert safe_markdown("```\nunclosed <b>").endswith("```")


def test_hidden_characters_are_spelled_out():
    text, n = reveal_invisible("pay\u202eusd\u200b 5\u0007\n\tok")
    assert text == "pay⟦U+202E⟧usd⟦U+200B⟧ 5⟦U+0007⟧\n\tok" and n == 3
    assert reveal_invisible("plain text, été") == ("plain text, été", 0)
