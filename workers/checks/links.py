"""Links: how many, how dense, and to what kind of domain (shorteners, punycode)."""

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


def domain_of(url: str) -> str:
    host = re.sub(r"^(?:https?://)?", "", url, flags=re.IGNORECASE).split("/", 1)[0]
    host = host.split("@")[-1].split(":")[0].lower()
    return host.removeprefix("www.")


def find_links(text: str) -> list[str]:
    return URL.findall(text)


class LinksCheck:
    name = "links"
    version = "links-1"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [self.run(c) for c in contexts]

    def run(self, ctx: CommentContext) -> Verdict:
        links = find_links(ctx.text)
        if not links:
            return Verdict(self.name, self.version, "spam", 0.0, [])
        domains = sorted({domain_of(u) for u in links})
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
        words_outside = len(URL.sub(" ", ctx.text).split())
        if words_outside < 3:
            score += 0.2
            reasons.append("the comment is little more than links")
        return Verdict(self.name, self.version, "spam", clamp(score), reasons)
