"""Comment text -> safe HTML: Markdown without raw HTML, then an allowlist sanitiser.

The widget inserts only this HTML; the source text is never rendered as HTML anywhere.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

from service.domain.errors import InvalidValue

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}

# commonmark with raw HTML off: "<script>" in a comment becomes text, not a tag. Images and
# headings are not comment material; tables and strikethrough stay off for the same reason.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
_markdown.disable(["image", "heading", "lheading", "hr", "html_block", "html_inline"])
_markdown.enable("linkify")  # bare URLs become links, and so get rel="nofollow ugc"

# Bidirectional overrides can disguise text (and links) in someone else's page.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


# Unicode categories Cc (C0, DEL, C1) and Cs (lone surrogates), except newline and tab: one
# regular expression instead of a category lookup per character (a test checks the ranges
# against ``unicodedata`` for every code point).
_INVISIBLE_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(body: str) -> str:
    """Normalise line ends and drop control characters a reader cannot see.

    Text with nothing visible left (only spaces, format characters such as U+200B, U+2060,
    U+FEFF, combining marks with nothing to combine with, or blank glyphs such as U+3164) is
    "": callers treat that as empty, as they do blank text. Such characters inside visible
    text stay (emoji ZWJ sequences, right-to-left marks, accents, Hangul).
    """
    body = body.replace("\r\n", "\n").replace("\r", "\n").translate(_BIDI_CONTROLS)
    text = _INVISIBLE_CONTROLS.sub("", body).strip()
    return text if has_visible(text) else ""


def has_visible(text: str) -> bool:
    """Whether anything in ``text`` draws on the page (see ``clean_text``)."""
    return any(_visible(ch) for ch in text)


def require_usable_text(text: str, max_chars: int | None = None, *,
                        field: str = "body") -> str:
    """Refuse cleaned text with nothing visible, or longer than allowed, as the schema
    refuses its own bad values (422 with the field): a submit, an edit and a dry run all
    answer "   " and "" alike, and the same way."""
    if not text:
        raise InvalidValue(f"the {field} is empty after cleaning",
                           fields={field: ["Nothing visible is left after cleaning."]})
    if max_chars is not None and len(text) > max_chars:
        raise InvalidValue(f"the {field} is longer than {max_chars} characters",
                           fields={field: [f"Longer than {max_chars} characters."]})
    return text


# Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern. With
# spaces, format characters and combining marks alone they are the usual ways to slip a
# blank comment past a blank check.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


def _visible(ch: str) -> bool:
    return (not ch.isspace() and ch not in _BLANK_GLYPHS
            and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Relative links would resolve against the embedding page: drop them. Drop the
    generic attributes the sanitiser allows by default (title, lang) too: only what
    ALLOWED_ATTRIBUTES names may reach the page."""
    if attribute not in ALLOWED_ATTRIBUTES.get(tag, set()) and attribute != "rel":
        return None
    if tag == "a" and attribute == "href" and not value.lower().startswith(_ABSOLUTE):
        return None
    return value


_ABSOLUTE = ("http://", "https://", "mailto:")


def render_html(body: str) -> str:
    html = _markdown.render(body)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow ugc noopener",
        attribute_filter=_absolute_links_only,
    ).strip()


_WORDS = re.compile(r"\w+", re.UNICODE)


def fingerprint(body: str) -> str:
    """Stable hash of the words only, so trivial edits of a spam text still match."""
    words = _WORDS.findall(unicodedata.normalize("NFKC", body).casefold())
    return hashlib.sha1(" ".join(words).encode(), usedforsecurity=False).hexdigest()
