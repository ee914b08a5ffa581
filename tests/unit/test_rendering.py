"""Comment text to HTML: Markdown without raw HTML, through the nh3 allowlist."""

from __future__ import annotations

import sys
import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.rendering import _INVISIBLE_CONTROLS, clean_text, fingerprint, render_html

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"javascript:alert(1)\">x</a>",
    "![img](http://x/a.png\" onerror=\"alert(1))",
    "<iframe src=//evil.example></iframe>",
    "<<script>script>alert(1)<</script>/script>",
    "<div style=\"background:url(javascript:alert(1))\">",
    "`<script>` in code is fine",
]


ALLOWED = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a"}


class Elements(HTMLParser):
    """What a browser would build from the HTML: tags and their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def assert_inert(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in ALLOWED, html
        for name, value in attrs:
            assert (tag, name) in {("a", "href"), ("a", "rel")}, html
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:")), html


@pytest.mark.parametrize("payload", XSS)
def test_no_active_content_survives(payload: str) -> None:
    assert_inert(render_html(clean_text(payload)))


def test_links_get_rel_and_markdown_works() -> None:
    html = render_html("See [the report](https://news.example/r) — **really** good.")
    assert '<a href="https://news.example/r" rel="nofollow ugc noopener">the report</a>' in html
    assert "<strong>really</strong>" in html


def test_bidi_overrides_and_controls_are_removed() -> None:
    assert clean_text("abc\u202edef\x00\x07 ") == "abcdef"
    assert clean_text("line\r\nnext") == "line\nnext"


def test_the_control_class_is_exactly_unicode_cc_and_cs_but_newline_and_tab() -> None:
    # clean_text drops these with one regular expression; it must match the categories for
    # every code point of this Python's Unicode database.
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    kept = "".join(ch for ch in every
                   if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs"})
    assert _INVISIBLE_CONTROLS.sub("", every) == kept


@pytest.mark.parametrize("invisible", ["\u200b\u200b", "\u2060", "\ufeff", " \u200b \n\u200d",
                                       "\u3164\u3164", "\u2800 \u2800", "\u0301\u0301",
                                       "\u115f\u1160\uffa0", " \u20dd "])
def test_text_of_only_format_characters_is_empty(invisible: str) -> None:
    assert clean_text(invisible) == ""


def test_format_characters_inside_visible_text_stay() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # an emoji ZWJ sequence
    rtl = "\u200f\u05e9\u05dc\u05d5\u05dd"  # a right-to-left mark, then Hebrew
    assert clean_text(f"{family} {rtl}") == f"{family} {rtl}"
    accented = "cafe\u0301 \u1100\u1161 \u3164x"  # a combining accent, Hangul jamo
    assert clean_text(accented) == accented


def test_fingerprint_ignores_case_and_punctuation() -> None:
    assert fingerprint("Check out MY channel!!!") == fingerprint("check out my channel")
    assert fingerprint("check out my channel") != fingerprint("check out your channel")


@given(st.text(max_size=300))
def test_rendering_never_emits_disallowed_markup(text: str) -> None:
    assert_inert(render_html(clean_text(text)))


@given(st.lists(st.sampled_from(["<", ">", "script", "a href=", "javascript:", "[x](", ")",
                                 '"', "'", "on", "error=", "svg", "*", "`", "\n", " "]),
                max_size=40))
def test_markup_soup_stays_inert(parts: list[str]) -> None:
    assert_inert(render_html(clean_text("".join(parts))))
