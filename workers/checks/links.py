"""Links: how many, how dense, and to what kind of domain (shorteners, punycode, lists).

The site's ``blocked_link_domains`` mark a comment as spam on their own (a moderator put
the domain there after seeing it spammed); links to ``allowed_link_domains`` (the site
itself, a public broadcaster) do not count at all. A list entry covers its subdomains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.checks.base import CommentContext, Verdict, clamp

URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|ru|"
    r"xyz|top|io|co|me|ly|gl|tk|site|online|click|link|shop)\b(?:/[^\s<>\"')\]]*)?",
    re.IGNORECASE,
)
SHORTENERS = frozenset({
    "bit.ly", "goo.gl", "tinyurl.com", "t.co", "ow.ly", "is.gd", "buff.ly", "cutt.ly",
    "rebrand.ly", "shorturl.at", "tiny.cc", "rb.gy", "bl.ink", "t.ly", "adf.ly", "shorte.st",
})


BLOCKED_DOMAIN_SCORE = 0.95
# Every match of URL needs "://", "www." or a dot before one of its TLDs; most comments
# have none, and the full pattern is slow on long prose.
_HINT = re.compile(r"://|www\.|\.(?:com|net|org|info|biz|ru|xyz|top|io|co|me|ly|gl|tk|site|"
                   r"online|click|link|shop)\b", re.IGNORECASE)


def domain_of(url: str) -> str:
    host = re.sub(r"^(?:https?://)?", "", url, flags=re.IGNORECASE).split("/", 1)[0]
    host = host.split("@")[-1].split(":")[0].lower().strip(".")
    return _ascii_host(host.removeprefix("www."))


def _ascii_host(host: str) -> str:
    """Unicode host names compare in their punycode form, as browsers resolve them."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def list_domain(entry: str) -> str:
    """A list entry as typed by an admin ("https://www.Spam.example/x") -> "spam.example"."""
    return domain_of(entry.strip()) if entry and entry.strip() else ""


def on_list(domain: str, listed: frozenset[str]) -> str | None:
    """The list entry covering ``domain`` (itself or a parent domain), if any."""
    parts = domain.split(".")
    for i in range(len(parts) - 1):
        candidate = ".".join(parts[i:])
        if candidate in listed:
            return candidate
    return None


def find_links(text: str) -> list[str]:
    if not _HINT.search(text):
        return []
    return URL.findall(text)


class LinksCheck:
    name = "links"
    version = "links-2"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        found = find_links(ctx.text)
        if not found:
            return Verdict(self.name, self.version, "spam", 0.0, [])
        allowed = frozenset(filter(None, map(list_domain, ctx.allowed_link_domains)))
        blocked = frozenset(filter(None, map(list_domain, ctx.blocked_link_domains)))
        links = [u for u in found if not (allowed and on_list(domain_of(u), allowed))]
        if not links:
            return Verdict(self.name, self.version, "spam", 0.0, [])
        domains = sorted({domain_of(u) for u in links})
        hits = sorted({hit for d in domains if (hit := on_list(d, blocked))}) if blocked else []
        if hits:
            return Verdict(self.name, self.version, "spam", BLOCKED_DOMAIN_SCORE,
                           [f"link to blocked domain {', '.join(hits[:3])}"])
        score = {1: 0.3, 2: 0.55}.get(len(links), 0.8)
        reasons = [f"{len(links)} link{'s' if len(links) > 1 else ''} to "
                   f"{', '.join(domains[:3])}"]
        shorteners = [d for d in domains if d in SHORTENERS]
        if shorteners:
            score += 0.35
            reasons.append(f"URL shortener hides the target ({', '.join(shorteners)})")
        punycode = [d for d in domains if "xn--" in d]
        if punycode:
            score += 0.35
            reasons.append(f"punycode look-alike domain ({', '.join(punycode)})")
        rest = ctx.text
        for u in links:  # links to allowed domains stay: they read as words here
            rest = rest.replace(u, " ", 1)
        words_outside = len(rest.split())
        if words_outside < 3:
            score += 0.2
            reasons.append("the comment is little more than links")
        return Verdict(self.name, self.version, "spam", clamp(score), reasons)
